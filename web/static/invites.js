// Private rooms' invites: the header's "Invite" form in a private room (any member
// may invite), and the "Invites" list with Accept and Decline, read at each
// connection (GET /api/v1/me/invites) and kept live by "invited" frames.

import { api, lookupUser } from "./api.js";
import { reportApiError, showError } from "./banner.js";
import { send } from "./connection.js";
import { $, el } from "./dom.js";
import { joinRoom } from "./membership.js";
import { addNote } from "./message-list.js";
import { refreshRooms } from "./rooms.js";
import { activeConversation, state } from "./state.js";

const pending = new Map(); // room_id -> {room, inviter, created_at}

// Shown for a private room on screen; hidden everywhere else.
export function showInviteForm() {
  const conv = activeConversation();
  const room = conv && conv.kind === "room" ? state.rooms.get(conv.id) : null;
  $("invite-form").hidden = !(room && room.visibility === "private");
}

export async function onInviteSubmit(event) {
  event.preventDefault();
  const conv = activeConversation();
  const input = $("invite-name");
  const name = input.value.trim();
  if (!conv || conv.kind !== "room" || !name) {
    showError("Type the username of the person to invite.", "bad_request");
    return;
  }
  try {
    const user = await lookupUser(name);
    const ref = send({ type: "invite", room_id: conv.id, user_id: user.user_id }, "Inviting " + name);
    if (ref === null) showError("Not connected: try again when the connection is back.", "network");
    else input.value = "";
  } catch (err) {
    reportApiError(err, "Finding " + name);
  }
}

export function onInviteSent(frame) {
  const conv = state.conversations.get("room:" + frame.room_id);
  if (conv && frame.user) addNote(conv, frame.user.username + " is invited.");
}

export async function loadInvites() {
  try {
    const data = await api("GET", "/me/invites");
    pending.clear();
    for (const invite of data.invites || []) pending.set(invite.room.room_id, invite);
    renderInvites();
  } catch (err) {
    reportApiError(err, "Loading the invites");
  }
}

export function onInvited(frame) {
  if (!frame.room || typeof frame.room.room_id !== "string") return;
  pending.set(frame.room.room_id, frame);
  renderInvites();
}

export function onInviteAnswered(frame) {
  const roomId = frame.room ? frame.room.room_id : frame.room_id;
  pending.delete(roomId);
  renderInvites();
  if (frame.type === "invite_accepted") {
    refreshRooms().then(() => joinRoom(roomId, true));
  }
}

function renderInvites() {
  const items = [...pending.values()].map((invite) => {
    const name = invite.room.name || invite.room.room_id;
    const item = el("li", { className: "invite", "data-testid": "invite-item", "data-room-id": invite.room.room_id });
    item.appendChild(el("span", { className: "invite-text" }, name + " from " + invite.inviter.username));
    item.appendChild(el("button", { type: "button", className: "invite-accept", "data-testid": "invite-accept", "aria-label": "Accept the invite to " + name }, "Accept"));
    item.appendChild(el("button", { type: "button", className: "invite-decline secondary", "data-testid": "invite-decline", "aria-label": "Decline the invite to " + name }, "Decline"));
    return item;
  });
  $("invite-list").replaceChildren(...items);
  $("invites-section").hidden = items.length === 0;
}

export function onInviteListClick(event) {
  const button = event.target.closest("button");
  const item = button && button.closest('[data-testid="invite-item"]');
  if (!item) return;
  const accept = button.classList.contains("invite-accept");
  const roomId = item.dataset.roomId;
  const type = accept ? "accept_invite" : "decline_invite";
  if (send({ type, room_id: roomId }, accept ? "Accepting the invite" : "Declining the invite") === null) {
    showError("Not connected: try again when the connection is back.", "network");
  }
}
