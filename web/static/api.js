// The HTTP API (same origin, relative URLs): one function per call shape, and
// ApiError, which carries the contract's error code of a failed call.

import { describeError } from "./error-text.js";
import { state } from "./state.js";

const API = "/api/v1";

export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.serverMessage = message;
    this.retryAfter = retryAfter;
  }
  describe() {
    return describeError(this.code, this.serverMessage, this.retryAfter);
  }
}

// Calls the API with the session's token and returns the parsed body, or throws
// ApiError with the contract's error code; a network failure becomes the
// pseudo-code "network". `extraHeaders` are added to the request's.
export async function api(method, path, body, extraHeaders) {
  const headers = Object.assign({ Accept: "application/json" }, extraHeaders);
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (state.token) headers.Authorization = "Bearer " + state.token;
  let response;
  try {
    response = await fetch(API + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, "network", "the server cannot be reached");
  }
  let data = null;
  try {
    data = await response.json();
  } catch (err) {
    data = null;
  }
  if (response.ok) return data || {};
  const error = (data && data.error) || {};
  const code = error.code || (response.status === 401 ? "unauthorized" : "internal");
  throw new ApiError(response.status, code, error.message, response.headers.get("Retry-After"));
}

// Has the server refuse `token` from now on (a copy of it elsewhere stops working
// too), and with it the browser's login: its refresh cookie is ended and cleared,
// and the tokens of this browser's other tabs are refused. Fire and forget: the
// user is logged out here whatever the answer.
export function revokeToken(token) {
  fetch(API + "/logout", { method: "POST", headers: { Authorization: "Bearer " + token } }).catch(
    () => {},
  );
}

// Sent with a login and with the cookie's exchange: a page of another site cannot
// send it, and it tells the server that a page asks, which gets a short-lived
// token (minutes: a new one comes from the cookie whenever needed).
export const PAGE_HEADERS = { "X-Requested-With": "chat-web" };

// The browser's login, picked up without the password: the server trades its
// refresh cookie (HttpOnly, so never seen here) for a token and the login answer.
// ApiError 401: this browser is not signed in.
export function refreshSession() {
  return api("POST", "/session/refresh", undefined, PAGE_HEADERS);
}

// The rooms to be in after a login: those the user joined and did not leave, on
// any device; for a user who never joined one, the lobby (remembered: false).
export async function rememberedRooms() {
  const data = await api("GET", "/me/rooms");
  return { rooms: Array.isArray(data.rooms) ? data.rooms : [], remembered: data.remembered !== false };
}

// Tells a dead token from a dead server: only a 401 means the token is gone.
export async function tokenStillValid() {
  try {
    await api("GET", "/me");
    return true;
  } catch (err) {
    return !(err instanceof ApiError && err.status === 401);
  }
}

// The newest page of the user's private conversations: each with its peer, last
// message and unread count (GET /conversations, newest first).
export async function listConversations(limit) {
  const data = await api("GET", "/conversations?limit=" + (limit || 20));
  return Array.isArray(data.conversations) ? data.conversations : [];
}

// The user of exactly this name (compared as a login is), or ApiError
// "user_not_found".
export async function lookupUser(username) {
  const data = await api("GET", "/users/lookup?username=" + encodeURIComponent(username));
  return data.user;
}
