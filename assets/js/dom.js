// Building DOM without HTML strings: user text only ever becomes text nodes.

import { findLinks } from "./core/format.js";

/** h("button", {class: "x", onclick: fn, "aria-label": "Send"}, "text", child, ...) */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.className = value;
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key === "value" || key === "checked" || key === "disabled" || key === "hidden") {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/**
 * A message body as nodes: text, `http(s)` and `www.` links (opening safely in a new tab) and
 * the server's structured mentions highlighted. `mentions` offsets count code points.
 */
export function richText(body, mentions = [], myId = null) {
  const chars = Array.from(body);
  const frag = document.createDocumentFragment();
  let at = 0;
  const sorted = [...mentions].sort((a, b) => a.start - b.start);
  for (const m of sorted) {
    if (m.start < at) continue;
    linkify(frag, chars.slice(at, m.start).join(""));
    const text = chars.slice(m.start, m.end).join("");
    frag.append(h("span", { class: m.user_id === myId ? "mention me" : "mention" }, text));
    at = m.end;
  }
  linkify(frag, chars.slice(at).join(""));
  return frag;
}

function linkify(parent, text) {
  let last = 0;
  for (const link of findLinks(text)) {
    parent.append(document.createTextNode(text.slice(last, link.start)));
    parent.append(h("a", { href: link.href, target: "_blank", rel: "noopener noreferrer" }, link.text));
    last = link.end;
  }
  parent.append(document.createTextNode(text.slice(last)));
}

export function avatar(user, size = "") {
  return h("img", { class: `avatar ${size}`, src: user?.avatar_url || "", alt: "", width: 32, height: 32 });
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: "long", year: "numeric", month: "long", day: "numeric" });
export const formatTime = (d) => timeFmt.format(d);
export const formatDay = (d) => dayFmt.format(d);
