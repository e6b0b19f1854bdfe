"""End to end: a person edits and deletes their own message; the other person sees both, live and after a reload.

Uses the browser set-up of ``test_browser.py`` (its Chromium, its server process,
its people; same skips, same CI rule).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.test_browser import Person, chat_server, chromium, people  # noqa: F401  (fixtures)
from tests.test_browser_attention import create_room

pytestmark = pytest.mark.browser


def test_a_person_edits_and_deletes_their_message_and_the_room_sees_it(
    people: Callable[[str], Person],  # noqa: F811
) -> None:
    kim, lee = people("kim"), people("lee")
    expect = lee.expect
    kim.register()
    lee.register()
    kim.join("lobby")
    lee.join("lobby")
    kim.send("helo wrold")
    kim.send("this one goes")
    lee.expect_message("helo wrold")
    lee.expect_message("this one goes")

    # Only one's own messages have the buttons.
    theirs = lee.page.locator('#message-list [data-testid="message"]').filter(has_text="helo wrold")
    expect(theirs.get_by_test_id("edit-message")).to_have_count(0)
    mine = kim.page.locator('#message-list [data-testid="message"]').filter(has_text="helo wrold")
    edit = mine.get_by_role("button", name="Edit your message")
    expect(edit).to_be_visible()

    # With the keyboard: Escape leaves the editor and gives the focus back to Edit.
    edit.focus()
    kim.page.keyboard.press("Enter")
    editor = mine.get_by_test_id("edit-input")
    expect(editor).to_be_focused()
    expect(editor).to_have_value("helo wrold")
    kim.page.keyboard.press("Escape")
    expect(mine.get_by_test_id("message-editor")).to_have_count(0)
    expect(edit).to_be_focused()

    kim.page.keyboard.press("Enter")
    editor.fill("hello world")
    editor.press("Enter")
    lee.expect_message("hello world")
    kim.expect_message("hello world")
    edited = lee.page.locator('#message-list [data-testid="message"]').filter(has_text="hello world")
    expect(edited.get_by_test_id("edited-mark")).to_have_text("(edited)")
    expect(edited.get_by_test_id("edited-mark")).to_have_attribute("title", re.compile(r"^Edited "))

    doomed = kim.page.locator('#message-list [data-testid="message"]').filter(has_text="this one goes")
    doomed.get_by_role("button", name="Delete your message").click()
    expect(doomed.get_by_test_id("delete-cancel")).to_be_focused()  # the safe answer first
    doomed.get_by_test_id("delete-confirm").click()
    expect(lee.messages().filter(has_text="this one goes")).to_have_count(0)
    expect(lee.by_id("tombstone")).to_have_text("Message deleted")
    expect(kim.by_id("tombstone")).to_have_text("Message deleted")

    # The history shows the same after a reload.
    lee.page.reload()
    expect(lee.by_id("tombstone")).to_have_text("Message deleted")
    again = lee.page.locator('#message-list [data-testid="message"]').filter(has_text="hello world")
    expect(again.get_by_test_id("edited-mark")).to_have_text("(edited)")
    expect(lee.messages().filter(has_text="this one goes")).to_have_count(0)
    kim.assert_nothing_ran()
    lee.assert_nothing_ran()


# The page's sockets, to close them as a network going away would, and a switch that
# makes new ones fail to connect while it is set (the network still away).
KEEP_SOCKETS = """
window.keptSockets = [];
window.socketsFail = false;
const Original = window.WebSocket;
window.WebSocket = class extends Original {
  constructor(url, ...rest) {
    super(window.socketsFail ? String(url).replace("/ws?", "/no-ws?") : url, ...rest);
    window.keptSockets.push(this);
  }
};
"""


def test_a_page_away_while_a_message_is_edited_shows_the_edit_once_back(
    people: Callable[[str], Person],  # noqa: F811
) -> None:
    mia, ned = people("mia"), people("ned")
    expect = ned.expect
    ned.page.add_init_script(KEEP_SOCKETS)
    ned.page.reload()
    mia.register()
    ned.register()
    mia.join("lobby")
    ned.join("lobby")
    mia.send("wrong fact")
    mia.send("the newest, unchanged")
    ned.expect_message("the newest, unchanged")

    # The network goes, and with it the page's socket.
    ned.page.evaluate("window.socketsFail = true; window.keptSockets.forEach((socket) => socket.close())")
    expect(ned.by_id("connection-status")).to_have_attribute("data-state", "reconnecting")
    mine = mia.page.locator('#message-list [data-testid="message"]').filter(has_text="wrong fact")
    mine.get_by_role("button", name="Edit your message").click()
    mine.get_by_test_id("edit-input").fill("right fact")
    mine.get_by_test_id("edit-save").click()
    mia.expect_message("right fact")

    ned.page.evaluate("window.socketsFail = false")
    expect(ned.by_id("retry-now")).to_be_enabled()
    ned.by_id("retry-now").click()
    expect(ned.by_id("connection-status")).to_have_attribute("data-state", "online")
    ned.expect_message("right fact")
    fixed = ned.page.locator('#message-list [data-testid="message"]').filter(has_text="right fact")
    expect(fixed.get_by_test_id("edited-mark")).to_be_visible()
    mia.assert_nothing_ran()
    ned.assert_nothing_ran()


def test_a_rooms_owner_deletes_a_members_message_and_the_member_cannot_delete_the_owners(
    people: Callable[[str], Person],  # noqa: F811
) -> None:
    ora, pia = people("ora"), people("pia")
    expect = ora.expect
    ora.register()
    pia.register()
    room_id = create_room(ora, "Tidy place")
    pia.join(room_id)
    pia.send("spam spam spam")
    ora.send("house rules")
    pia.expect_message("house rules")

    def message(person: Person, text: str) -> Any:
        return person.page.locator('#message-list [data-testid="message"]').filter(has_text=text)

    expect(message(pia, "house rules").get_by_test_id("delete-message")).to_have_count(0)
    delete = message(ora, "spam spam spam").get_by_role("button", name="Delete pia's message")
    delete.click()
    message(ora, "spam spam spam").get_by_test_id("delete-confirm").click()
    expect(pia.messages().filter(has_text="spam spam spam")).to_have_count(0)
    expect(pia.by_id("tombstone")).to_contain_text("Message deleted")
    expect(ora.by_id("tombstone")).to_contain_text("Message deleted")
    ora.assert_nothing_ran()
    pia.assert_nothing_ran()
