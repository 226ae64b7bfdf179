// The page names every module main.js imports, directly or not, as a modulepreload in
// index.html, so the browser fetches them all at once instead of one level of imports per
// round trip. This fails when an import is added or removed without the list following.
// Modules loaded on first use (settings, catalogues: `import()`) stay out of it.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";

const ASSETS = new URL("../../assets/", import.meta.url).pathname;

/** The modules `file` imports statically, and theirs, as /assets/ paths. */
function graph(file, seen = new Set()) {
  const source = readFileSync(file, "utf8");
  for (const [, spec] of source.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+"([^"]+)";/gms)) {
    const target = join(dirname(file), spec);
    const path = `/assets/${relative(ASSETS, target)}`;
    if (!seen.has(path)) {
      seen.add(path);
      graph(target, seen);
    }
  }
  return seen;
}

test("index.html preloads exactly the modules main.js needs at start", () => {
  const needed = [...graph(join(ASSETS, "js/main.js"))].sort();
  const html = readFileSync(join(ASSETS, "index.html"), "utf8");
  const preloaded = [...html.matchAll(/<link rel="modulepreload" href="([^"]+)">/g)].map((m) => m[1]).sort();
  assert.ok(needed.length > 10, `found ${needed}`);
  assert.deepEqual(preloaded, needed);
});
