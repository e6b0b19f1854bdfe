"""End to end: a reload is not leaving. The others see no "left"/"joined" pair, and a real departure once.

Uses the browser set-up of ``test_browser.py`` (its Chromium, its server process,
its people; same skips, same CI rule). The page asks the server for a grace
when it connects (``/ws?linger=5``); the server's default allows 5 s.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.test_browser import Person, chat_server, chromium, people  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser

PAST_THE_GRACE_MS = 6_500


def test_a_reload_shows_the_others_nothing_and_closing_the_page_one_leave_after_the_grace(
    people: Callable[[str], Person],  # noqa: F811
) -> None:
    gina, hugo = people("gina"), people("hugo")
    expect = hugo.expect
    gina.register()
    hugo.register()
    gina.join("lobby")
    hugo.join("lobby")
    lines = hugo.page.locator('#message-list [data-testid="system-line"][data-username="gina"]')
    leaves = lines.and_(hugo.page.locator('[data-event="leave"]'))
    expect(hugo.online_user("room-online-list", "gina")).to_be_visible()
    seen = lines.count()

    gina.page.reload()
    expect(gina.tab("room:lobby")).to_be_visible()
    hugo.page.wait_for_timeout(PAST_THE_GRACE_MS)  # the grace would have ended by now
    expect(lines).to_have_count(seen)
    expect(hugo.online_user("room-online-list", "gina")).to_be_visible()

    gina.page.close()
    expect(leaves).to_have_count(1, timeout=PAST_THE_GRACE_MS + 5_000)
    expect(hugo.online_user("room-online-list", "gina")).to_have_count(0)
    hugo.assert_nothing_ran()
