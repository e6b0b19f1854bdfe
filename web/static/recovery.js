// Catching up after a reconnect, so that no message is lost and none is shown twice.
//
// Every rejoin carries `since`, the last id the room's tab holds (state.roomSince);
// the "joined" reply brings what came after it, and live messages follow with no
// gap. One "sync" per link does the same for private messages (state.privateSince).
// What comes back is merged by id, like every other message (conversations.js).
//
// A reply that says `truncated` holds only the newest of the missed messages: the
// older ones are read from the history API, page by page, until the gap is closed,
// however large. While a gap is being read its place in the list is marked; if
// reading fails (the server went away again) the mark stays with "Try again", and
// the next rejoin tries again too.

import { ApiError, api } from "./api.js";
import { reportApiError } from "./banner.js";
import { send } from "./connection.js";
import { addMessage, showPrivateMessage } from "./conversations.js";
import { caughtUp, removeGapMark, showGapMark, showHistoryPage } from "./message-list.js";
import {
  addGap,
  beginPrivateSync,
  closeGap,
  finishPrivateSync,
  narrowGap,
  setFilling,
  setGapFailed,
  state,
} from "./state.js";

const GAP_PAGE = 200; // the history API's largest page
const SYNC_RETRY_MS = 5000;

let link = 0; // counts links, so that a late reply or timer of an older one does nothing

// The link is up (again).
export function beginLink() {
  link += 1;
}

// Asks for the private messages missed since the last one this tab holds. The very
// first sync of a session asks from the start only to learn where "now" is: what it
// returns is older than the session and opens no tab.
export function syncPrivate() {
  const first = state.privateSince === null;
  const since = beginPrivateSync();
  send({ type: "sync", since }, "Catching up on private messages", { sync: { since, first, link } });
}

export function onSynced(frame, command) {
  if (!command || !command.sync || command.sync.link !== link) return;
  const { since, first } = command.sync;
  const messages = Array.isArray(frame.messages) ? frame.messages : [];
  if (!frame.recovered && !frame.truncated) {
    // The server could not read its history just now: ask again shortly. Meanwhile
    // live messages do not move privateSince, so nothing can be skipped.
    setTimeout(() => {
      if (command.sync.link === link && state.connected) syncPrivate();
    }, SYNC_RETRY_MS);
    return;
  }
  for (const message of messages) showPrivateMessage(message, !first);
  if (frame.truncated && messages.length > 0 && !first) {
    for (const conv of state.conversations.values()) {
      if (conv.kind === "private") {
        addGap(conv, since, messages[0].id);
        fillGaps(conv);
      }
    }
  }
  finishPrivateSync(since, messages);
  for (const conv of state.conversations.values()) if (conv.kind === "private") caughtUp(conv);
}

// The "joined" reply to a rejoin with `since`: the messages missed, oldest first.
export function recoverRoom(conv, frame, since) {
  const messages = Array.isArray(frame.messages) ? frame.messages : [];
  for (const message of messages) addMessage(conv, message, true);
  caughtUp(conv);
  if (frame.truncated && messages.length > 0) addGap(conv, since, messages[0].id);
  // Neither recovered nor truncated: the server could not read its history, so the
  // whole stretch since `since` is read over HTTP instead.
  else if (!frame.recovered) addGap(conv, since, null);
  fillGaps(conv);
}

// Reads every open gap of a conversation, one at a time.
export async function fillGaps(conv) {
  if (conv.filling) return;
  setFilling(conv, true);
  try {
    while (conv.gaps.length > 0 && state.conversations.get(conv.key) === conv) {
      const gap = conv.gaps[0];
      if (!(await fillGap(conv, gap))) return;
    }
  } finally {
    setFilling(conv, false);
  }
}

function historyPath(conv) {
  const kind = conv.kind === "room" ? "/rooms/" : "/private/";
  return kind + encodeURIComponent(conv.id) + "/messages?limit=" + GAP_PAGE;
}

// Pages back from the gap's upper end until a page reaches its lower end. Returns
// false when reading failed: the gap stays, marked, for a later try.
async function fillGap(conv, gap) {
  setGapFailed(gap, false);
  showGapMark(conv, gap);
  const token = state.token;
  try {
    for (;;) {
      const query = gap.before === null ? "" : "&before=" + gap.before;
      const data = await api("GET", historyPath(conv) + query);
      if (state.token !== token || state.conversations.get(conv.key) !== conv) return false;
      const page = Array.isArray(data.messages) ? data.messages : [];
      showHistoryPage(conv, true, () => {
        for (const message of page) if (message.id > gap.after) addMessage(conv, message, false);
      });
      if (page.length < GAP_PAGE || page[0].id <= gap.after + 1) break;
      narrowGap(gap, page[0].id);
      showGapMark(conv, gap);
    }
  } catch (err) {
    if (state.token !== token) return false;
    setGapFailed(gap, true);
    showGapMark(conv, gap);
    if (!(err instanceof ApiError && err.code === "network")) reportApiError(err, "Loading the messages missed");
    return false;
  }
  closeGap(conv, gap);
  removeGapMark(conv, gap);
  return true;
}

// "Try again" on a gap's mark.
export function retryGaps(conv) {
  if (conv) fillGaps(conv);
}
