// Moderation as the client sees it (docs/protocol-notes.md, "Moderation"): each
// room's levels, read over HTTP (GET /rooms/{id}/roles) when the room is joined
// and kept current from the room's notices; the commands (kick, mute, ban, their
// undoing, admin) sent over the socket; and the words for what comes back: the
// room's moderation notices, the "kicked" frame, and the "muted" and "banned"
// refusals (the composer says until when the user is muted).
//
// What the viewer may do mirrors the server's rule (actors/moderation.py): nobody
// acts on their own level or above, and only the owner's level grants and takes
// admin. The server still decides; a refusal is shown in its words.

import { api } from "./api.js";
import { showError } from "./banner.js";
import { send } from "./connection.js";
import { $ } from "./dom.js";
import { leftRoom } from "./membership.js";
import { renderRooms } from "./render.js";
import { rememberUser, state } from "./state.js";

const LEVELS = { member: 0, admin: 1, owner: 2 };
const MINUTE = 60;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

// How long a mute or a ban lasts, as offered in the dialog; null: until lifted.
export const MUTE_DURATIONS = [["10 minutes", 10 * MINUTE], ["1 hour", HOUR], ["1 day", DAY], ["Until lifted", null]];
export const BAN_DURATIONS = [["1 hour", HOUR], ["1 day", DAY], ["1 week", 7 * DAY], ["Until lifted", null]];

// room_id -> {owner, admins: Set of ids, you: "owner"|"admin"|"member", sanctions: [..] | null}
const rooms = new Map();
// room_id -> when our own mute there ends (ms; null: until lifted), as far as we were told.
const myMutes = new Map();
let rolesChanged = () => {};

// render.js sits above this module: main.js tells us how to redraw what depends on
// the levels, `handler(roomId)`; null: everything was forgotten (a logout).
export function whenRolesChange(handler) {
  rolesChanged = handler;
}

export async function loadRoles(roomId) {
  if (typeof roomId !== "string" || !state.token) return;
  try {
    const data = await api("GET", "/rooms/" + encodeURIComponent(roomId) + "/roles");
    if (data.owner) rememberUser(data.owner);
    (data.admins || []).forEach(rememberUser);
    rooms.set(roomId, {
      owner: data.owner ? data.owner.user_id : null,
      admins: new Set((data.admins || []).map((u) => u.user_id)),
      you: data.you in LEVELS ? data.you : "member",
      sanctions: Array.isArray(data.sanctions) ? data.sanctions : null,
    });
  } catch (err) {
    rooms.delete(roomId); // no menu beyond "Message" until it can be read
  }
  rolesChanged(roomId);
}

export function rolesOf(roomId) {
  return rooms.get(roomId) || null;
}

export function levelOf(roomId, userId) {
  const roles = rooms.get(roomId);
  if (!roles) return "member";
  if (roles.owner === userId) return "owner";
  return roles.admins.has(userId) ? "admin" : "member";
}

export function sanctionOf(roomId, userId, kind) {
  const roles = rooms.get(roomId);
  if (!roles || !roles.sanctions) return null;
  return roles.sanctions.find((s) => s.kind === kind && s.user.user_id === userId) || null;
}

// The actions the viewer may take on `userId` in the room, in menu order.
export function allowedActions(roomId, userId) {
  const roles = rooms.get(roomId);
  if (!roles || !state.me || userId === state.me.user_id) return [];
  const mine = LEVELS[roles.you];
  const theirs = LEVELS[levelOf(roomId, userId)];
  const actions = [];
  if (mine >= LEVELS.admin && theirs < mine) {
    actions.push("kick");
    actions.push(sanctionOf(roomId, userId, "mute") ? "unmute" : "mute");
    actions.push(sanctionOf(roomId, userId, "ban") ? "unban" : "ban");
  }
  if (mine === LEVELS.owner && theirs < LEVELS.owner) actions.push(theirs === LEVELS.admin ? "revoke_admin" : "grant_admin");
  const room = state.rooms.get(roomId);
  if (room && room.visibility === "private" && mine >= LEVELS.admin && theirs < mine) actions.push("remove_member");
  return actions;
}

const DOING = {
  kick: "Kicking", mute: "Muting", unmute: "Unmuting", ban: "Banning", unban: "Unbanning",
  grant_admin: "Making an admin of", revoke_admin: "Taking admin from",
  remove_member: "Removing from the room",
};

// Sends one moderation command; `options`: {reason, duration (seconds)}. False
// when there is no connection.
export function moderate(action, roomId, user, options) {
  const command = { type: action, room_id: roomId, user_id: user.user_id };
  const { reason, duration } = options || {};
  if (reason) command.reason = reason;
  if (typeof duration === "number") command.duration = duration;
  const ref = send(command, DOING[action] + " " + user.username, { moderation: action });
  if (ref === null) showError("Not connected: nothing was done. Try again once the connection is back.", "network");
  return ref !== null;
}

// ---------------------------------------------------------------- words

// "14:05" today, else "Tue 3 Dec, 14:05".
export function whenText(ms) {
  const date = new Date(ms);
  const time = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  if (date.toDateString() === new Date().toDateString()) return time;
  return date.toLocaleDateString([], { weekday: "short", day: "numeric", month: "short" }) + ", " + time;
}

export function untilText(until) {
  return typeof until === "number" ? "until " + whenText(until) : "until it is lifted";
}

function plural(n, unit) {
  return n + " " + unit + (n === 1 ? "" : "s");
}

// "for 1 hour", "for 10 minutes", "until further notice".
function forText(until, from) {
  if (typeof until !== "number") return "until further notice";
  const seconds = Math.max(1, Math.round((until - from) / 1000));
  if (seconds % DAY === 0) return "for " + plural(seconds / DAY, "day");
  if (seconds % HOUR === 0) return "for " + plural(seconds / HOUR, "hour");
  if (seconds >= MINUTE) return "for " + plural(Math.round(seconds / MINUTE), "minute");
  return "for " + plural(seconds, "second");
}

const EVENTS = new Set([
  "kick", "mute", "unmute", "ban", "unban", "grant_admin", "revoke_admin",
  "add_member", "remove_member", "accept_invite", // a private room's members
]);

// A moderation notice of a room: what we know changes, and the words for its
// line ("ivy was muted by ann for 1 hour: spam"); null for another event.
export function onModerationNotice(frame) {
  if (!EVENTS.has(frame.event) || !frame.user) return null;
  if (frame.actor) rememberUser(frame.actor);
  note(frame);
  const name = frame.user.username;
  const by = frame.actor ? frame.actor.username : null;
  const ts = typeof frame.timestamp === "number" ? frame.timestamp : Date.now();
  const text = {
    kick: () => name + " was kicked by " + by,
    mute: () => name + " was muted by " + by + " " + forText(frame.until, ts),
    ban: () => name + " was banned by " + by + " " + forText(frame.until, ts),
    unmute: () => (by ? by + " lifted the mute on " + name : "The mute on " + name + " ended"),
    unban: () => (by ? by + " lifted the ban on " + name : "The ban on " + name + " ended"),
    grant_admin: () => name + " was made an admin by " + by,
    revoke_admin: () => name + " is no longer an admin (" + by + ")",
    add_member: () => name + " was added to the room by " + by,
    remove_member: () => name + " was removed from the room by " + by,
    accept_invite: () => name + " joined the members" + (by ? " on " + by + "'s invite" : ""),
  }[frame.event]();
  return frame.reason ? text + ": " + frame.reason : text;
}

function note(frame) {
  const roomId = frame.room_id;
  const target = frame.user.user_id;
  const me = state.me && target === state.me.user_id;
  if (me && frame.event === "mute") myMutes.set(roomId, typeof frame.until === "number" ? frame.until : null);
  if (me && frame.event === "unmute") myMutes.delete(roomId);
  if (me) showMuteNote();
  const roles = rooms.get(roomId);
  if (!roles) return;
  if (me && ["grant_admin", "revoke_admin", "ban"].includes(frame.event)) {
    loadRoles(roomId); // our own level moved: what we may see and do is read again
    return;
  }
  if (frame.event === "grant_admin") roles.admins.add(target);
  if (frame.event === "revoke_admin" || frame.event === "ban") roles.admins.delete(target);
  if (roles.sanctions) {
    const kind = frame.event.replace(/^un/, "");
    if (kind === "mute" || kind === "ban") {
      roles.sanctions = roles.sanctions.filter((s) => !(s.kind === kind && s.user.user_id === target));
      if (!frame.event.startsWith("un")) roles.sanctions.push({ kind, user: frame.user, until: frame.until ?? null });
    }
  }
  rolesChanged(roomId);
}

function roomName(roomId) {
  const room = state.rooms.get(roomId);
  return room && room.name ? room.name : roomId;
}

// "kicked": every session of ours left the room; say who did it, why, and for a
// ban until when.
export function onKicked(frame) {
  const roomId = frame.room_id;
  if (typeof roomId !== "string") return;
  leftRoom(roomId);
  renderRooms(); // its buttons say Join again at once
  const by = frame.actor ? frame.actor.username : "A moderator";
  let text = frame.banned
    ? by + " banned you from " + roomName(roomId) + " " + untilText(frame.until)
    : by + " removed you from " + roomName(roomId);
  if (frame.reason) text += ". Reason: " + frame.reason;
  if (frame.removed) text += ". You are no longer one of its members.";
  else text += frame.banned ? "." : ". You may join it again.";
  const room = state.rooms.get(roomId);
  if (room && room.visibility === "private" && (frame.removed || frame.banned)) {
    state.rooms.delete(roomId); // no longer a member: it is out of sight, as for any outsider
    renderRooms();
  }
  showError(text, frame.banned ? "banned" : "kicked");
}

// The words of a "muted" or "banned" refusal, which say until when; null for any
// other error. A refused join is not tried again at the next reconnect.
export function refusalText(frame, command) {
  if (frame.code === "muted") {
    const roomId = command && command.convKey ? command.convKey.replace(/^room:/, "") : null;
    if (roomId) myMutes.set(roomId, typeof frame.until === "number" ? frame.until : null);
    showMuteNote();
    return "You are muted in this room " + untilText(frame.until) + ": your message was not sent.";
  }
  if (frame.code === "banned") {
    const roomId = command ? command.joinRoom : null;
    if (roomId) leftRoom(roomId);
    return "You are banned from " + (roomId ? roomName(roomId) : "this room") + " " + untilText(frame.until) + ".";
  }
  return null;
}

// Below the composer: until when we are muted in the room on screen.
export function showMuteNote() {
  const node = $("mute-note");
  if (!node) return;
  const conv = state.conversations.get(state.activeKey);
  const roomId = conv && conv.kind === "room" ? conv.id : null;
  const until = roomId !== null && myMutes.has(roomId) ? myMutes.get(roomId) : undefined;
  if (until === undefined || (typeof until === "number" && until <= Date.now())) {
    if (roomId !== null) myMutes.delete(roomId);
    node.hidden = true;
    node.textContent = "";
    return;
  }
  node.hidden = false;
  node.textContent = "You are muted in " + conv.title + " " + untilText(until) + ": your messages are not sent.";
}

// The session ended: nothing of it stays known, and nothing of it stays open.
export function forgetModeration() {
  rooms.clear();
  myMutes.clear();
  rolesChanged(null);
}
