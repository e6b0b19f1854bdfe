// The session: the login form (log in, register), resuming after a reload, and
// the two ways out (the "Log out" button, an expired token). Starting a session
// starts everything that belongs to it (the socket, the token's renewal, the room
// list's refresh); ending one stops and forgets all of it.
//
// A login lasts beyond the tab: the server keeps it in an HttpOnly cookie that no
// script can read, and a new tab, or the browser after a restart, trades that
// cookie for a token (refreshSession). The rooms come back from the server too
// (the ones the user joined, on any device), and a first login lands in the lobby.
// The tabs of one browser tell each other of a login and a logout, so that the
// login form never shows beside a signed-in tab, nor a signed-out tab keep chatting.

import { ApiError, PAGE_HEADERS, api, refreshSession, rememberedRooms, revokeToken } from "./api.js";
import { hideError } from "./banner.js";
import { startConnection, stopConnection } from "./connection.js";
import { $ } from "./dom.js";
import { ERROR_TEXT } from "./error-text.js";
import { onConnected, onDisconnected, onFrame } from "./frames.js";
import { markAway } from "./message-list.js";
import { forgetModeration } from "./moderation.js";
import { refreshSiteOnline } from "./online.js";
import { clearChat, renderActiveConversation, setStatus, showCurrentUser, showView } from "./render.js";
import { keepTokenFresh, renewFromLogin, stopRenewing } from "./renewal.js";
import { keepRoomsFresh, refreshRooms, stopRefreshingRooms } from "./rooms.js";
import { clearSession, restoreWantedRooms, savedToken, setFocusOnJoin, setMe, setToken, state, wantRoom } from "./state.js";

// Between the tabs of this browser (same origin): {type: "login"} or {type: "logout"}.
const tabs = typeof BroadcastChannel === "function" ? new BroadcastChannel("chat-session") : null;
if (tabs) {
  tabs.onmessage = (event) => {
    const type = event.data && event.data.type;
    if (type === "logout" && state.token) endSession("");
    else if (type === "login" && !state.token) resumeSession();
  };
}

function setAuthMessage(text, isError) {
  const node = $("auth-message");
  node.textContent = text;
  node.classList.toggle("error", Boolean(isError));
}

function readCredentials() {
  return {
    username: $("auth-username").value.trim().normalize("NFC"),
    password: $("auth-password").value,
  };
}

function setAuthBusy(busy) {
  $("login-button").disabled = busy;
  $("register-button").disabled = busy;
}

// The server will not say whether an account exists, so a failed login may be a
// newcomer who pressed Enter (that is "Log in") before registering: say so.
const LOGIN_REFUSED = ERROR_TEXT.invalid_credentials + " New here? Choose Register to make an account with this name.";

function describeAuthError(err) {
  if (!(err instanceof ApiError)) return String(err);
  if (err.code === "network") return "The server cannot be reached.";
  return err.code === "invalid_credentials" ? LOGIN_REFUSED : err.describe();
}

async function logIn(credentials) {
  const data = await api("POST", "/login", credentials, PAGE_HEADERS);
  setToken(data.token, data.expires_in);
  if (tabs) tabs.postMessage({ type: "login" });
  await startSession(data.user);
}

export async function onLoginSubmit(event) {
  event.preventDefault();
  const credentials = readCredentials();
  if (!credentials.username || !credentials.password) {
    setAuthMessage("Enter a username and a password.", true);
    return;
  }
  setAuthBusy(true);
  setAuthMessage("Logging in…", false);
  try {
    await logIn(credentials);
  } catch (err) {
    setAuthMessage(describeAuthError(err), true);
  } finally {
    setAuthBusy(false);
  }
}

// Registers, then logs straight in: nobody wants to type the password twice.
export async function onRegisterClick() {
  const credentials = readCredentials();
  if (!credentials.username) {
    setAuthMessage("Pick a username: up to 32 plain letters or digits (any script) and _ . -", true);
    return;
  }
  if (credentials.password.length < 8) {
    setAuthMessage("The password needs at least 8 characters.", true);
    return;
  }
  setAuthBusy(true);
  setAuthMessage("Registering…", false);
  try {
    await api("POST", "/register", credentials, PAGE_HEADERS);
    setAuthMessage("Registered. Logging in…", false);
    await logIn(credentials);
  } catch (err) {
    setAuthMessage(describeAuthError(err), true);
  } finally {
    setAuthBusy(false);
  }
}

async function startSession(user) {
  setMe(user);
  showCurrentUser(user);
  setAuthMessage("", false);
  $("auth-password").value = "";
  showView(true);
  restoreWantedRooms();
  await addRememberedRooms();
  if (state.me !== user) return; // logged out while the rooms were asked for
  refreshRooms();
  refreshSiteOnline();
  keepRoomsFresh();
  keepTokenFresh(endSession);
  startConnection({
    status: setStatus,
    opened: onConnected,
    frame: onFrame,
    dropped: (unanswered) => {
      markAway(true);
      onDisconnected(unanswered);
    },
    renew: renewFromLogin,
    expired: endSession,
  });
}

// The rooms the server remembers for the user join this tab's own (a reload keeps
// those), to be joined once the socket is up. A newcomer is sent to the lobby and
// sees it. Without an answer, the tab's own rooms will do.
async function addRememberedRooms() {
  try {
    const { rooms, remembered } = await rememberedRooms();
    for (const room of rooms) if (room && typeof room.room_id === "string") wantRoom(room.room_id);
    if (!remembered && rooms.length) setFocusOnJoin(rooms[0].room_id);
  } catch (err) {
    // Not fatal: the rooms can be joined from the list.
  }
}

// The "Log out" button: forget the session here and in this browser's other tabs,
// and have the server refuse its token and end the browser's login (its cookie).
export function logOut() {
  const token = state.token;
  endSession("");
  if (token) revokeToken(token);
  if (tabs) tabs.postMessage({ type: "logout" });
}

// Tears down everything that belongs to the logged-in user; `reason` is shown on
// the login form (an expired token, a plain logout shows nothing).
export function endSession(reason) {
  stopRenewing();
  stopRefreshingRooms();
  stopConnection();
  clearSession();
  forgetModeration();
  clearChat();
  renderActiveConversation();
  setStatus("offline", "");
  showView(false);
  hideError();
  setAuthMessage(reason || "", Boolean(reason));
}

// A reload keeps the session: the token lives in sessionStorage (per tab), with
// when it expires, and /me tells whether it is still good. A tab without one (new,
// or the browser restarted), or whose token is refused, picks up the browser's
// login from its cookie; only without that is the login form shown.
export async function resumeSession() {
  const token = savedToken();
  if (token) {
    setToken(token);
    try {
      const data = await api("GET", "/me");
      await startSession(data.user);
      return;
    } catch (err) {
      setToken(null);
      if (!(err instanceof ApiError && err.status === 401)) {
        showView(false);
        setAuthMessage(describeAuthError(err), true);
        return;
      }
    }
  }
  try {
    const data = await refreshSession();
    if (state.token) return; // logged in on the form meanwhile
    setToken(data.token, data.expires_in);
    await startSession(data.user);
  } catch (err) {
    if (state.token) return;
    showView(false);
    if (err instanceof ApiError && err.status !== 401) setAuthMessage(describeAuthError(err), true);
  }
}
