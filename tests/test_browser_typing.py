"""End to end: a person typing, in a room or in private, is shown to the others until the message arrives.

Uses the browser set-up of ``test_browser.py`` (its Chromium, its server process,
its people; same skips, same CI rule).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.test_browser import Person, chat_server, chromium, people  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


def test_typing_shows_on_the_other_persons_page_until_the_message_arrives(
    people: Callable[[str], Person],  # noqa: F811
) -> None:
    ivy, jack = people("ivy"), people("jack")
    expect = jack.expect
    ivy.register()
    jack.register()
    ivy.join("lobby")
    jack.join("lobby")
    expect(jack.online_user("room-online-list", "ivy")).to_be_visible()

    ivy.by_id("message-input").press_sequentially("hello the")
    expect(jack.by_id("typing-indicator")).to_have_text("ivy is typing…")
    expect(ivy.by_id("typing-indicator")).to_have_text("")  # never oneself

    ivy.by_id("message-input").press_sequentially("re")
    ivy.by_id("send-button").click()
    jack.expect_message("hello there")
    expect(jack.by_id("typing-indicator")).to_have_text("")

    # In private: both have the conversation on screen.
    ivy_id, jack_id = jack.user_id_of("ivy"), ivy.user_id_of("jack")
    ivy.online_user("room-online-list", "jack").click()
    jack.online_user("room-online-list", "ivy").click()
    expect(jack.tab(f"user:{ivy_id}")).to_have_attribute("aria-selected", "true")
    expect(ivy.tab(f"user:{jack_id}")).to_have_attribute("aria-selected", "true")
    ivy.by_id("message-input").press_sequentially("just us")
    expect(jack.by_id("typing-indicator")).to_have_text("ivy is typing…")
    ivy.assert_nothing_ran()
    jack.assert_nothing_ran()
