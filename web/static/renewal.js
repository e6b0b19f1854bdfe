// Renewing the session's token before it expires, so that an open tab never sees
// its socket closed with 4401 while the user is still there.
//
// A page's token lives minutes (the server gives short ones to pages). Once
// RENEW_AT of its lifetime has passed, POST /api/v1/refresh gives a new token; it is kept where the old one was (state.js, sessionStorage) and handed
// to the open socket ({"type":"refresh"}), which then lives on under it. A tab
// that does not know when its token expires (resumed from an older page) renews at
// once. A 401 (the token ran out while the computer slept) leaves the browser's
// login, its HttpOnly cookie, to ask (renewFromLogin); only when that is refused
// too is the login over (logged out elsewhere, or older than the server lets a
// login be refreshed), and the session ends as an expired one does.
// Other failures (the server restarting, no network) are retried while the token
// lasts.

import { ApiError, api, refreshSession } from "./api.js";
import { handOverToken } from "./connection.js";
import { ERROR_TEXT } from "./error-text.js";
import { setToken, state } from "./state.js";

const RENEW_AT = 0.8; // of the token's lifetime
const RETRY_MS = 10000;
const LONGEST_TIMER_MS = 2 ** 31 - 1; // setTimeout's limit; a longer wait would fire at once

let timer = null;
let refused = () => {};

// `onRefused(reason)` ends the session.
export function keepTokenFresh(onRefused) {
  refused = onRefused;
  schedule();
}

export function stopRenewing() {
  clearTimeout(timer);
  timer = null;
  refused = () => {};
}

// Timers of a sleeping laptop or a hidden tab run late: a tab coming back checks
// at once whether the renewal is due.
export function renewIfDue() {
  if (timer !== null) schedule();
}

function dueIn() {
  if (state.tokenExpiresAt === null || state.tokenLifetime === null) return 0;
  const renewAt = state.tokenExpiresAt - state.tokenLifetime * (1 - RENEW_AT);
  return Math.max(0, renewAt - Date.now());
}

function schedule() {
  clearTimeout(timer);
  timer = state.token ? setTimeout(renew, Math.min(dueIn(), LONGEST_TIMER_MS)) : null;
}

async function renew() {
  timer = null; // while a renewal is under way, renewIfDue leaves it alone
  const token = state.token;
  if (!token) return;
  try {
    const data = await api("POST", "/refresh");
    if (state.token !== token) return; // logged out (or in again) meanwhile
    setToken(data.token, data.expires_in);
    handOverToken();
    schedule();
  } catch (err) {
    if (state.token !== token) return;
    if (err instanceof ApiError && err.status === 401) {
      if (await renewFromLogin()) handOverToken();
      else if (state.token === token) refused(ERROR_TEXT.unauthorized);
      return;
    }
    const left = state.tokenExpiresAt === null ? RETRY_MS : state.tokenExpiresAt - Date.now();
    timer = setTimeout(renew, Math.max(1000, Math.min(RETRY_MS, left / 4)));
  }
}

// The token was refused (it ran out while the computer slept, or the socket was
// closed with 4401 for it): the browser's login may still be good. True when its
// cookie gave a new token for the same user, which the caller then puts to use.
export async function renewFromLogin() {
  const me = state.me;
  try {
    const data = await refreshSession();
    if (!me || state.me !== me || !data.user || data.user.user_id !== me.user_id) return false;
    setToken(data.token, data.expires_in);
    schedule();
    return true;
  } catch (err) {
    return false;
  }
}
