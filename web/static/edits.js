// Editing and deleting room messages: the Edit and Delete buttons under one's own
// messages, the editor that replaces a message's text while it is open, the
// confirmation before a delete, and what the room's `edit` and `delete` events
// (and the history's `edited_at` / `deleted_at`) do to a message on screen.
//
// A room's admins and owner (their level comes from moderation.js's /roles) are
// offered Delete on everyone's messages too, once the levels are read. Private
// messages cannot be edited or deleted.

import { send } from "./connection.js";
import { el } from "./dom.js";
import { appendBody } from "./message-body.js";
import { messageItem, messageItems } from "./message-list.js";
import { rolesOf } from "./moderation.js";
import { state } from "./state.js";
import { settle } from "./timeline.js";

// Called by message-list.js for each message it draws: the tombstone, the
// "(edited)" mark, and for one's own room messages the buttons.
export function decorateMessage(item, message) {
  if (typeof message.deleted_at === "number") {
    showTombstone(item, message.sender, message.deleted_by);
    return;
  }
  if (typeof message.edited_at === "number") showEdited(item, message.edited_at);
  const mine = state.me && message.sender && message.sender.user_id === state.me.user_id;
  if (typeof message.room_id !== "string") return;
  if (mine) addActions(item, message.room_id, message.id);
  else if (moderates(message.room_id)) addModeratorDelete(item, message.room_id, message.id);
}

function moderates(roomId) {
  const roles = rolesOf(roomId);
  return Boolean(roles && (roles.you === "admin" || roles.you === "owner"));
}

// The room's levels were read (or changed): its messages on screen get, or lose,
// the moderator's Delete.
export function moderatorDeletesFor(conv, roomId) {
  const may = moderates(roomId);
  for (const item of messageItems(conv)) {
    if (item.classList.contains("deleted") || (state.me && item.dataset.senderId === state.me.user_id)) continue;
    const present = item.querySelector(":scope .message-actions.moderator");
    if (may && !present) addModeratorDelete(item, roomId, Number(item.dataset.messageId));
    else if (!may && present) present.remove();
  }
}

function addModeratorDelete(item, roomId, messageId) {
  const sender = item.querySelector(".sender");
  const whose = sender ? sender.textContent + "'s" : "this";
  const actions = el("span", { className: "message-actions moderator", role: "group", "aria-label": "Moderation" });
  const remove = el("button", {
    type: "button",
    className: "secondary",
    "data-testid": "delete-message",
    "aria-label": "Delete " + whose + " message",
  }, "Delete");
  remove.addEventListener("click", () => askDelete(item, roomId, messageId, actions));
  actions.appendChild(remove);
  footOf(item).appendChild(actions);
}

// ---------------------------------------------------------------- events

// {"type":"edit"}: the message's new text, marked "(edited)".
export function onEdit(frame) {
  const item = itemOf(frame);
  if (!item || item.classList.contains("deleted")) return;
  closeEditor(item, false);
  for (const old of item.querySelectorAll(":scope > .content, :scope > .fold-toggle")) old.remove();
  appendBody(item, frame.content);
  showEdited(item, frame.edited_at);
}

// {"type":"delete"}: the message becomes a tombstone in its place.
export function onDelete(frame) {
  const item = itemOf(frame);
  if (!item) return;
  showTombstone(item, null, frame.deleted_by);
  settle(item);
}

// A rejoin's `revised`: older messages changed while we were away, as they are now.
export function applyRevised(conv, messages) {
  if (!Array.isArray(messages)) return;
  for (const message of messages) {
    const item = messageItem(conv, message.id);
    if (!item) continue;
    const frame = { room_id: message.room_id, message_id: message.id };
    if (typeof message.deleted_at === "number") onDelete({ ...frame, deleted_by: message.deleted_by });
    else if (typeof message.edited_at === "number") {
      onEdit({ ...frame, content: message.content, edited_at: message.edited_at });
    }
  }
}

function itemOf(frame) {
  const conv = state.conversations.get("room:" + frame.room_id);
  return conv ? messageItem(conv, frame.message_id) : null;
}

// ---------------------------------------------------------------- drawing

// The line under a message's text: "(edited)" and the buttons. Always the last child.
function footOf(item) {
  let foot = item.querySelector(":scope > .message-foot");
  if (!foot) foot = el("div", { className: "message-foot", "data-testid": "message-foot" });
  item.appendChild(foot);
  return foot;
}

function showEdited(item, at) {
  const foot = footOf(item);
  let mark = foot.querySelector(".edited");
  if (!mark) {
    mark = el("time", { className: "edited", "data-testid": "edited-mark" }, "(edited)");
    foot.prepend(mark);
  }
  if (typeof at === "number") {
    mark.dateTime = new Date(at).toISOString();
    mark.title = "Edited " + new Date(at).toLocaleString();
  }
}

function showTombstone(item, sender, deletedBy) {
  item.classList.add("deleted");
  for (const child of [...item.children]) {
    if (!child.classList.contains("meta")) child.remove();
  }
  const senderId = sender ? sender.user_id : item.dataset.senderId;
  const byOther = deletedBy && deletedBy.user_id !== senderId;
  const text = byOther ? "Message deleted by " + deletedBy.username : "Message deleted";
  item.appendChild(el("p", { className: "tombstone", "data-testid": "tombstone" }, text));
}

function addActions(item, roomId, messageId) {
  const actions = el("span", { className: "message-actions", role: "group", "aria-label": "Your message" });
  const edit = el("button", {
    type: "button",
    className: "secondary",
    "data-testid": "edit-message",
    "aria-label": "Edit your message",
  }, "Edit");
  const remove = el("button", {
    type: "button",
    className: "secondary",
    "data-testid": "delete-message",
    "aria-label": "Delete your message",
  }, "Delete");
  edit.addEventListener("click", () => openEditor(item, roomId, messageId));
  remove.addEventListener("click", () => askDelete(item, roomId, messageId, actions));
  actions.append(edit, remove);
  footOf(item).appendChild(actions);
}

// ---------------------------------------------------------------- the editor

function openEditor(item, roomId, messageId) {
  if (item.querySelector(":scope > .message-editor")) return;
  const body = item.querySelector(":scope > .content");
  const input = el("textarea", {
    className: "edit-input",
    "data-testid": "edit-input",
    "aria-label": "New text of your message",
    rows: 2,
  });
  input.value = body ? body.textContent : "";
  const save = el("button", { type: "submit", "data-testid": "edit-save" }, "Save");
  const cancel = el("button", { type: "button", className: "secondary", "data-testid": "edit-cancel" }, "Cancel");
  const form = el("form", { className: "message-editor", "data-testid": "message-editor" });
  form.append(input, save, cancel);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const content = input.value;
    if (!content.trim()) return;
    if (body && content === body.textContent) {
      closeEditor(item, true);
      return;
    }
    const ref = send({ type: "edit", room_id: roomId, message_id: messageId, content }, "Editing your message");
    if (ref !== null) closeEditor(item, true);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      closeEditor(item, true);
    } else if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  cancel.addEventListener("click", () => closeEditor(item, true));
  if (body) body.hidden = true;
  item.insertBefore(form, footOf(item));
  input.focus();
  input.setSelectionRange(input.value.length, input.value.length);
}

// Closes the editor (if open) and shows the text again; `refocus`: back to Edit.
function closeEditor(item, refocus) {
  const form = item.querySelector(":scope > .message-editor");
  if (!form) return;
  form.remove();
  const body = item.querySelector(":scope > .content");
  if (body) body.hidden = false;
  const edit = item.querySelector('[data-testid="edit-message"]');
  if (refocus && edit) edit.focus();
}

// ---------------------------------------------------------------- deleting

// Delete asks once, in place: "Delete this message?" [Delete] [Keep].
function askDelete(item, roomId, messageId, actions) {
  if (item.querySelector(":scope .delete-confirm")) return;
  const question = el("span", { className: "delete-confirm", role: "group", "aria-label": "Delete this message?" });
  question.appendChild(el("span", null, "Delete this message?"));
  const yes = el("button", { type: "button", "data-testid": "delete-confirm" }, "Delete");
  const no = el("button", { type: "button", className: "secondary", "data-testid": "delete-cancel" }, "Keep");
  question.append(yes, no);
  actions.hidden = true;
  footOf(item).appendChild(question);
  yes.addEventListener("click", () => {
    send({ type: "delete", room_id: roomId, message_id: messageId }, "Deleting the message");
    dismiss();
  });
  const dismiss = () => {
    question.remove();
    actions.hidden = false;
    if (item.isConnected && !item.classList.contains("deleted")) {
      const again = actions.querySelector('[data-testid="delete-message"]');
      if (again) again.focus();
    }
  };
  no.addEventListener("click", dismiss);
  question.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.stopPropagation();
      dismiss();
    }
  });
  no.focus();
}
