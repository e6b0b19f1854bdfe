// Desktop notifications (the browser's Notification API), for private messages and
// for mentions of the user's name, while the page is hidden or that conversation is
// not on screen. Opt-in: the browser's permission is asked for only when the user
// presses the button, never at load, and the choice is kept in localStorage so that
// it holds across reloads and tabs.

import { isActive, state } from "./state.js";

const PREF_KEY = "chat.notify";
const BODY_MAX = 200;

let opened = () => {};
let mentionOf = { name: null, pattern: null };

// What a click on a notification does (show its conversation) is main.js's business.
export function whenNotificationClicked(handler) {
  opened = handler;
}

export function notificationsSupported() {
  return typeof window.Notification === "function";
}

// "on", "off", "blocked" (the browser refuses them) or "unsupported".
export function notificationState() {
  if (!notificationsSupported()) return "unsupported";
  if (Notification.permission === "denied") return "blocked";
  return Notification.permission === "granted" && localStorage.getItem(PREF_KEY) === "on" ? "on" : "off";
}

// The button: turns them off, or on (asking the browser the first time).
export async function toggleNotifications() {
  if (notificationState() === "on") {
    localStorage.setItem(PREF_KEY, "off");
    return;
  }
  if (!notificationsSupported()) return;
  const permission = Notification.permission === "granted" ? "granted" : await Notification.requestPermission();
  localStorage.setItem(PREF_KEY, permission === "granted" ? "on" : "off");
}

// Whether `content` names `username` as a word of its own ("alice", "@alice", not "malice").
export function mentions(content, username) {
  if (typeof content !== "string" || !username) return false;
  if (mentionOf.name !== username) {
    const escaped = username.replace(/[.*+?^${}()|[\]\\-]/g, "\\$&");
    const edge = "[^\\p{L}\\p{M}\\p{N}_-]";
    mentionOf = { name: username, pattern: new RegExp("(^|" + edge + ")@?" + escaped + "(?=$|" + edge + ")", "iu") };
  }
  return mentionOf.pattern.test(content);
}

// Called for each live message from someone else. One notification per conversation
// at a time (the tag): a burst, or the catch-up after a reconnect, replaces rather
// than piles up.
export function notifyMessage(conv, message) {
  if (notificationState() !== "on" || !state.me || !message.sender) return;
  if (!document.hidden && isActive(conv)) return;
  const privately = conv.kind === "private";
  if (!privately && !mentions(message.content, state.me.username)) return;
  const title = privately ? message.sender.username + " (private)" : message.sender.username + " in # " + conv.title;
  try {
    const note = new Notification(title, { body: String(message.content).slice(0, BODY_MAX), tag: conv.key });
    note.onclick = () => {
      window.focus();
      opened(conv.key);
      note.close();
    };
  } catch (err) {
    // Some browsers allow notifications from a service worker only; the page still counts the message.
  }
}
