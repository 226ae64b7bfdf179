#!/usr/bin/env node
// Builds assets/vendor/emojibase/emoji.json, the emoji data the composer's picker and
// `:shortcode:` completion load on first use, from an unpacked `emojibase-data` npm package:
//   npm pack emojibase-data@17.0.0 && tar xzf emojibase-data-17.0.0.tgz
//   node scripts/emoji-data.mjs package
// Each entry is [emoji, English name, group, [shortcodes], [keywords]], in Emojibase's order,
// without skin-tone variants or regional indicators; groups are Emojibase's (0 smileys, 1
// people, 3 animals and nature, 4 food, 5 travel, 6 activities, 7 objects, 8 symbols, 9 flags).

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const dir = process.argv[2];
if (!dir) {
  console.error("usage: node scripts/emoji-data.mjs <unpacked emojibase-data package>");
  process.exit(2);
}
const compact = JSON.parse(readFileSync(join(dir, "en/compact.json"), "utf8"));
const shortcodes = JSON.parse(readFileSync(join(dir, "en/shortcodes/emojibase.json"), "utf8"));
const github = JSON.parse(readFileSync(join(dir, "en/shortcodes/github.json"), "utf8"));
const list = (v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

const out = compact
  .filter((e) => e.group !== undefined && e.group !== 2) // 2 is the skin-tone swatches
  .sort((a, b) => a.order - b.order)
  .map((e) => [
    e.unicode,
    e.label,
    e.group,
    [...new Set([...list(github[e.hexcode]), ...list(shortcodes[e.hexcode])])],
    e.tags || [],
  ]);
const target = new URL("../assets/vendor/emojibase/emoji.json", import.meta.url);
writeFileSync(target, JSON.stringify(out));
console.log(`${out.length} emoji written to ${target.pathname}`);
