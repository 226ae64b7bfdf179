// Completion in the composer: `@name` from the room's members, `:shortcode` from the emoji
// data (assets/vendor/emojibase/emoji.json, fetched on first use). Pure functions, so
// `node --test` checks them (e2e/unit/complete.test.mjs); the composer draws the list.

import { fold } from "../state/store.js";

const NAME = /[A-Za-z0-9._-]/;
const SHORTCODE = /[a-z0-9_+-]/i;
const MAX = 8;

/**
 * What is being completed at the caret: `{kind: "mention"|"emoji", query, start, end}` (the
 * text from `start` to `end` is replaced), or null. A mention starts with `@` at the start or
 * after a character that cannot be part of a name; a shortcode with `:` after white space or
 * the start, then at least two letters.
 */
export function completionAt(text, caret) {
  let i = caret;
  while (i > 0 && (NAME.test(text[i - 1]) || SHORTCODE.test(text[i - 1]))) i--;
  const marker = text[i - 1];
  const before = text[i - 2];
  const query = text.slice(i, caret);
  if (marker === "@" && (i - 1 === 0 || !(NAME.test(before) || before === "@")) && [...query].every((c) => NAME.test(c))) {
    return { kind: "mention", query, start: i - 1, end: caret };
  }
  if (marker === ":" && (i - 1 === 0 || /\s/.test(before)) && query.length >= 2 && [...query].every((c) => SHORTCODE.test(c))) {
    return { kind: "emoji", query: query.toLowerCase(), start: i - 1, end: caret };
  }
  return null;
}

/** Members whose username or display name starts with the query (any case or accent), then
 * those containing it; at most 8: `[{user, text}]` with the text to insert. */
export function mentionMatches(members, query) {
  const q = fold(query);
  const score = (u) => {
    const names = [fold(u.username), fold(u.display_name)];
    if (names.some((n) => n.startsWith(q))) return 0;
    if (names.some((n) => n.includes(q))) return 1;
    return 2;
  };
  return members
    .map((u) => [score(u), u])
    .filter(([s]) => s < 2)
    .sort((a, b) => a[0] - b[0] || a[1].username.localeCompare(b[1].username))
    .slice(0, MAX)
    .map(([, user]) => ({ user, text: `@${user.username} ` }));
}

/** Emoji whose shortcode starts with the query, then those whose shortcode, name or keywords
 * contain it; at most 8: `[{emoji, name, code, text}]`. `data` is emoji.json's entries. */
export function emojiMatches(data, query) {
  const q = query.toLowerCase();
  const first = [];
  const then = [];
  for (const [emoji, name, , codes, tags] of data) {
    const code = codes.find((c) => c.startsWith(q));
    if (code) first.push({ emoji, name, code, text: `${emoji} ` });
    else if (codes.some((c) => c.includes(q)) || name.toLowerCase().includes(q) || tags.some((t) => t.toLowerCase().startsWith(q))) {
      then.push({ emoji, name, code: codes[0] || name, text: `${emoji} ` });
    }
    if (first.length >= MAX) break;
  }
  return [...first, ...then].slice(0, MAX);
}

/** Replaces what `completion` covers with `text`: the new value and caret. */
export function applyCompletion(value, completion, text) {
  return {
    value: value.slice(0, completion.start) + text + value.slice(completion.end),
    caret: completion.start + text.length,
  };
}

let emojiData = null;
/** The emoji data, fetched once (with `get`, the page's fetch by default). */
export function loadEmoji(get = (url) => fetch(url).then((r) => r.json())) {
  emojiData ??= get("/assets/vendor/emojibase/emoji.json").catch((e) => {
    emojiData = null;
    throw e;
  });
  return emojiData;
}
