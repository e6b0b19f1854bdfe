// The message pane (#message-list). Each open conversation keeps its own <ol>, so
// that switching tabs re-renders nothing; this module owns those lists, where a
// message goes in them, and the scrolling that goes with it.
//
// It also owns the two signs of messages the user has not seen yet inside a
// conversation: the "Jump to latest (N new)" button, for live messages that
// arrived below the fold, and the "New since you were away" divider, before the
// first message that arrived while the page was offline or hidden.

import { $, el } from "./dom.js";
import { decorateMessage } from "./edits.js";
import { appendBody } from "./message-body.js";
import { notifyMessage } from "./notifications.js";
import { activeConversation, isActive, state } from "./state.js";
import { refreshTimes, settle, timeElement } from "./timeline.js";

// conversation -> its view (see viewOf); a reopened conversation is a new object,
// so it starts with a fresh list.
const views = new WeakMap();

// The placeholder shown when no conversation is open; kept because replaceChildren
// detaches it from the document.
const emptyHint = $("empty-hint");

const DIVIDER_TEXT = "New since you were away";

function viewOf(conv) {
  let view = views.get(conv);
  if (!view) {
    view = {
      list: el("ol", { className: "messages", "data-testid": "messages", "data-conv": conv.key }),
      olderButton: el("button", { type: "button", className: "load-older", "data-testid": "load-older" }, "Load older messages"),
      scrollTop: null, // null: not shown yet, show the newest messages
      newBelow: 0, // live messages placed below what the user looks at, not yet scrolled to
      // The time away (the page offline or hidden): messages after awayAfter (an id)
      // that arrive while it lasts are new since then, and the divider goes before
      // the first of them. awayOpen: it lasts (the page is away, or has not caught up
      // since). catchingUp: the link dropped, and the rejoin or sync that brings
      // what was missed has not answered yet.
      awayAfter: null,
      awayOpen: false,
      catchingUp: false,
      divider: null,
      dividerSeen: false, // the user was back with this conversation on screen
    };
    view.olderButton.hidden = true;
    views.set(conv, view);
  }
  return view;
}

function isNearBottom() {
  const list = $("message-list");
  return list.scrollHeight - list.scrollTop - list.clientHeight < 60;
}

function scrollToBottom() {
  const list = $("message-list");
  list.scrollTop = list.scrollHeight;
  const conv = activeConversation();
  if (conv) clearNewBelow(viewOf(conv));
}

// ---------------------------------------------------------------- "Jump to latest"

function clearNewBelow(view) {
  if (view.newBelow === 0) return;
  view.newBelow = 0;
  showJumpButton(view);
}

function showJumpButton(view) {
  const button = $("jump-latest");
  button.hidden = view.newBelow === 0;
  button.textContent = "Jump to latest (" + view.newBelow + " new)";
}

// The "Jump to latest" button.
export function jumpToLatest() {
  scrollToBottom();
  $("message-input").focus();
}

// Scrolling down to the newest message by hand clears the button too.
export function noteScroll() {
  const conv = activeConversation();
  if (conv && isNearBottom()) clearNewBelow(viewOf(conv));
}

// Called before another tab is shown, so that coming back lands where the user was.
export function rememberScroll() {
  const conv = activeConversation();
  if (conv) viewOf(conv).scrollTop = $("message-list").scrollTop;
}

// Puts a conversation's list in the pane (or the hint, for none).
export function showMessages(conv) {
  const list = $("message-list");
  if (!conv) {
    list.replaceChildren(emptyHint);
    $("jump-latest").hidden = true;
    return;
  }
  const view = viewOf(conv);
  list.replaceChildren(view.olderButton, view.list);
  refreshTimes(view.list);
  if (view.scrollTop === null) scrollToBottom();
  else list.scrollTop = view.scrollTop;
  if (view.divider && !document.hidden) view.dividerSeen = true;
  showJumpButton(view);
}

// Puts one message in its conversation's list: at the end when it is new and live,
// else in id order. Returns false when the user did not see someone else's live
// message arrive (another tab is shown, or the browser tab is hidden): it counts as
// unread. A live one may be worth a desktop notification (notifications.js).
export function placeMessage(conv, message, live, newest) {
  const view = viewOf(conv);
  const item = renderMessage(message);
  const mine = Boolean(state.me && message.sender && message.sender.user_id === state.me.user_id);
  const stick = isActive(conv) && isNearBottom();
  if (live && newest) view.list.appendChild(item);
  else view.list.insertBefore(item, firstItemAfter(view.list, message));
  settle(item);
  if (!mine && isMissed(view, message, live)) placeDivider(view, item, message);
  if (!live) return true;
  if (!mine) notifyMessage(conv, message);
  const shown = isActive(conv) && !document.hidden;
  if (shown && (stick || mine) && followNewest(view, mine)) return true;
  if (isActive(conv) && !mine) {
    view.newBelow += 1;
    showJumpButton(view);
  }
  return shown || mine;
}

// Keeps the newest message in sight, but not past the divider while catching up:
// the first message missed stays on screen, and those that do not fit are counted
// on "Jump to latest". Returns whether the newest message is in sight. One's own
// message is always scrolled to.
function followNewest(view, mine) {
  const list = $("message-list");
  if (!mine && view.awayOpen && view.divider && view.divider.parentNode) {
    const top = view.divider.offsetTop - 8;
    if (top < list.scrollHeight - list.clientHeight) {
      if (list.scrollTop < top) list.scrollTop = top;
      return false;
    }
  }
  scrollToBottom();
  return true;
}

// Where a message from history goes: before the first newer message, or before the
// first join/leave line that happened after it (system lines have no id, only a time).
function firstItemAfter(list, message) {
  for (const node of list.children) {
    if (node.dataset.messageId !== undefined) {
      if (Number(node.dataset.messageId) > message.id) return node;
    } else if (node.dataset.ts !== undefined && Number(node.dataset.ts) > message.timestamp) {
      return node;
    }
  }
  return null;
}

function renderMessage(message) {
  const sender = message.sender || { username: "?", user_id: "" };
  const mine = state.me && sender.user_id === state.me.user_id;
  const item = el("li", {
    className: "message" + (mine ? " mine" : ""),
    "data-testid": "message",
    "data-message-id": message.id,
    "data-sender-id": sender.user_id,
  });
  const meta = el("div", { className: "meta" });
  meta.appendChild(el("span", { className: "sender", "data-testid": "message-sender" }, sender.username));
  if (typeof message.timestamp === "number") {
    item.dataset.ts = String(message.timestamp);
    meta.appendChild(timeElement(message.timestamp));
  }
  item.appendChild(meta);
  appendBody(item, message.content);
  decorateMessage(item, message);
  return item;
}

// The <li> of message `id` in a conversation's list, or null (edits.js).
// Every message item of a conversation, drawn in its list (shown or not).
export function messageItems(conv) {
  return viewOf(conv).list.querySelectorAll("[data-message-id]");
}

export function messageItem(conv, id) {
  return viewOf(conv).list.querySelector('[data-message-id="' + Number(id) + '"]');
}

// Adds a page of history through `insert`, then scrolls: an older page keeps what
// the user is reading in place, the newest page sticks to the bottom.
export function showHistoryPage(conv, older, insert) {
  const list = $("message-list");
  const heightBefore = list.scrollHeight;
  const stick = !older && isNearBottom();
  insert();
  const view = viewOf(conv);
  view.olderButton.hidden = !conv.hasMore;
  if (isActive(conv)) {
    if (older) list.scrollTop += list.scrollHeight - heightBefore;
    else if (stick || view.scrollTop === null) scrollToBottom();
  }
}

// ---------------------------------------------------------------- "New since you were away"

// The page goes away: offline (the link dropped; `offline` true) or hidden. Each
// conversation remembers the newest message it holds; whatever comes after it
// while away is new. A divider the user has not seen yet stays where it is: the
// stretch of unseen messages only grows.
export function markAway(offline) {
  for (const conv of state.conversations.values()) {
    const view = viewOf(conv);
    if (!view.awayOpen) startAway(conv, view);
    if (offline && view.awayOpen) view.catchingUp = true;
  }
}

function startAway(conv, view) {
  if (view.divider && !view.dividerSeen) {
    view.awayOpen = true;
    return;
  }
  if (view.divider) removeLine(view.divider);
  view.divider = null;
  view.dividerSeen = false;
  view.awayAfter = conv.newestId !== null ? conv.newestId : conv.historyLoaded ? 0 : null;
  view.awayOpen = view.awayAfter !== null;
}

// The rejoin or sync of a conversation answered with what it missed (recovery.js).
export function caughtUp(conv) {
  const view = viewOf(conv);
  view.catchingUp = false;
  endAwayIfBack(conv, view);
}

// The page shows again.
export function pageShown() {
  for (const conv of state.conversations.values()) endAwayIfBack(conv, viewOf(conv));
}

// Back means shown and caught up; messages from then on are read as they come.
function endAwayIfBack(conv, view) {
  if (!view.awayOpen || view.catchingUp || document.hidden) return;
  view.awayOpen = false;
  if (view.divider && isActive(conv)) view.dividerSeen = true;
}

// A message after the mark that arrived while away, or that was read from the
// history to fill the gap of a reconnect (recovery.js), was missed.
function isMissed(view, message, live) {
  if (view.awayAfter === null || message.id <= view.awayAfter) return false;
  return view.awayOpen || (!live && view.divider !== null);
}

// The divider goes before the first missed message (history pages can bring one
// older than those already shown).
function placeDivider(view, item, message) {
  if (!view.divider) {
    view.divider = el("li", { className: "new-divider", "data-testid": "new-divider" });
    view.divider.appendChild(el("span", null, DIVIDER_TEXT));
  }
  const below = view.divider.parentNode === view.list ? view.divider.nextElementSibling : null;
  let next = below;
  while (next && next.dataset.messageId === undefined) next = next.nextElementSibling;
  if (next && Number(next.dataset.messageId) <= message.id) return;
  view.list.insertBefore(view.divider, item);
  settle(view.divider);
  if (below) settle(below); // the run the divider left may join up again
}

// The place of a gap left by a reconnect (recovery.js): missed messages that are
// being read from the history, or that could not be read yet ("Try again").
const gapMarks = new WeakMap(); // gap -> its <li>

export function showGapMark(conv, gap) {
  let item = gapMarks.get(gap);
  if (!item) {
    item = el("li", { className: "system gap", "data-testid": "history-gap" });
    item.appendChild(el("span", { className: "content" }));
    const retry = el("button", { type: "button", className: "secondary", "data-testid": "fill-gap" }, "Try again");
    item.appendChild(retry);
    gapMarks.set(gap, item);
  }
  item.firstChild.textContent = gap.failed
    ? "Some messages sent while you were offline could not be loaded."
    : "Loading the messages sent while you were offline…";
  item.lastChild.hidden = !gap.failed;
  const list = viewOf(conv).list;
  let next = null;
  if (gap.before !== null) {
    for (const node of list.children) {
      if (node.dataset.messageId !== undefined && Number(node.dataset.messageId) >= gap.before) {
        next = node;
        break;
      }
    }
  }
  if (item.nextSibling !== next || item.parentNode !== list) {
    list.insertBefore(item, next);
    settle(item);
  }
}

export function removeGapMark(conv, gap) {
  const item = gapMarks.get(gap);
  if (item) removeLine(item);
  gapMarks.delete(gap);
}

// Takes a divider or a gap mark out; the lines it kept apart may form one run again.
function removeLine(item) {
  const below = item.nextElementSibling;
  item.remove();
  if (below) settle(below);
}

// A join or leave line of a room.
export function addSystemLine(conv, text, timestamp, event, username) {
  const item = el("li", {
    className: "system",
    "data-testid": "system-line",
    "data-event": event || "",
    "data-username": username || "",
  });
  item.appendChild(el("span", { className: "content" }, text));
  if (typeof timestamp === "number") {
    item.dataset.ts = String(timestamp);
    item.appendChild(timeElement(timestamp));
  }
  appendLine(conv, item);
}

// A remark of the client's own, such as "bob is offline".
export function addNote(conv, text) {
  appendLine(conv, el("li", { className: "system note", "data-testid": "note" }, text));
}

function appendLine(conv, item) {
  const stick = isActive(conv) && isNearBottom();
  viewOf(conv).list.appendChild(item);
  settle(item);
  if (stick) scrollToBottom();
}
