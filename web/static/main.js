// Entry point of the browser client (wire contract: PROTOCOL.md, v1), loaded by
// index.html as a module: it wires the page's controls to the modules that act on
// them, then resumes the session of this tab if there is one.
//
// Lists drawn by render.js (tabs, rooms, online users, the message pane) are
// listened to here, once, on the list itself: a click finds its button and reads
// what it needs from the button's data- attributes.

import { reportApiError, showError, hideError, whenSessionExpires } from "./banner.js";
import { onBlockButton } from "./blocks.js";
import { autoGrow, onComposerKey, onComposerSubmit } from "./composer.js";
import { retryNow } from "./connection.js";
import {
  activate,
  closeConversation,
  loadOlder,
  loadOlderNearTop,
  markRead,
  startPrivate,
  startPrivateByName,
} from "./conversations.js";
import { $ } from "./dom.js";
import { moderatorDeletesFor } from "./edits.js";
import { onInviteListClick, onInviteSubmit } from "./invites.js";
import { joinRoom, leaveRoom } from "./membership.js";
import { toggleFold } from "./message-body.js";
import { jumpToLatest, markAway, noteScroll, pageShown } from "./message-list.js";
import { closeMenu } from "./member-menu.js";
import { showModerationButton } from "./moderation-panel.js";
import { whenRolesChange } from "./moderation.js";
import { toggleNotifications, whenNotificationClicked } from "./notifications.js";
import { retryGaps } from "./recovery.js";
import { closeOpenDrawer, closePanels, renderNotifyButton, renderRoomOnline, renderTabs, togglePanel } from "./render.js";
import { renewIfDue } from "./renewal.js";
import { createRoom, loadMoreRooms, refreshRooms } from "./rooms.js";
import { endSession, logOut, onLoginSubmit, onRegisterClick, resumeSession } from "./session.js";
import { activeConversation, setActive, state } from "./state.js";
import { keepTimesFresh } from "./timeline.js";
import { onInputTyping } from "./typing.js";

async function onCreateRoom(event) {
  event.preventDefault();
  const input = $("create-room-name");
  const name = input.value.trim();
  if (!name) {
    showError("Give the new room a name.", "bad_request");
    return;
  }
  try {
    const room = await createRoom(name, $("create-room-private").checked);
    input.value = "";
    $("create-room-private").checked = false;
    await refreshRooms();
    if (room) joinRoom(room.room_id, true);
  } catch (err) {
    reportApiError(err, "Creating the room");
  }
}

// "Leave room" for a room, "Close" for a private talk.
function onLeaveButton() {
  const conv = activeConversation();
  if (!conv) return;
  if (conv.kind === "room") leaveRoom(conv.id);
  else closeConversation(conv.key);
}

function onTabClick(event) {
  const tab = event.target.closest('[data-testid="conversation-tab"]');
  if (tab) activate(tab.dataset.key);
}

// Each room has two buttons: its name (show it, or join it) and Join/Leave; what
// they do was decided when the list was drawn (the item's "joined" class).
function onRoomListClick(event) {
  const button = event.target.closest("button");
  if (!button) return;
  if (button.dataset.testid === "more-rooms") {
    loadMoreRooms();
    return;
  }
  const item = button.closest('[data-testid="room-item"]');
  if (!item) return;
  const roomId = item.dataset.roomId;
  const joined = item.classList.contains("joined");
  if (button.classList.contains("room-open")) {
    if (joined) activate("room:" + roomId);
    else joinRoom(roomId, true);
  } else if (button.classList.contains("room-action")) {
    if (joined) leaveRoom(roomId);
    else joinRoom(roomId, true);
  }
}

function onUserListClick(event) {
  const button = event.target.closest('[data-testid="online-user"]');
  if (!button || button.disabled) return;
  startPrivate({ user_id: button.dataset.userId, username: button.dataset.username });
}

function onMessageListClick(event) {
  const fold = event.target.closest('[data-testid="fold-toggle"]');
  if (fold) toggleFold(fold);
  else if (event.target.closest('[data-testid="load-older"]')) loadOlder();
  else if (event.target.closest('[data-testid="fill-gap"]')) retryGaps(activeConversation());
}

async function onNotifyButton() {
  await toggleNotifications();
  renderNotifyButton();
}

// The page shows again: what the conversation on screen received meanwhile is read
// now (its count leaves the tab and the title; the divider and "Jump to latest" say
// where it starts).
function onPageShown() {
  pageShown();
  renderNotifyButton(); // the permission may have changed in the browser's settings
  if (state.activeKey) {
    setActive(state.activeKey);
    renderTabs();
    markRead(activeConversation());
  }
}

async function onMessageByName(event) {
  event.preventDefault();
  const input = $("message-name");
  if (await startPrivateByName(input.value)) input.value = "";
}

function bindEvents() {
  $("auth-form").addEventListener("submit", onLoginSubmit);
  $("register-button").addEventListener("click", onRegisterClick);
  $("logout-button").addEventListener("click", logOut);
  $("composer").addEventListener("submit", onComposerSubmit);
  $("message-input").addEventListener("keydown", onComposerKey);
  $("message-input").addEventListener("input", autoGrow);
  $("message-input").addEventListener("input", onInputTyping);
  $("message-list").addEventListener("scroll", loadOlderNearTop, { passive: true });
  $("message-list").addEventListener("scroll", noteScroll, { passive: true });
  $("jump-latest").addEventListener("click", jumpToLatest);
  $("notify-button").addEventListener("click", onNotifyButton);
  $("message-list").addEventListener("click", onMessageListClick);
  $("conversation-tabs").addEventListener("click", onTabClick);
  $("room-list").addEventListener("click", onRoomListClick);
  $("room-online-list").addEventListener("click", onUserListClick);
  $("site-online-list").addEventListener("click", onUserListClick);
  $("create-room-form").addEventListener("submit", onCreateRoom);
  $("invite-form").addEventListener("submit", onInviteSubmit);
  $("invite-list").addEventListener("click", onInviteListClick);
  $("leave-button").addEventListener("click", onLeaveButton);
  $("block-button").addEventListener("click", onBlockButton);
  $("message-name-form").addEventListener("submit", onMessageByName);
  $("error-dismiss").addEventListener("click", hideError);
  $("retry-now").addEventListener("click", retryNow);
  // The network is back (a laptop woke up, Wi-Fi returned): no point waiting.
  window.addEventListener("online", () => {
    retryNow();
    renewIfDue();
  });
  $("toggle-rooms").addEventListener("click", () => togglePanel("rooms-panel", "toggle-rooms"));
  $("toggle-people").addEventListener("click", () => togglePanel("people-panel", "toggle-people"));
  // On a phone a drawer covers the conversation; a tap beside it closes it, and so
  // does Escape.
  document.querySelector(".conversation").addEventListener("click", closePanels);
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || event.isComposing) return;
    if (document.querySelector("dialog[open]")) return; // Escape is the dialog's: the drawer behind stays
    if (closeOpenDrawer()) event.preventDefault();
  });
  // Leaving a tab starts the time away ("New since you were away"). Coming back: the
  // counts may have moved, and the token's renewal may be due, while timers were
  // throttled.
  document.addEventListener("visibilitychange", () => {
    if (!state.token) return;
    if (document.hidden) {
      markAway(false);
      return;
    }
    onPageShown();
    refreshRooms();
    renewIfDue();
  });
}

whenSessionExpires(endSession);
whenRolesChange((roomId) => {
  if (roomId === null) closeMenu(false);
  renderRoomOnline();
  showModerationButton();
  const conv = roomId === null ? null : state.conversations.get("room:" + roomId);
  if (conv) moderatorDeletesFor(conv, roomId);
});
whenNotificationClicked((key) => {
  if (state.conversations.has(key)) activate(key);
});
renderNotifyButton();
keepTimesFresh($("message-list"));
bindEvents();
resumeSession();
