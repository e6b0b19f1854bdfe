// Who is typing in the room on screen, and telling a room when we type.
//
// The server passes a session's notice on at most every 2 s and says how long
// to show it (expires_in_ms); we send one at most every 2 s while the input
// has text, and forget a typist once their message arrives or the time runs out.

import { notify } from "./connection.js";
import { $ } from "./dom.js";
import { activeConversation, state } from "./state.js";

const SEND_EVERY_MS = 2000;
const typists = new Map(); // room_id -> Map(user_id -> {name, until})
let lastSent = { roomId: null, at: 0 };
let refresh = null;

// The input changed: tell the room on screen, if there is text and not too often.
export function onInputTyping() {
  const conv = activeConversation();
  if (!conv || conv.kind !== "room" || !state.wantedRooms.has(conv.id)) return;
  if (!$("message-input").value.trim()) return;
  const now = Date.now();
  if (lastSent.roomId === conv.id && now - lastSent.at < SEND_EVERY_MS) return;
  if (notify({ type: "typing", room_id: conv.id })) lastSent = { roomId: conv.id, at: now };
}

// A message was sent: the next keystroke is a new bout of typing.
export function typingSent() {
  lastSent = { roomId: null, at: 0 };
}

export function onTyping(frame) {
  if (state.me && frame.user.user_id === state.me.user_id) return; // our other tab
  let room = typists.get(frame.room_id);
  if (!room) typists.set(frame.room_id, (room = new Map()));
  room.set(frame.user.user_id, { name: frame.user.username, until: Date.now() + frame.expires_in_ms });
  showTyping();
}

// Their message arrived: they are not typing it any more.
export function typistPosted(roomId, userId) {
  const room = typists.get(roomId);
  if (room && room.delete(userId)) showTyping();
}

// Who is typing in the conversation on screen, in words; empty when nobody is.
export function showTyping() {
  const conv = activeConversation();
  const room = conv && conv.kind === "room" ? typists.get(conv.id) : null;
  const now = Date.now();
  const names = [];
  if (room) {
    for (const [userId, typist] of room) {
      if (typist.until <= now) room.delete(userId);
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
