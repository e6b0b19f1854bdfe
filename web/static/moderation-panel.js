// The "Moderation" panel of a room, for its admins and owner: the mutes and bans
// in force, each with Unmute or Unban (so that someone who is not online can be
// let back), and the room's moderation log, newest first, a page at a time
// (GET /rooms/{id}/moderation). A modal <dialog> opened from a button in the
// conversation's header, shown only to those whose level allows it; Escape or
// Close shuts it and the focus returns to that button.

import { api } from "./api.js";
import { reportApiError } from "./banner.js";
import { $, el } from "./dom.js";
import { moderate, rolesOf, untilText, whenText } from "./moderation.js";
import { activeConversation } from "./state.js";

const LOG_PAGE = 50;
const ACTION_WORDS = {
  grant_admin: "made {user} an admin",
  revoke_admin: "took admin from {user}",
  kick: "kicked {user}",
  mute: "muted {user}",
  unmute: "lifted the mute on {user}",
  ban: "banned {user}",
  unban: "lifted the ban on {user}",
};

let panel = null;
let shownRoom = null; // the room the open panel is about
let nextBefore = null;

// The header's button, shown for a room whose moderators we are.
export function showModerationButton() {
  let button = $("moderation-button");
  const conv = activeConversation();
  const roles = conv && conv.kind === "room" ? rolesOf(conv.id) : null;
  const allowed = Boolean(roles) && (roles.you === "admin" || roles.you === "owner");
  if (!button) {
    if (!allowed) return;
    button = el("button", {
      type: "button",
      id: "moderation-button",
      className: "secondary",
      "data-testid": "moderation-button",
      "aria-haspopup": "dialog",
    }, "Moderation");
    button.addEventListener("click", openPanel);
    $("leave-button").before(button);
  }
  button.hidden = !allowed;
  if (panel && panel.open && shownRoom !== null && (!conv || conv.id !== shownRoom || !allowed)) panel.close();
  else if (panel && panel.open) drawSanctions();
}

function panelNode() {
  if (panel) return panel;
  panel = el("dialog", {
    id: "moderation-panel",
    className: "moderation-panel",
    "data-testid": "moderation-panel",
    "aria-labelledby": "moderation-panel-title",
  });
  panel.appendChild(el("h2", { id: "moderation-panel-title", "data-testid": "moderation-panel-title" }));
  panel.appendChild(el("h3", {}, "In force"));
  panel.appendChild(el("ul", { className: "sanction-list", "data-testid": "sanction-list" }));
  panel.appendChild(el("h3", {}, "Log"));
  panel.appendChild(el("ul", { className: "moderation-log", "data-testid": "moderation-log" }));
  const older = el("button", { type: "button", className: "secondary", "data-testid": "moderation-log-older" }, "Older entries");
  older.addEventListener("click", () => loadLog(false));
  panel.appendChild(older);
  const close = el("button", { type: "button", className: "dialog-close", "data-testid": "moderation-panel-close" }, "Close");
  close.addEventListener("click", () => panel.close());
  panel.appendChild(close);
  panel.addEventListener("close", () => {
    shownRoom = null;
    const button = $("moderation-button");
    if (button && !button.hidden) button.focus();
  });
  document.body.appendChild(panel);
  return panel;
}

function openPanel() {
  const conv = activeConversation();
  if (!conv || conv.kind !== "room") return;
  const node = panelNode();
  shownRoom = conv.id;
  node.querySelector("h2").textContent = "Moderation in " + conv.title;
  drawSanctions();
  node.querySelector('[data-testid="moderation-log"]').replaceChildren();
  node.querySelector('[data-testid="moderation-log-older"]').hidden = true;
  node.showModal();
  loadLog(true);
}

function drawSanctions() {
  const list = panel.querySelector('[data-testid="sanction-list"]');
  const roles = shownRoom === null ? null : rolesOf(shownRoom);
  const sanctions = roles && roles.sanctions ? roles.sanctions : [];
  const items = sanctions.map((s) => {
    const item = el("li", { className: "sanction", "data-testid": "sanction", "data-user-id": s.user.user_id, "data-kind": s.kind });
    const what = (s.kind === "mute" ? "muted " : "banned ") + untilText(s.until);
    item.appendChild(el("span", {}, s.user.username + ": " + what));
    const lift = s.kind === "mute" ? "unmute" : "unban";
    const label = s.kind === "mute" ? "Unmute" : "Unban";
    const button = el("button", {
      type: "button",
      className: "secondary",
      "data-testid": "lift-" + s.kind,
      "aria-label": label + " " + s.user.username,
    }, label);
    const roomId = shownRoom;
    button.addEventListener("click", () => moderate(lift, roomId, s.user));
    item.appendChild(button);
    return item;
  });
  if (items.length === 0) items.push(el("li", { className: "hint" }, "Nobody is muted or banned here."));
  list.replaceChildren(...items);
}

async function loadLog(first) {
  const roomId = shownRoom;
  if (roomId === null) return;
  const older = panel.querySelector('[data-testid="moderation-log-older"]');
  const query = "?limit=" + LOG_PAGE + (first || nextBefore === null ? "" : "&before=" + nextBefore);
  let page;
  try {
    page = await api("GET", "/rooms/" + encodeURIComponent(roomId) + "/moderation" + query);
  } catch (err) {
    reportApiError(err, "Reading the moderation log");
    return;
  }
  if (shownRoom !== roomId) return;
  nextBefore = page.next_before;
  older.hidden = nextBefore === null || nextBefore === undefined;
  const list = panel.querySelector('[data-testid="moderation-log"]');
  if (first) list.replaceChildren();
  for (const entry of page.actions || []) {
    const words = ACTION_WORDS[entry.action] || entry.action;
    let text = entry.actor.username + " " + words.replace("{user}", entry.user.username);
    if (entry.action === "mute" || entry.action === "ban") text += " " + untilText(entry.until);
    if (entry.reason) text += ": " + entry.reason;
    const item = el("li", { "data-testid": "moderation-entry" });
    item.appendChild(el("span", { className: "entry-time" }, whenText(entry.timestamp) + " "));
    item.appendChild(el("span", {}, text));
    list.appendChild(item);
  }
  if (first && list.children.length === 0) list.appendChild(el("li", { className: "hint" }, "Nothing was done here yet."));
}
