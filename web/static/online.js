// Who is online, in the whole site and in each room: read over HTTP at login (so
// the list is there before the WebSocket is up), then kept current from "online"
// frames.

import { api } from "./api.js";
import { reportApiError } from "./banner.js";
import { renderRoomOnline, renderRooms, renderSiteOnline } from "./render.js";
import { setRoomOnline, setSiteOnline, state } from "./state.js";

export async function refreshSiteOnline() {
  if (!state.token) return;
  try {
    const data = await api("GET", "/online");
    showSiteOnline(Array.isArray(data.users) ? data.users : []);
  } catch (err) {
    reportApiError(err, "Loading who is online");
  }
}

export function showSiteOnline(users) {
  setSiteOnline(users);
  renderSiteOnline();
}

// The room's member list, and its count in the room list.
export function showRoomOnline(roomId, users) {
  if (setRoomOnline(roomId, users)) renderRooms();
  renderRoomOnline();
}
