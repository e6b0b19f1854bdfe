"""End to end: the web client's layout and accessibility, one behaviour a test.

Messages of one sender run together under one name, days are separated, times are
``<time datetime>`` elements that keep saying how long ago, web addresses are safe
links, very long messages fold; a dropped link shows a banner with a live countdown
and "Retry now", greys the online lists and disables Send; a phone gets 44 px
targets and drawers that take the keyboard and that Escape closes; room buttons say which room they act on;
every text has a contrast of 4.5:1 or more; a long room name leaves the header and
the online count whole.

Uses the browser set-up of ``test_browser.py`` (its Chromium, its server process,
its people; same skips, same CI rule) and the posting helpers of
``test_browser_attention.py``. Each test makes its own room, so that the tests
sharing the module's server do not see each other's messages.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from tests.test_browser import Person, chat_server, chromium, people  # noqa: F401  (fixtures)
from tests.test_browser_attention import create_room, post, sockets_of

if TYPE_CHECKING:
    from playwright.sync_api import Route, ViewportSize

pytestmark = pytest.mark.browser

PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
TOUCH_PX = 44
RECONNECT_CAP_MS = 30_000  # connection.js: the longest wait between two attempts
MIN_CONTRAST = 4.5
LONG_ROOM_NAME = "Quarterly-planning-of-the-northern-hemisphere-operations-team-42"  # 64, the longest

# The messages and their lines of the conversation on screen, top to bottom:
# ["sep:<day label>", "msg:<content>", "msg+:<content of a message that continues a run>"].
LAYOUT = """
() => [...document.querySelectorAll('#message-list [data-testid="messages"] > li')]
  .filter(li => li.dataset.testid === "date-separator" || li.dataset.testid === "message")
  .map(li => li.dataset.testid === "date-separator"
    ? "sep:" + li.textContent
    : (li.classList.contains("grouped") ? "msg+:" : "msg:")
      + li.querySelector('[data-testid="message-content"]').textContent)
"""

# Every text the page shows (element text, ::before content, placeholders) whose
# contrast with what is behind it is below the minimum. Backgrounds are composited
# from the element up to the page, opacity included; a text that is not drawn
# (hidden, clipped to one pixel) does not count.
LOW_CONTRAST = """
(minimum) => {
  const parse = (css) => {
    const m = css.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return [0, 0, 0, 0];
    const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, below, alpha) => top.map((c, i) => i < 3 ? c * alpha + below[i] * (1 - alpha) : 1);
  const lum = (c) => {
    const [r, g, b] = c.slice(0, 3).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const chain = (el) => { const out = []; for (let n = el; n; n = n.parentElement) out.unshift(n); return out; };
  const backdrop = (el) => {
    let bg = [255, 255, 255, 1], opacity = 1;
    for (const n of chain(el)) {
      const style = getComputedStyle(n);
      opacity *= Number(style.opacity);
      const c = parse(style.backgroundColor);
      bg = over(c, bg, c[3] * opacity);
    }
    return [bg, opacity];
  };
  const drawn = (el) => {
    if (!el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })) return false;
    const box = el.getBoundingClientRect();
    return box.width > 1 && box.height > 1;
  };
  const low = [];
  const check = (el, color, what) => {
    const [bg, opacity] = backdrop(el);
    const c = parse(color);
    const fg = over(c, bg, c[3] * opacity);
    const r = ratio(fg, bg);
    if (r < minimum) low.push(`${what} ${color} on rgb(${bg.slice(0, 3).map(Math.round)}): ${r.toFixed(2)}`);
  };
  for (const el of document.body.querySelectorAll("*")) {
    if (!drawn(el)) continue;
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (own) check(el, getComputedStyle(el).color, `"${el.textContent.trim().slice(0, 40)}"`);
    const before = getComputedStyle(el, "::before");
    if (before.content && before.content !== "none" && before.content.replace(/["'\\s]/g, "")) {
      check(el, before.color, `::before of "${el.textContent.trim().slice(0, 30)}"`);
    }
    if ((el.tagName === "INPUT" || el.tagName === "TEXTAREA") && el.placeholder && !el.value) {
      check(el, getComputedStyle(el, "::placeholder").color, `placeholder "${el.placeholder}"`);
    }
  }
  return low;
}
"""

# The visible controls (in the viewport, not covered) smaller than `size` either way;
# links inside a message's text are inline targets, which the 44 px rule leaves out.
SMALL_TARGETS = """
(size) => {
  const small = [];
  for (const el of document.querySelectorAll("button, a[href], input, textarea, select, [role=tab]")) {
    if (el.closest('[data-testid="message-content"]')) continue;
    if (!el.checkVisibility({ checkVisibilityCSS: true })) continue;
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.bottom <= 0 || box.top >= innerHeight || box.right <= 0 || box.left >= innerWidth) continue;
    const top = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
    if (!top || !(el === top || el.contains(top))) continue;
    if (box.width < size || box.height < size) {
      small.push(`${el.tagName.toLowerCase()} "${(el.textContent || el.placeholder || "").trim().slice(0, 30)}" ${Math.round(box.width)}x${Math.round(box.height)}`);
    }
  }
  return small;
}
"""


# Whether the dot before a user's name is (or, with false, is not) the given one.
DOT_IS = """
([selector, dot, same]) => {
  const button = document.querySelector(selector);
  return Boolean(button) && (getComputedStyle(button, "::before").content === dot) === same;
}
"""
PETE = '#room-online-list [data-testid="online-user"][data-username="pete"]'
STYLE_OF = """
([selector, pseudo]) => {
  const button = document.querySelector(selector);
  if (!button) return null;
  const style = getComputedStyle(button, pseudo || null);
  return pseudo ? style.content : style.color || null;
}
"""


# Whether the element ``inner`` is drawn inside the width of ``outer`` (both selectors):
# not cut off, not pushed out. Polled, since the lists are redrawn as counts change.
INSIDE = """
([inner, outer]) => {
  const a = document.querySelector(inner), b = document.querySelector(outer);
  if (!a || !b) return false;
  const x = a.getBoundingClientRect(), y = b.getBoundingClientRect();
  return x.width > 0 && x.left >= y.left - 0.5 && x.right <= y.right + 0.5;
}
"""


def room_for(person: Person, name: str) -> str:
    """A fresh room of the person's, shown; its id."""
    return create_room(person, f"{name}-{time.monotonic_ns() % 10**9}")


def layout(person: Person) -> list[str]:
    rows: list[str] = person.page.evaluate(LAYOUT)
    return rows


def go_offline(person: Person, links: list[Any]) -> None:
    """The network goes, and with it the page's open socket (the browser's offline
    mode leaves open sockets alone, so the test closes it)."""
    person.page.context.set_offline(True)
    links[-1].close(code=1001, reason="gone")
    person.expect(person.by_id("connection-status")).to_have_attribute("data-state", "reconnecting")


def back_online(person: Person) -> None:
    """The network returns. The browser's "online" event brings the next attempt forward,
    unless it comes while an attempt made offline is still failing: then the next one
    comes with the backoff, whose longest wait is 30 s."""
    person.page.context.set_offline(False)
    person.expect(person.by_id("connection-status")).to_have_attribute(
        "data-state", "online", timeout=RECONNECT_CAP_MS + 5_000
    )


def shift_history(person: Person, timestamps: dict[str, int]) -> None:
    """The history pages the page reads come from the server, with the timestamps of the
    messages named in ``timestamps`` (by content) set to the given ones: the server
    stamps messages with its own clock, and a test cannot wait for days to pass."""

    def rewrite(route: Route) -> None:
        response = route.fetch()
        body = response.json()
        for message in body.get("messages", []):
            if message.get("content") in timestamps:
                message["timestamp"] = timestamps[message["content"]]
        route.fulfill(response=response, json=body)

    person.page.route(re.compile(r"/api/v1/rooms/[^/]+/messages"), rewrite)


# ---------------------------------------------------------------------------- the message list


def test_consecutive_messages_of_one_sender_run_together_under_one_name(
    people: Callable[[str], Person],  # noqa: F811
) -> None:
    gus, hana = people("gus"), people("hana")
    gus.register()
    room = room_for(gus, "runs")
    hana.register()
    hana.join(room)
    post(gus, room, "first of gus", "second of gus")
    post(hana, room, "hana answers")
    post(gus, room, "gus again")
    gus.expect_message("gus again")
    assert [row for row in layout(gus) if row.startswith("msg")] == [
        "msg:first of gus",
        "msg+:second of gus",
        "msg:hana answers",
        "msg:gus again",
    ]
    # A message that continues a run shows no name or time, but keeps them for a screen reader.
    second = gus.page.locator('[data-testid="message"]', has_text="second of gus")
    assert second.locator(".meta").evaluate("m => m.getBoundingClientRect().height") <= 1
    gus.expect(second.get_by_test_id("message-sender")).to_have_text("gus")
    first = gus.page.locator('[data-testid="message"]', has_text="first of gus")
    assert first.get_by_test_id("message-sender").evaluate("m => m.getBoundingClientRect().height") > 5
    gus.assert_nothing_ran()
    hana.assert_nothing_ran()


def test_each_day_starts_under_a_date_and_a_pause_starts_a_new_run(
    people: Callable[[str], Person],  # noqa: F811
) -> None:
    ivan, june = people("ivan"), people("june")
    ivan.register()
    room = room_for(ivan, "days")
    post(ivan, room, "three days back", "yesterday noon", "today 11:40", "today 11:52", "today 11:53")
    ivan.expect_message("today 11:53")

    # june's page lives at noon today (local time); the history she reads says when
    # each message was sent.
    noon = datetime.now().replace(hour=12, minute=0, second=0, microsecond=0)
    june.page.clock.set_fixed_time(noon)
    june.page.reload()

    def at(moment: datetime) -> int:
        return int(moment.timestamp() * 1000)

    three_days_back = noon - timedelta(days=3)
    shift_history(
        june,
        {
            "three days back": at(three_days_back),
            "yesterday noon": at(noon - timedelta(days=1)),
            "today 11:40": at(noon - timedelta(minutes=20)),
            "today 11:52": at(noon - timedelta(minutes=8)),
            "today 11:53": at(noon - timedelta(minutes=7)),
        },
    )
    june.register()
    june.expect(june.room_item(room)).to_be_visible()
    june.join(room)
    june.expect_message("today 11:53")
    rows = layout(june)
    assert rows[1:] == [
        "msg:three days back",
        "sep:Yesterday",
        "msg:yesterday noon",
        "sep:Today",
        "msg:today 11:40",
        "msg:today 11:52",  # twelve minutes after the one above: a new run
        "msg+:today 11:53",
    ], rows
    assert re.fullmatch(r"sep:(Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day, \w+ \d+", rows[0]), rows
    days = june.page.locator('[data-testid="date-separator"] time')
    assert days.evaluate_all("ts => ts.map(t => t.getAttribute('datetime'))") == [
        f"{day:%Y-%m-%d}" for day in (three_days_back, noon - timedelta(days=1), noon)
    ]
    ivan.assert_nothing_ran()
    june.assert_nothing_ran()


def test_times_are_time_elements_that_keep_saying_how_long_ago(
    people: Callable[[str], Person],  # noqa: F811
) -> None:
    kim = people("kim")
    kim.page.clock.install()
    kim.page.reload()
    kim.register()
    room_for(kim, "clock")
    kim.send("what time is it")
    kim.expect_message("what time is it")
    stamp = kim.page.locator('[data-testid="message"]', has_text="what time is it").get_by_test_id(
        "message-time"
    )
    kim.expect(stamp).to_have_text("just now")
    iso = stamp.get_attribute("datetime")
    assert iso and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", iso), iso
    sent = datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    assert abs(sent - time.time()) < 60
    assert stamp.evaluate("t => t.tagName") == "TIME"
    assert stamp.get_attribute("title")  # the full date and time, on hover

    # Nobody reloads: the words follow the clock.
    kim.page.clock.fast_forward("05:00")
    kim.expect(stamp).to_have_text("5 min ago")
    kim.page.clock.fast_forward("57:00")
    kim.expect(stamp).to_have_text(re.compile(r"^\d{1,2}:\d\d( [AP]M)?$"))
    kim.assert_nothing_ran()


def test_web_addresses_become_links_that_open_safely_and_nothing_else_does(
    people: Callable[[str], Person],  # noqa: F811
) -> None:
    lena = people("lena")
    lena.register()
    room_for(lena, "links")
    text = (
        "plan: https://example.org/plan?week=12&team=ops. "
        "(see http://example.net/wiki/Trio_(software)) "
        "not javascript:alert(1) nor data:text/html,<b>x</b> nor ftp://example.com/f "
        "nor https://example.com/<img src=x onerror=alert(1)>"
    )
    lena.send(text)
    lena.expect_message("plan:")
    content = lena.messages().filter(has_text="plan:")
    lena.expect(content).to_have_text(text)  # links wrap parts of the text, nothing is lost
    links = content.locator("a")
    lena.expect(links).to_have_count(3)
    assert links.evaluate_all("ls => ls.map(l => [l.getAttribute('href'), l.textContent])") == [
        ["https://example.org/plan?week=12&team=ops", "https://example.org/plan?week=12&team=ops"],
        ["http://example.net/wiki/Trio_(software)", "http://example.net/wiki/Trio_(software)"],
        ["https://example.com/", "https://example.com/"],
    ]
    for i in range(3):
        lena.expect(links.nth(i)).to_have_attribute("target", "_blank")
        lena.expect(links.nth(i)).to_have_attribute("rel", "noopener noreferrer")
    lena.expect(lena.page.locator("#message-list img, #message-list b")).to_have_count(0)
    lena.assert_nothing_ran()


def test_a_very_long_message_is_folded_until_show_more(
    people: Callable[[str], Person],  # noqa: F811
) -> None:
    milo = people("milo")
    milo.register()
    room_for(milo, "fold")
    long_text = "\n".join(f"line {n} of the build log" for n in range(1, 41))
    milo.send(long_text)
    milo.send("a short one")
    milo.expect_message("a short one")
    item = milo.page.locator('[data-testid="message"]', has_text="line 40 of the build log")
    body, toggle = item.get_by_test_id("message-content"), item.get_by_test_id("fold-toggle")
    milo.expect(body).to_have_text(long_text)  # folded on screen, whole for a screen reader and a copy

    def clipped() -> bool:
        return bool(body.evaluate("b => b.scrollHeight > b.clientHeight + 1"))

    milo.expect(toggle).to_have_text("Show more")
    milo.expect(toggle).to_have_attribute("aria-expanded", "false")
    assert toggle.get_attribute("aria-controls") == body.get_attribute("id")
    assert clipped()
    assert body.evaluate("b => b.getBoundingClientRect().height") < 300
    toggle.click()
    milo.expect(toggle).to_have_text("Show less")
    milo.expect(toggle).to_have_attribute("aria-expanded", "true")
    assert not clipped()
    toggle.click()
    milo.expect(toggle).to_have_text("Show more")
    assert clipped()
    short = milo.page.locator('[data-testid="message"]', has_text="a short one")
    milo.expect(short.get_by_test_id("fold-toggle")).to_have_count(0)
    milo.assert_nothing_ran()


# ---------------------------------------------------------------------------- offline


def test_the_offline_banner_counts_down_and_retry_now_tries_at_once(
    people: Callable[[str], Person],  # noqa: F811
) -> None:
    nora = people("nora")
    expect = nora.expect
    links = sockets_of(nora)
    nora.page.clock.install()  # the test moves the page's clock through the backoff
    nora.page.reload()
    nora.register()
    banner, text, retry = nora.by_id("offline-banner"), nora.by_id("offline-text"), nora.by_id("retry-now")
    expect(banner).to_be_hidden()

    go_offline(nora, links)
    expect(banner).to_be_visible()
    expect(nora.by_id("link-announcer")).to_contain_text("You are offline")
    # Each failed attempt waits longer; once the wait is a few seconds, it counts down.
    countdown = re.compile(r"Offline\..* reconnecting in ([3-9]|[1-9][0-9]) s")
    for _ in range(60):
        match = countdown.search(text.inner_text())
        if match:
            break
        nora.page.clock.run_for(500)
    assert match, text.inner_text()
    seconds = int(match.group(1))
    nora.page.clock.run_for(1000)
    expect(text).to_contain_text(f"reconnecting in {seconds - 1} s")

    # "Retry now" tries at once (and fails: still offline), long before the countdown's end.
    with nora.page.expect_websocket(timeout=1_000):
        retry.click()

    # The network is back: the browser says so, and the page does not wait for its countdown
    # (the clock moves on in case the "online" event met a failing attempt).
    nora.page.context.set_offline(False)
    nora.page.clock.run_for(RECONNECT_CAP_MS)
    back_online(nora)
    expect(banner).to_be_hidden()
    expect(nora.by_id("link-announcer")).to_have_text("Connected again.")
    nora.assert_nothing_ran()


def test_while_offline_the_online_lists_are_greyed_and_send_is_disabled(
    people: Callable[[str], Person],  # noqa: F811
) -> None:
    olga, pete = people("olga"), people("pete")
    expect = olga.expect
    links = sockets_of(olga)
    olga.register()
    pete.register()
    room = room_for(olga, "grey")
    pete.join(room)
    pete_button = olga.online_user("room-online-list", "pete")
    expect(pete_button).to_be_visible()
    # Read from the page as it stands: the lists are redrawn as presence changes, and a button
    # taken out meanwhile has no computed style at all.
    online_colour = olga.page.wait_for_function(STYLE_OF, arg=[PETE, ""]).json_value()
    online_dot = olga.page.wait_for_function(STYLE_OF, arg=[PETE, "::before"]).json_value()
    olga.by_id("message-input").fill("typed before the drop")
    expect(olga.by_id("send-button")).to_be_enabled()

    go_offline(olga, links)
    expect(olga.by_id("send-button")).to_be_disabled()
    # The text can still be written; it waits for the link.
    expect(olga.by_id("message-input")).to_be_editable()
    expect(olga.by_id("message-input")).to_have_value("typed before the drop")
    expect(olga.by_id("people-stale")).to_be_visible()
    expect(pete_button).not_to_have_css("color", online_colour)
    olga.page.wait_for_function(DOT_IS, arg=[PETE, online_dot, False])

    back_online(olga)
    expect(olga.by_id("send-button")).to_be_enabled()
    expect(olga.by_id("people-stale")).to_be_hidden()
    expect(pete_button).to_have_css("color", online_colour)
    olga.page.wait_for_function(DOT_IS, arg=[PETE, online_dot, True])
    olga.assert_nothing_ran()
    pete.assert_nothing_ran()


# ---------------------------------------------------------------------------- phone, keyboard, screen reader


def test_every_control_on_a_phone_is_at_least_44_pixels(
    people: Callable[[str], Person],  # noqa: F811
) -> None:
    quin = people("quin")
    quin.register()
    room_for(quin, "thumbs")
    quin.send("\n".join(["long"] * 30))  # a fold button
    quin.page.set_viewport_size(PHONE)
    quin.by_id("message-input").fill("x" * 5000)  # too long: an error banner with its close button
    quin.by_id("send-button").click()
    quin.expect(quin.by_id("error-banner")).to_be_visible()
    screens = {"conversation": None, "rooms drawer": "toggle-rooms", "people drawer": "toggle-people"}
    small: dict[str, list[str]] = {}
    for screen, toggle in screens.items():
        if toggle:
            quin.by_id(toggle).click()
        small[screen] = quin.page.evaluate(SMALL_TARGETS, TOUCH_PX)
        if toggle:
            quin.by_id(toggle).click()
    assert small == {screen: [] for screen in screens}
    quin.assert_nothing_ran()


def test_room_buttons_are_named_for_screen_readers(
    people: Callable[[str], Person],  # noqa: F811
) -> None:
    rosa, sam = people("rosa"), people("sam")
    rosa.register()
    name = f"Reading-{time.monotonic_ns() % 10**6}"
    rosa.by_id("create-room-name").fill(name)
    rosa.by_id("create-room-name").press("Enter")
    rosa.expect(rosa.page.get_by_role("button", name=f"Leave {name}", exact=True)).to_have_count(1)
    sam.register()
    rooms = sam.by_id("room-list")
    join = rooms.get_by_role("button", name=f"Join {name}", exact=True)
    sam.expect(join).to_have_count(1)
    sam.expect(rooms.get_by_role("button", name=f"{name} 1 online", exact=True)).to_have_count(1)
    join.click()
    sam.expect(rooms.get_by_role("button", name=f"Leave {name}", exact=True)).to_have_count(1)
    sam.expect(rooms.get_by_role("button", name=f"{name} 2 online", exact=True)).to_have_count(1)
    # No two buttons of the room list share a name.
    names = rooms.get_by_role("button").evaluate_all(
        "bs => bs.map(b => b.getAttribute('aria-label') || b.textContent.trim())"
    )
    assert len(names) == len(set(names)), names
    rosa.assert_nothing_ran()
    sam.assert_nothing_ran()


def test_a_drawer_takes_the_keyboard_and_escape_gives_it_back_to_its_button(
    people: Callable[[str], Person],  # noqa: F811
) -> None:
    tess = people("tess")
    tess.register()
    # A first login lands in the lobby: its "joined" shows the room, which may take the focus.
    tess.expect(tess.tab("room:lobby")).to_have_attribute("aria-selected", "true")
    tess.page.set_viewport_size(PHONE)
    for panel, toggle in (("rooms-panel", "toggle-rooms"), ("people-panel", "toggle-people")):
        tess.by_id(toggle).focus()
        tess.page.keyboard.press("Enter")
        tess.expect(tess.by_id(panel)).to_be_visible()
        tess.expect(tess.by_id(toggle)).to_have_attribute("aria-expanded", "true")
        # The keyboard went into the drawer, which covers the page behind it.
        assert tess.by_id(panel).evaluate("panel => panel.contains(document.activeElement)")
        tess.page.keyboard.press("Escape")
        tess.expect(tess.by_id(panel)).to_be_hidden()
        tess.expect(tess.by_id(toggle)).to_have_attribute("aria-expanded", "false")
        tess.expect(tess.by_id(toggle)).to_be_focused()
    tess.assert_nothing_ran()


def test_every_text_has_a_contrast_of_at_least_4_5(
    people: Callable[[str], Person],  # noqa: F811
) -> None:
    uma, vic = people("uma"), people("vic")
    links = sockets_of(uma)
    uma.fill_credentials(password="wrong-password-here")
    uma.by_id("login-button").click()
    uma.expect(uma.by_id("auth-message")).to_contain_text("Wrong username or password")
    low = {"login": uma.page.evaluate(LOW_CONTRAST, MIN_CONTRAST)}
    uma.register()
    vic.register()
    room = room_for(uma, "contrast")
    vic.page.reload()
    vic.expect(vic.room_item(room)).to_be_visible()
    vic.join(room)
    uma.send("mine, with https://example.org/a link")
    post(vic, room, "theirs")
    uma.expect_message("theirs")
    uma.page.locator(f'[data-testid="room-item"]:not([data-room-id="{room}"])').first.locator(
        ".room-open"
    ).hover()
    low["chat"] = uma.page.evaluate(LOW_CONTRAST, MIN_CONTRAST)
    go_offline(uma, links)
    uma.by_id("message-input").fill("")
    low["offline"] = uma.page.evaluate(LOW_CONTRAST, MIN_CONTRAST)
    uma.page.set_viewport_size(PHONE)
    uma.by_id("toggle-people").click()
    low["phone, people"] = uma.page.evaluate(LOW_CONTRAST, MIN_CONTRAST)
    assert low == {screen: [] for screen in low}
    vic.assert_nothing_ran()


def test_a_long_room_name_leaves_the_header_and_the_online_count_whole(
    people: Callable[[str], Person],  # noqa: F811
) -> None:
    wes = people("wes")
    wes.register()
    wes.by_id("create-room-name").fill(LONG_ROOM_NAME)
    wes.by_id("create-room-name").press("Enter")
    wes.expect(wes.by_id("conversation-title")).to_have_text("# " + LONG_ROOM_NAME)

    def whole(inner: str, outer: str) -> None:
        wes.page.wait_for_function(INSIDE, arg=[inner, outer])

    for size in (DESKTOP, PHONE):
        wes.page.set_viewport_size(size)
        page_width = wes.page.evaluate("document.documentElement.scrollWidth")
        assert page_width <= size["width"], f"the page scrolls sideways at {size}"
        title = wes.by_id("conversation-title")
        wes.expect(title).to_have_attribute("title", LONG_ROOM_NAME)
        # One line: the header is as high as its button makes it.
        assert title.evaluate("h => h.offsetHeight") <= wes.by_id("leave-button").evaluate(
            "b => b.offsetHeight"
        )
        if size is PHONE:
            assert title.evaluate("h => h.scrollWidth > h.clientWidth")  # cut with an ellipsis
        whole('[data-testid="leave-button"]', ".conversation-header")
        tab = wes.page.locator('[data-testid="conversation-tab"]', has_text=LONG_ROOM_NAME[:20])
        wes.expect(tab).to_have_attribute("title", LONG_ROOM_NAME)
        if size is PHONE:
            wes.by_id("toggle-people").click()
        panel = wes.by_id("people-panel")
        count = panel.get_by_test_id("room-online-total")
        wes.expect(count).to_have_text(" (1)")
        whole('[data-testid="room-online-total"]', "#people-panel")
        assert panel.evaluate("p => p.scrollWidth <= p.clientWidth")
        wes.expect(panel.locator("#room-online-title")).to_have_attribute("title", re.compile(LONG_ROOM_NAME))
        if size is PHONE:
            wes.by_id("toggle-people").click()
            wes.by_id("toggle-rooms").click()
        item = wes.page.locator('[data-testid="room-item"]', has_text=LONG_ROOM_NAME[:20])
        wes.expect(item.get_by_test_id("room-open")).to_have_attribute("title", re.compile(LONG_ROOM_NAME))
        wes.expect(item.get_by_test_id("room-online-count")).to_have_text("1")
        room = f'[data-room-id="{item.get_attribute("data-room-id")}"]'
        whole(f'{room} [data-testid="room-online-count"]', f"{room} .room-open")
        whole(f'{room} [data-testid="leave-room"]', "#rooms-panel")
    wes.assert_nothing_ran()
