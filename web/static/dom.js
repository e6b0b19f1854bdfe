// The few DOM helpers every drawing module uses (times on screen: timeline.js).
//
// Everything that comes from the server or the user is put on the page with
// textContent / createElement only, never as HTML, so a message such as
// `<img src=x onerror=...>` shows as the literal text it is. `el` is the one way
// the client builds elements, and it has no way to take markup.

export const $ = (id) => document.getElementById(id);

// Builds an element with text content only; no way to inject markup through here.
export function el(tag, props, text) {
  const node = document.createElement(tag);
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (key === "className") node.className = value;
      else if (key.startsWith("data-") || key.startsWith("aria-") || key === "role" || key === "title" || key === "type") {
        node.setAttribute(key, String(value));
      } else node[key] = value;
    }
  }
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}
