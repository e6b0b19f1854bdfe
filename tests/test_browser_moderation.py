"""End to end: moderating a room from the menu beside each member of its online list.

The owner of a room is its creator, so each test has one person create the room
from the form. Uses the browser set-up of ``test_browser.py`` (its Chromium, its
server process, its people; same skips, same CI rule).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.test_browser import Person, chat_server, chromium, people  # noqa: F401  (fixtures)
from tests.test_browser_attention import create_room
from tests.test_browser_layout import PHONE, SMALL_TARGETS, TOUCH_PX

pytestmark = pytest.mark.browser


def menu_button(person: Person, username: str) -> Any:
    return person.page.locator("#room-online-list").get_by_role("button", name=f"Actions for {username}")


def menu_items(person: Person) -> Any:
    return person.page.get_by_role("menu").get_by_role("menuitem")


def system_line(person: Person, text: str) -> Any:
    return person.page.locator('#message-list [data-testid="system-line"]', has_text=text)


def owner_and_member(
    open_person: Callable[[str], Person], owner: str, member: str, room: str
) -> tuple[Person, Person, str]:
    boss, guest = open_person(owner), open_person(member)
    boss.register()
    guest.register()
    room_id = create_room(boss, room)
    guest.join(room_id)
    boss.expect(menu_button(boss, member)).to_be_visible()
    return boss, guest, room_id


def moderate(
    person: Person, username: str, item: str, *, reason: str = "", duration: str | None = None
) -> None:
    """Opens ``username``'s menu, picks ``item``, and confirms its dialog with a reason."""
    menu_button(person, username).click()
    person.page.get_by_role("menuitem", name=item).click()
    dialog = person.page.get_by_role("dialog")
    person.expect(dialog).to_be_visible()
    if duration is not None:
        dialog.get_by_label("How long").select_option(label=duration)
    dialog.get_by_label("Reason").fill(reason)
    dialog.get_by_test_id("moderation-confirm").click()
    person.expect(dialog).to_be_hidden()


def test_a_member_muted_from_the_menu_is_told_until_when_on_sending(
    people: Callable[[str], Person],  # noqa: F811
) -> None:
    ann, ivy, _ = owner_and_member(people, "ann", "ivy", "Quiet corner")
    expect = ann.expect
    menu_button(ann, "ivy").click()
    expect(menu_items(ann)).to_have_text(["Message privately", "Kick…", "Mute…", "Ban…", "Make admin"])
    ann.page.keyboard.press("Escape")

    moderate(ann, "ivy", "Mute…", reason="spam", duration="1 hour")
    for person in (ann, ivy):
        expect(system_line(person, "ivy was muted by ann for 1 hour: spam")).to_have_count(1)

    ivy.by_id("message-input").fill("can I still talk?")
    ivy.by_id("send-button").click()
    expect(ivy.by_id("error-banner")).to_have_attribute("data-code", "muted")
    expect(ivy.by_id("error-text")).to_contain_text("You are muted in this room until ")
    expect(ivy.by_id("mute-note")).to_contain_text("You are muted in Quiet corner until ")
    expect(ivy.by_id("message-input")).to_have_value("can I still talk?")  # given back

    menu_button(ann, "ivy").click()
    ann.page.get_by_role("menuitem", name="Unmute").click()
    expect(system_line(ivy, "ann lifted the mute on ivy")).to_have_count(1)
    expect(ivy.by_id("mute-note")).to_be_hidden()
    ivy.send("thanks")
    ann.expect_message("thanks")
    ann.assert_nothing_ran()
    ivy.assert_nothing_ran()


def test_a_kicked_member_reads_who_kicked_them_and_why(
    people: Callable[[str], Person],  # noqa: F811
) -> None:
    bea, jon, room_id = owner_and_member(people, "bea", "jon", "Kicking place")
    expect = bea.expect
    moderate(bea, "jon", "Kick…", reason="off topic")
    expect(system_line(bea, "jon was kicked by bea: off topic")).to_have_count(1)
    expect(jon.by_id("error-banner")).to_have_attribute("data-code", "kicked")
    expect(jon.by_id("error-text")).to_have_text(
        "bea removed you from Kicking place. Reason: off topic. You may join it again."
    )
    expect(jon.tab(f"room:{room_id}")).to_have_count(0)
    expect(menu_button(bea, "jon")).to_have_count(0)
    bea.assert_nothing_ran()
    jon.assert_nothing_ran()


def test_a_members_menu_offers_no_moderation_and_escape_gives_the_focus_back(
    people: Callable[[str], Person],  # noqa: F811
) -> None:
    cal, kay, _ = owner_and_member(people, "cal", "kay", "Flat place")
    expect = kay.expect
    button = menu_button(kay, "cal")
    expect(button).to_have_attribute("aria-haspopup", "menu")
    button.focus()
    kay.page.keyboard.press("Enter")
    expect(kay.page.get_by_role("menu", name="Actions for cal")).to_be_visible()
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(menu_items(kay)).to_have_text(["Message privately"])  # no kick, mute or ban on the owner
    expect(menu_items(kay).first).to_be_focused()
    kay.page.keyboard.press("ArrowDown")  # one item: the arrows stay on it
    expect(menu_items(kay).first).to_be_focused()
    kay.page.keyboard.press("Escape")
    expect(kay.page.get_by_role("menu")).to_have_count(0)
    expect(button).to_be_focused()
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(kay.by_id("moderation-button")).to_have_count(0)

    kay.page.keyboard.press("ArrowUp")  # opens on the last item; Enter runs it
    kay.page.keyboard.press("Enter")
    cal_id = kay.user_id_of("cal")
    expect(kay.tab(f"user:{cal_id}")).to_have_attribute("aria-selected", "true")
    cal.assert_nothing_ran()
    kay.assert_nothing_ran()


def test_a_banned_member_is_refused_until_an_admin_unbans_them_from_the_moderation_panel(
    people: Callable[[str], Person],  # noqa: F811
) -> None:
    dee, lou, room_id = owner_and_member(people, "dee", "lou", "Banning place")
    expect = dee.expect
    moderate(dee, "lou", "Ban…", reason="rude", duration="Until lifted")
    expect(system_line(dee, "lou was banned by dee until further notice: rude")).to_have_count(1)
    expect(lou.by_id("error-banner")).to_have_attribute("data-code", "banned")
    expect(lou.by_id("error-text")).to_contain_text("dee banned you from Banning place until it is lifted")
    lou.room_item(room_id).get_by_test_id("room-open").click()
    expect(lou.by_id("error-text")).to_have_text(
        "Joining Banning place failed. You are banned from Banning place until it is lifted."
    )

    dee.by_id("moderation-button").click()
    panel = dee.page.get_by_role("dialog", name="Moderation in Banning place")
    expect(panel).to_be_visible()
    expect(panel.get_by_test_id("moderation-entry")).to_have_count(1)
    expect(panel.get_by_test_id("moderation-entry")).to_contain_text(
        "dee banned lou until it is lifted: rude"
    )
    panel.get_by_role("button", name="Unban lou").click()
    expect(panel.get_by_test_id("sanction")).to_have_count(0)
    expect(system_line(dee, "dee lifted the ban on lou")).to_have_count(1)
    dee.page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(dee.by_id("moderation-button")).to_be_focused()

    lou.join(room_id)
    lou.send("sorry")
    dee.expect_message("sorry")
    dee.assert_nothing_ran()
    lou.assert_nothing_ran()


def test_a_new_admin_gets_the_menu_of_their_level_at_once(
    people: Callable[[str], Person],  # noqa: F811
) -> None:
    eve, max_, room_id = owner_and_member(people, "eve", "max", "Admin place")
    ned = people("ned")
    ned.register()
    ned.join(room_id)
    expect = eve.expect
    expect(menu_button(max_, "ned")).to_be_visible()
    menu_button(max_, "ned").click()
    expect(menu_items(max_)).to_have_text(["Message privately"])
    max_.page.keyboard.press("Escape")

    menu_button(eve, "max").click()
    eve.page.get_by_role("menuitem", name="Make admin").click()
    expect(system_line(max_, "max was made an admin by eve")).to_have_count(1)
    expect(max_.by_id("moderation-button")).to_be_visible()
    menu_button(max_, "ned").click()
    expect(menu_items(max_)).to_have_text(["Message privately", "Kick…", "Mute…", "Ban…"])
    max_.page.keyboard.press("Escape")
    menu_button(max_, "eve").click()
    expect(menu_items(max_)).to_have_text(["Message privately"])  # nobody acts on the owner
    max_.page.keyboard.press("Escape")
    menu_button(eve, "max").click()
    expect(menu_items(eve)).to_have_text(["Message privately", "Kick…", "Mute…", "Ban…", "Remove admin"])

    eve.page.get_by_role("menuitem", name="Kick…").click()  # the dialog's Escape does nothing
    eve.page.keyboard.press("Escape")
    expect(eve.page.get_by_role("dialog")).to_be_hidden()
    expect(menu_button(eve, "max")).to_be_focused()
    expect(system_line(eve, "was kicked")).to_have_count(0)
    eve.assert_nothing_ran()
    max_.assert_nothing_ran()


def test_on_a_phone_the_menu_and_its_items_are_big_enough_for_a_finger(
    people: Callable[[str], Person],  # noqa: F811
) -> None:
    fay, oli, _ = owner_and_member(people, "fay", "oli", "Phone place")
    fay.page.set_viewport_size(PHONE)
    fay.by_id("toggle-people").click()
    menu_button(fay, "oli").click()
    fay.expect(fay.page.get_by_role("menu")).to_be_visible()
    assert fay.page.evaluate(SMALL_TARGETS, TOUCH_PX) == []
    fay.page.get_by_role("menuitem", name="Mute…").click()
    fay.expect(fay.page.get_by_role("dialog")).to_be_visible()
    assert fay.page.evaluate(SMALL_TARGETS, TOUCH_PX) == []
    # Escape is the dialog's: it closes, and the drawer behind it stays open.
    fay.page.keyboard.press("Escape")
    fay.expect(fay.page.get_by_role("dialog")).to_be_hidden()
    fay.expect(fay.by_id("people-panel")).to_be_visible()
    fay.expect(fay.by_id("toggle-people")).to_have_attribute("aria-expanded", "true")
    fay.assert_nothing_ran()
    oli.assert_nothing_ran()


def test_a_refusal_of_the_server_is_shown_in_its_words(
    people: Callable[[str], Person],  # noqa: F811
) -> None:
    gus, pat = people("gus"), people("pat")
    gus.register()
    pat.register()
    room_id = create_room(gus, "Stale place")

    def claim_admin(route: Any) -> None:  # a stale answer: pat believes they moderate
        answer = route.fetch()
        route.fulfill(response=answer, json=answer.json() | {"owner": None, "you": "admin", "sanctions": []})

    pat.page.route(f"**/api/v1/rooms/{room_id}/roles", claim_admin)
    pat.join(room_id)
    moderate(pat, "gus", "Kick…", reason="mine now")
    pat.expect(pat.by_id("error-banner")).to_have_attribute("data-code", "forbidden")
    pat.expect(pat.by_id("error-text")).to_have_text(
        "Kicking gus failed. Only the room's admins and its owner moderate it."
    )
    gus.expect(gus.tab(f"room:{room_id}")).to_have_attribute("aria-selected", "true")
    gus.assert_nothing_ran()
    pat.assert_nothing_ran()
