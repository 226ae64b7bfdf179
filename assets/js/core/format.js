// Text formatting with no page globals (so `node --test` runs it: e2e/unit/format.test.mjs).

// A candidate link: a scheme or `www.`, then anything up to white space or an angle bracket
// or quote. What it ends with is trimmed by `trimEnd` below.
const CANDIDATE = /\b(?:https?:\/\/|www\.)[^\s<>"']+/gi;

const CLOSERS = { ")": "(", "]": "[", "}": "{" };

/** Drops what ends a sentence rather than a link: trailing punctuation, and a closing
 * bracket with no opening one inside the link (so "(see https://x.org/a)" ends at "a",
 * while "https://en.wikipedia.org/wiki/Rust_(language)" keeps its ")"). */
function trimEnd(link) {
  let end = link.length;
  for (;;) {
    const last = link[end - 1];
    if (".,;:!?'\"*_~”’»›".includes(last)) {
      end -= 1;
      continue;
    }
    const opener = CLOSERS[last];
    if (opener) {
      const body = link.slice(0, end);
      const opens = body.split(opener).length - 1;
      const closes = body.split(last).length - 1;
      if (closes > opens) {
        end -= 1;
        continue;
      }
    }
    return link.slice(0, end);
  }
}

/** The links in `text`, in order: `{start, end, text, href}` (offsets in UTF-16 units, as
 * `String.slice` takes them). A `www.` link gets `https://`. Only http(s) links are made. */
export function findLinks(text) {
  const links = [];
  for (const match of text.matchAll(CANDIDATE)) {
    const shown = trimEnd(match[0]);
    if (/^www\.$/i.test(shown) || /^https?:\/\/$/i.test(shown)) continue;
    const href = /^www\./i.test(shown) ? `https://${shown}` : shown;
    links.push({ start: match.index, end: match.index + shown.length, text: shown, href });
  }
  return links;
}
