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
  invalid_credentials: "Wrong username or password.",
  unauthorized: "Your session has expired: please log in again.",
  unavailable: "The server cannot do that for a moment: please try again shortly.",
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

export function describeError(code, message, retryAfter) {
  let text = ERROR_TEXT[code] || "Something went wrong (" + code + ").";
  if ((code === "rate_limited" || code === "unavailable") && retryAfter) {
    // The wait is the one detail that matters here; the server's wording adds nothing.
    const why = code === "rate_limited" ? "You are going too fast" : "The server cannot do that for a moment";
    return why + ": try again in " + retryAfter + " s.";
  }
  // The server's own message can carry the detail (which field, which limit).
  if (message && message !== text) text += " (" + message + ")";
  return text;
}
