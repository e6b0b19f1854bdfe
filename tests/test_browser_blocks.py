"""End to end: blocking the peer of a private conversation from its header, and unblocking.

Uses the browser set-up of ``test_browser.py`` (its Chromium, its server process,
its people; same skips, same CI rule).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.test_browser import Person, chat_server, chromium, people  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


def test_a_blocked_peer_cannot_write_and_the_button_undoes_it(
    people: Callable[[str], Person],  # noqa: F811
) -> None:
    kim, leo = people("kim"), people("leo")
    expect = kim.expect
    kim.register()
    leo.register()
    kim.join("lobby")
    leo.join("lobby")
    kim_id, leo_id = leo.user_id_of("kim"), kim.user_id_of("leo")
    kim.online_user("room-online-list", "leo").click()
    leo.online_user("room-online-list", "kim").click()
    expect(kim.tab(f"user:{leo_id}")).to_have_attribute("aria-selected", "true")
    expect(leo.tab(f"user:{kim_id}")).to_have_attribute("aria-selected", "true")

    block = kim.by_id("block-button")
    expect(block).to_have_text("Block")
    block.click()
    expect(block).to_have_text("Unblock")
    expect(block).to_have_attribute("aria-pressed", "true")

    leo.by_id("message-input").fill("can you read me?")
    leo.by_id("send-button").click()
    expect(leo.by_id("error-banner")).to_have_attribute("data-code", "blocked")
    expect(leo.by_id("error-text")).to_contain_text("does not accept private messages from you")

    block.click()
    expect(block).to_have_text("Block")
    leo.send("now?")
    kim.expect_message("now?")
    kim.assert_nothing_ran()
