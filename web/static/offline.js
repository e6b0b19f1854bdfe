// What the page shows while its link to the server is down: a banner under the top
// bar with the countdown to the next attempt and "Retry now", online lists greyed
// (they are what was true when the link dropped), and one spoken sentence when the
// link goes and one when it is back.
//
// connection.js says how the link is through the `status(kind, text)` handler
// (render.js's setStatus passes it on here), once a second while it counts down:
// the banner shows that text as it comes. The countdown itself is not a live
// region, or a screen reader would read it out every second; the announcer says
// only "offline" and "connected again".

import { $ } from "./dom.js";

let away = false; // the link dropped and has not come back since

export function showLinkState(kind, text) {
  const wasAway = away;
  if (kind === "reconnecting") away = true;
  else if (kind === "online" || kind === "offline") away = false;
  $("offline-banner").hidden = !away;
  document.body.classList.toggle("link-down", away);
  $("people-stale").hidden = !away;
  if (away) {
    // An attempt is under way: "Retry now" would do nothing until it ends.
    $("offline-text").textContent = kind === "connecting" ? "Offline. Reconnecting now…" : text;
    $("retry-now").disabled = kind === "connecting";
  }
  if (away && !wasAway) announce("You are offline. The page reconnects by itself; Retry now tries at once.");
  else if (!away && wasAway && kind === "online") announce("Connected again.");
}

function announce(text) {
  $("link-announcer").textContent = text;
}
