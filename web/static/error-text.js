// What a person reads when something fails: one sentence per error code of the
// contract (PROTOCOL.md, v1) and per close code the server uses on purpose. Pure
// data and wording; the banner that shows it is banner.js.

// A sentence a person can act on, per error code of the contract.
export const ERROR_TEXT = {
  bad_request: "The server could not understand that request.",
  unknown_type: "The server does not know that command.",
  room_not_found: "That room does not exist (any more).",
  not_in_room: "You are not in that room: join it first.",
  user_not_found: "That user does not exist.",
  content_too_long: "That message is too long: shorten it and send it again.",
  rate_limited: "You are going too fast: wait a moment and try again.",
  forbidden: "You are not allowed to do that.",
  internal: "The server had an internal problem: please try again.",
  username_taken: "That username is already taken: pick another one.",
  room_name_taken: "A room with that name already exists: join it, or pick another name.",
  invalid_credentials: "Wrong username or password.",
  unauthorized: "Your session has expired: please log in again.",
  unavailable: "The server cannot do that for a moment: please try again shortly.",
  blocked: "No private messages pass between you and this user.",
  block_limit: "Your block list is full: unblock someone first.",
  muted: "You are muted in this room: you can still read, but not post or edit.",
  banned: "You are banned from this room.",
  message_not_found: "That message is not there any more (deleted?).",
  edit_window_closed: "It is too late to edit that message: you can still delete it.",
};

// Close codes the server uses on purpose, and what we tell the user about them.
export const CLOSE_TEXT = {
  1001: "The server is restarting",
  1008: "The server closed the connection (policy)",
  1009: "A message was too big for the server",
  1011: "The server hit an internal error",
  1012: "The server lost track of its cluster for a moment",
  1013: "The connection was too slow to keep up",
};

// Codes whose server message is the useful part: it says which field or limit was
// wrong, or why the request is refused. For every other code our sentence says it
// all, and the server's wording would only repeat it.
const DETAIL_CODES = new Set(["bad_request", "forbidden", "blocked"]);

// One sentence: the server's detail ("username must be 1 to 32 letters…") when it
// adds something, else ours.
export function describeError(code, message, retryAfter) {
  if ((code === "rate_limited" || code === "unavailable") && retryAfter) {
    // The wait is the one detail that matters here; the server's wording adds nothing.
    const why = code === "rate_limited" ? "You are going too fast" : "The server cannot do that for a moment";
    return why + ": try again in " + retryAfter + " s.";
  }
  const detail = typeof message === "string" ? message.trim() : "";
  if (detail && (DETAIL_CODES.has(code) || !ERROR_TEXT[code])) return asSentence(detail);
  return ERROR_TEXT[code] || "Something went wrong (" + code + ").";
}

function asSentence(text) {
  const start = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(start) ? start : start + ".";
}
