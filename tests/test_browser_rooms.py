"""End to end: a room someone else creates shows up in the list at once, and a taken name is refused in words.

Uses the browser set-up of ``test_browser.py`` (its Chromium, its server process,
its people; same skips, same CI rule).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.test_browser import Person, chat_server, chromium, people  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser

SOONER_THAN_THE_POLL_MS = 5_000  # the list's own refresh comes every 30 s


def test_a_room_made_by_another_person_appears_without_waiting_for_the_refresh(
    people: Callable[[str], Person],  # noqa: F811
) -> None:
    erin, frank = people("erin"), people("frank")
    expect = erin.expect
    erin.register()
    frank.register()
    expect(frank.room_item("lobby")).to_be_visible()

    erin.by_id("create-room-name").fill("Garden")
    erin.by_id("create-room-name").press("Enter")
    expect(erin.page.locator('[data-testid="conversation-tab"]', has_text="Garden")).to_be_visible()
    garden = frank.page.locator('[data-testid="room-item"]', has_text="Garden")
    expect(garden).to_have_count(1, timeout=SOONER_THAN_THE_POLL_MS)

    frank.by_id("create-room-name").fill("GARDEN")
    frank.by_id("create-room-button").click()
    expect(frank.by_id("error-banner")).to_have_attribute("data-code", "room_name_taken")
    expect(frank.by_id("error-text")).to_contain_text("A room with that name already exists")
    expect(garden).to_have_count(1)
    erin.assert_nothing_ran()
    frank.assert_nothing_ran()
