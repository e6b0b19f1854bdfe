// The message pane (#message-list). Each open conversation keeps its own <ol>, so
// that switching tabs re-renders nothing; this module owns those lists, where a
// message goes in them, and the scrolling that goes with it.

import { $, el, formatTime } from "./dom.js";
import { activeConversation, isActive, state } from "./state.js";

// conversation -> {list, olderButton, scrollTop}; a reopened conversation is a new
// object, so it starts with a fresh list.
const views = new WeakMap();

// The placeholder shown when no conversation is open; kept because replaceChildren
// detaches it from the document.
const emptyHint = $("empty-hint");

function viewOf(conv) {
  let view = views.get(conv);
  if (!view) {
    view = {
      list: el("ol", { className: "messages", "data-testid": "messages", "data-conv": conv.key }),
      olderButton: el("button", { type: "button", className: "load-older", "data-testid": "load-older" }, "Load older messages"),
      scrollTop: null, // null: not shown yet, show the newest messages
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
    return;
  }
  const view = viewOf(conv);
  list.replaceChildren(view.olderButton, view.list);
  if (view.scrollTop === null) scrollToBottom();
  else list.scrollTop = view.scrollTop;
}

// Puts one message in its conversation's list: at the end when it is new and live,
// else in id order. Returns false when the user did not see a live message arrive
// (another tab is shown, or the browser tab is hidden): it counts as unread.
export function placeMessage(conv, message, live, newest) {
  const view = viewOf(conv);
  const item = renderMessage(message);
  const stick = isActive(conv) && isNearBottom();
  if (live && newest) view.list.appendChild(item);
  else view.list.insertBefore(item, firstItemAfter(view.list, message));
  if (!live) return true;
  if (isActive(conv) && !document.hidden) {
    if (stick || message.sender.user_id === state.me.user_id) scrollToBottom();
    return true;
  }
  return false;
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
  });
  const meta = el("div", { className: "meta" });
  meta.appendChild(el("span", { className: "sender", "data-testid": "message-sender" }, sender.username));
  meta.appendChild(el("time", { className: "time", title: new Date(message.timestamp).toString() }, formatTime(message.timestamp)));
  item.appendChild(meta);
  item.appendChild(el("div", { className: "content", "data-testid": "message-content" }, message.content));
  return item;
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
  if (item.nextSibling !== next || item.parentNode !== list) list.insertBefore(item, next);
}

export function removeGapMark(conv, gap) {
  const item = gapMarks.get(gap);
  if (item) item.remove();
  gapMarks.delete(gap);
}

// A join or leave line of a room.
export function addSystemLine(conv, text, timestamp, event, username) {
  const item = el("li", {
    className: "system",
    "data-testid": "system-line",
    "data-event": event || "",
    "data-username": username || "",
  });
  if (typeof timestamp === "number") item.dataset.ts = String(timestamp);
  item.appendChild(el("span", { className: "content" }, text));
  if (timestamp) item.appendChild(el("time", { className: "time" }, formatTime(timestamp)));
  appendLine(conv, item);
}

// A remark of the client's own, such as "bob is offline".
export function addNote(conv, text) {
  appendLine(conv, el("li", { className: "system note", "data-testid": "note" }, text));
}

function appendLine(conv, item) {
  const stick = isActive(conv) && isNearBottom();
  viewOf(conv).list.appendChild(item);
  if (stick) scrollToBottom();
}
