// The message formatter (assets/js/core/markdown.js): CommonMark in, Preact elements out, and
// never an element or attribute outside its allow-list, whatever the text (a property test
// with fast-check over markdown and HTML fragments), never a link that is not http(s) or
// mailto, and user text only ever as text.

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { h } from "../../assets/vendor/preact/preact.module.js";
import { ATTRIBUTES, ELEMENTS, renderBody } from "../../assets/js/core/markdown.js";

/** Every element of a rendered body, checked against the allow-lists; returns the text. */
function check(nodes) {
  let text = "";
  const walk = (node, inLink = false) => {
    if (node === null || node === undefined || node === false) return;
    if (Array.isArray(node)) return node.forEach((n) => walk(n, inLink));
    if (typeof node === "string" || typeof node === "number") {
      text += node;
      return;
    }
    assert.equal(typeof node.type, "string", "only plain elements, no components");
    assert.ok(ELEMENTS.includes(node.type), `element <${node.type}> is not allowed`);
    assert.ok(!(inLink && node.type === "a"), "a link inside a link");
    for (const [name, value] of Object.entries(node.props)) {
      if (name === "children") continue;
      assert.ok((ATTRIBUTES[node.type] || []).includes(name), `<${node.type} ${name}> is not allowed`);
      assert.notEqual(typeof value, "function");
      if (name === "href") assert.match(value, /^(https?:\/\/|mailto:)/i, `unsafe link ${value}`);
      if (name === "target") assert.equal(value, "_blank");
      if (name === "rel") assert.equal(value, "noopener noreferrer");
    }
    walk(node.props.children, inLink || node.type === "a");
  };
  walk(nodes);
  return text;
}

const render = (body, mentions = [], me = null) => renderBody(body, { h, mentions, me });

test("the everyday formatting", () => {
  const [p] = render("**bold** _it_ ~~gone~~ `a<b`");
  assert.deepEqual(p.props.children.filter((c) => typeof c === "object").map((c) => c.type), ["strong", "em", "del", "code"]);
  const [pre] = render("```js\nlet x = '<script>';\n```");
  assert.equal(pre.type, "pre");
  assert.equal(pre.props.children.props.children, "let x = '<script>';");
  const [quote, list] = render("> quoted\n\n1. one\n2. two");
  assert.equal(quote.type, "blockquote");
  assert.equal(list.type, "ol");
  assert.equal(check(render("line one\nline two")), "line oneline two");
  assert.equal(render("line one\nline two")[0].props.children[1].type, "br");
});

test("links: safe addresses only, bare URLs found with their closing brackets", () => {
  const hrefs = (body) => {
    const out = [];
    const walk = (n) => {
      if (Array.isArray(n)) return n.forEach(walk);
      if (n && typeof n === "object") {
        if (n.type === "a") out.push(n.props.href);
        walk(n.props.children);
      }
    };
    walk(render(body));
    return out;
  };
  assert.deepEqual(hrefs("[docs](https://x.org/a) and [bad](javascript:alert(1))"), ["https://x.org/a"]);
  assert.deepEqual(hrefs("see https://en.wikipedia.org/wiki/Rust_(language)) or www.rust-lang.org."),
    ["https://en.wikipedia.org/wiki/Rust_(language)", "https://www.rust-lang.org"]);
  assert.deepEqual(hrefs("![x](https://i.example/x.png) ![y](data:image/png;base64,AAAA)"), ["https://i.example/x.png"]);
  assert.match(check(render("[bad](javascript:alert(1))")), /javascript:alert/, "an unsafe link stays text");
});

test("no link inside a link", () => {
  const nested = (body) => {
    let found = false;
    const walk = (n, inside) => {
      if (Array.isArray(n)) return n.forEach((c) => walk(c, inside));
      if (n && typeof n === "object") {
        if (n.type === "a" && inside) found = true;
        walk(n.props.children, inside || n.type === "a");
      }
    };
    walk(render(body), false);
    return found;
  };
  assert.equal(nested("[see www.bank.example now](https://evil.example)"), false);
  assert.equal(nested("<https://x.org>"), false);
});

test("text shown as written keeps its lines", () => {
  const [p] = render("| a | b |\n|---|---|\n| 1 | 2 |");
  assert.equal(p.props.children.filter((c) => c?.type === "br").length, 2);
});

test("raw HTML is shown as the text it is", () => {
  const body = '<img src=x onerror=alert(1)> <script>alert(1)</script>\n\n<div onclick="x()">block</div>';
  const text = check(render(body));
  assert.match(text, /<img src=x onerror=alert\(1\)>/);
  assert.match(text, /<div onclick="x\(\)">block<\/div>/);
});

test("the server's mentions are highlighted by name, the reader's own marked", () => {
  const mentions = [{ user_id: "U_ana", username: "ana", start: 3, end: 7 }, { user_id: "U_me", username: "me", start: 0, end: 0 }];
  const [p] = render("hi @Ana, **@me** and @bob and x@ana", mentions, "U_me");
  const spans = [];
  const walk = (n) => {
    if (Array.isArray(n)) return n.forEach(walk);
    if (n && typeof n === "object") {
      if (n.type === "span") spans.push([n.props.class, n.props.children]);
      walk(n.props.children);
    }
  };
  walk(p);
  assert.deepEqual(spans, [["mention", "@Ana"], ["mention me", "@me"]]);
});

test("whatever the text, only allowed elements and attributes come out", () => {
  const pieces = ["*", "_", "~~", "`", "```", "\n", "\n\n", "> ", "- ", "1. ", "# ", "[", "](", ")", "!", "<", ">",
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "javascript:alert(1)", "https://x.org/(a)", "www.x.org",
    "data:text/html,<b>", "@ana", "&amp;", "&#x3C;", "\\", "|", "---", "<a href=\"javascript:x\">", "mailto:a@b.c", " ", "text"];
  fc.assert(fc.property(fc.array(fc.oneof(fc.constantFrom(...pieces), fc.string()), { maxLength: 40 }), (parts) => {
    check(render(parts.join(""), [{ user_id: "U_ana", username: "ana", start: 0, end: 0 }], "U_ana"));
  }), { numRuns: 3000 });
});
