#!/usr/bin/env node
// Builds assets/vendor/lucide/sprite.svg: the Lucide icons the web client uses, as one SVG of
// <symbol>s (referenced with <use href="/vendor/lucide/sprite.svg#NAME">). The drawing elements
// of each icon are copied unchanged; only whitespace and the licence comment are dropped.
// Usage: npm pack lucide-static@<version> && tar xzf lucide-static-<version>.tgz
//        node scripts/lucide-sprite.mjs package
// To add an icon, add its name below and run this again.
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ICONS = [
  "hash", "lock", "at-sign", "plus", "search", "log-in", "compass", "message-square-plus",
  "settings", "users", "log-out", "x", "menu", "send-horizontal", "bell", "bell-off",
  "bell-ring", "smile-plus", "reply", "pencil", "trash-2", "ellipsis", "arrow-down", "check",
  "check-check", "chevron-down", "user", "wifi-off", "message-circle", "door-open", "shield",
  "globe", "monitor-smartphone", "keyboard", "pin", "copy", "paperclip", "file", "download",
  "chevron-left", "chevron-right", "mic", "circle-stop", "user-x", "message-square", "flag",
  "hard-drive", "plug", "activity", "ticket", "scroll-text",
];

// The presentation attributes every Lucide icon carries on its <svg>, moved to each <symbol>.
const ATTRS = {
  viewBox: "0 0 24 24", fill: "none", stroke: "currentColor", "stroke-width": "2",
  "stroke-linecap": "round", "stroke-linejoin": "round",
};

const dir = process.argv[2];
if (!dir) {
  console.error("usage: node scripts/lucide-sprite.mjs <unpacked lucide-static directory>");
  process.exit(2);
}
const version = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).version;
const out = join(dirname(fileURLToPath(import.meta.url)), "..", "assets", "vendor", "lucide", "sprite.svg");

const symbolAttrs = Object.entries(ATTRS).map(([k, v]) => `${k}="${v}"`).join(" ");
const symbols = ICONS.map((name) => {
  const text = readFileSync(join(dir, "icons", `${name}.svg`), "utf8").replace(/<!--[\s\S]*?-->/g, "");
  const m = /<svg\b([^>]*)>([\s\S]*)<\/svg>\s*$/.exec(text.trim());
  if (!m) throw new Error(`${name}: no <svg> element`);
  for (const [k, v] of Object.entries(ATTRS)) {
    if (!new RegExp(`\\s${k}="${v}"`).test(m[1])) throw new Error(`${name}: <svg> lacks ${k}="${v}"`);
  }
  const inner = m[2].replace(/\s+/g, " ").replace(/>\s+</g, "><").replace(/\s+\/>/g, "/>").trim();
  return `<symbol id="${name}" ${symbolAttrs}>${inner}</symbol>`;
});

mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `<svg xmlns="http://www.w3.org/2000/svg">\n${symbols.join("\n")}\n</svg>\n`);
console.log(`wrote ${out}: ${symbols.length} icons from lucide-static ${version}`);
