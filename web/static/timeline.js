// The shape of a conversation over time: consecutive messages of one sender run
// together under one name, a separator names each day, and every time on screen
// says how long ago it was ("just now", "5 min ago", then the clock time).
//
// Times are <time datetime="..."> elements, so that the machine-readable instant
// travels with the words; the words go stale as the clock moves, so one timer
// rewrites those of the list on screen every half minute (and a list is rewritten
// when it is shown). message-list.js decides where a line goes; `settle` then fixes
// the separators and the grouping around it.

import { el } from "./dom.js";

// Messages of one sender this close together read as one run.
const GROUP_GAP_MS = 5 * 60 * 1000;
const REFRESH_MS = 30 * 1000;
const MINUTE_MS = 60 * 1000;
const HOUR_MS = 60 * MINUTE_MS;

// ---------------------------------------------------------------- words for times

function dayKey(ms) {
  const d = new Date(ms);
  const month = String(d.getMonth() + 1).padStart(2, "0");
  const day = String(d.getDate()).padStart(2, "0");
  return d.getFullYear() + "-" + month + "-" + day;
}

// "just now", "12 min ago" within the hour; else the clock time of this computer.
function relativeTime(ms, now) {
  const age = now - ms;
  if (age < MINUTE_MS) return "just now";
  if (age < HOUR_MS) return Math.floor(age / MINUTE_MS) + " min ago";
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

// "Today", "Yesterday", else the date (with its year when it is not this year's).
function dayLabel(ms, now) {
  const key = dayKey(ms);
  if (key === dayKey(now)) return "Today";
  const yesterday = new Date(now);
  yesterday.setDate(yesterday.getDate() - 1);
  if (key === dayKey(yesterday.getTime())) return "Yesterday";
  const date = new Date(ms);
  const options = { weekday: "long", day: "numeric", month: "long" };
  if (date.getFullYear() !== new Date(now).getFullYear()) options.year = "numeric";
  return date.toLocaleDateString([], options);
}

// A <time> that keeps itself current through `refreshTimes`; its title is the full
// date and time, for a pointer that rests on it.
export function timeElement(ms) {
  const node = el("time", {
    className: "time",
    dateTime: new Date(ms).toISOString(),
    title: new Date(ms).toLocaleString(),
    "data-ts": ms,
    "data-testid": "message-time",
  });
  node.textContent = relativeTime(ms, Date.now());
  return node;
}

function separator(ms) {
  const item = el("li", { className: "date-separator", "data-testid": "date-separator" });
  const time = el("time", { dateTime: dayKey(ms), "data-day": ms });
  time.textContent = dayLabel(ms, Date.now());
  item.appendChild(time);
  return item;
}

// Rewrites the words of every time and day label under `root`.
export function refreshTimes(root) {
  const now = Date.now();
  for (const node of root.querySelectorAll("time[data-ts]")) {
    const text = relativeTime(Number(node.dataset.ts), now);
    if (node.textContent !== text) node.textContent = text;
  }
  for (const node of root.querySelectorAll("time[data-day]")) {
    const text = dayLabel(Number(node.dataset.day), now);
    if (node.textContent !== text) node.textContent = text;
  }
}

// The list on screen stays current; lists of other tabs are refreshed when shown.
export function keepTimesFresh(root) {
  const refresh = () => {
    if (!document.hidden) refreshTimes(root);
  };
  setInterval(refresh, REFRESH_MS);
  document.addEventListener("visibilitychange", refresh); // timers were throttled meanwhile
}

// ---------------------------------------------------------------- separators and runs

// A line with a time: a message or a join/leave line (notes, gaps and dividers have none).
function isTimed(node) {
  return Boolean(node) && node.dataset.ts !== undefined && node.tagName === "LI";
}

function timedNeighbour(node, step) {
  let next = node[step];
  while (next && !isTimed(next)) next = next[step];
  return next;
}

// The separator above a line, with nothing timed in between (a divider or a gap
// mark may stand between them).
function separatorAbove(node) {
  let above = node.previousElementSibling;
  while (above && !isTimed(above) && !above.classList.contains("date-separator")) above = above.previousElementSibling;
  return above && above.classList.contains("date-separator") ? above : null;
}

// A line starts a day when the timed line before it is of another day (or there is
// none): it then has a separator above it, and no other line has one.
function fixSeparator(node) {
  const before = timedNeighbour(node, "previousElementSibling");
  const ts = Number(node.dataset.ts);
  const wanted = !before || dayKey(Number(before.dataset.ts)) !== dayKey(ts);
  let above = separatorAbove(node);
  // A separator left above by an insertion may belong to the line that moved down.
  while (above && (!wanted || above.querySelector("time").dateTime !== dayKey(ts))) {
    above.remove();
    above = separatorAbove(node);
  }
  if (wanted && !above) node.parentNode.insertBefore(separator(ts), node);
}

// A message continues a run when the line right above it is a message of the same
// sender, sent less than GROUP_GAP_MS before it: its name and time are then not
// repeated on screen (screen readers still get them).
function fixGrouping(node) {
  if (!node || node.dataset.testid !== "message") return;
  const above = node.previousElementSibling;
  const continues = Boolean(above) &&
    above.dataset.testid === "message" &&
    above.dataset.senderId === node.dataset.senderId &&
    Math.abs(Number(node.dataset.ts) - Number(above.dataset.ts)) < GROUP_GAP_MS;
  node.classList.toggle("grouped", continues);
}

// A line was just put in its list (anywhere in it), or a divider or gap mark was:
// the separators and runs around it follow. Separators come first, since a
// separator breaks a run.
export function settle(node) {
  if (!node.parentNode) return;
  if (isTimed(node)) fixSeparator(node);
  const after = timedNeighbour(node, "nextElementSibling");
  if (after) fixSeparator(after);
  fixGrouping(node);
  fixGrouping(node.nextElementSibling);
  fixGrouping(after);
}
