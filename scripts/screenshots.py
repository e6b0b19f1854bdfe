"""Screenshots of the web client's main screens, for the README.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

Starts a ``chat-server`` of its own (a free port, a throw-away SQLite file),
drives headless Chromium (``/usr/bin/chromium``, through the ``playwright``
package of the test extras) as three people who talk in a room and in private,
and saves each main screen at 1280x800 (desktop) and 390x844 (phone) as PNG.
Run on demand when the page changes; the test suite does not run it.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "correct-horse-battery"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/healthz", timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def chat_server() -> Iterator[str]:
    """A server process on a free port over a temporary SQLite file; stopped with SIGTERM."""
    with tempfile.TemporaryDirectory(prefix="chat-screenshots-") as home:
        port = free_port()
        settings = {"HOST": "127.0.0.1", "PORT": str(port), "DATA_DIR": f"{home}/data"}
        settings["DB_URL"] = f"sqlite://{home}/chat.sqlite3"
        env = os.environ | {f"CHAT_{key}": value for key, value in settings.items()}
        script = shutil.which("chat-server", path=str(Path(sys.executable).parent))
        command = [script] if script else [sys.executable, "-m", "web.server"]
        with open(f"{home}/server.log", "wb") as log:
            process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=log)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 20
            while not healthy(base):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"chat-server did not start:\n{Path(home, 'server.log').read_text()}")
                time.sleep(0.1)
            yield base
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=15)


class Person:
    """One user in a browser context of their own."""

    def __init__(self, browser: Any, base: str, username: str, expect: Any) -> None:
        self.page = browser.new_context(viewport=DESKTOP).new_page()
        self.username = username
        self.expect = expect
        self.page.goto(base + "/")

    def by_id(self, test_id: str) -> Any:
        return self.page.get_by_test_id(test_id)

    def register(self) -> None:
        self.by_id("auth-username").fill(self.username)
        self.by_id("auth-password").fill(PASSWORD)
        self.by_id("register-button").click()
        self.expect(self.by_id("connection-status")).to_have_attribute("data-state", "online")

    def show_room(self, name: str) -> None:
        item = self.page.locator('[data-testid="room-item"]', has_text=name)
        self.expect(item).to_have_count(1)
        item.get_by_test_id("room-open").click()
        self.expect(
            self.page.locator('[data-testid="conversation-tab"][aria-selected="true"]')
        ).to_contain_text(name)

    def say(self, text: str) -> None:
        self.by_id("message-input").fill(text)
        self.by_id("send-button").click()
        self.expect(self.by_id("message-input")).to_have_value("")


def take(page: Any, out: Path, name: str) -> None:
    page.wait_for_timeout(300)  # let the last frame of a transition settle
    page.screenshot(path=str(out / f"{name}.png"))
    print(out / f"{name}.png")


def shoot(base: str, out: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        alice = Person(browser, base, "alice", expect)
        for size, suffix in ((DESKTOP, "desktop"), (PHONE, "phone")):
            alice.page.set_viewport_size(size)
            take(alice.page, out, f"login-{suffix}")
        alice.page.set_viewport_size(DESKTOP)

        bob, carol = Person(browser, base, "bob", expect), Person(browser, base, "carol", expect)
        # carol's sockets pass through the test, so that it can cut one (the browser's
        # offline mode leaves an open socket alone).
        carol_links: list[Any] = []

        def through(link: Any) -> None:
            link.connect_to_server()
            carol_links.append(link)

        carol.page.route_web_socket(re.compile(r"/ws\?"), through)
        for person in (alice, bob, carol):
            person.register()
        alice.by_id("create-room-name").fill("Release planning")
        alice.by_id("create-room-name").press("Enter")
        for person in (bob, carol):
            person.show_room("Release planning")
        alice.show_room("Release planning")
        alice.say("Morning! The checklist for Friday is on https://example.org/release/checklist")
        alice.say("Two things left: the migration notes and the smoke test.")
        bob.say("I'll take the smoke test.")
        carol.say("Migration notes are mine. Here is the draft:")
        carol.say("\n".join(f"{n}. step {n} of the migration" for n in range(1, 26)))
        alice.say("Thanks both!")
        expect(alice.page.get_by_text("Thanks both")).to_have_count(1)
        # A message corrected after it was sent shows "(edited)".
        typo = alice.page.locator('[data-testid="message"]', has_text="Two things left")
        typo.get_by_role("button", name="Edit your message").click()
        typo.get_by_test_id("edit-input").fill("Two things left: the migration notes and the smoke tests.")
        typo.get_by_test_id("edit-input").press("Enter")
        expect(typo.get_by_test_id("edited-mark")).to_be_visible()

        bob.by_id("message-name").fill("alice")
        bob.by_id("message-name").press("Enter")
        bob.say("Can we move the smoke test to Thursday afternoon?")
        tab = alice.page.locator('[data-testid="conversation-tab"]', has_text="bob")
        tab.click()
        alice.say("Thursday works, go ahead.")

        for size, suffix in ((DESKTOP, "desktop"), (PHONE, "phone")):
            alice.page.set_viewport_size(size)
            alice.page.locator('[data-testid="conversation-tab"]', has_text="Release planning").click()
            take(alice.page, out, f"room-{suffix}")
            tab.click()
            take(alice.page, out, f"private-{suffix}")
        alice.page.locator('[data-testid="conversation-tab"]', has_text="Release planning").click()
        alice.page.set_viewport_size(DESKTOP)
        # The room's owner opens a member's menu: what she may do to bob.
        alice.page.locator("#room-online-list").get_by_role("button", name="Actions for bob").click()
        expect(alice.page.get_by_role("menu")).to_be_visible()
        take(alice.page, out, "member-menu-desktop")
        alice.page.keyboard.press("Escape")
        # bob makes a private room and invites alice: the invite waits in her list.
        bob.by_id("create-room-name").fill("On-call rota")
        bob.by_id("create-room-private").check()
        bob.by_id("create-room-name").press("Enter")
        expect(bob.by_id("invite-form")).to_be_visible()
        bob.by_id("invite-name").fill("alice")
        bob.by_id("invite-name").press("Enter")
        expect(alice.page.get_by_test_id("invite-item")).to_be_visible()
        take(alice.page, out, "invite-desktop")
        alice.page.set_viewport_size(PHONE)
        for drawer in ("rooms", "people"):
            alice.by_id(f"toggle-{drawer}").click()
            take(alice.page, out, f"{drawer}-drawer-phone")
            alice.by_id(f"toggle-{drawer}").click()

        # The network goes: the banner counts down to the next attempt.
        carol.page.context.set_offline(True)
        carol_links[-1].close(code=1001, reason="going away")
        expect(carol.by_id("offline-text")).to_contain_text(
            re.compile(r"reconnecting in [2-9] s"), timeout=20_000
        )
        take(carol.page, out, "offline-desktop")
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with chat_server() as base:
        shoot(base, args.out)


if __name__ == "__main__":
    main()
