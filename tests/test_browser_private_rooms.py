"""End to end: a private room made with the keyboard, an invite sent by name, accepted from the list.

Uses the browser set-up of ``test_browser.py`` (its Chromium, its server process,
its people; same skips, same CI rule).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from tests.test_browser import Person, chat_server, chromium, people  # noqa: F401  (fixtures)
from tests.test_browser_moderation import menu_button, system_line

pytestmark = pytest.mark.browser


def test_a_private_room_is_offered_marked_and_joined_by_invite(
    people: Callable[[str], Person],  # noqa: F811
) -> None:
    ann, bo, cy = people("ann"), people("bo"), people("cy")
    expect = ann.expect
    for person in (ann, bo, cy):
        person.register()

    # Created from the keyboard: the name, Tab to "Private", Space, Enter.
    ann.by_id("create-room-name").fill("Plans")
    ann.by_id("create-room-name").press("Tab")
    expect(ann.by_id("create-room-private")).to_be_focused()
    ann.page.keyboard.press("Space")
    expect(ann.by_id("create-room-private")).to_be_checked()
    ann.by_id("create-room-private").press("Enter")
    item = ann.page.locator('[data-testid="room-item"]', has_text="Plans")
    expect(item.get_by_test_id("room-private")).to_be_visible()
    expect(item.get_by_test_id("room-open")).to_have_accessible_name(
        re.compile(r"^Plans ?, private, \d+ online$")
    )
    room_id = item.get_attribute("data-room-id")
    assert room_id
    expect(ann.tab(f"room:{room_id}")).to_have_attribute("aria-selected", "true")
    ann.send("only for us")

    # Nobody else sees it listed.
    bo.page.reload()
    expect(bo.by_id("connection-status")).to_have_attribute("data-state", "online")
    expect(bo.room_item("lobby")).to_be_visible()
    expect(bo.room_item(room_id)).to_have_count(0)

    # Invited by name; the invite shows at once, and Accept joins the room.
    expect(ann.by_id("invite-form")).to_be_visible()
    ann.by_id("invite-name").fill("bo")
    ann.by_id("invite-name").press("Enter")
    expect(ann.by_id("invite-name")).to_have_value("")
    invite = bo.page.locator(f'[data-testid="invite-item"][data-room-id="{room_id}"]')
    expect(invite).to_contain_text("Plans from ann")
    accept = invite.get_by_test_id("invite-accept")
    expect(accept).to_have_accessible_name("Accept the invite to Plans")
    accept.focus()
    bo.page.keyboard.press("Enter")
    expect(bo.tab(f"room:{room_id}")).to_have_attribute("aria-selected", "true")
    bo.expect_message("only for us")
    expect(bo.by_id("invites-section")).to_be_hidden()

    # Declined: the invite goes, and the room stays out of sight.
    ann.by_id("invite-name").fill("cy")
    ann.by_id("invite-name").press("Enter")
    declined = cy.page.locator(f'[data-testid="invite-item"][data-room-id="{room_id}"]')
    declined.get_by_test_id("invite-decline").click()
    expect(declined).to_have_count(0)
    expect(cy.room_item(room_id)).to_have_count(0)

    # In a public room there is nothing to invite to.
    ann.join("lobby")
    expect(ann.by_id("invite-form")).to_be_hidden()
    for person in (ann, bo, cy):
        person.assert_nothing_ran()


def test_an_admin_removes_a_member_from_the_members_menu_and_the_room_leaves_their_sight(
    people: Callable[[str], Person],  # noqa: F811
) -> None:
    dee, eli = people("dee"), people("eli")
    expect = dee.expect
    dee.register()
    eli.register()
    dee.by_id("create-room-name").fill("Cellar")
    dee.by_id("create-room-private").check()
    dee.by_id("create-room-name").press("Enter")
    item = dee.page.locator('[data-testid="room-item"]', has_text="Cellar")
    room_id = item.get_attribute("data-room-id")
    assert room_id
    dee.by_id("invite-name").fill("eli")
    dee.by_id("invite-name").press("Enter")
    eli.page.locator(f'[data-testid="invite-item"][data-room-id="{room_id}"]').get_by_test_id(
        "invite-accept"
    ).click()
    expect(eli.tab(f"room:{room_id}")).to_have_attribute("aria-selected", "true")
    expect(system_line(dee, "eli joined the members on dee's invite")).to_have_count(1)

    menu_button(dee, "eli").click()
    dee.page.get_by_role("menuitem", name="Remove from room").click()
    expect(system_line(dee, "eli was removed from the room by dee")).to_have_count(1)
    expect(eli.by_id("error-banner")).to_have_attribute("data-code", "kicked")
    expect(eli.by_id("error-text")).to_have_text(
        "dee removed you from Cellar. You are no longer one of its members."
    )
    expect(eli.tab(f"room:{room_id}")).to_have_count(0)
    expect(eli.room_item(room_id)).to_have_count(0)
    eli.page.reload()
    expect(eli.by_id("connection-status")).to_have_attribute("data-state", "online")
    expect(eli.room_item(room_id)).to_have_count(0)
    dee.assert_nothing_ran()
    eli.assert_nothing_ran()
