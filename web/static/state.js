// What the client knows: the logged-in user and token, the rooms, the open
// conversations and who is online. No DOM and no network here.
//
// Every module may read `state`; only the functions of this file change it, so
// that every writer can be found in one place. The per-conversation DOM (its
// message list, its scroll position) is not state: message-list.js keeps it.
//
// The token (with its expiry) and the rooms this tab is in live in sessionStorage
// (per tab): a reload keeps the session and rejoins the same rooms.

// The room list comes in pages (oldest rooms first). A refresh re-reads only as many
// rooms as the list shows; "More rooms" reads the next page.
export const ROOMS_PAGE = 100;
export const HISTORY_PAGE = 50;
const TOKEN_KEY = "chat.token";
const EXPIRY_KEY = "chat.token.expiry";
const ROOMS_KEY = "chat.rooms";
const PRIVATE_KEY = "chat.private";

export const state = {
  token: null,
  tokenExpiresAt: null, // ms since the epoch, this machine's clock; null: not known (renew at once)
  tokenLifetime: null, // ms the token was good for when it arrived
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
  // Private messages arrive over the socket in id order. privateSince is the id of
  // the last one this tab holds with none missing before it (null: no "synced" has
  // answered yet); a reconnect asks for what came after it. Until the current
  // link's "synced" answers, live ones only raise privateLiveMax: the gap before
  // them is not closed yet.
  privateSince: null,
  privateSynced: false,
  privateLiveMax: null,
  conversationsRestored: false, // the server's conversation list was read since the login
};

// ---------------------------------------------------------------- session

export function savedToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

// A token is kept for the tab's next reload; null forgets it. `expiresIn` (seconds,
// from a login or a refresh) starts its clock; without it, a resumed token gets the
// expiry saved with it, if any.
export function setToken(token, expiresIn) {
  state.token = token;
  if (!token) {
    state.tokenExpiresAt = null;
    state.tokenLifetime = null;
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(EXPIRY_KEY);
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  if (typeof expiresIn === "number" && expiresIn > 0) {
    state.tokenLifetime = expiresIn * 1000;
    state.tokenExpiresAt = Date.now() + state.tokenLifetime;
    sessionStorage.setItem(EXPIRY_KEY, JSON.stringify({ expires_at: state.tokenExpiresAt, lifetime: state.tokenLifetime }));
    return;
  }
  const saved = savedExpiry();
  state.tokenExpiresAt = saved ? saved.expires_at : null;
  state.tokenLifetime = saved ? saved.lifetime : null;
}

function savedExpiry() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(EXPIRY_KEY) || "null");
    if (saved && typeof saved.expires_at === "number" && typeof saved.lifetime === "number") return saved;
  } catch (err) {
    sessionStorage.removeItem(EXPIRY_KEY);
  }
  return null;
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
  state.tokenExpiresAt = null;
  state.tokenLifetime = null;
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
  forgetSiteOnline();
  state.privateSince = null;
  state.privateSynced = false;
  state.privateLiveMax = null;
  state.conversationsRestored = false;
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(EXPIRY_KEY);
  sessionStorage.removeItem(ROOMS_KEY);
  sessionStorage.removeItem(PRIVATE_KEY);
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

// The site-wide list ("online everywhere") comes from two sources. The users this
// tab watches (presence.js) are shown as their watch says: the "watching" answer,
// then each "presence" push, in the socket's order. Everyone else is shown as the
// latest answer to a site-wide "online" question says. Questions are numbered, and
// an answer older than one already applied is ignored: the page's HTTP question at
// login can be answered after the socket's, and must not overwrite it.
export const MAX_WATCHED = 256; // the server's bound on one "watch"

export function nextSiteQuestion() {
  site.asked += 1;
  return site.asked;
}

// False (and nothing changes) when a newer answer was applied already.
export function setSiteOnline(users, question) {
  if (question <= site.answered) return false;
  site.answered = question;
  users.forEach(rememberUser);
  site.answer = users;
  for (const user of users) site.seen.add(user.user_id);
  while (site.seen.size > MAX_WATCHED) site.seen.delete(site.seen.values().next().value);
  publishSiteOnline();
  return true;
}

// The "watching" answer: exactly these ids are watched now, these of them online.
export function setWatching(ids, online) {
  online.forEach(rememberUser);
  site.watched = new Set(ids);
  site.watchedOnline = new Map(online.filter((u) => site.watched.has(u.user_id)).map((u) => [u.user_id, u]));
  publishSiteOnline();
}

// A "presence" push: a watched user came online or went offline.
export function setPresence(user, online) {
  if (!site.watched.has(user.user_id)) return;
  rememberUser(user);
  if (online) site.watchedOnline.set(user.user_id, user);
  else site.watchedOnline.delete(user.user_id);
  publishSiteOnline();
}

// Whom to watch: oneself, private peers, the members of joined rooms, then the users
// seen in site-wide answers (latest first), at most MAX_WATCHED.
export function usersToWatch() {
  const ids = new Set(state.me ? [state.me.user_id] : []);
  for (const conv of state.conversations.values()) if (conv.kind === "private") ids.add(conv.id);
  for (const users of state.roomOnline.values()) for (const user of users) ids.add(user.user_id);
  for (const id of [...site.seen].reverse()) ids.add(id);
  return [...ids].slice(0, MAX_WATCHED);
}

function publishSiteOnline() {
  const shown = new Map(site.watchedOnline);
  for (const user of site.answer) if (!site.watched.has(user.user_id)) shown.set(user.user_id, user);
  state.siteOnline = [...shown.values()];
}

function forgetSiteOnline() {
  // Questions keep their numbers across logins: an answer to one asked before is never applied.
  const asked = site.asked || 0;
  Object.assign(site, { asked, answered: asked, answer: [], watched: new Set(), watchedOnline: new Map(), seen: new Set() });
}

const site = {};
forgetSiteOnline();

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
    newestId: null, // the last id held: a rejoin asks for the messages after it
    gaps: [], // {after, before}: messages in between may be missing (before null: up to the newest)
    filling: false,
    hasMore: false,
    loading: false,
    unread: 0,
    historyLoaded: false,
  };
  state.conversations.set(key, conv);
  if (kind === "private") saveOpenPrivate();
  return conv;
}

// The private conversations open in this tab, kept for its next reload (as the rooms are).
function saveOpenPrivate() {
  const peers = [];
  for (const conv of state.conversations.values()) if (conv.kind === "private") peers.push(conv.id);
  sessionStorage.setItem(PRIVATE_KEY, JSON.stringify(peers));
}

export function savedPrivatePeers() {
  try {
    const peers = JSON.parse(sessionStorage.getItem(PRIVATE_KEY) || "[]");
    return Array.isArray(peers) ? peers.filter((p) => typeof p === "string") : [];
  } catch (err) {
    sessionStorage.removeItem(PRIVATE_KEY);
    return [];
  }
}

// The server's count for a conversation this tab has no messages of yet (after a
// reload, or messages stored while the user was away).
export function setConversationsRestored(restored) {
  state.conversationsRestored = restored;
}

export function setUnread(conv, count) {
  conv.unread = count;
}

// The read marker this tab last sent (or heard of) for a conversation: a "read" is
// sent only when it would move it.
export function noteReadUpTo(conv, id) {
  conv.readUpTo = Math.max(conv.readUpTo || 0, id);
}

// Returns false when there was no such conversation. Closing the active one shows
// the first of those left.
export function removeConversation(key) {
  if (!state.conversations.has(key)) return false;
  const kind = state.conversations.get(key).kind;
  state.conversations.delete(key);
  if (kind === "private") saveOpenPrivate();
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

// ---------------------------------------------------------------- catching up after a reconnect

// The `since` of a rejoin: the last id the room's tab holds (0 for a room known to be
// empty), or null when the tab has nothing yet and must read its newest page instead.
export function roomSince(roomId) {
  const conv = state.conversations.get("room:" + roomId);
  if (!conv) return null;
  if (conv.newestId !== null) return conv.newestId;
  return conv.historyLoaded ? 0 : null;
}

// A new link: its "sync" is about to be sent with the returned `since`.
export function beginPrivateSync() {
  state.privateSynced = false;
  state.privateLiveMax = null;
  return state.privateSince === null ? 0 : state.privateSince;
}

// A private message pushed live on the current link.
export function notePrivateLive(id) {
  if (typeof id !== "number") return;
  if (state.privateSynced) state.privateSince = Math.max(state.privateSince || 0, id);
  else state.privateLiveMax = Math.max(state.privateLiveMax || 0, id);
}

// The link's "synced" answered with `messages`: everything up to the newest of them,
// and of the live ones that came meanwhile, is held.
export function finishPrivateSync(since, messages) {
  let newest = Math.max(state.privateSince || 0, since, state.privateLiveMax || 0);
  for (const message of messages) {
    if (typeof message.id === "number") newest = Math.max(newest, message.id);
  }
  state.privateSince = newest;
  state.privateSynced = true;
  state.privateLiveMax = null;
}

export function addGap(conv, after, before) {
  const gap = { after, before, failed: false };
  conv.gaps.push(gap);
  return gap;
}

// Messages up to `before` (exclusive) are still to be read.
export function narrowGap(gap, before) {
  gap.before = before;
}

// A gap whose reading failed shows "Try again".
export function setGapFailed(gap, failed) {
  gap.failed = failed;
}

export function closeGap(conv, gap) {
  conv.gaps = conv.gaps.filter((g) => g !== gap);
}

export function setFilling(conv, filling) {
  conv.filling = filling;
}
