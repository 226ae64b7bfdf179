// Finding links in message text (assets/js/core/format.js).

import { test } from "node:test";
import assert from "node:assert/strict";

import { findLinks } from "../../assets/js/core/format.js";

const hrefs = (text) => findLinks(text).map((l) => l.href);

test("links end where the sentence's punctuation begins", () => {
  assert.deepEqual(hrefs("see https://example.org/a."), ["https://example.org/a"]);
  assert.deepEqual(hrefs("really? https://example.org/a?!"), ["https://example.org/a"]);
  assert.deepEqual(hrefs("“https://example.org/q?x=1&y=2”, then"), ["https://example.org/q?x=1&y=2"]);
});

test("a closing bracket belongs to the link only when the link opened it", () => {
  assert.deepEqual(hrefs("(see https://example.org/a)"), ["https://example.org/a"]);
  assert.deepEqual(hrefs("https://en.wikipedia.org/wiki/Rust_(programming_language)"), [
    "https://en.wikipedia.org/wiki/Rust_(programming_language)",
  ]);
  assert.deepEqual(hrefs("(https://en.wikipedia.org/wiki/Rust_(programming_language))"), [
    "https://en.wikipedia.org/wiki/Rust_(programming_language)",
  ]);
});

test("www. links are links, over https", () => {
  assert.deepEqual(findLinks("go to www.example.org, now"), [
    { start: 6, end: 21, text: "www.example.org", href: "https://www.example.org" },
  ]);
});

test("nothing else becomes a link", () => {
  assert.deepEqual(hrefs("javascript:alert(1) ftp://x.org mailto:a@b.c www. https://"), []);
  assert.deepEqual(hrefs("no links here"), []);
});
