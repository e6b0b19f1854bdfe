"""End to end: the web client in headless Chromium against a real ``chat-server`` process.

Two browser contexts are two people. They register, meet in the lobby, talk in the
room and in private, and one of them leaves. Along the way the test checks that text
from users is shown as text (no markup runs) and that the page is usable on a phone.

Needs the ``playwright`` Python package and Debian's ``chromium`` at /usr/bin/chromium
(``playwright install`` is never used). Without them the test is skipped, except under
CI (``CI=true``), where a missing browser is a failure.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page, ViewportSize

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_SCREENSHOTS = PROJECT_ROOT / "test-output" / "browser"
STARTUP_DEADLINE_S = 20.0
SHUTDOWN_DEADLINE_S = 15.0
UI_TIMEOUT_MS = 10_000
PASSWORD = "correct-horse-battery"
XSS = "<img src=x onerror=alert(1)>"
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 360, "height": 640}


def _unavailable(reason: str) -> None:
    """Skip on a developer machine without a browser; never let CI pass silently."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser test cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


def _playwright() -> Any:
    """Imports Playwright lazily so that its absence is a skip (or a CI failure)."""
    try:
        import playwright.sync_api as sync_api
    except ImportError as exc:
        _unavailable(f"the playwright package is not importable ({exc})")
    return sync_api


# ---------------------------------------------------------------------------- server


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _server_command() -> list[str]:
    """The installed console script, looked up next to this Python first, so that the
    project's own venv wins over anything else on PATH; else the module itself."""
    search_path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    script = shutil.which("chat-server", path=search_path)
    if script:
        return [script]
    return [sys.executable, "-m", "web.server"]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _wait_until_healthy(process: subprocess.Popen[bytes], base_url: str, stderr: Path) -> None:
    """Polls /healthz; waiting on the process between polls doubles as the pause and
    notices a server that died during start-up."""
    deadline = time.monotonic() + STARTUP_DEADLINE_S
    while time.monotonic() < deadline:
        if _healthy(base_url + "/healthz"):
            return
        try:
            code = process.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            continue
        pytest.fail(
            f"chat-server exited with {code} during start-up; stderr:\n{stderr.read_text()}",
            pytrace=False,
        )
    pytest.fail(
        f"chat-server not healthy after {STARTUP_DEADLINE_S} s; stderr:\n{stderr.read_text()}",
        pytrace=False,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM is the documented way to stop the server; it must exit on its own."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=SHUTDOWN_DEADLINE_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail(f"chat-server ignored SIGTERM for {SHUTDOWN_DEADLINE_S} s", pytrace=False)


@contextmanager
def _plain_asyncio_policy() -> Iterator[None]:
    """Gives Playwright an ordinary asyncio loop.

    The server's storage imports trio_asyncio (through the project's conftest), which
    makes ``asyncio.new_event_loop()`` return its own loop outside Trio; Playwright's
    sync API cannot drive that one ("You can't nest calls to run_until_complete()").
    trio_asyncio steps aside for a policy set explicitly in this thread, and setting
    None afterwards hands the thread back to it (or to asyncio's default without it).
    """
    asyncio.set_event_loop_policy(asyncio.DefaultEventLoopPolicy())
    try:
        yield
    finally:
        asyncio.set_event_loop_policy(None)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """One headless Chromium for the module; each test opens its own contexts."""
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is absent (apt-get install chromium)")
    sync_api = _playwright()
    sync_api.expect.set_options(timeout=UI_TIMEOUT_MS)
    with _plain_asyncio_policy(), sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def chat_server(
    chromium: Browser, tmp_path_factory: pytest.TempPathFactory, server_env: dict[str, str]
) -> Iterator[str]:
    """A real server process on a free port, with its own SQLite file and data folder.

    Depends on ``chromium`` only so that a missing browser skips before the server starts.
    """
    home = tmp_path_factory.mktemp("chat-server")
    port = _free_port()
    env = dict(os.environ)
    env.update(
        CHAT_HOST="127.0.0.1",
        CHAT_PORT=str(port),
        CHAT_DB_URL=f"sqlite://{home / 'chat.sqlite3'}",
        CHAT_DATA_DIR=str(home / "data"),
        CHAT_LOG_FORMAT="json",
    )
    env.update(server_env)
    stdout, stderr = home / "server-stdout.log", home / "server-stderr.log"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(_server_command(), env=env, cwd=PROJECT_ROOT, stdout=out, stderr=err)
        try:
            base_url = f"http://127.0.0.1:{port}"
            _wait_until_healthy(process, base_url, stderr)
            yield base_url
        finally:
            _stop(process)


# ---------------------------------------------------------------------------- screenshots


@pytest.fixture
def screenshots(tmp_path: Path) -> Iterator[Path]:
    """Screenshots go to this test's own folder, and are copied to test-output/browser
    in the project (git-ignored) so that a person can look at them after the run."""
    folder = tmp_path / "screenshots"
    folder.mkdir()
    yield folder
    if SHARED_SCREENSHOTS.parent.parent.is_dir():
        SHARED_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for picture in folder.glob("*.png"):
            shutil.copy2(picture, SHARED_SCREENSHOTS / picture.name)


# ---------------------------------------------------------------------------- a person


@dataclass
class Person:
    """One user in one browser context, driven through the page's stable test ids."""

    page: Page
    username: str
    dialogs: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    policy_violations: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, browser: Browser, base_url: str, username: str) -> Person:
        context = browser.new_context(viewport=DESKTOP)
        page = context.new_page()
        page.set_default_timeout(UI_TIMEOUT_MS)
        person = cls(page, username)
        # An alert() is exactly what an injected onerror handler would call.
        page.on("dialog", person._on_dialog)
        page.on("pageerror", lambda error: person.page_errors.append(str(error)))
        # Chromium reports what the Content-Security-Policy blocked on the console.
        page.on("console", person._on_console)
        page.goto(base_url + "/")
        return person

    def _on_console(self, message: Any) -> None:
        if "Content Security Policy" in message.text:
            self.policy_violations.append(message.text)

    def _on_dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    @property
    def expect(self) -> Any:
        return _playwright().expect

    def by_id(self, test_id: str) -> Locator:
        return self.page.get_by_test_id(test_id)

    def fill_credentials(self, password: str = PASSWORD) -> None:
        self.by_id("auth-username").fill(self.username)
        self.by_id("auth-password").fill(password)

    def register(self) -> None:
        self.fill_credentials()
        self.by_id("register-button").click()
        self.expect(self.by_id("chat-view")).to_be_visible()
        self.expect(self.by_id("current-user")).to_have_text(self.username)
        self.expect(self.by_id("connection-status")).to_have_attribute("data-state", "online")

    def room_item(self, room_id: str) -> Locator:
        return self.page.locator(f'[data-testid="room-item"][data-room-id="{room_id}"]')

    def join(self, room_id: str) -> None:
        """Be in the room and show it: its name joins it, or shows it when the login rejoined it already
        (a first login lands in the lobby)."""
        self.room_item(room_id).get_by_test_id("room-open").click()
        self.expect(self.tab(f"room:{room_id}")).to_have_attribute("aria-selected", "true")

    def tab(self, key: str) -> Locator:
        return self.page.locator(f'[data-testid="conversation-tab"][data-key="{key}"]')

    def send(self, text: str) -> None:
        self.by_id("message-input").fill(text)
        self.by_id("send-button").click()
        self.expect(self.by_id("message-input")).to_have_value("")

    def messages(self) -> Locator:
        return self.page.locator('#message-list [data-testid="message-content"]')

    def expect_message(self, text: str) -> None:
        self.expect(self.messages().filter(has_text=text)).to_have_count(1)

    def online_user(self, list_id: str, username: str) -> Locator:
        return self.page.locator(f'#{list_id} [data-testid="online-user"][data-username="{username}"]')

    def user_id_of(self, username: str) -> str:
        button = self.online_user("site-online-list", username)
        self.expect(button).to_be_visible()
        user_id = button.get_attribute("data-user-id")
        assert user_id
        return user_id

    def assert_nothing_ran(self) -> None:
        assert self.dialogs == [], f"{self.username}'s page opened dialogs: {self.dialogs}"
        assert self.page_errors == [], f"{self.username}'s page threw: {self.page_errors}"
        assert self.policy_violations == [], f"{self.username}'s page broke its CSP: {self.policy_violations}"


@pytest.fixture
def people(chromium: Browser, chat_server: str) -> Iterator[Callable[[str], Person]]:
    """Opens one browser context per person, and closes them all before the server
    stops, so that no WebSocket is left open across the server's shutdown."""
    opened: list[Person] = []

    def open_person(username: str) -> Person:
        person = Person.open(chromium, chat_server, username)
        opened.append(person)
        return person

    yield open_person
    for person in opened:
        person.page.context.close()


# ---------------------------------------------------------------------------- tests


def test_two_people_chat_in_the_lobby_and_in_private(
    people: Callable[[str], Person], screenshots: Path
) -> None:
    alice = people("alice")
    bob = people("bob")
    expect = alice.expect

    alice.register()
    bob.register()
    alice.join("lobby")
    bob.join("lobby")

    # Each sees the other in the room's online list, and the lobby's count says 2.
    expect(alice.online_user("room-online-list", "bob")).to_be_visible()
    expect(bob.online_user("room-online-list", "alice")).to_be_visible()
    expect(alice.room_item("lobby").get_by_test_id("room-online-count")).to_have_text("2")

    alice.send("Hello from alice")
    bob.expect_message("Hello from alice")
    bob.send("Hi alice, bob here")
    alice.expect_message("Hi alice, bob here")
    # Live push and the join-time history overlap: each message is shown once.
    bob.expect_message("Hello from alice")

    # Markup from a user is text: shown literally, never parsed, never run.
    alice.send(XSS)
    for person in (alice, bob):
        expect(person.messages().filter(has_text=XSS)).to_have_text([XSS])
        expect(person.page.locator("#message-list img")).to_have_count(0)

    alice.page.screenshot(path=str(screenshots / "desktop-lobby-alice.png"))

    # A private talk starts from the online list; the other side gets a new tab.
    alice_id = bob.user_id_of("alice")
    bob_id = alice.user_id_of("bob")
    alice.online_user("room-online-list", "bob").click()
    expect(alice.tab(f"user:{bob_id}")).to_have_attribute("aria-selected", "true")
    alice.send("Psst, only for bob")
    expect(bob.tab(f"user:{alice_id}")).to_be_visible()
    bob.tab(f"user:{alice_id}").click()
    bob.expect_message("Psst, only for bob")
    bob.send("Got it, alice")
    alice.expect_message("Got it, alice")
    alice.page.screenshot(path=str(screenshots / "desktop-private-alice.png"))

    # The private message stayed out of the room.
    alice.tab("room:lobby").click()
    expect(alice.messages().filter(has_text="Psst, only for bob")).to_have_count(0)

    bob.tab("room:lobby").click()
    bob.by_id("leave-button").click()
    expect(bob.tab("room:lobby")).to_have_count(0)
    leave_notice = alice.page.locator(
        '#message-list [data-testid="system-line"][data-event="leave"][data-username="bob"]'
    )
    expect(leave_notice).to_have_count(1)
    expect(alice.online_user("room-online-list", "bob")).to_have_count(0)
    expect(alice.online_user("room-online-list", "alice")).to_be_visible()

    # On a phone the conversation keeps its input and send button on screen.
    alice.page.set_viewport_size(PHONE)
    for control in ("message-input", "send-button"):
        expect(alice.by_id(control)).to_be_visible()
        expect(alice.by_id(control)).to_be_in_viewport()
    alice.page.screenshot(path=str(screenshots / "phone-lobby-alice.png"))
    alice.by_id("toggle-people").click()
    expect(alice.by_id("people-panel")).to_be_in_viewport()
    alice.page.screenshot(path=str(screenshots / "phone-people-drawer-alice.png"))

    alice.assert_nothing_ran()
    bob.assert_nothing_ran()


def test_login_and_registration_errors_are_shown_in_words(
    people: Callable[[str], Person], screenshots: Path
) -> None:
    carol = people("carol")
    expect = carol.expect
    carol.register()
    token = carol.page.evaluate("sessionStorage.getItem('chat.token')")
    carol.by_id("logout-button").click()
    expect(carol.by_id("auth-form")).to_be_visible()
    me_url = carol.page.url.split("#")[0].rstrip("/") + "/api/v1/me"  # the logout revoked the token too

    def status_of_token() -> int:
        return int(carol.page.request.get(me_url, headers={"Authorization": f"Bearer {token}"}).status)

    # The page's logout request runs in the browser and the server is another process: poll the server.
    deadline = time.monotonic() + 5
    while status_of_token() != 401 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert status_of_token() == 401

    carol.fill_credentials(password="not-the-password")
    carol.by_id("login-button").click()
    expect(carol.by_id("auth-message")).to_contain_text("Wrong username or password")

    carol.fill_credentials()
    carol.by_id("register-button").click()
    expect(carol.by_id("auth-message")).to_contain_text("already taken")
    carol.page.screenshot(path=str(screenshots / "desktop-login-error.png"))

    carol.by_id("login-button").click()
    expect(carol.by_id("current-user")).to_have_text("carol")
    carol.assert_nothing_ran()


def test_server_error_codes_reach_the_user(people: Callable[[str], Person]) -> None:
    """A command the server refuses shows the refusal next to what the user was doing."""
    dave = people("dave")
    expect = dave.expect
    dave.register()
    dave.join("lobby")
    too_long = "x" * 5000  # past the default limit of 4000 characters
    dave.by_id("message-input").fill(too_long)
    dave.by_id("send-button").click()
    expect(dave.by_id("error-banner")).to_have_attribute("data-code", "content_too_long")
    expect(dave.by_id("error-text")).to_contain_text("too long")
    # The unsent text comes back so that the user can shorten it.
    expect(dave.by_id("message-input")).to_have_value(too_long)
    dave.assert_nothing_ran()
