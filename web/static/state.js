// What the client knows: the logged-in user and token, the rooms, the open
// conversations and who is online. No DOM and no network here.
//
// Every module may read `state`; only the functions of this file change it, so
// that every writer can be found in one place. The per-conversation DOM (its
// message list, its scroll position) is not state: message-list.js keeps it.
//
// The token and the rooms this tab is in live in sessionStorage (per tab): a
// reload keeps the session and rejoins the same rooms.

// The room list comes in pages (oldest rooms first). A refresh re-reads only as many
// rooms as the list shows; "More rooms" reads the next page.
export const ROOMS_PAGE = 100;
export const HISTORY_PAGE = 50;
const TOKEN_KEY = "chat.token";
const ROOMS_KEY = "chat.rooms";

export const state = {
  token: null,
  me: null, // {user_id, username}
  connected: false, // the WebSocket is open (connection.js says when)
  wantedRooms: new Set(), // rooms to be in; rejoined after every reconnect
  conversations: new Map(), // key -> conversation, in tab order
  activeKey: null,
  rooms: new Map(), // room_id -> room (with "online"); rooms are never deleted, so only added to
  roomsShown: ROOMS_PAGE, // how many rooms of the list the user has asked to see
  roomsCursor: null, // next_cursor after the last page read: more rooms exist
  roomOnline: new Map(), // room_id -> [user]
  siteOnline: [],
  names: new Map(), // user_id -> username, learnt from every user object we see
  focusOnJoin: null, // room_id to show as soon as its "joined" arrives
};

// ---------------------------------------------------------------- session

export function savedToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

// A token is kept for the tab's next reload; null forgets it.
export function setToken(token) {
  state.token = token;
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export function setMe(user) {
  state.me = user;
  rememberUser(user);
}

export function setConnected(connected) {
  state.connected = connected;
}

// Forgets everything that belongs to the logged-in user, here and in sessionStorage.
// Names stay: they are only ever a better label than an id.
export function clearSession() {
  state.token = null;
  state.me = null;
  state.connected = false;
  state.wantedRooms.clear();
  state.conversations.clear();
  state.activeKey = null;
  state.roomOnline.clear();
  state.rooms.clear();
  state.roomsShown = ROOMS_PAGE;
  state.roomsCursor = null;
  state.siteOnline = [];
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(ROOMS_KEY);
}

// ---------------------------------------------------------------- users

export function rememberUser(user) {
  if (user && typeof user.user_id === "string") state.names.set(user.user_id, user.username);
}

export function nameOf(userId) {
  return state.names.get(userId) || userId;
}

// ---------------------------------------------------------------- rooms to be in

function saveWantedRooms() {
  sessionStorage.setItem(ROOMS_KEY, JSON.stringify([...state.wantedRooms]));
}

// After a page reload the same tab rejoins the rooms it was in.
export function restoreWantedRooms() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(ROOMS_KEY) || "[]");
    for (const roomId of saved) {
      if (typeof roomId === "string") state.wantedRooms.add(roomId);
    }
  } catch (err) {
    sessionStorage.removeItem(ROOMS_KEY);
  }
}

export function wantRoom(roomId) {
  state.wantedRooms.add(roomId);
  saveWantedRooms();
}

export function unwantRoom(roomId) {
  state.wantedRooms.delete(roomId);
  saveWantedRooms();
}

// ---------------------------------------------------------------- the room list

export function storeRooms(rooms) {
  for (const room of rooms) state.rooms.set(room.room_id, room);
}

// A "joined" frame carries the room too; what it says wins over the list's copy.
export function mergeRoom(room) {
  state.rooms.set(room.room_id, Object.assign({}, state.rooms.get(room.room_id), room));
}

export function showMoreRooms() {
  state.roomsShown += ROOMS_PAGE;
}

export function setRoomsCursor(cursor) {
  state.roomsCursor = cursor;
}

// Room tabs follow a rename seen in the room list.
export function followRoomNames() {
  for (const conv of state.conversations.values()) {
    const room = conv.kind === "room" && state.rooms.get(conv.id);
    if (room && room.name && room.name !== conv.title) conv.title = room.name;
  }
}

// ---------------------------------------------------------------- who is online

// Returns whether the room is in the room list, whose count then changed too.
export function setRoomOnline(roomId, users) {
  users.forEach(rememberUser);
  state.roomOnline.set(roomId, users);
  const room = state.rooms.get(roomId);
  if (room) room.online = users.length;
  return Boolean(room);
}

export function forgetRoomOnline(roomId) {
  state.roomOnline.delete(roomId);
}

export function setSiteOnline(users) {
  users.forEach(rememberUser);
  state.siteOnline = users;
}

// ---------------------------------------------------------------- conversations

// One conversation per open tab: "room:<room_id>" or "user:<user_id>". Returns the
// one already open under that key (a room's follows its latest name), else a new one.
export function addConversation(key, kind, id, title) {
  let conv = state.conversations.get(key);
  if (conv) {
    if (title && kind === "room") conv.title = title;
    return conv;
  }
  conv = {
    key,
    kind,
    id,
    title,
    seen: new Set(), // message ids shown, so that history and live pushes never double up
    oldestId: null,
    newestId: null,
    hasMore: false,
    loading: false,
    unread: 0,
    historyLoaded: false,
  };
  state.conversations.set(key, conv);
  return conv;
}

// Returns false when there was no such conversation. Closing the active one shows
// the first of those left.
export function removeConversation(key) {
  if (!state.conversations.has(key)) return false;
  state.conversations.delete(key);
  if (state.activeKey === key) {
    const next = state.conversations.keys().next();
    state.activeKey = next.done ? null : next.value;
  }
  return true;
}

export function setActive(key) {
  state.activeKey = key;
  const conv = state.conversations.get(key);
  if (conv) conv.unread = 0;
}

export function activeConversation() {
  return state.conversations.get(state.activeKey);
}

export function isActive(conv) {
  return conv.key === state.activeKey;
}

export function countUnread(conv) {
  conv.unread += 1;
}

export function setFocusOnJoin(roomId) {
  state.focusOnJoin = roomId;
}

// Notes a message as shown; null when it is a copy of one already shown (or has no
// id), else whether it is the newest of the conversation so far.
export function recordMessage(conv, message) {
  if (typeof message.id !== "number" || conv.seen.has(message.id)) return null;
  conv.seen.add(message.id);
  if (message.sender) rememberUser(message.sender);
  const newest = conv.newestId === null || message.id > conv.newestId;
  if (newest) conv.newestId = message.id;
  if (conv.oldestId === null || message.id < conv.oldestId) conv.oldestId = message.id;
  return { newest };
}

export function setHistoryLoading(conv, loading) {
  conv.loading = loading;
}

// Only the first newest page and the older pages say whether more exist; the
// newest page fetched again after a reconnect says nothing about older ones.
export function recordHistoryPage(conv, older, count) {
  if (older || !conv.historyLoaded) conv.hasMore = count >= HISTORY_PAGE;
  conv.historyLoaded = true;
}
