// The room list, read over HTTP in pages: refreshed every 30 s, shortly after
// joins and leaves, and on demand ("More rooms", a new room); rooms others create
// arrive at once, pushed by the server.

import { api } from "./api.js";
import { reportApiError } from "./banner.js";
import { renderRooms, renderTabs } from "./render.js";
import { ROOMS_PAGE, followRoomNames, setRoomsCursor, showMoreRooms, state, storeRooms } from "./state.js";

const ROOMS_REFRESH_MS = 30000;
const SOON_MS = 300;

let periodicRefresh = null;
let soon = null;

export function keepRoomsFresh() {
  periodicRefresh = setInterval(refreshRooms, ROOMS_REFRESH_MS);
}

export function stopRefreshingRooms() {
  clearInterval(periodicRefresh);
}

// Joins and leaves come in bursts; one refresh shortly after is enough.
export function scheduleRefresh() {
  clearTimeout(soon);
  soon = setTimeout(refreshRooms, SOON_MS);
}

async function readRoomsPage(cursor) {
  const query = "?limit=" + ROOMS_PAGE + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
  const token = state.token;
  const data = await api("GET", "/rooms" + query);
  if (state.token !== token) return { count: 0, next: null }; // logged out meanwhile
  storeRooms(data.rooms || []);
  return { count: (data.rooms || []).length, next: data.next_cursor || null };
}

// Re-reads as many rooms as the list shows, so that counts and names stay current.
export async function refreshRooms() {
  if (!state.token) return;
  try {
    let read = 0;
    let cursor = null;
    do {
      const page = await readRoomsPage(cursor);
      read += page.count;
      cursor = page.next;
    } while (cursor && read < state.roomsShown);
    setRoomsCursor(cursor);
    followRoomNames();
    renderRooms();
    renderTabs();
  } catch (err) {
    reportApiError(err, "Loading the rooms");
  }
}

export async function loadMoreRooms() {
  if (!state.token || !state.roomsCursor) return;
  try {
    const page = await readRoomsPage(state.roomsCursor);
    showMoreRooms();
    setRoomsCursor(page.next);
    renderRooms();
  } catch (err) {
    reportApiError(err, "Loading more rooms");
  }
}

// The server pushes each new room (room_created) as it is made: show it now rather than
// at the next refresh, which stays as the fallback for a push missed while offline.
export function addCreatedRoom(room) {
  if (!state.token || !room || typeof room.room_id !== "string" || typeof room.name !== "string") return;
  if (state.rooms.has(room.room_id)) return; // the list's own copy is as new, with its count
  storeRooms([room]);
  renderRooms();
}

// Returns the new room; throws ApiError when the server refuses it.
export async function createRoom(name, isPrivate) {
  const data = await api("POST", "/rooms", { name, visibility: isPrivate ? "private" : "public" });
  return data.room;
}
