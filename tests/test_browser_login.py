"""End to end: a login sticks across tabs and browser restarts, and brings its rooms back.

Uses the browser set-up of ``test_browser.py`` (its Chromium, its server process,
its people; same skips, same CI rule). The login lives in an HttpOnly cookie that
the page never sees; these tests look at it only through the browser's cookie jar.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from tests.test_browser import DESKTOP, UI_TIMEOUT_MS, Person, chat_server, chromium, people  # noqa: F401  (fixtures)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

pytestmark = pytest.mark.browser


def refresh_cookies(page: Page) -> list[Any]:
    return [c for c in page.context.cookies() if c["name"] == "chat_refresh"]


def open_tab(person: Person, base_url: str) -> Page:
    """Another tab of the same browser: its own page and sessionStorage, the same cookies."""
    page = person.page.context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    page.on("pageerror", lambda error: person.page_errors.append(str(error)))
    page.goto(base_url + "/")
    return page


def room_tab(page: Page, room_id: str) -> Locator:
    return page.locator(f'[data-testid="conversation-tab"][data-key="room:{room_id}"]')


def create_room(person: Person, name: str) -> str:
    person.by_id("create-room-name").fill(name)
    person.by_id("create-room-name").press("Enter")
    tab = person.page.locator('[data-testid="conversation-tab"]', has_text=name)
    person.expect(tab).to_have_attribute("aria-selected", "true")
    key = tab.get_attribute("data-key")
    assert key and key.startswith("room:")
    return key.removeprefix("room:")


def test_a_first_login_lands_in_the_lobby(people: Callable[[str], Person]) -> None:  # noqa: F811
    gina = people("gina")
    gina.register()
    gina.expect(gina.tab("room:lobby")).to_have_attribute("aria-selected", "true")
    gina.expect(gina.by_id("conversation-title")).to_contain_text("Lobby")
    gina.assert_nothing_ran()


def test_a_new_tab_is_signed_in_and_no_script_sees_the_login(
    people: Callable[[str], Person],  # noqa: F811
    chat_server: str,  # noqa: F811
) -> None:
    gwen = people("gwen")
    expect = gwen.expect
    gwen.register()
    cookie = refresh_cookies(gwen.page)
    assert len(cookie) == 1 and cookie[0]["httpOnly"] and cookie[0]["sameSite"] == "Strict"
    assert gwen.page.evaluate("document.cookie") == ""
    stored = gwen.page.evaluate(
        "JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])"
    )
    assert str(cookie[0]["value"]) not in stored

    tab = open_tab(gwen, chat_server)
    expect(tab.get_by_test_id("chat-view")).to_be_visible()
    expect(tab.get_by_test_id("current-user")).to_have_text("gwen")
    expect(tab.get_by_test_id("connection-status")).to_have_attribute("data-state", "online")
    expect(room_tab(tab, "lobby")).to_be_visible()
    expect(tab.get_by_test_id("auth-view")).to_be_hidden()
    gwen.assert_nothing_ran()


def test_a_restarted_browser_is_signed_in_and_back_in_its_rooms(
    chromium: Browser,  # noqa: F811
    people: Callable[[str], Person],  # noqa: F811
    chat_server: str,  # noqa: F811
) -> None:
    hana = people("hana")
    expect = hana.expect
    hana.register()
    workshop = create_room(hana, "Workshop")
    jar = hana.page.context.storage_state()  # cookies and localStorage, as a browser keeps them on disk
    hana.page.context.close()

    restarted = chromium.new_context(viewport=DESKTOP, storage_state=jar)
    try:
        page = restarted.new_page()
        page.set_default_timeout(UI_TIMEOUT_MS)
        page.goto(chat_server + "/")
        expect(page.get_by_test_id("current-user")).to_have_text("hana")
        expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "online")
        expect(room_tab(page, workshop)).to_be_visible()
        expect(room_tab(page, "lobby")).to_be_visible()
    finally:
        restarted.close()


def test_a_logout_signs_out_every_tab_and_logging_back_in_restores_the_rooms(
    people: Callable[[str], Person],  # noqa: F811
    chat_server: str,  # noqa: F811
) -> None:
    iris = people("iris")
    expect = iris.expect
    iris.register()
    kiln = create_room(iris, "Kiln")
    tab = open_tab(iris, chat_server)
    expect(room_tab(tab, kiln)).to_be_visible()

    with iris.page.expect_response(lambda answer: answer.url.endswith("/api/v1/logout")) as logout:
        iris.by_id("logout-button").click()
    assert logout.value.status == 204
    expect(iris.by_id("auth-form")).to_be_visible()
    expect(tab.get_by_test_id("auth-form")).to_be_visible()  # the other tab too
    expect(tab.get_by_test_id("chat-view")).to_be_hidden()
    assert refresh_cookies(iris.page) == []
    tab.reload()  # with the cookie ended, a reload asks for the password again
    expect(tab.get_by_test_id("auth-form")).to_be_visible()

    iris.fill_credentials()
    iris.by_id("login-button").click()
    expect(iris.by_id("current-user")).to_have_text("iris")
    expect(iris.tab("room:lobby")).to_be_visible()
    expect(iris.tab(f"room:{kiln}")).to_be_visible()
    expect(tab.get_by_test_id("current-user")).to_have_text("iris")  # and the other tab follows
    iris.assert_nothing_ran()
