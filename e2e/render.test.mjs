// A room with 10,000 loaded messages: the windowed list keeps the page small (never more than
// 300 rows) and every message reachable by scrolling, and new messages still show at once.
// It also measures (reports, never asserts) the script time from a `message` event arriving
// on the WebSocket to its row being in the page, with 1,000 and with 10,000 messages loaded:
// the figures are printed as test diagnostics ("# render: …").

import { test } from "node:test";
import assert from "node:assert/strict";
import { URL, PASSWORD, problems, person, register, apiIn } from "./lib.mjs";

const TOTAL = 10_000;
const PROBES = 25;

/** Calls the API as a bot with a bearer token (no browser). */
async function bot(name) {
  const res = await fetch(`${URL}/api/v1/auth/register`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: name, password: PASSWORD }),
  });
  const { token } = await res.json();
  return async (method, path, body) => {
    const answer = await fetch(`${URL}/api/v1${path}`, {
      method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: body && JSON.stringify(body),
    });
    assert.ok(answer.ok, `${method} ${path}: ${answer.status}`);
    return answer.json();
  };
}

/** Before the page's own scripts: stamp each WebSocket frame carrying a probe with the time
 * it arrived, and each probe's row with the time it entered the page and the next frame. */
function instrument() {
  window.__probes = {};
  const descriptor = Object.getOwnPropertyDescriptor(WebSocket.prototype, "onmessage");
  Object.defineProperty(WebSocket.prototype, "onmessage", {
    set(handler) {
      descriptor.set.call(this, (e) => {
        const probe = typeof e.data === "string" && e.data.match(/probe-(\d+)-(\d+)/);
        if (probe && e.data.includes('"type":"message"')) window.__probes[probe[0]] = { arrived: performance.now() };
        return handler(e);
      });
    },
    get() {
      return descriptor.get.call(this);
    },
  });
  new MutationObserver((records) => {
    const now = performance.now();
    for (const r of records) {
      for (const node of r.addedNodes) {
        const probe = node.textContent?.match(/probe-(\d+)-(\d+)/);
        const entry = probe && window.__probes[probe[0]];
        if (entry && entry.shown === undefined) {
          entry.shown = now;
          requestAnimationFrame(() => { entry.frame = performance.now(); });
        }
      }
    }
  }).observe(document, { childList: true, subtree: true });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Sends probes one at a time and returns the medians (ms): event → row, event → next frame. */
async function measure(page, send, round) {
  const toRow = [];
  const toFrame = [];
  for (let i = 0; i < PROBES; i++) {
    const marker = `probe-${round}-${i}`;
    await send(marker);
    await page.waitForFunction((m) => window.__probes[m]?.frame !== undefined, marker);
    const entry = await page.evaluate((m) => window.__probes[m], marker);
    toRow.push(entry.shown - entry.arrived);
    toFrame.push(entry.frame - entry.arrived);
  }
  return { row: median(toRow), frame: median(toFrame) };
}

/** Scrolls to the top until the oldest row on screen is `seq` or older. */
async function scrollBackTo(page, seq) {
  for (let i = 0; i < 2000; i++) {
    const oldest = await page.evaluate(() => {
      const el = document.querySelector(".messages");
      el.scrollTop = 0;
      el.dispatchEvent(new Event("scroll"));
      return Number(el.querySelector(".message[data-seq]")?.dataset.seq || Infinity);
    });
    if (oldest <= seq) return;
    await page.waitForFunction((before) => {
      const first = document.querySelector(".messages .message[data-seq]");
      return Number(first?.dataset.seq) < before || document.querySelector(".history-start");
    }, oldest);
  }
  assert.fail(`never got back to seq ${seq}`);
}

test("10,000 loaded messages: a bounded page, every message reachable, and what a new one costs", async (t) => {
  const writer = await bot("writer");
  const { room } = await writer("POST", "/rooms", { name: "Archive", visibility: "public", history: "shared" });
  // Seed in parallel streams (the test server lifts the send rate).
  const seeding = Date.now();
  let next = 1;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next <= TOTAL) {
      const n = next++;
      await writer("POST", `/rooms/${room.id}/messages`, { client_id: `seed-${n}`, body: `archived message ${n}` });
    }
  }));
  const seedSeconds = (Date.now() - seeding) / 1000;
  const reader = await person("reader");
  await reader.context.addInitScript(instrument);
  await register(reader);
  await apiIn(reader, "POST", "/rooms/join", { name: "Archive" });
  const { page } = reader;
  await page.reload();
  await page.locator(".room", { hasText: "Archive" }).click();
  await page.locator(".message .body", { hasText: `archived message ${TOTAL}` }).waitFor();
  const send = (marker) => writer("POST", `/rooms/${room.id}/messages`, { client_id: marker, body: `${marker} a new message arrives` });
  const newest = TOTAL + 1; // the room's seq numbers start at 1; probes come after

  await scrollBackTo(page, newest - 1000);
  await page.getByRole("button", { name: "Jump to latest" }).click();
  const thousand = await measure(page, send, 1000);

  const started = Date.now();
  await scrollBackTo(page, 1);
  const scrollSeconds = (Date.now() - started) / 1000;
  await page.locator(".history-start").waitFor();
  const rows = await page.locator(".messages .message").count();
  assert.ok(rows <= 300, `the page holds at most 300 rows with 10,000 loaded (${rows})`);
  assert.equal(await page.locator(".message .body", { hasText: /^archived message 1$/ }).count(), 1, "the first message is reachable");
  await page.getByRole("button", { name: "Jump to latest" }).click();
  await page.locator(".message .body", { hasText: "probe-1000-24" }).waitFor();
  const tenThousand = await measure(page, send, 10000);

  t.diagnostic(`render: 1,000 loaded: event → row ${thousand.row.toFixed(1)} ms, → next frame ${thousand.frame.toFixed(1)} ms (median of ${PROBES})`);
  t.diagnostic(`render: 10,000 loaded: event → row ${tenThousand.row.toFixed(1)} ms, → next frame ${tenThousand.frame.toFixed(1)} ms (median of ${PROBES}); rows in the page: ${rows}; scrolling from 1,000 back to the first message took ${scrollSeconds.toFixed(1)} s; seeding took ${seedSeconds.toFixed(1)} s`);
  await reader.context.close();
});

test("no console errors and no CSP violations", () => {
  assert.deepEqual(problems, []);
});
