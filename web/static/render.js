// Draws the page from state: which view shows, the status line, the tabs, the
// conversation header, the room list, the online lists, the composer's state and
// the phone drawers. No network, and no change to state.
//
// Rendered buttons carry what a click needs in data- attributes (data-key,
// data-room-id, data-user-id); main.js listens on their lists, so that this module
// needs to know nothing of what a click does.

import { showBlockButton } from "./blocks.js";
import { showInviteForm } from "./invites.js";
import { $, el } from "./dom.js";
import { addMemberMenus } from "./member-menu.js";
import { showMessages } from "./message-list.js";
import { showModerationButton } from "./moderation-panel.js";
import { showMuteNote } from "./moderation.js";
import { notificationState } from "./notifications.js";
import { showLinkState } from "./offline.js";
import { activeConversation, isActive, state } from "./state.js";
import { showTyping } from "./typing.js";

export function showView(loggedIn) {
  $("auth-view").hidden = loggedIn;
  $("chat-view").hidden = !loggedIn;
  $("logout-button").hidden = !loggedIn;
  $("toggle-rooms").hidden = !loggedIn;
  $("toggle-people").hidden = !loggedIn;
  document.body.classList.toggle("logged-in", loggedIn);
}

export function showCurrentUser(user) {
  $("current-user").textContent = user.username;
  $("current-user").title = "Logged in as " + user.username;
}

const TITLE = "Chat";

// Empties what belonged to the user who logged out.
export function clearChat() {
  document.title = TITLE;
  $("current-user").textContent = "";
  $("conversation-tabs").replaceChildren();
  $("room-list").replaceChildren();
  $("room-online-list").replaceChildren();
  $("site-online-list").replaceChildren();
}

// `kind`: offline (logged out), connecting, online, reconnecting (waiting for the
// next attempt, which "Retry now" in the offline banner brings forward).
export function setStatus(kind, text) {
  const node = $("connection-status");
  node.dataset.state = kind;
  node.textContent = text;
  node.title = text; // a phone shows the start of it only
  showLinkState(kind, text);
}

export function renderTabs() {
  const tabs = $("conversation-tabs");
  const nodes = [];
  for (const conv of state.conversations.values()) {
    const tab = el("button", {
      type: "button",
      role: "tab",
      className: "tab" + (isActive(conv) ? " active" : "") + (conv.kind === "private" ? " private" : ""),
      "data-testid": "conversation-tab",
      "data-key": conv.key,
      "aria-selected": isActive(conv) ? "true" : "false",
      title: conv.kind === "room" ? conv.title : "Private: " + conv.title,
    });
    tab.appendChild(el("span", { className: "tab-title" }, (conv.kind === "room" ? "# " : "@ ") + conv.title));
    if (conv.unread > 0) tab.appendChild(el("span", { className: "badge", "data-testid": "unread" }, conv.unread));
    nodes.push(tab);
  }
  tabs.replaceChildren(...nodes);
  tabs.hidden = nodes.length === 0;
  renderUnread();
}

// The unread counts outside the tabs: beside each joined room in the room list, and
// their sum in the page's title ("(3) Chat"), which is what shows of a background
// tab. Redrawn with the tabs, which every change of a count redraws.
export function renderUnread() {
  let total = 0;
  for (const conv of state.conversations.values()) total += conv.unread;
  document.title = total > 0 ? "(" + total + ") " + TITLE : TITLE;
  for (const item of $("room-list").children) {
    const open = item.querySelector(".room-open");
    if (!open) continue;
    const conv = state.conversations.get("room:" + item.dataset.roomId);
    const count = conv ? conv.unread : 0;
    let badge = open.querySelector(".badge");
    if (count === 0) {
      if (badge) badge.remove();
      continue;
    }
    if (!badge) {
      badge = el("span", { className: "badge", "data-testid": "room-unread" });
      open.insertBefore(badge, open.querySelector(".room-online"));
    }
    badge.replaceChildren(String(count), el("span", { className: "visually-hidden" }, " unread"));
  }
}

export function renderActiveConversation() {
  const conv = activeConversation();
  showTyping();
  const leave = $("leave-button");
  const title = $("conversation-title");
  if (!conv) {
    title.textContent = "No conversation open";
    title.removeAttribute("title");
    leave.hidden = true;
  } else {
    title.textContent = conv.kind === "room" ? "# " + conv.title : "Private: " + conv.title;
    title.title = conv.title; // a long name ends in an ellipsis
    leave.hidden = false;
    leave.textContent = conv.kind === "room" ? "Leave room" : "Close";
  }
  showMessages(conv);
  showBlockButton();
  showInviteForm();
  showModerationButton();
  renderRoomOnline();
  updateComposer();
}

// The "in this room" list follows the active tab; for a private talk it shows
// nobody (the partner is in the site-wide list).
export function renderRoomOnline() {
  const conv = activeConversation();
  const title = $("room-online-title");
  const isRoom = Boolean(conv) && conv.kind === "room";
  $("room-online-section").hidden = !isRoom;
  if (!isRoom) {
    title.textContent = "In this room";
    title.removeAttribute("title");
    $("room-online-list").replaceChildren();
    return;
  }
  const users = state.roomOnline.get(conv.id) || [];
  // The name may be long: it gives way (ellipsis), the count stays whole.
  title.replaceChildren(
    el("span", { className: "people-room" }, "In " + conv.title),
    el("span", { className: "people-count", "data-testid": "room-online-total" }, " (" + users.length + ")"),
  );
  title.title = "In " + conv.title + ": " + users.length + " online";
  const list = $("room-online-list");
  redrawKeepingFocus(list, () => {
    renderUserList(list, users);
    addMemberMenus(list, conv.id);
  });
}

export function renderSiteOnline() {
  const list = $("site-online-list");
  redrawKeepingFocus(list, () => renderUserList(list, state.siteOnline));
}

// Joins, leaves and presence redraw the lists all day: the keyboard stays on the
// same control of the same person rather than falling back to the page.
function redrawKeepingFocus(listNode, draw) {
  const had = listNode.contains(document.activeElement) ? document.activeElement : null;
  draw();
  if (!had || had.isConnected || had.dataset.userId === undefined) return;
  const selector = '[data-testid="' + had.dataset.testid + '"][data-user-id="' + CSS.escape(had.dataset.userId) + '"]';
  const again = listNode.querySelector(selector);
  if (again) again.focus();
}

function renderUserList(listNode, users) {
  const sorted = [...users].sort((a, b) => String(a.username).localeCompare(String(b.username)));
  const items = sorted.map((user) => {
    const me = state.me && user.user_id === state.me.user_id;
    const item = el("li");
    const button = el("button", {
      type: "button",
      className: "user" + (me ? " me" : ""),
      "data-testid": "online-user",
      "data-user-id": user.user_id,
      "data-username": user.username,
      title: me ? "That is you" : "Talk privately with " + user.username,
    }, me ? user.username + " (you)" : user.username);
    button.disabled = Boolean(me);
    item.appendChild(button);
    return item;
  });
  listNode.replaceChildren(...items);
}

// A room's buttons do what fits the moment it was drawn: the item's "joined" class
// says which (Show/Leave, or Join/Join).
export function renderRooms() {
  const rooms = [...state.rooms.values()].sort((a, b) => String(a.name).localeCompare(String(b.name)));
  const items = rooms.map((room) => {
    const joined = state.conversations.has("room:" + room.room_id);
    const item = el("li", {
      className: "room" + (joined ? " joined" : ""),
      "data-testid": "room-item",
      "data-room-id": room.room_id,
    });
    const name = room.name || room.room_id;
    const open = el("button", { type: "button", className: "room-open", "data-testid": "room-open", title: (joined ? "Show " : "Join ") + name });
    open.appendChild(el("span", { className: "room-name" }, name));
    if (room.visibility === "private") {
      // A lock for the eye, words for a screen reader: "Plans, private, 2 online".
      open.appendChild(el("span", { className: "room-lock", "data-testid": "room-private", "aria-hidden": "true" }, "\u{1F512}"));
      open.appendChild(el("span", { className: "visually-hidden" }, ", private,"));
    }
    const counted = typeof room.online === "number";
    open.appendChild(el("span", { className: "room-online", "data-testid": "room-online-count", title: "online" }, counted ? room.online : ""));
    // A screen reader reads the button as "Lobby 3 online": the count says what it counts.
    if (counted) open.appendChild(el("span", { className: "visually-hidden" }, " online"));
    item.appendChild(open);
    const action = el("button", {
      type: "button",
      className: "room-action secondary",
      "data-testid": joined ? "leave-room" : "join-room",
      "aria-label": (joined ? "Leave " : "Join ") + name,
    }, joined ? "Leave" : "Join");
    item.appendChild(action);
    return item;
  });
  if (state.roomsCursor) {
    const more = el("button", { type: "button", className: "secondary room-more", "data-testid": "more-rooms" }, "More rooms");
    const item = el("li");
    item.appendChild(more);
    items.push(item);
  }
  $("room-list").replaceChildren(...items);
  renderUnread();
}

export function updateComposer() {
  const conv = activeConversation();
  const usable = Boolean(conv);
  $("message-input").disabled = !usable;
  // Offline the text can still be written, and sent once the link is back.
  $("send-button").disabled = !usable || !state.connected;
  let hint = "Join a room to chat";
  if (conv) hint = conv.kind === "room" ? "Message " + conv.title : "Message " + conv.title + " privately";
  if (conv && !state.connected) hint = "Offline: waiting for the connection…";
  $("message-input").placeholder = hint;
  showMuteNote();
}

// The notifications button says what pressing it does; the hint below it, why.
export function renderNotifyButton() {
  const button = $("notify-button");
  const hint = $("notify-hint");
  const now = notificationState();
  button.hidden = now === "unsupported";
  hint.hidden = now === "unsupported";
  button.disabled = now === "blocked";
  button.textContent = now === "on" ? "Turn off notifications" : "Turn on notifications";
  hint.textContent = {
    on: "You get a desktop notification for private messages and mentions of your name while you look elsewhere.",
    off: "Get a desktop notification for private messages and mentions of your name.",
    blocked: "This browser blocks notifications from this site: allow them in its site settings.",
    unsupported: "",
  }[now];
}

// ---------------------------------------------------------------- phone drawers

const DRAWERS = [["rooms-panel", "toggle-rooms"], ["people-panel", "toggle-people"]];

export function togglePanel(panelId, buttonId) {
  const panel = $(panelId);
  const open = !panel.classList.contains("open");
  closePanels();
  panel.classList.toggle("open", open);
  $(buttonId).setAttribute("aria-expanded", String(open));
  // The keyboard follows into an opened drawer: it covers what had the focus. The
  // drawer itself takes it (a screen reader names it; Tab goes on into it), not
  // its first control: the lists in it are redrawn as people come and go.
  if (open) {
    panel.tabIndex = -1;
    panel.focus();
  }
}

export function closePanels() {
  for (const [panelId, buttonId] of DRAWERS) {
    $(panelId).classList.remove("open");
    $(buttonId).setAttribute("aria-expanded", "false");
  }
}

// Escape closes an open drawer, and the keyboard lands back on the button that
// opened it. Returns whether there was one.
export function closeOpenDrawer() {
  for (const [panelId, buttonId] of DRAWERS) {
    if (!$(panelId).classList.contains("open")) continue;
    closePanels();
    const toggle = $(buttonId);
    if (toggle.offsetParent !== null) toggle.focus();
    return true;
  }
  return false;
}
