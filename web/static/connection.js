// The WebSocket to the server: connect with the session's token, keep the link
// alive with pings, reconnect with backoff when it drops, and number every command
// (`ref`) so that a reply or an error finds the command it answers.
//
// This module knows the socket and nothing of the page: it reports to the
// handlers given to startConnection:
//   status(kind, text)       the line beside the title: connecting, online, reconnecting
//   opened()                 the link is up (again): time to (re)join rooms
//   frame(frame, command)    a frame arrived; `command` is what we sent with its ref, if any
//   dropped(unanswered)      the link is down; the commands that will never be answered
//   expired(reason)          the token is no longer accepted: the session is over

import { tokenStillValid } from "./api.js";
import { CLOSE_TEXT, ERROR_TEXT } from "./error-text.js";
import { state } from "./state.js";

const PING_MS = 25000;
const RECONNECT_BASE_MS = 500;
const RECONNECT_CAP_MS = 30000;

let handlers = null;
let socket = null;
let open = false;
let stopped = false; // logged out: a close is expected, not a drop
let reconnectAttempt = 0;
let reconnectTimer = null;
let dropReason = null; // why the link first dropped, kept while retries fail
let pingTimer = null;
let nextRef = 1;
const pending = new Map(); // ref -> {what, ...what the sender wants back with the reply}

export function startConnection(events) {
  handlers = events;
  stopped = false;
  connect();
}

// Logging out: close the link on purpose, and never come back.
export function stopConnection() {
  stopped = true;
  clearInterval(pingTimer);
  clearTimeout(reconnectTimer);
  if (socket) socket.close(1000, "logout");
  socket = null;
  open = false;
  pending.clear();
}

// Sends a command; returns its ref, or null when there is no connection. `what`
// names the command for an error message ("Joining Lobby failed…"); `extra` comes
// back with its reply.
export function send(command, what, extra) {
  if (!socket || !open) return null;
  const ref = "c" + nextRef++;
  command.ref = ref;
  pending.set(ref, Object.assign({ what: what || command.type }, extra || {}));
  socket.send(JSON.stringify(command));
  return ref;
}

function socketUrl() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return scheme + "://" + location.host + "/ws?token=" + encodeURIComponent(state.token);
}

function connect() {
  clearTimeout(reconnectTimer);
  if (!state.token) return;
  handlers.status("connecting", "Connecting…");
  const ws = new WebSocket(socketUrl());
  socket = ws;
  ws.addEventListener("open", () => onSocketOpen(ws));
  ws.addEventListener("message", (event) => onSocketMessage(ws, event));
  ws.addEventListener("close", (event) => onSocketClose(ws, event));
}

function onSocketOpen(ws) {
  if (ws !== socket) return;
  open = true;
  reconnectAttempt = 0;
  dropReason = null;
  handlers.status("online", "Connected");
  handlers.opened();
  clearInterval(pingTimer);
  // Our own traffic keeps the idle timeout away and notices a dead link sooner.
  pingTimer = setInterval(() => send({ type: "ping" }), PING_MS);
}

async function onSocketClose(ws, event) {
  if (ws !== socket) return;
  socket = null;
  open = false;
  clearInterval(pingTimer);
  const unanswered = [...pending.values()];
  pending.clear();
  handlers.dropped(unanswered);
  if (stopped) return;
  if (event.code === 4401) {
    handlers.expired(ERROR_TEXT.unauthorized);
    return;
  }
  // A refused handshake (bad token) looks like 1006 to a browser: ask /me to tell a
  // dead token from a dead server before retrying forever.
  if (event.code === 1006 && !(await tokenStillValid())) {
    handlers.expired(ERROR_TEXT.unauthorized);
    return;
  }
  // Failed retries close with 1006; the first close says why we dropped (1001: the
  // server restarts, 1013: we were too slow), and that stays the useful message.
  if (reconnectAttempt === 0 || !dropReason) {
    dropReason = CLOSE_TEXT[event.code] || "Connection lost";
  }
  scheduleReconnect(dropReason);
}

// Exponential backoff with "equal jitter": half the delay is fixed, half random, so
// many clients dropped by one restart do not all come back in the same instant.
function reconnectDelay(attempt) {
  const ceiling = Math.min(RECONNECT_CAP_MS, RECONNECT_BASE_MS * 2 ** attempt);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

function scheduleReconnect(reason) {
  if (!state.token) return;
  const delay = reconnectDelay(reconnectAttempt);
  reconnectAttempt += 1;
  const seconds = Math.max(1, Math.round(delay / 1000));
  handlers.status("reconnecting", reason + ": reconnecting in " + seconds + " s…");
  reconnectTimer = setTimeout(connect, delay);
}

function onSocketMessage(ws, event) {
  if (ws !== socket) return;
  let frame;
  try {
    frame = JSON.parse(event.data);
  } catch (err) {
    return;
  }
  if (!frame || typeof frame !== "object") return;
  const command = frame.ref !== undefined ? pending.get(String(frame.ref)) : undefined;
  if (frame.ref !== undefined) pending.delete(String(frame.ref));
  handlers.frame(frame, command);
}
