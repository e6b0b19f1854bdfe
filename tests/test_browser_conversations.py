"""Private conversations in the web client: started by username, found again after a login or a reload."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from tests.test_browser import Person, chat_server, chromium  # noqa: F401 (fixtures used below)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, WebSocket


@pytest.fixture
def people(chromium: Browser, chat_server: str) -> Iterator[Callable[[str], Person]]:  # noqa: F811
    """One browser context per person, all closed before the module's server stops."""
    opened: list[Person] = []

    def open_person(username: str) -> Person:
        opened.append(Person.open(chromium, chat_server, username))
        return opened[-1]

    yield open_person
    for person in opened:
        person.page.context.close()


def log_in(person: Person) -> None:
    person.fill_credentials()
    person.by_id("login-button").click()
    person.expect(person.by_id("connection-status")).to_have_attribute("data-state", "online")


def test_a_message_to_an_offline_user_waits_in_a_tab_with_a_badge_that_survives_a_reload(
    people: Callable[[str], Person],
) -> None:
    bob = people("bob_away")
    bob.register()
    bob.by_id("logout-button").click()
    bob.expect(bob.by_id("auth-view")).to_be_visible()

    alice = people("alice_writes")
    alice.register()
    # Bob is nowhere online: alice starts the conversation by his name.
    alice.by_id("message-name").fill("BOB_AWAY")
    alice.by_id("message-name").press("Enter")
    tab = alice.page.locator('[data-testid="conversation-tab"][aria-selected="true"]')
    alice.expect(tab).to_contain_text("bob_away")
    alice.send("are you there?")
    alice.expect_message("are you there?")
    bob_key = tab.get_attribute("data-key")
    assert bob_key and bob_key.startswith("user:")

    log_in(bob)
    alice_tab = bob.page.locator('[data-testid="conversation-tab"]').filter(has_text="alice_writes")
    bob.expect(alice_tab.get_by_test_id("unread")).to_have_text("1")

    sockets: list[WebSocket] = []
    bob.page.on("websocket", lambda socket: sockets.append(socket))
    bob.page.reload()
    bob.expect(bob.by_id("connection-status")).to_have_attribute("data-state", "online")
    bob.expect(alice_tab.get_by_test_id("unread")).to_have_text("1")
    # The server has the mark once it answers the page's "read" (the reload below must not cut it off).
    with sockets[-1].expect_event("framereceived", lambda frame: '"read_marker"' in str(frame)):
        alice_tab.click()
    bob.expect_message("are you there?")
    bob.expect(alice_tab.get_by_test_id("unread")).to_have_count(0)

    # Read here, read everywhere: after another reload the tab is back without a badge.
    bob.page.reload()
    bob.expect(alice_tab).to_be_visible()
    bob.expect(bob.by_id("connection-status")).to_have_attribute("data-state", "online")
    bob.expect(alice_tab.get_by_test_id("unread")).to_have_count(0)
    alice.assert_nothing_ran()
    bob.assert_nothing_ran()
