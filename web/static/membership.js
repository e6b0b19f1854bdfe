// Being in rooms: asking to join or leave, and what the client does once the
// server says we joined or left. The rooms we want to be in are remembered, so
// that a reconnect (or a reload) joins them again; a rejoin of a room whose tab
// holds messages asks for those after the last one (recovery.js).

import { showError } from "./banner.js";
import { send } from "./connection.js";
import { activate, closeConversation, loadHistory, openConversation } from "./conversations.js";
import { applyRevised } from "./edits.js";
import { showRoomOnline } from "./online.js";
import { recoverRoom } from "./recovery.js";
import { scheduleRefresh } from "./rooms.js";
import { forgetRoomOnline, mergeRoom, roomSince, setFocusOnJoin, state, unwantRoom, wantRoom } from "./state.js";

// `focus`: the user asked for this room, so show it once joined.
export function joinRoom(roomId, focus) {
  const room = state.rooms.get(roomId);
  const label = room && room.name ? room.name : roomId;
  const conv = state.conversations.get("room:" + roomId);
  if (conv && focus) activate(conv.key);
  const since = roomSince(roomId);
  const command = since === null ? { type: "join", room_id: roomId } : { type: "join", room_id: roomId, since };
  const ref = send(command, "Joining " + label, { joinRoom: roomId, since });
  if (ref === null) {
    // Not connected: remember the wish, the next connection joins it.
    wantRoom(roomId);
    showError("Not connected: the room will be joined when the connection is back.", "network");
    return;
  }
  if (focus && !conv) setFocusOnJoin(roomId);
}

export function leaveRoom(roomId) {
  const room = state.rooms.get(roomId);
  const label = room && room.name ? room.name : roomId;
  const ref = send({ type: "leave", room_id: roomId }, "Leaving " + label);
  if (ref === null) {
    // Offline: we are out of the room already (disconnecting leaves every room).
    leftRoom(roomId);
  }
}

// The "joined" frame: a tab for the room, its members, and its newest messages, or
// (to a join with `since`) the messages it missed.
export function joinedRoom(frame, command) {
  const room = frame.room || {};
  const roomId = room.room_id;
  if (typeof roomId !== "string") return;
  wantRoom(roomId);
  mergeRoom(room);
  const conv = openConversation("room:" + roomId, "room", roomId, room.name || roomId);
  showRoomOnline(roomId, frame.users || []);
  const since = command ? command.since : null;
  if (typeof since === "number" && Array.isArray(frame.messages)) {
    recoverRoom(conv, frame, since);
    applyRevised(conv, frame.revised);
  } else loadHistory(conv, null);
  // Show the room if the user asked for it (clicked Join), or if nothing is shown yet.
  if (!state.activeKey || state.focusOnJoin === roomId) {
    setFocusOnJoin(null);
    activate(conv.key);
  }
  scheduleRefresh();
}

// The "left" frame, or a leave while offline.
export function leftRoom(roomId) {
  unwantRoom(roomId);
  forgetRoomOnline(roomId);
  closeConversation("room:" + roomId);
  scheduleRefresh();
}
