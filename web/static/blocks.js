// Blocking the peer of a private conversation, from its header: no private
// message passes between the two, either way, until unblocked (the server's
// block list; GET/PUT/DELETE /api/v1/blocks, "block_changed" from other tabs).

import { api } from "./api.js";
import { showError } from "./banner.js";
import { describeError } from "./error-text.js";
import { $ } from "./dom.js";
import { activeConversation, state } from "./state.js";

// The people this user blocks, as far as read: null until the first private
// conversation is shown after a login (then read once, and kept current).
let blocked = null;
let owner = null; // whose list `blocked` is
let loading = false;

function current() {
  if (!state.me || owner !== state.me.user_id) {
    blocked = null;
    loading = false;
    owner = state.me ? state.me.user_id : null;
  }
  return blocked;
}

async function load() {
  const mine = new Set();
  let cursor = null;
  do {
    const query = "/blocks?limit=100" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
    const page = await api("GET", query);
    for (const entry of page.blocks) mine.add(entry.user.user_id);
    cursor = page.next_cursor;
  } while (cursor);
  if (owner === (state.me && state.me.user_id)) blocked = mine;
  showBlockButton();
}

// The header's Block/Unblock button, for the private conversation on screen.
export function showBlockButton() {
  const button = $("block-button");
  const conv = activeConversation();
  if (!conv || conv.kind !== "private" || !state.me) {
    button.hidden = true;
    return;
  }
  const known = current();
  if (known === null) {
    button.hidden = true; // shown once the list has been read
    if (!loading) {
      loading = true;
      load()
        .catch(() => {}) // tried again when the next private conversation is shown
        .finally(() => {
          loading = false;
        });
    }
    return;
  }
  const isBlocked = known.has(conv.id);
  button.hidden = false;
  button.textContent = isBlocked ? "Unblock" : "Block";
  button.setAttribute("aria-pressed", String(isBlocked));
  button.title = (isBlocked ? "Unblock " : "Block ") + conv.title;
}

export async function onBlockButton() {
  const conv = activeConversation();
  const known = current();
  if (!conv || conv.kind !== "private" || known === null) return;
  const block = !known.has(conv.id);
  try {
    await api(block ? "PUT" : "DELETE", "/blocks/" + encodeURIComponent(conv.id));
  } catch (error) {
    showError((block ? "Blocking" : "Unblocking") + " failed. " + describeError(error.code, error.message), error.code);
    return;
  }
  setBlocked(conv.id, block);
}

// Another tab of ours blocked or unblocked someone.
export function onBlockChanged(frame) {
  setBlocked(frame.user.user_id, frame.blocked);
}

function setBlocked(userId, isBlocked) {
  const known = current();
  if (known === null) return;
  if (isBlocked) known.add(userId);
  else known.delete(userId);
  showBlockButton();
}
