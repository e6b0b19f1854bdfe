// The WebSocket to the server: connect with the session's token, keep the link
// alive with pings, reconnect with backoff when it drops, and number every command
// (`ref`) so that a reply or an error finds the command it answers.
//
// This module knows the socket and nothing of the page: it reports to the
// handlers given to startConnection:
//   status(kind, text)       the line beside the title: connecting, online, reconnecting
//   opened()                 the link is up (again): time to (re)join rooms and catch up
//   frame(frame, command)    a frame arrived; `command` is what we sent with its ref, if any
//   dropped(unanswered)      the link is down; the commands that will never be answered
//   renew()                  the token was refused: a promise of whether a new one was got
//   expired(reason)          the token is no longer accepted: the session is over

import { tokenStillValid } from "./api.js";
import { CLOSE_TEXT, ERROR_TEXT } from "./error-text.js";
import { state } from "./state.js";

const PING_MS = 25000;
const PONG_WAIT_MS = 10000; // no frame this long after our ping: the link is dead
const RECONNECT_BASE_MS = 500;
const RECONNECT_CAP_MS = 30000;
// A link that stays up this long resets the backoff; one that drops sooner (a server
// that accepts and closes at once) keeps backing off instead of hammering it.
const STABLE_MS = 10000;
const NO_ANSWER = 4000; // our own close code for a link we gave up on
const RENEW_AGAIN_MS = 30000; // a refused token is renewed from the login at most this often

let handlers = null;
let socket = null;
let socketToken = null; // the token the socket was opened with, or last handed over on it
let open = false;
let stopped = false; // logged out: a close is expected, not a drop
let session = 0; // counts startConnection calls, so that a stale await does nothing
let reconnectAttempt = 0;
let reconnectTimer = null;
let reconnectAt = 0; // when the scheduled attempt fires (ms since the epoch)
let countdownTimer = null;
let stableTimer = null;
let dropReason = null; // why the link first dropped, kept while retries fail
let pingTimer = null;
let pongTimer = null;
let lastHeard = 0;
let nextRef = 1;
let lastRenewal = 0; // when a refused token was last renewed from the browser's login
const pending = new Map(); // ref -> {what, ...what the sender wants back with the reply}

export function startConnection(events) {
  handlers = events;
  stopped = false;
  session += 1;
  reconnectAttempt = 0;
  dropReason = null;
  connect();
}

// Logging out: close the link on purpose, and never come back.
export function stopConnection() {
  stopped = true;
  session += 1;
  clearTimers();
  if (socket) socket.close(1000, "logout");
  socket = null;
  open = false;
  pending.clear();
}

// "Retry now", or the browser saying it is online again: skip the wait.
export function retryNow() {
  if (stopped || !handlers || (socket && open)) return;
  if (socket) {
    // An attempt still connecting (one made while the network was down can take
    // long to fail): drop it and start afresh. Its close event finds another
    // socket in place and does nothing.
    const stale = socket;
    socket = null;
    stale.close();
  }
  connect();
}

// Sends a notice that the server does not answer when it succeeds (typing): no
// ref, nothing kept waiting for a reply. False when there is no connection.
export function notify(command) {
  if (!socket || !open) return false;
  socket.send(JSON.stringify(command));
  return true;
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

// The session's token was renewed: the open socket takes it over, so that the
// server does not close it when the old one expires. A socket still connecting
// with the old token gets it as soon as it opens.
export function handOverToken() {
  if (!socket || !open || socketToken === state.token || !state.token) return;
  socketToken = state.token;
  send({ type: "refresh", token: state.token }, "Renewing the session", { renewal: true });
}

// The server refused the renewed token on the socket: open a new link with it
// (a token that is really gone ends the session on the way, through /me).
export function reconnectWithToken() {
  if (!socket) return;
  linkLost(socket, NO_ANSWER, "The session was renewed");
}

// A reload or a blip of the network is not leaving: the server keeps us
// listed this long before it tells the rooms we left (it may allow less).
const LINGER_SECONDS = 5;

function socketUrl() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return scheme + "://" + location.host + "/ws?token=" + encodeURIComponent(state.token) + "&linger=" + LINGER_SECONDS;
}

function clearTimers() {
  clearInterval(pingTimer);
  clearTimeout(pongTimer);
  clearTimeout(reconnectTimer);
  clearInterval(countdownTimer);
  clearTimeout(stableTimer);
  reconnectTimer = null;
}

function connect() {
  clearTimeout(reconnectTimer);
  clearInterval(countdownTimer);
  reconnectTimer = null;
  if (!state.token) return;
  handlers.status("connecting", "Connecting…");
  const ws = new WebSocket(socketUrl());
  socket = ws;
  socketToken = state.token;
  ws.addEventListener("open", () => onSocketOpen(ws));
  ws.addEventListener("message", (event) => onSocketMessage(ws, event));
  ws.addEventListener("close", (event) => linkLost(ws, event.code));
}

function onSocketOpen(ws) {
  if (ws !== socket) return;
  open = true;
  lastHeard = Date.now();
  clearTimeout(stableTimer);
  stableTimer = setTimeout(() => {
    reconnectAttempt = 0;
  }, STABLE_MS);
  handlers.status("online", "Connected");
  handOverToken();
  handlers.opened();
  clearInterval(pingTimer);
  // Our own traffic keeps the idle timeout away, and the missing answer to it tells
  // a dead link (a laptop that slept, a network that changed) from a quiet one.
  pingTimer = setInterval(() => ping(ws), PING_MS);
}

function ping(ws) {
  const sentAt = Date.now();
  send({ type: "ping" });
  clearTimeout(pongTimer);
  pongTimer = setTimeout(() => {
    if (ws === socket && lastHeard < sentAt) linkLost(ws, NO_ANSWER);
  }, PONG_WAIT_MS);
}

// The socket closed, or we gave up on it (then it is closed here and its own close
// event, whenever it comes, finds another socket in place and does nothing).
async function linkLost(ws, code, reason) {
  if (ws !== socket) return;
  const wasOpen = open;
  socket = null;
  open = false;
  clearInterval(pingTimer);
  clearTimeout(pongTimer);
  clearTimeout(stableTimer);
  if (code === NO_ANSWER) ws.close(1000, "no answer");
  const unanswered = [...pending.values()];
  pending.clear();
  handlers.dropped(unanswered);
  if (stopped) return;
  const current = session;
  // A refused handshake (bad token) looks like 1006 to a browser: ask /me to tell a
  // dead token from a dead server before retrying forever. A refused token may
  // only have run out: the browser's login gives another, and the link comes back.
  if (code === 4401 || (code === 1006 && !(await tokenStillValid()))) {
    // Once a while: a token the server refuses again at once is not one that ran out.
    const mayRenew = current === session && Date.now() - lastRenewal > RENEW_AGAIN_MS;
    if (mayRenew) lastRenewal = Date.now();
    const renewed = mayRenew && (await handlers.renew());
    if (current !== session) return;
    if (!renewed) handlers.expired(ERROR_TEXT.unauthorized);
    else if (!socket) connect();
    return;
  }
  if (current !== session || socket) return; // logged out, or reconnected meanwhile
  // Failed retries close with 1006; the close of an open link says why we dropped
  // (1001: the server restarts, 1013: we were too slow), and that stays the message.
  if (wasOpen || !dropReason) dropReason = reason || CLOSE_TEXT[code] || "Connection lost";
  scheduleReconnect();
}

// Exponential backoff with "equal jitter": half the delay is fixed, half random, so
// many clients dropped by one restart do not all come back in the same instant.
// The ceiling doubles from 0.5 s up to 30 s.
function reconnectDelay(attempt) {
  const ceiling = Math.min(RECONNECT_CAP_MS, RECONNECT_BASE_MS * 2 ** Math.min(attempt, 16));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

function scheduleReconnect() {
  if (!state.token) return;
  const delay = reconnectDelay(reconnectAttempt);
  reconnectAttempt += 1;
  reconnectAt = Date.now() + delay;
  reconnectTimer = setTimeout(connect, delay);
  showCountdown();
  clearInterval(countdownTimer);
  countdownTimer = setInterval(showCountdown, 1000);
}

function showCountdown() {
  const seconds = Math.max(1, Math.ceil((reconnectAt - Date.now()) / 1000));
  handlers.status("reconnecting", "Offline. " + dropReason + ", reconnecting in " + seconds + " s…");
}

function onSocketMessage(ws, event) {
  if (ws !== socket) return;
  lastHeard = Date.now();
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
