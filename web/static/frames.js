// What the client does with the WebSocket: when the link comes up or drops, and
// with each frame the server pushes or answers (the handlers given to
// startConnection in session.js).

import { showError } from "./banner.js";
import { restoreDraft } from "./composer.js";
import { send } from "./connection.js";
import { addMessage, loadHistory, openConversation } from "./conversations.js";
import { describeError } from "./error-text.js";
import { joinRoom, joinedRoom, leftRoom } from "./membership.js";
import { addNote, addSystemLine } from "./message-list.js";
import { showRoomOnline, showSiteOnline } from "./online.js";
import { updateComposer } from "./render.js";
import { refreshRooms, scheduleRefresh } from "./rooms.js";
import { nameOf, rememberUser, setConnected, state, unwantRoom } from "./state.js";

// Up (again): be back in every room we want to be in, and ask who is online.
export function onConnected() {
  setConnected(true);
  for (const roomId of state.wantedRooms) joinRoom(roomId);
  send({ type: "online" });
  updateComposer();
}

// Commands in flight when the link dropped will never get a reply; tell the user
// about unsent messages instead of silently losing them.
export function onDisconnected(unanswered) {
  setConnected(false);
  updateComposer();
  for (const command of unanswered) {
    if (command.content !== undefined) {
      showError("A message may not have been sent: the connection dropped.", "network");
      restoreDraft(command);
    }
  }
}

export function onFrame(frame, command) {
  const handler = FRAME_HANDLERS[frame.type];
  if (handler) handler(frame, command);
}

const FRAME_HANDLERS = {
  joined: joinedRoom,
  left: (frame) => leftRoom(frame.room_id),
  ack: onAck,
  online: onOnline,
  pong: () => {},
  group: onGroupMessage,
  private: onPrivateMessage,
  system: onSystem,
  error: onError,
};

function onAck(frame, command) {
  if (command && command.private && frame.delivered === false) {
    const conv = state.conversations.get(command.convKey);
    if (conv) addNote(conv, nameOf(conv.id) + " is offline: the message is stored for later.");
  }
}

function onOnline(frame) {
  const users = Array.isArray(frame.users) ? frame.users : [];
  if (typeof frame.room_id === "string") showRoomOnline(frame.room_id, users);
  else showSiteOnline(users);
}

function onGroupMessage(message) {
  const conv = state.conversations.get("room:" + message.room_id);
  if (conv) addMessage(conv, message, true);
}

// A private push may be ours (sent from this or another tab) or someone's to us:
// the conversation partner is whichever of sender and target is not me.
function onPrivateMessage(message) {
  if (!message.sender || !state.me) return;
  rememberUser(message.sender);
  const mine = message.sender.user_id === state.me.user_id;
  const partnerId = mine ? message.target_id : message.sender.user_id;
  const key = "user:" + partnerId;
  let conv = state.conversations.get(key);
  if (!conv) {
    conv = openConversation(key, "private", partnerId, nameOf(partnerId));
    loadHistory(conv, null);
  }
  addMessage(conv, message, true);
}

function onSystem(frame) {
  rememberUser(frame.user);
  const conv = state.conversations.get("room:" + frame.room_id);
  if (conv) {
    const who = frame.user ? frame.user.username : "Someone";
    const fallback = who + (frame.event === "join" ? " joined" : " left");
    addSystemLine(conv, frame.content || fallback, frame.timestamp, frame.event, who);
  }
  // Membership changed: the online lists and the counts in the room list are stale.
  if (state.conversations.has("room:" + frame.room_id)) {
    send({ type: "online", room_id: frame.room_id });
  }
  send({ type: "online" });
  scheduleRefresh();
}

function onError(frame, command) {
  const text = describeError(frame.code, frame.message);
  const what = command ? command.what : null;
  showError(what ? what + " failed. " + text : text, frame.code);
  if (!command) return;
  if (command.content !== undefined) restoreDraft(command);
  // A join that cannot succeed must not be retried after every reconnect.
  if (command.joinRoom && frame.code === "room_not_found") {
    unwantRoom(command.joinRoom);
    refreshRooms();
  }
}
