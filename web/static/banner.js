// The error banner at the top of the page, and the one place where a failed API
// call turns into words for the user.

import { ApiError } from "./api.js";
import { $ } from "./dom.js";
import { ERROR_TEXT } from "./error-text.js";
import { state } from "./state.js";

const ERROR_VISIBLE_MS = 12000;

let hideTimer = null;
let sessionExpired = () => {};

// An expired token ends the session, which is session.js's business; it tells us
// how at start-up (session.js sits above this module and imports it).
export function whenSessionExpires(handler) {
  sessionExpired = handler;
}

// Shows one error in the banner; the newest one wins because it is the one the
// user just caused.
export function showError(text, code) {
  const banner = $("error-banner");
  $("error-text").textContent = text;
  banner.dataset.code = code || "";
  banner.hidden = false;
  clearTimeout(hideTimer);
  hideTimer = setTimeout(hideError, ERROR_VISIBLE_MS);
}

export function hideError() {
  $("error-banner").hidden = true;
}

// Handles an API failure in the chat view: an expired token sends the user back to
// the login form, anything else is shown in the banner with what we were doing.
export function reportApiError(err, what) {
  if (!(err instanceof ApiError)) {
    showError(what + " failed: " + err, "internal");
    return;
  }
  if (err.status === 401 && state.token) {
    sessionExpired(ERROR_TEXT.unauthorized);
    return;
  }
  const text = err.code === "network" ? "The server cannot be reached." : err.describe();
  showError(what + " failed. " + text, err.code);
}
