// The menu beside each member of a room's online list: a button "Actions for ivy"
// (aria-haspopup="menu") opens a menu of what the viewer may do to them: write
// privately, and for a moderator kick, mute, ban, their undoing, admin, and in a
// private room removing the member (moderation.js decides which). Kick, mute and ban first ask for an optional
// reason (and how long) in a modal <dialog>.
//
// Keyboard: Enter, Space or ArrowDown on the button opens the menu on its first
// item, ArrowUp on its last; the arrows, Home and End move; Enter runs an item;
// Escape and Tab close it, and the focus returns to the button. The menu is one
// element at the end of the page, so that a redraw of the list (which happens at
// every join and leave) does not take it away; the button is found again by the
// user's id.

import { startPrivate } from "./conversations.js";
import { $, el } from "./dom.js";
import { BAN_DURATIONS, MUTE_DURATIONS, allowedActions, moderate } from "./moderation.js";
import { state } from "./state.js";

const LABELS = {
  message: "Message privately",
  kick: "Kick…",
  mute: "Mute…",
  unmute: "Unmute",
  ban: "Ban…",
  unban: "Unban",
  grant_admin: "Make admin",
  revoke_admin: "Remove admin",
  remove_member: "Remove from room",
};
const REASON_MAX = 500;

let open = null; // {node, roomId, user}: the menu on screen

// After the room's online list is drawn: a menu button beside each member but us.
export function addMemberMenus(listNode, roomId) {
  for (const item of listNode.children) {
    const person = item.querySelector('[data-testid="online-user"]');
    if (!person || (state.me && person.dataset.userId === state.me.user_id)) continue;
    const user = { user_id: person.dataset.userId, username: person.dataset.username };
    const button = el("button", {
      type: "button",
      className: "member-menu-button secondary",
      "data-testid": "member-menu-button",
      "data-user-id": user.user_id,
      "data-room-id": roomId,
      "aria-haspopup": "menu",
      "aria-expanded": String(Boolean(open && open.roomId === roomId && open.user.user_id === user.user_id)),
      "aria-label": "Actions for " + user.username,
      title: "Actions for " + user.username,
    }, "⋯");
    button.addEventListener("click", () => toggleMenu(roomId, user, "first"));
    button.addEventListener("keydown", (event) => {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        openMenu(roomId, user, event.key === "ArrowDown" ? "first" : "last");
      }
    });
    item.classList.add("member-row");
    item.appendChild(button);
  }
  if (!open) return;
  if (open.roomId !== roomId || !opener()) closeMenu(false);
  else if (!sameItems(open)) openMenu(open.roomId, open.user, "first"); // the levels were read meanwhile
}

function sameItems(shown) {
  const now = ["message", ...allowedActions(shown.roomId, shown.user.user_id)];
  return now.join() === menuItems().map((item) => item.dataset.action).join();
}

function opener() {
  return open ? buttonFor(open.user.user_id) : null;
}

function buttonFor(userId) {
  const selector = '[data-testid="member-menu-button"][data-user-id="' + CSS.escape(userId) + '"]';
  return $("room-online-list").querySelector(selector);
}

function toggleMenu(roomId, user, where) {
  if (open && open.roomId === roomId && open.user.user_id === user.user_id) closeMenu(true);
  else openMenu(roomId, user, where);
}

function openMenu(roomId, user, where) {
  closeMenu(false);
  const actions = ["message", ...allowedActions(roomId, user.user_id)];
  const node = el("ul", {
    id: "member-menu",
    className: "member-menu",
    role: "menu",
    "data-testid": "member-menu",
    "aria-label": "Actions for " + user.username,
  });
  for (const action of actions) {
    const item = el("li", { role: "none" });
    const run = el("button", {
      type: "button",
      role: "menuitem",
      className: "member-menu-item",
      "data-testid": "member-menu-item",
      "data-action": action,
      tabIndex: -1,
    }, LABELS[action]);
    run.addEventListener("click", () => choose(action));
    item.appendChild(run);
    node.appendChild(item);
  }
  node.addEventListener("keydown", onMenuKey);
  document.body.appendChild(node);
  open = { node, roomId, user };
  const button = opener();
  if (button) {
    button.setAttribute("aria-expanded", "true");
    button.setAttribute("aria-controls", "member-menu");
    place(node, button);
  }
  const items = menuItems();
  (where === "last" ? items[items.length - 1] : items[0]).focus();
}

// Below the button, its right edge on the button's, inside the window.
function place(node, button) {
  const box = button.getBoundingClientRect();
  const width = node.offsetWidth;
  const height = node.offsetHeight;
  const left = Math.max(4, Math.min(box.right - width, innerWidth - width - 4));
  const below = box.bottom + 2;
  node.style.left = left + "px";
  node.style.top = (below + height > innerHeight ? Math.max(4, box.top - height - 2) : below) + "px";
}

function menuItems() {
  return open ? [...open.node.querySelectorAll('[role="menuitem"]')] : [];
}

function onMenuKey(event) {
  const items = menuItems();
  const at = items.indexOf(document.activeElement);
  let next = null;
  if (event.key === "ArrowDown") next = items[(at + 1) % items.length];
  else if (event.key === "ArrowUp") next = items[(at - 1 + items.length) % items.length];
  else if (event.key === "Home") next = items[0];
  else if (event.key === "End") next = items[items.length - 1];
  else if (event.key === "Escape" || event.key === "Tab") {
    event.preventDefault();
    event.stopPropagation(); // Escape closes the menu, not the drawer behind it
    closeMenu(true);
    return;
  }
  if (next) {
    event.preventDefault();
    next.focus();
  }
}

// `refocus`: the keyboard goes back to the button that opened the menu.
export function closeMenu(refocus) {
  if (!open) return;
  const button = opener();
  open.node.remove();
  open = null;
  if (button) {
    button.setAttribute("aria-expanded", "false");
    button.removeAttribute("aria-controls");
    if (refocus) button.focus();
  }
}

// A press outside the menu and its button closes it.
document.addEventListener("pointerdown", (event) => {
  if (!open || open.node.contains(event.target)) return;
  if (event.target.closest && event.target.closest('[data-testid="member-menu-button"]')) return;
  closeMenu(false);
});

function choose(action) {
  const { roomId, user } = open;
  if (action === "message") {
    closeMenu(false);
    startPrivate(user);
    return;
  }
  if (action === "kick" || action === "mute" || action === "ban") {
    const button = opener();
    closeMenu(false);
    askReason(action, roomId, user, button);
    return;
  }
  closeMenu(true);
  moderate(action, roomId, user);
}

// ---------------------------------------------------------------- the reason dialog

const VERBS = { kick: "Kick", mute: "Mute", ban: "Ban" };
let dialog = null;

function reasonDialog() {
  if (dialog) return dialog;
  const node = el("dialog", {
    id: "moderation-dialog",
    className: "moderation-dialog",
    "data-testid": "moderation-dialog",
    "aria-labelledby": "moderation-dialog-title",
  });
  const form = el("form", { method: "dialog" });
  form.appendChild(el("h2", { id: "moderation-dialog-title", "data-testid": "moderation-dialog-title" }));
  const durationRow = el("p", { className: "dialog-row", "data-testid": "moderation-duration-row" });
  durationRow.appendChild(el("label", { htmlFor: "moderation-duration" }, "How long"));
  durationRow.appendChild(el("select", { id: "moderation-duration", "data-testid": "moderation-duration" }));
  form.appendChild(durationRow);
  const reasonRow = el("p", { className: "dialog-row" });
  reasonRow.appendChild(el("label", { htmlFor: "moderation-reason" }, "Reason (optional, shown to the room)"));
  reasonRow.appendChild(el("textarea", { id: "moderation-reason", "data-testid": "moderation-reason", maxLength: REASON_MAX, rows: 2 }));
  form.appendChild(reasonRow);
  const buttons = el("p", { className: "dialog-buttons" });
  buttons.appendChild(el("button", { type: "submit", value: "cancel", className: "secondary", "data-testid": "moderation-cancel", formNoValidate: true }, "Cancel"));
  buttons.appendChild(el("button", { type: "submit", value: "confirm", "data-testid": "moderation-confirm" }));
  form.appendChild(buttons);
  node.appendChild(form);
  document.body.appendChild(node);
  dialog = node;
  return node;
}

function askReason(action, roomId, user, button) {
  const node = reasonDialog();
  const room = state.rooms.get(roomId);
  const where = room && room.name ? room.name : roomId;
  node.querySelector("h2").textContent = VERBS[action] + " " + user.username + " in " + where;
  const durations = action === "mute" ? MUTE_DURATIONS : action === "ban" ? BAN_DURATIONS : [];
  const select = node.querySelector("select");
  select.replaceChildren(...durations.map(([label, seconds], i) => el("option", { value: seconds === null ? "" : String(seconds), selected: i === 0 }, label)));
  node.querySelector('[data-testid="moderation-duration-row"]').hidden = durations.length === 0;
  node.querySelector("textarea").value = "";
  node.querySelector('[data-testid="moderation-confirm"]').textContent = VERBS[action];
  node.returnValue = "";
  node.onclose = () => {
    if (node.returnValue === "confirm") {
      const reason = node.querySelector("textarea").value.trim();
      const duration = select.value === "" ? null : Number(select.value);
      moderate(action, roomId, user, { reason, duration: durations.length ? duration : undefined });
    }
    const again = button && button.isConnected ? button : buttonFor(user.user_id);
    if (again) again.focus();
  };
  node.showModal();
}
