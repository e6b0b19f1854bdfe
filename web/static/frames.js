// What the client does with the WebSocket: when the link comes up or drops, and
// with each frame the server pushes or answers (the handlers given to
// startConnection in session.js).

import { showError } from "./banner.js";
import { onBlockChanged } from "./blocks.js";
import { restoreDraft } from "./composer.js";
import { reconnectWithToken, send } from "./connection.js";
import { addMessage, applyReadMarker, restoreConversations, showPrivateMessage } from "./conversations.js";
import { onDelete, onEdit } from "./edits.js";
import { describeError } from "./error-text.js";
import { loadInvites, onInviteAnswered, onInviteSent, onInvited } from "./invites.js";
import { joinRoom, joinedRoom, leftRoom } from "./membership.js";
import { addNote, addSystemLine } from "./message-list.js";
import { loadRoles, onKicked, onModerationNotice, refusalText } from "./moderation.js";
import { askSiteOnline, onPresence, onSiteOnline, onWatching, rewatch, showRoomOnline } from "./online.js";
import { beginLink, onSynced, syncPrivate } from "./recovery.js";
import { updateComposer } from "./render.js";
import { onTyping, typistPosted } from "./typing.js";
import { addCreatedRoom, refreshRooms, scheduleRefresh } from "./rooms.js";
import { nameOf, notePrivateLive, rememberUser, setConnected, state, unwantRoom } from "./state.js";

// Up (again): be back in every room we want to be in, each with what it missed,
// catch up on private messages, and ask who is online.
export function onConnected() {
  setConnected(true);
  beginLink();
  for (const roomId of state.wantedRooms) joinRoom(roomId);
  syncPrivate();
  restoreConversations();
  askSiteOnline();
  rewatch();
  loadInvites();
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
  joined: (frame, command) => {
    joinedRoom(frame, command);
    loadRoles(frame.room && frame.room.room_id);
  },
  synced: onSynced,
  refreshed: () => {},
  left: (frame) => leftRoom(frame.room_id),
  ack: onAck,
  online: onOnline,
  pong: () => {},
  group: onGroupMessage,
  private: onPrivateMessage,
  system: onSystem,
  room_created: (frame) => addCreatedRoom(frame.room),
  added_to_room: (frame) => addCreatedRoom(frame.room), // a private room an admin made us a member of
  read_marker: applyReadMarker,
  typing: onTyping,
  block_changed: onBlockChanged,
  invited: onInvited,
  invite_sent: onInviteSent,
  invite_accepted: onInviteAnswered,
  invite_declined: onInviteAnswered,
  moderated: () => {}, // the room's notice says it, to everyone at once
  kicked: onKicked,
  watching: onWatching,
  presence: onPresence,
  edit: onEdit,
  delete: onDelete,
  error: onError,
};

function onAck(frame, command) {
  if (command && command.private && frame.delivered === false) {
    const conv = state.conversations.get(command.convKey);
    if (conv) addNote(conv, nameOf(conv.id) + " is offline: the message is stored for later.");
  }
}

function onOnline(frame, command) {
  const users = Array.isArray(frame.users) ? frame.users : [];
  if (typeof frame.room_id === "string") showRoomOnline(frame.room_id, users);
  else onSiteOnline(users, command);
}

function onGroupMessage(message) {
  const conv = state.conversations.get("room:" + message.room_id);
  if (conv) addMessage(conv, message, true);
  typistPosted("room:" + message.room_id, message.sender.user_id);
}

function onPrivateMessage(message) {
  typistPosted("user:" + message.sender.user_id, message.sender.user_id);
  notePrivateLive(message.id);
  showPrivateMessage(message, true);
}

function onSystem(frame) {
  rememberUser(frame.user);
  const conv = state.conversations.get("room:" + frame.room_id);
  if (conv) {
    const who = frame.user ? frame.user.username : "Someone";
    const fallback = who + (frame.event === "join" ? " joined" : " left");
    const text = onModerationNotice(frame) || frame.content || fallback;
    addSystemLine(conv, text, frame.timestamp, frame.event, who);
  }
  // Membership changed: the online lists and the counts in the room list are stale.
  if (state.conversations.has("room:" + frame.room_id)) {
    send({ type: "online", room_id: frame.room_id });
  }
  askSiteOnline();
  scheduleRefresh();
}

function onError(frame, command) {
  // The socket would close when its old token expires: open a new one with the new
  // token (nothing for the user to do or read).
  if (command && command.renewal) {
    reconnectWithToken();
    return;
  }
  const text = refusalText(frame, command) || describeError(frame.code, frame.message);
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
