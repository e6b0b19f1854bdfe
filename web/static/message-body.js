// The body of one message: its text, with web addresses made into links, folded
// when it is very long.
//
// A link is built with the DOM (createElement, textContent, the href property),
// never from markup, and only for an address that the URL parser reads as http or
// https: "javascript:", "data:" and the like stay text. Links open in a new tab
// with rel="noopener noreferrer", so that the page opened gets neither a handle on
// this one (window.opener) nor the address it came from. The text of the body is
// exactly the message's text: links only wrap parts of it.

import { el } from "./dom.js";

// Past either limit a message shows its first ten lines (style.css), with "Show more".
const FOLD_CHARS = 700;
const FOLD_LINES = 12;

// A candidate starts with http:// or https:// and runs to the next space; the
// punctuation that usually closes a sentence or a bracket around it is not part of it.
const CANDIDATE = /\bhttps?:\/\/[^\s<>"]+/gi;
const TRAILING = /[.,;:!?'")\]}]+$/;

function linkFor(text) {
  let url;
  try {
    url = new URL(text);
  } catch (err) {
    return null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  const link = el("a", { className: "message-link", "data-testid": "message-link" }, text);
  link.href = url.href;
  link.target = "_blank";
  link.rel = "noopener noreferrer";
  return link;
}

// The part of an address's trailing punctuation that is not part of it: all of it,
// except the closing brackets that close one opened inside the address, as in
// "(see https://en.wikipedia.org/wiki/Trio_(software))".
function keptOf(text, trailing) {
  let cut = trailing;
  while (cut.startsWith(")")) {
    const kept = text.slice(0, text.length - cut.length + 1);
    if (kept.split("(").length <= kept.split(")").length - 1) break;
    cut = cut.slice(1);
  }
  return cut;
}

// Text nodes and links, in order; joined, their text is `content` unchanged.
function linkify(content) {
  const parts = [];
  let at = 0;
  for (const match of content.matchAll(CANDIDATE)) {
    let text = match[0];
    const trailing = text.match(TRAILING);
    if (trailing) text = text.slice(0, text.length - keptOf(text, trailing[0]).length);
    const link = linkFor(text);
    if (!link) continue;
    if (match.index > at) parts.push(document.createTextNode(content.slice(at, match.index)));
    parts.push(link);
    at = match.index + text.length;
  }
  if (at < content.length) parts.push(document.createTextNode(content.slice(at)));
  return parts;
}

function isLong(content) {
  if (content.length > FOLD_CHARS) return true;
  let lines = 1;
  for (const ch of content) if (ch === "\n" && ++lines > FOLD_LINES) return true;
  return false;
}

let bodies = 0; // numbers the bodies, for the fold button's aria-controls

// Appends the body of a message to `item`: its content, and for a long one the
// button that unfolds it.
export function appendBody(item, content) {
  const text = String(content);
  const body = el("div", { className: "content", "data-testid": "message-content" });
  body.replaceChildren(...linkify(text));
  item.appendChild(body);
  if (!isLong(text)) return;
  bodies += 1;
  body.id = "message-body-" + bodies;
  body.classList.add("folded");
  const toggle = el("button", {
    type: "button",
    className: "fold-toggle secondary",
    "data-testid": "fold-toggle",
    "aria-controls": body.id,
    "aria-expanded": "false",
  }, "Show more");
  item.appendChild(toggle);
}

// "Show more" / "Show less": a click on a fold button (main.js finds it).
export function toggleFold(button) {
  const body = document.getElementById(button.getAttribute("aria-controls"));
  if (!body) return;
  const folded = body.classList.toggle("folded");
  button.setAttribute("aria-expanded", String(!folded));
  button.textContent = folded ? "Show more" : "Show less";
  if (folded) button.closest("li").scrollIntoView({ block: "nearest" });
}
