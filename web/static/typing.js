// Who is typing in the conversation on screen, and telling a room or a peer when we type.
//
// The server passes a session's notice on at most every 2 s and says how long
// to show it (expires_in_ms); we send one at most every 2 s while the input
// has text, and forget a typist once their message arrives or the time runs out.

import { notify } from "./connection.js";
import { $ } from "./dom.js";
import { activeConversation, state } from "./state.js";

const SEND_EVERY_MS = 2000;
const typists = new Map(); // conversation key -> Map(user_id -> {name, until})
let lastSent = { key: null, at: 0 };
let refresh = null;

// The input changed: tell the room or the peer on screen, if there is text and not too often.
export function onInputTyping() {
  const conv = activeConversation();
  if (!conv || (conv.kind === "room" && !state.wantedRooms.has(conv.id))) return;
  if (!$("message-input").value.trim()) return;
  const now = Date.now();
  if (lastSent.key === conv.key && now - lastSent.at < SEND_EVERY_MS) return;
  const notice = conv.kind === "room" ? { type: "typing", room_id: conv.id } : { type: "typing", peer_id: conv.id };
  if (notify(notice)) lastSent = { key: conv.key, at: now };
}

// A message was sent: the next keystroke is a new bout of typing.
export function typingSent() {
  lastSent = { key: null, at: 0 };
}

export function onTyping(frame) {
  if (state.me && frame.user.user_id === state.me.user_id) return; // our other tab
  const key = frame.room_id ? "room:" + frame.room_id : "user:" + frame.peer_id;
  let conv = typists.get(key);
  if (!conv) typists.set(key, (conv = new Map()));
  conv.set(frame.user.user_id, { name: frame.user.username, until: Date.now() + frame.expires_in_ms });
  showTyping();
}

// Their message arrived in the conversation `key`: they are not typing it any more.
export function typistPosted(key, userId) {
  const conv = typists.get(key);
  if (conv && conv.delete(userId)) showTyping();
}

// Who is typing in the conversation on screen, in words; empty when nobody is.
export function showTyping() {
  const conv = activeConversation();
  const typing = conv ? typists.get(conv.key) : null;
  const now = Date.now();
  const names = [];
  if (typing) {
    for (const [userId, typist] of typing) {
      if (typist.until <= now) typing.delete(userId);
      else names.push(typist.name);
    }
  }
  const line = $("typing-indicator");
  line.textContent = describe(names);
  clearTimeout(refresh);
  if (names.length) refresh = setTimeout(showTyping, 1000);
}

function describe(names) {
  if (names.length === 0) return "";
  if (names.length === 1) return names[0] + " is typing…";
  if (names.length === 2) return names[0] + " and " + names[1] + " are typing…";
  return "Several people are typing…";
}
