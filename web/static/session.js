// The session: the login form (log in, register), resuming after a reload, and
// the two ways out (the "Log out" button, an expired token). Starting a session
// starts everything that belongs to it (the socket, the token's renewal, the room
// list's refresh); ending one stops and forgets all of it.

import { ApiError, api, revokeToken } from "./api.js";
import { hideError } from "./banner.js";
import { startConnection, stopConnection } from "./connection.js";
import { $ } from "./dom.js";
import { ERROR_TEXT } from "./error-text.js";
import { onConnected, onDisconnected, onFrame } from "./frames.js";
import { markAway } from "./message-list.js";
import { refreshSiteOnline } from "./online.js";
import { clearChat, renderActiveConversation, setStatus, showCurrentUser, showView } from "./render.js";
import { keepTokenFresh, stopRenewing } from "./renewal.js";
import { keepRoomsFresh, refreshRooms, stopRefreshingRooms } from "./rooms.js";
import { clearSession, restoreWantedRooms, savedToken, setMe, setToken, state } from "./state.js";

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
  const data = await api("POST", "/login", credentials);
  setToken(data.token, data.expires_in);
  startSession(data.user);
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
    await api("POST", "/register", credentials);
    setAuthMessage("Registered. Logging in…", false);
    await logIn(credentials);
  } catch (err) {
    setAuthMessage(describeAuthError(err), true);
  } finally {
    setAuthBusy(false);
  }
}

function startSession(user) {
  setMe(user);
  showCurrentUser(user);
  setAuthMessage("", false);
  $("auth-password").value = "";
  showView(true);
  restoreWantedRooms();
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
    expired: endSession,
  });
}

// The "Log out" button: forget the session here, and have the server refuse its
// token from now on (a copy of it elsewhere stops working too).
export function logOut() {
  const token = state.token;
  endSession("");
  if (token) revokeToken(token);
}

// Tears down everything that belongs to the logged-in user; `reason` is shown on
// the login form (an expired token, a plain logout shows nothing).
export function endSession(reason) {
  stopRenewing();
  stopRefreshingRooms();
  stopConnection();
  clearSession();
  clearChat();
  renderActiveConversation();
  setStatus("offline", "");
  showView(false);
  hideError();
  setAuthMessage(reason || "", Boolean(reason));
}

// A reload keeps the session: the token lives in sessionStorage (per tab), with
// when it expires, and /me tells whether it is still good.
export async function resumeSession() {
  const token = savedToken();
  if (!token) {
    showView(false);
    return;
  }
  setToken(token);
  try {
    const data = await api("GET", "/me");
    startSession(data.user);
  } catch (err) {
    setToken(null);
    showView(false);
    if (err instanceof ApiError && err.status !== 401) setAuthMessage(describeAuthError(err), true);
  }
}
