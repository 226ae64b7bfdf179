// Completion in the composer (assets/js/core/complete.js): what is being completed at the
// caret, which members and emoji match, and what replacing it gives.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { applyCompletion, completionAt, emojiMatches, loadEmoji, mentionMatches } from "../../assets/js/core/complete.js";

const data = JSON.parse(readFileSync(new URL("../../assets/vendor/emojibase/emoji.json", import.meta.url), "utf8"));

test("a mention or a shortcode is found at the caret, and only where one can start", () => {
  assert.deepEqual(completionAt("hi @an", 6), { kind: "mention", query: "an", start: 3, end: 6 });
  assert.deepEqual(completionAt("@", 1), { kind: "mention", query: "", start: 0, end: 1 });
  assert.equal(completionAt("mail ana@exa", 12), null, "an address is no mention");
  assert.deepEqual(completionAt("nice :thu", 9), { kind: "emoji", query: "thu", start: 5, end: 9 });
  assert.equal(completionAt("nice :t", 7), null, "two letters first");
  assert.equal(completionAt("at 10:30", 8), null, "a time is no shortcode");
  assert.equal(completionAt("hi @an and more", 15), null, "the caret is past it");
});

test("members match by username or display name, starts first", () => {
  const users = [
    { id: "1", username: "bob", display_name: "Robert" },
    { id: "2", username: "ana", display_name: "Ana Bobadilla" },
    { id: "3", username: "cleo", display_name: "Cléo" },
  ];
  assert.deepEqual(mentionMatches(users, "bo").map((m) => m.text), ["@bob ", "@ana "]);
  assert.deepEqual(mentionMatches(users, "CLE").map((m) => m.user.id), ["3"]);
  assert.equal(mentionMatches(users, "").length, 3);
});

test("emoji match by shortcode prefix first, at most eight", () => {
  const found = emojiMatches(data, "thumbs");
  assert.ok(found.length >= 1 && found.length <= 8);
  assert.equal(found[0].name, "thumbs up");
  assert.ok(data.length > 1800, `the data holds ${data.length} emoji`);
  assert.ok(data.every(([emoji, name, group, codes, tags]) => emoji && name && Number.isInteger(group) && Array.isArray(codes) && Array.isArray(tags)));
});

test("taking a suggestion replaces what was typed and puts the caret after it", () => {
  const value = "hi @an, see you";
  assert.deepEqual(applyCompletion(value, completionAt(value, 6), "@ana "), { value: "hi @ana , see you", caret: 8 });
});

test("the emoji data is fetched once", async () => {
  let calls = 0;
  const get = async () => {
    calls += 1;
    return data;
  };
  await loadEmoji(get);
  await loadEmoji(get);
  assert.equal(calls, 1);
});
