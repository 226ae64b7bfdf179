// Message bodies are CommonMark (with GitHub's strikethrough): bold, italic, strike, inline
// code, fenced code blocks, quotes, lists, links. marked (assets/vendor/marked/) only reads
// the text into tokens; the tokens become Preact elements here, from a fixed allow-list
// (`ELEMENTS`, `ATTRIBUTES`), and every piece of user text becomes a text node. Raw HTML in a
// body is shown as the text it is, images as links, headings as bold lines, tables as text;
// links keep only http(s) and mailto addresses. Bare URLs are found by core/format.js (its
// rules for trailing `)` and `www.`), and the server's mentions are highlighted.
// No page globals: `node --test` checks it (e2e/unit/markdown.test.mjs).

import { Marked } from "../../vendor/marked/marked.esm.js";
import { findLinks } from "./format.js";

/** The elements a rendered body may contain, and the attributes each may carry. */
export const ELEMENTS = ["p", "strong", "em", "del", "code", "pre", "blockquote", "ul", "ol", "li", "a", "br", "hr", "span"];
export const ATTRIBUTES = { a: ["href", "target", "rel"], ol: ["start"], span: ["class"] };

const parser = new Marked({ gfm: true, breaks: true });
// Bare URLs are ours to find (format.js), not marked's.
parser.use({ tokenizer: { url: () => undefined } });

const SAFE_LINK = /^(?:https?:\/\/|mailto:)/i;
const NAME = /[A-Za-z0-9._-]/;

/**
 * A body as an array of elements made with `h` (Preact's). `mentions` are the server's (only
 * their usernames are used: offsets into the source do not survive formatting); `me` is the
 * reader's user id, whose mentions are marked.
 */
export function renderBody(body, { h, mentions = [], me = null }) {
  const named = new Map(mentions.map((m) => [m.username.toLowerCase(), m.user_id]));
  const ctx = { h, named, me };
  let tokens;
  try {
    tokens = parser.lexer(body);
  } catch {
    return [h("p", null, ...lines(body, ctx))];
  }
  return blocks(tokens, ctx);
}

function blocks(tokens, ctx) {
  const { h } = ctx;
  const out = [];
  for (const t of tokens) {
    switch (t.type) {
      case "space":
        break;
      case "paragraph":
        out.push(h("p", null, ...inline(t.tokens, ctx)));
        break;
      case "heading":
        out.push(h("p", null, h("strong", null, ...inline(t.tokens, ctx))));
        break;
      case "code":
        out.push(h("pre", null, h("code", null, t.text)));
        break;
      case "blockquote":
        out.push(h("blockquote", null, ...blocks(t.tokens, ctx)));
        break;
      case "list": {
        const items = t.items.map((item) => h("li", null, ...blocks(item.tokens, ctx)));
        const start = t.ordered && Number.isInteger(t.start) && t.start !== 1 ? { start: t.start } : null;
        out.push(h(t.ordered ? "ol" : "ul", start, ...items));
        break;
      }
      case "hr":
        out.push(h("hr", null));
        break;
      case "text":
        // Text at block level (a tight list item's): inline content, without a paragraph.
        out.push(...(t.tokens ? inline(t.tokens, ctx) : text(t.text, ctx)));
        break;
      default:
        // HTML blocks, tables, link definitions and anything newer: the text as written,
        // line by line.
        out.push(h("p", null, ...lines(t.raw ?? "", ctx)));
    }
  }
  return out;
}

function inline(tokens = [], ctx) {
  const { h } = ctx;
  const out = [];
  for (const t of tokens) {
    switch (t.type) {
      case "text":
        out.push(...(t.tokens ? inline(t.tokens, ctx) : text(t.text, ctx)));
        break;
      case "strong":
      case "em":
      case "del":
        out.push(h(t.type, null, ...inline(t.tokens, ctx)));
        break;
      case "codespan":
        out.push(h("code", null, t.text));
        break;
      case "br":
        out.push(h("br", null));
        break;
      case "escape":
        out.push(t.text);
        break;
      case "link":
        // A link's own text is never searched for links again: no link inside a link.
        out.push(SAFE_LINK.test(t.href)
          ? h("a", { href: t.href, target: "_blank", rel: "noopener noreferrer" }, ...inline(t.tokens, { ...ctx, inLink: true }))
          : t.raw);
        break;
      case "image":
        // No images from text: a link to it (when its address is safe), named by its alt text.
        out.push(SAFE_LINK.test(t.href)
          ? h("a", { href: t.href, target: "_blank", rel: "noopener noreferrer" }, t.text || t.href)
          : t.raw);
        break;
      default:
        // Inline HTML and anything newer: the text as written.
        out.push(...lines(t.raw ?? "", ctx));
    }
  }
  return out;
}

/** Text shown as written: its line breaks kept. */
function lines(value, ctx) {
  const out = [];
  value.replace(/\n+$/, "").split("\n").forEach((line, i) => {
    if (i) out.push(ctx.h("br", null));
    out.push(...text(line, ctx));
  });
  return out;
}

/** Plain text: bare links made links (not inside a link), mentions of members highlighted. */
function text(value, ctx) {
  const { h } = ctx;
  if (ctx.inLink) return mentioned(value, ctx);
  const out = [];
  let last = 0;
  for (const link of findLinks(value)) {
    out.push(...mentioned(value.slice(last, link.start), ctx));
    out.push(h("a", { href: link.href, target: "_blank", rel: "noopener noreferrer" }, link.text));
    last = link.end;
  }
  out.push(...mentioned(value.slice(last), ctx));
  return out;
}

/** `@name`s the server resolved (by name: the offsets are the source's) as highlights. */
function mentioned(value, { h, named, me }) {
  if (!named.size || !value.includes("@")) return value ? [value] : [];
  const out = [];
  let last = 0;
  for (let i = 0; i < value.length; i++) {
    if (value[i] !== "@" || (i > 0 && (NAME.test(value[i - 1]) || value[i - 1] === "@"))) continue;
    let end = i + 1;
    while (end < value.length && NAME.test(value[end])) end++;
    while (end > i + 1 && value[end - 1] === ".") end--;
    const user = named.get(value.slice(i + 1, end).toLowerCase());
    if (!user) continue;
    if (i > last) out.push(value.slice(last, i));
    out.push(h("span", { class: user === me ? "mention me" : "mention" }, value.slice(i, end)));
    last = end;
    i = end - 1;
  }
  if (last < value.length) out.push(value.slice(last));
  return out;
}
