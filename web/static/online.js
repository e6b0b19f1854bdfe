// Who is online, in the whole site and in each room. The site-wide list is read over
// HTTP at login (so it is there before the WebSocket is up), asked again on the
// socket, and kept current by watching the users it shows: the server pushes
// "presence" when one of them comes online or goes offline (state.js says how the
// answers and the pushes make the list, in order).

import { api } from "./api.js";
import { reportApiError } from "./banner.js";
import { send } from "./connection.js";
import { renderRoomOnline, renderRooms, renderSiteOnline } from "./render.js";
import {
  nextSiteQuestion,
  setPresence,
  setRoomOnline,
  setSiteOnline,
  setWatching,
  state,
  usersToWatch,
} from "./state.js";

export async function refreshSiteOnline() {
  if (!state.token) return;
  const question = nextSiteQuestion();
  try {
    const data = await api("GET", "/online");
    showSiteOnline(Array.isArray(data.users) ? data.users : [], question);
  } catch (err) {
    reportApiError(err, "Loading who is online");
  }
}

// The same question on the socket; its answer comes to onSiteOnline.
export function askSiteOnline() {
  send({ type: "online" }, "Reading who is online", { siteQuestion: nextSiteQuestion() });
}

export function onSiteOnline(users, command) {
  if (command && typeof command.siteQuestion === "number") showSiteOnline(users, command.siteQuestion);
}

function showSiteOnline(users, question) {
  if (!setSiteOnline(users, question)) return;
  renderSiteOnline();
  watchShownUsers();
}

// The room's member list, and its count in the room list.
export function showRoomOnline(roomId, users) {
  if (setRoomOnline(roomId, users)) renderRooms();
  renderRoomOnline();
  watchShownUsers();
}

// ---------------------------------------------------------------- watching

let watchTimer = null;
let watchSent = null; // the ids of the last "watch" sent on this link, as a key

// The link is up (again): the server watches nothing for it yet.
export function rewatch() {
  watchSent = null;
  watchShownUsers();
}

// Watch the users shown (once, for a burst of changes); nothing when they are watched already.
export function watchShownUsers() {
  if (watchTimer !== null) return;
  watchTimer = setTimeout(() => {
    watchTimer = null;
    if (!state.connected) return;
    const ids = usersToWatch();
    const key = [...ids].sort().join("\n");
    if (key === watchSent) return;
    if (send({ type: "watch", user_ids: ids }, "Following who is online", { watching: ids })) watchSent = key;
  }, 0);
}

export function onWatching(frame, command) {
  if (!command || !Array.isArray(command.watching)) return;
  setWatching(command.watching, Array.isArray(frame.online) ? frame.online : []);
  renderSiteOnline();
}

export function onPresence(frame) {
  if (!frame.user || typeof frame.user.user_id !== "string") return;
  setPresence(frame.user, frame.online === true);
  renderSiteOnline();
}
