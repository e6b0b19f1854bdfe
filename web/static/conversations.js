// Open conversations (the tabs): opening, closing and showing one, and filling it
// with messages from history pages and from live pushes.

import { ApiError, api, listConversations, lookupUser } from "./api.js";
import { reportApiError, showError } from "./banner.js";
import { send } from "./connection.js";
import { $ } from "./dom.js";
import { placeMessage, rememberScroll, showHistoryPage } from "./message-list.js";
import { watchShownUsers } from "./online.js";
import { closePanels, renderActiveConversation, renderTabs } from "./render.js";
import {
  HISTORY_PAGE,
  activeConversation,
  addConversation,
  countUnread,
  isActive,
  nameOf,
  noteReadUpTo,
  recordHistoryPage,
  recordMessage,
  rememberUser,
  removeConversation,
  savedPrivatePeers,
  setActive,
  setConversationsRestored,
  setHistoryLoading,
  setUnread,
  state,
} from "./state.js";

export function openConversation(key, kind, id, title) {
  const conv = addConversation(key, kind, id, title);
  renderTabs();
  if (kind === "private") watchShownUsers(); // a peer's presence is shown in the online list
  return conv;
}

export function closeConversation(key) {
  if (!removeConversation(key)) return;
  renderTabs();
  renderActiveConversation();
}

export function activate(key) {
  rememberScroll();
  setActive(key);
  renderTabs();
  renderActiveConversation();
  closePanels();
  const conv = state.conversations.get(key);
  if (!conv) return;
  // A tab restored after a reload holds no message until it is first shown.
  if (conv.kind === "private" && !conv.historyLoaded && !conv.loading) loadHistory(conv, null);
  else markRead(conv);
}

// Tells the server that the conversation on screen is read up to its newest message,
// so that the badge is gone after a reload and on the user's other devices too. Sent
// only when it moves the marker; the server writes marks once a second at most.
export function markRead(conv) {
  if (!conv || conv.newestId === null || conv.newestId <= (conv.readUpTo || 0)) return;
  if (!isActive(conv) || document.hidden) return;
  const where = conv.kind === "room" ? { room_id: conv.id } : { peer_id: conv.id };
  if (send(Object.assign({ type: "read", up_to: conv.newestId }, where), "Marking as read") !== null) {
    noteReadUpTo(conv, conv.newestId);
  }
}

// Another session of this user read up to `up_to` (a "read_marker" frame): what this
// tab holds up to there is read here too.
export function applyReadMarker(frame) {
  if (typeof frame.up_to !== "number" || frame.ref !== undefined) return;
  const key = typeof frame.room_id === "string" ? "room:" + frame.room_id : "user:" + frame.peer_id;
  const conv = state.conversations.get(key);
  if (!conv) return;
  noteReadUpTo(conv, frame.up_to);
  if (conv.newestId !== null && frame.up_to >= conv.newestId && conv.unread > 0) {
    setUnread(conv, 0);
    renderTabs();
  }
}

// After a login or a reload: the private conversations this tab had open come back as
// tabs, and so does every conversation with unread messages (those stored while the
// user was offline among them), with the server's count on its badge. Once per login.
export async function restoreConversations() {
  if (!state.me || state.conversationsRestored) return;
  const me = state.me.user_id;
  setConversationsRestored(true);
  let entries;
  try {
    entries = await listConversations();
  } catch (err) {
    setConversationsRestored(false);
    reportApiError(err, "Reading your conversations");
    return;
  }
  if (!state.me || state.me.user_id !== me) return;
  const wanted = new Set(savedPrivatePeers());
  for (const entry of entries) {
    if (!entry.peer || typeof entry.peer.user_id !== "string") continue;
    rememberUser(entry.peer);
    const peerId = entry.peer.user_id;
    if (!wanted.has(peerId) && !(entry.unread > 0)) continue;
    wanted.delete(peerId);
    const key = "user:" + peerId;
    const existed = state.conversations.has(key);
    const conv = openConversation(key, "private", peerId, entry.peer.username);
    if (!existed) {
      setUnread(conv, entry.unread || 0);
      noteReadUpTo(conv, entry.last_read || 0);
    }
  }
  for (const peerId of wanted) {
    if (peerId !== me) openConversation("user:" + peerId, "private", peerId, nameOf(peerId));
  }
  renderTabs();
  const active = activeConversation();
  if (active && active.kind === "private" && !active.historyLoaded) loadHistory(active, null);
}

// "Message someone by name": anyone with an account, online or not.
export async function startPrivateByName(username) {
  const name = username.trim();
  if (!name) {
    showError("Type the username of the person to write to.", "bad_request");
    return false;
  }
  try {
    const user = await lookupUser(name);
    if (state.me && user.user_id === state.me.user_id) {
      showError("That is you: type someone else's username.", "bad_request");
      return false;
    }
    startPrivate(user);
    return true;
  } catch (err) {
    reportApiError(err, "Finding " + name);
    return false;
  }
}

// A click on someone in an online list: their private conversation, shown, with its
// history read the first time.
export function startPrivate(user) {
  if (!state.me || user.user_id === state.me.user_id) return;
  rememberUser(user);
  const key = "user:" + user.user_id;
  openConversation(key, "private", user.user_id, user.username);
  activate(key); // reads its history the first time
  $("message-input").focus();
}

// Fetches one page of history; `before` null means the newest page. Older pages
// keep the user's scroll position so the list does not jump.
export async function loadHistory(conv, before) {
  if (before !== null && (conv.loading || !conv.hasMore)) return;
  setHistoryLoading(conv, true);
  const base = conv.kind === "room"
    ? "/rooms/" + encodeURIComponent(conv.id) + "/messages"
    : "/private/" + encodeURIComponent(conv.id) + "/messages";
  const query = "?limit=" + HISTORY_PAGE + (before !== null ? "&before=" + before : "");
  try {
    const data = await api("GET", base + query);
    const messages = Array.isArray(data.messages) ? data.messages : [];
    recordHistoryPage(conv, before !== null, messages.length);
    showHistoryPage(conv, before !== null, () => {
      for (const message of messages) addMessage(conv, message, false);
    });
    if (before === null) markRead(conv);
  } catch (err) {
    if (err instanceof ApiError && err.code === "user_not_found") {
      closeConversation(conv.key);
    }
    reportApiError(err, "Loading the history of " + conv.title);
  } finally {
    setHistoryLoading(conv, false);
  }
}

// The "Load older messages" button of the conversation on screen.
export function loadOlder() {
  const conv = activeConversation();
  if (conv) loadHistory(conv, conv.oldestId);
}

// Scrolling near the top reads the next older page by itself.
export function loadOlderNearTop() {
  const conv = activeConversation();
  if (conv && $("message-list").scrollTop < 40 && conv.hasMore && !conv.loading) {
    loadHistory(conv, conv.oldestId);
  }
}

// Shows a message once: history pages and live pushes overlap, and the id is the
// only thing that tells the same message apart from a copy. A live one the user
// did not see arrive counts as unread on its tab.
export function addMessage(conv, message, live) {
  const placed = recordMessage(conv, message);
  if (placed === null) return;
  if (!placeMessage(conv, message, live, placed.newest)) {
    countUnread(conv);
    renderTabs();
  } else if (live) {
    markRead(conv);
  }
}

// A private message, pushed live or caught up after a reconnect, may be ours (sent
// from this or another tab) or someone's to us: the conversation partner is
// whichever of sender and target is not me. `open`: a message for a conversation
// that has no tab opens one (with its newest history page), as a live one does.
export function showPrivateMessage(message, open) {
  if (!message.sender || !state.me) return;
  rememberUser(message.sender);
  const mine = message.sender.user_id === state.me.user_id;
  const partnerId = mine ? message.target_id : message.sender.user_id;
  const key = "user:" + partnerId;
  let conv = state.conversations.get(key);
  if (!conv) {
    if (!open) return;
    conv = openConversation(key, "private", partnerId, nameOf(partnerId));
    loadHistory(conv, null);
  }
  addMessage(conv, message, true);
}
