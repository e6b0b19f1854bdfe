"""End to end: "Online everywhere" is right at login, after a reload, on a phone, and as people come and go.

Uses the browser set-up of ``test_browser.py`` (its Chromium, its server process,
its people; same skips, same CI rule). The page watches the users it shows
(``watch``) and applies the server's ``presence`` pushes, so someone who shares
no room with you still comes and goes in the list; and an answer to an older
question (the page's HTTP one at login) never overwrites a newer one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.test_browser import PHONE, Person, chat_server, chromium, people  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser

PAST_THE_GRACE_MS = 6_500 + 5_000


def site_list(person: Person) -> Any:
    return person.page.locator('#site-online-list [data-testid="online-user"]')


def log_in(person: Person) -> None:
    person.fill_credentials()
    person.by_id("login-button").click()
    person.expect(person.by_id("connection-status")).to_have_attribute("data-state", "online")


def test_an_answer_to_an_older_question_does_not_overwrite_the_list_at_login(
    people: Callable[[str], Person],  # noqa: F811
) -> None:
    rosa = people("rosa")  # first in this module: nobody else's coming or going asks the list again
    expect = rosa.expect
    held: list[Any] = []
    rosa.page.route(
        "**/api/v1/online", lambda route: held.append(route)
    )  # the login's HTTP question, answered late
    rosa.register()
    expect(site_list(rosa)).to_have_text(["rosa (you)"])  # from the socket's answer
    assert len(held) == 1
    with rosa.page.expect_request_finished(lambda request: request.url.endswith("/api/v1/online")):
        held[0].fulfill(status=200, json={"users": []})  # what the server said before rosa's socket was up
    rosa.page.wait_for_timeout(200)  # the page has read the late answer by now
    assert site_list(rosa).all_text_contents() == ["rosa (you)"]  # at once: nothing may put it right later
    rosa.assert_nothing_ran()


def test_someone_who_shares_no_room_comes_and_goes_in_the_list_without_a_click(
    people: Callable[[str], Person],  # noqa: F811
) -> None:
    olga, pete = people("olga"), people("pete")
    expect = olga.expect
    pete.register()
    pete.by_id("leave-button").click()  # pete is in no room: nothing olga sees in a room tells of him
    expect(pete.tab("room:lobby")).to_have_count(0)
    olga.register()
    expect(site_list(olga)).to_have_text(["olga (you)", "pete"])

    pete.page.context.close()  # gone, and not coming back within the grace
    expect(site_list(olga)).to_have_text(["olga (you)"], timeout=PAST_THE_GRACE_MS)

    pete = people("pete")  # logs in elsewhere
    log_in(pete)
    expect(pete.tab("room:lobby")).to_have_count(0)
    expect(site_list(olga)).to_have_text(["olga (you)", "pete"])

    olga.page.reload()
    expect(olga.by_id("connection-status")).to_have_attribute("data-state", "online")
    expect(site_list(olga)).to_have_text(["olga (you)", "pete"])

    olga.page.set_viewport_size(PHONE)
    olga.by_id("toggle-people").click()
    expect(olga.by_id("people-panel")).to_be_in_viewport()
    expect(site_list(olga)).to_have_text(["olga (you)", "pete"])
    olga.assert_nothing_ran()
    pete.assert_nothing_ran()


def test_the_keyboard_stays_on_the_same_person_while_others_come_and_go(
    people: Callable[[str], Person],  # noqa: F811
) -> None:
    quin, ruth = people("quin"), people("ruth")
    expect = quin.expect
    quin.register()
    ruth.register()
    button = quin.page.locator('#site-online-list [data-testid="online-user"][data-username="ruth"]')
    button.focus()
    expect(button).to_be_focused()
    sam = people("sam")
    sam.register()  # quin's list is drawn again with sam in it
    expect(quin.page.locator('#site-online-list [data-username="sam"]')).to_have_count(1)
    expect(button).to_be_focused()
    # The same in the room's list, on a member's menu button: tom lands in the lobby too.
    actions = quin.page.locator("#room-online-list").get_by_role("button", name="Actions for ruth")
    actions.focus()
    tom = people("tom")
    tom.register()
    expect(quin.page.locator('#room-online-list [data-username="tom"]')).to_have_count(1)
    expect(actions).to_be_focused()
    for person in (quin, ruth, sam, tom):
        person.assert_nothing_ran()
