"""End to end: the web client tells its user what arrived while they looked elsewhere.

A page kept open all day is mostly not looked at. Messages that arrive in a room not
on screen are counted in the room list and in the page's title; private messages and
mentions raise a desktop notification once the user asked for them; a reader who
scrolled up is offered a way back down; and after a time offline or hidden a divider
shows where the new messages start. Error texts say one thing, once.

Uses the browser set-up of ``test_browser.py`` (its Chromium, its server process,
its people; same skips, same CI rule). Two browser APIs are replaced in alice's page
before it loads: ``Notification`` by a recorder (the test cannot see the desktop),
and ``document.hidden`` by a switch (a headless page is never hidden by itself).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from tests.test_browser import Person, chat_server, chromium, people  # noqa: F401  (fixtures)

if TYPE_CHECKING:
    from playwright.sync_api import WebSocketRoute

pytestmark = pytest.mark.browser

# What the page gets instead of the browser's own: a Notification that records what it
# is asked to show, and a visibility switch.
WATCHED_PAGE = """
(() => {
  window.__notifications = [];
  window.__permissionRequests = 0;
  class RecordingNotification {
    static permission = "default";
    static requestPermission() {
      window.__permissionRequests += 1;
      RecordingNotification.permission = "granted";
      return Promise.resolve("granted");
    }
    constructor(title, options) {
      window.__notifications.push({ title, tag: (options || {}).tag, body: (options || {}).body });
    }
    close() {}
  }
  window.Notification = RecordingNotification;

  let hidden = false;
  Object.defineProperty(Document.prototype, "hidden", { configurable: true, get: () => hidden });
  Object.defineProperty(Document.prototype, "visibilityState", {
    configurable: true,
    get: () => (hidden ? "hidden" : "visible"),
  });
  window.__setHidden = (value) => {
    hidden = value;
    document.dispatchEvent(new Event("visibilitychange"));
  };

})();
"""

# Posts frames over a socket of its own, each after the answer to the one before.
POST_FRAMES = """
async (frames) => {
  const token = sessionStorage.getItem("chat.token");
  const ws = new WebSocket(`ws://${location.host}/ws?token=${encodeURIComponent(token)}`);
  await new Promise((open, fail) => {
    ws.onopen = open;
    ws.onerror = () => fail(new Error("the socket did not open"));
  });
  let n = 0;
  for (const frame of frames) {
    const ref = "raw-" + n++;
    const answer = new Promise((done) => {
      ws.addEventListener("message", function answered(event) {
        const reply = JSON.parse(event.data);
        if (reply.ref !== ref) return;
        ws.removeEventListener("message", answered);
        done(reply);
      });
    });
    ws.send(JSON.stringify({ ...frame, ref }));
    const reply = await answer;
    if (reply.type === "error") throw new Error(JSON.stringify(reply));
  }
  ws.close();
}
"""

# The texts of the messages just above and just below the divider (join and leave
# lines in between do not count).
NEIGHBOURS = """
divider => {
  const text = (item, step) => {
    while (item && item.dataset.testid !== "message") item = item[step];
    return item ? item.querySelector('[data-testid="message-content"]').textContent : null;
  };
  return [text(divider.previousElementSibling, "previousElementSibling"),
          text(divider.nextElementSibling, "nextElementSibling")];
}
"""


def watched(people: Callable[[str], Person], username: str) -> Person:  # noqa: F811
    """A person whose page has the recorder and the switch."""
    person = people(username)
    person.page.add_init_script(WATCHED_PAGE)
    person.page.reload()
    return person


def sockets_of(person: Person) -> list[WebSocketRoute]:
    """The page's WebSockets from now on, each passed through to the server, so that the
    test can cut one (the browser's offline mode leaves open sockets alone)."""
    links: list[WebSocketRoute] = []

    def through(link: WebSocketRoute) -> None:
        link.connect_to_server()
        links.append(link)

    person.page.route_web_socket(re.compile(r"/ws\?"), through)
    return links


def post(person: Person, room_id: str, *texts: str) -> None:
    """``person`` says ``texts`` in a room, from a second socket of theirs."""
    frames: list[dict[str, Any]] = [{"type": "join", "room_id": room_id}]
    frames += [{"type": "group", "room_id": room_id, "content": text} for text in texts]
    person.page.evaluate(POST_FRAMES, frames)


def create_room(person: Person, name: str) -> str:
    """Creates a room from the form (the page joins it and shows it); returns its id."""
    person.by_id("create-room-name").fill(name)
    person.by_id("create-room-name").press("Enter")
    item = person.page.locator('[data-testid="room-item"].joined', has_text=name)
    person.expect(item).to_have_count(1)
    room_id = item.get_attribute("data-room-id")
    assert room_id
    person.expect(person.tab(f"room:{room_id}")).to_have_attribute("aria-selected", "true")
    return room_id


def notifications(person: Person) -> list[dict[str, str]]:
    found: list[dict[str, str]] = person.page.evaluate("window.__notifications")
    return found


def set_hidden(person: Person, hidden: bool) -> None:
    person.page.evaluate(f"window.__setHidden({json.dumps(hidden)})")


def test_a_newcomer_is_shown_the_way_in_then_every_message_that_arrives_out_of_sight(
    people: Callable[[str], Person],  # noqa: F811
) -> None:
    alice, bob = watched(people, "alice"), people("bob")
    expect = alice.expect

    # Enter in the form is "Log in", for an account that does not exist yet: the server
    # will not say so, the page points to Register. Its errors say one thing, once.
    alice.fill_credentials()
    alice.by_id("auth-password").press("Enter")
    expect(alice.by_id("auth-message")).to_have_text(
        "Wrong username or password. New here? Choose Register to make an account with this name."
    )
    alice.by_id("auth-username").fill("alice smith")
    alice.by_id("register-button").click()
    expect(alice.by_id("auth-message")).to_have_text(
        "Username must be 1 to 32 letters (any script), digits, '_', '.' or '-'."
    )
    alice.register()

    attic = create_room(alice, "attic")
    alice.join("lobby")
    # Nothing asks for the permission to notify before the user presses the button.
    assert alice.page.evaluate("window.__permissionRequests") == 0
    alice.by_id("notify-button").click()
    expect(alice.by_id("notify-button")).to_have_text("Turn off notifications")
    assert alice.page.evaluate("window.__permissionRequests") == 1

    bob.register()
    bob.join(attic)
    bob_id = alice.user_id_of("bob")
    bob.send("plain news")
    bob.send("hey alice, look at this")
    bob.online_user("site-online-list", "alice").click()
    bob.send("psst, only for you")

    # The room not on screen shows its count in the list; the title holds the total.
    expect(alice.room_item(attic).get_by_test_id("room-unread")).to_have_text("2 unread")
    expect(alice.room_item("lobby").get_by_test_id("room-unread")).to_have_count(0)
    expect(alice.page).to_have_title("(3) Chat")
    # The mention and the private message were notified; the plain message was not.
    alice.page.wait_for_function("window.__notifications.length >= 2")
    assert [(n["title"], n["tag"]) for n in notifications(alice)] == [
        ("bob in # attic", f"room:{attic}"),
        ("bob (private)", f"user:{bob_id}"),
    ]

    # Reading clears the counts.
    alice.room_item(attic).get_by_test_id("room-open").click()
    expect(alice.room_item(attic).get_by_test_id("room-unread")).to_have_count(0)
    expect(alice.page).to_have_title("(1) Chat")
    alice.tab(f"user:{bob_id}").click()
    expect(alice.page).to_have_title("Chat")

    # A message to the conversation on screen while the page is hidden is unread
    # until the page shows again.
    alice.tab(f"room:{attic}").click()
    set_hidden(alice, True)
    bob.tab(f"room:{attic}").click()
    bob.send("while you look away")
    expect(alice.page).to_have_title("(1) Chat")
    set_hidden(alice, False)
    expect(alice.page).to_have_title("Chat")

    # A reader scrolled up stays where they are, and is offered a way down.
    post(bob, attic, *[f"earlier {n}" for n in range(25)])
    alice.expect_message("earlier 24")
    listing = alice.by_id("message-list")
    listing.evaluate("list => { list.scrollTop = 0; }")
    post(bob, attic, *[f"later {n}" for n in range(5)])
    jump = alice.by_id("jump-latest")
    expect(jump).to_have_text("Jump to latest (5 new)")
    assert listing.evaluate("list => list.scrollTop") == 0
    jump.click()
    expect(jump).to_be_hidden()
    assert listing.evaluate("list => list.scrollHeight - list.scrollTop - list.clientHeight") < 60

    assert len(notifications(alice)) == 2
    alice.assert_nothing_ran()
    bob.assert_nothing_ran()


def test_a_divider_marks_the_first_message_that_came_while_the_page_was_away(
    people: Callable[[str], Person],  # noqa: F811
) -> None:
    erin, frank = watched(people, "erin"), people("frank")
    expect = erin.expect
    status = erin.by_id("connection-status")
    divider = erin.page.locator('#message-list [data-testid="new-divider"]')
    links = sockets_of(erin)
    erin.register()
    cellar = create_room(erin, "cellar")
    erin.join("lobby")
    frank.register()
    post(frank, "lobby", "before the break")
    erin.expect_message("before the break")

    # Offline: the network goes, and with it the open socket.
    erin.page.context.set_offline(True)
    links[-1].close(code=1001, reason="gone")
    expect(status).to_have_attribute("data-state", "reconnecting")
    post(frank, "lobby", "missed 1", "missed 2", "missed 3")
    erin.page.context.set_offline(False)
    expect(status).to_have_attribute("data-state", "online")
    erin.expect_message("missed 3")
    expect(divider).to_have_count(1)
    expect(divider).to_have_text("New since you were away")
    assert divider.evaluate(NEIGHBOURS) == ["before the break", "missed 1"]

    # A room that missed nothing has no divider, and what comes once back is no news.
    post(frank, cellar, "after the return")
    erin.tab(f"room:{cellar}").click()
    erin.expect_message("after the return")
    expect(divider).to_have_count(0)

    # Hidden is away too; the lobby's divider, seen, is gone by the next time away.
    set_hidden(erin, True)
    post(frank, cellar, "while hidden")
    erin.expect_message("while hidden")
    set_hidden(erin, False)
    post(frank, cellar, "back again")
    erin.expect_message("back again")
    expect(divider).to_have_count(1)
    assert divider.evaluate(NEIGHBOURS) == ["after the return", "while hidden"]
    erin.tab("room:lobby").click()
    expect(divider).to_have_count(0)
    erin.assert_nothing_ran()
