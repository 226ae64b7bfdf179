// Accessibility checks with axe-core for the browser tests. axe is injected by the test driver
// only, over the DevTools protocol (page.evaluate), so the page never serves it and its CSP
// (`script-src 'self'`) stays untouched: an evaluate is not subject to the page's CSP, whereas
// addScriptTag would be.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"];
const NODES_SHOWN = 5;

/**
 * Runs axe's WCAG 2.x A/AA rules on the page and returns what fails, compactly:
 * `[{ id, impact, help, count, nodes: [{ target, failureSummary }] }]` with at most five nodes
 * each (`count` is how many there were). `include` narrows the check (a selector or an axe
 * context such as `{ include: ["main"], exclude: [".x"] }`); `disable` lists rule ids to skip.
 */
export async function axeViolations(page, { include = null, disable = [] } = {}) {
  // Once per document: a navigation brings a fresh window without it.
  if (!(await page.evaluate(() => typeof window.axe === "object"))) {
    await page.evaluate(AXE_SOURCE);
  }
  return page.evaluate(async ({ include, disable, tags, shown }) => {
    const results = await window.axe.run(include || document, {
      runOnly: { type: "tag", values: tags },
      rules: Object.fromEntries(disable.map((id) => [id, { enabled: false }])),
    });
    return results.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      count: v.nodes.length,
      // A target is a list of selectors, one per frame or shadow root crossed.
      nodes: v.nodes.slice(0, shown).map((n) => ({
        target: n.target.map((t) => [t].flat().join(" >>> ")).join(" >> "),
        failureSummary: n.failureSummary,
      })),
    }));
  }, { include, disable, tags: TAGS, shown: NODES_SHOWN });
}

/** The violations as readable text, for an assertion message. */
export function describeViolations(violations) {
  if (violations.length === 0) return "no accessibility violations";
  const lines = [`${violations.length} accessibility violation(s):`];
  for (const v of violations) {
    const count = v.count ?? v.nodes.length;
    lines.push(`- ${v.id} (${v.impact}): ${v.help} [${count} element${count === 1 ? "" : "s"}]`);
    for (const n of v.nodes) {
      lines.push(`    ${n.target}`);
      for (const line of (n.failureSummary || "").split("\n")) {
        if (line.trim()) lines.push(`      ${line.trimEnd()}`);
      }
    }
    if (count > v.nodes.length) lines.push(`    … and ${count - v.nodes.length} more`);
  }
  return lines.join("\n");
}
