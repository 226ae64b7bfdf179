#!/usr/bin/env node
// The first load of the chat screen, in bytes: registers a fresh account in headless
// Chromium (Debian's), records every URL the page asks for up to a connected chat (the API
// and avatars aside), then fetches each again raw, with gzip and with brotli, and sums the
// bytes on the wire. Needs a running server and the e2e/ npm packages (scripts/test installs
// them):  node scripts/first-load-bytes.mjs http://127.0.0.1:8080

import { request } from "node:http";
import { createRequire } from "node:module";

const base = process.argv[2];
if (!base) {
  console.error("usage: node scripts/first-load-bytes.mjs <server url>");
  process.exit(2);
}
const { chromium } = createRequire(new URL("../e2e/package.json", import.meta.url))("playwright-core");

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: ["--no-sandbox"] });
const page = await browser.newPage();
const urls = new Set();
page.on("request", (r) => {
  const path = new URL(r.url()).pathname;
  if (!path.startsWith("/api/") && !path.startsWith("/avatars/")) urls.add(r.url());
});
await page.goto(base);
await page.getByRole("tab", { name: "Create account" }).click();
await page.locator("#auth-username").fill(`bytes${Date.now().toString(36)}`);
await page.locator("#auth-password").fill("correct horse battery staple");
await page.locator(".auth-form button[type=submit]").click();
await page.locator(".connection[data-state=connected]").waitFor();
await page.waitForTimeout(500);
await browser.close();

/** The body's size on the wire for one encoding (Node's http does not decompress). */
const size = (url, encoding) => new Promise((resolve, reject) => {
  request(url, { headers: { "accept-encoding": encoding } }, (res) => {
    let n = 0;
    res.on("data", (chunk) => { n += chunk.length; });
    res.on("end", () => resolve(n));
  }).on("error", reject).end();
});
const totals = {};
for (const encoding of ["identity", "gzip", "br"]) {
  totals[encoding] = 0;
  for (const url of urls) totals[encoding] += await size(url, encoding);
}
const kb = (n) => `${(n / 1000).toFixed(1)} KB`;
console.log(`${urls.size} files: ${kb(totals.identity)} raw, ${kb(totals.gzip)} gzip, ${kb(totals.br)} brotli`);
