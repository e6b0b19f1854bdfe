// The message input: sending what is typed to the conversation on screen, Enter
// versus Shift+Enter, growing with the text, and getting an unsent message back.

import { showError } from "./banner.js";
import { send } from "./connection.js";
import { $ } from "./dom.js";
import { activeConversation, state } from "./state.js";
import { typingSent } from "./typing.js";

export function onComposerSubmit(event) {
  event.preventDefault();
  const input = $("message-input");
  const content = input.value;
  const conv = activeConversation();
  if (!conv || !content.trim()) return;
  // The text travels with the command, so that an error or a drop can give it back.
  const extra = { convKey: conv.key, content, private: conv.kind === "private" };
  const command = conv.kind === "room"
    ? { type: "group", room_id: conv.id, content }
    : { type: "private", target_id: conv.id, content };
  const ref = send(command, "Sending your message", extra);
  if (ref === null) {
    showError("Not connected: your message was not sent. It will be kept here.", "network");
    return;
  }
  input.value = "";
  autoGrow();
  typingSent();
  input.focus();
}

// Enter sends, Shift+Enter breaks the line: what chat users expect.
export function onComposerKey(event) {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $("composer").requestSubmit();
  }
}

export function autoGrow() {
  const input = $("message-input");
  input.style.height = "auto";
  input.style.height = Math.min(input.scrollHeight, 160) + "px";
}

// Puts an unsent message back in the input, unless the user already typed more.
export function restoreDraft(command) {
  const input = $("message-input");
  if (command.convKey === state.activeKey && !input.value) {
    input.value = command.content;
    autoGrow();
  }
}
