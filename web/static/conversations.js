// Open conversations (the tabs): opening, closing and showing one, and filling it
// with messages from history pages and from live pushes.

import { ApiError, api } from "./api.js";
import { reportApiError } from "./banner.js";
import { $ } from "./dom.js";
import { placeMessage, rememberScroll, showHistoryPage } from "./message-list.js";
import { closePanels, renderActiveConversation, renderTabs } from "./render.js";
import {
  HISTORY_PAGE,
  activeConversation,
  addConversation,
  countUnread,
  nameOf,
  recordHistoryPage,
  recordMessage,
  rememberUser,
  removeConversation,
  setActive,
  setHistoryLoading,
  state,
} from "./state.js";

export function openConversation(key, kind, id, title) {
  const conv = addConversation(key, kind, id, title);
  renderTabs();
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
}

// A click on someone in an online list: their private conversation, shown, with its
// history read the first time.
export function startPrivate(user) {
  if (!state.me || user.user_id === state.me.user_id) return;
  rememberUser(user);
  const key = "user:" + user.user_id;
  const existed = state.conversations.has(key);
  const conv = openConversation(key, "private", user.user_id, user.username);
  activate(key);
  if (!existed) loadHistory(conv, null);
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
