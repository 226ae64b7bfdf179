// Unit tests of assets/js/core/api.js under `node --test`: what it does with `busy` answers.
// The browser around it (fetch, the cookie, navigator) is faked.

import { test } from "node:test";
import assert from "node:assert/strict";

globalThis.document = { cookie: "natter_csrf=t" };
globalThis.navigator = { onLine: true };

const { api } = await import("../../assets/js/core/api.js");

const busy = () => new Response(JSON.stringify({ error: { code: "busy", message: "busy" } }), { status: 503, headers: { "Retry-After": "1" } });
const ok = (body) => new Response(JSON.stringify(body), { status: 200 });

test("a write refused busy is sent again after Retry-After, and then succeeds", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const calls = [];
  globalThis.fetch = async (url, init) => {
    calls.push([init.method, url, init.body]);
    return calls.length === 1 ? busy() : ok({ done: true });
  };
  const answer = api("PATCH", "/rooms/R/messages/4", { body: "edited" });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(calls.length, 1);
  t.mock.timers.tick(2000); // the hint, at most doubled by the jitter
  assert.deepEqual(await answer, { done: true });
  assert.equal(calls.length, 2);
  assert.deepEqual(calls[1], calls[0], "the same request again");
});

test("a refused write is not sent again once a newer one to the same path was made", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const calls = [];
  globalThis.fetch = async (url, init) => {
    calls.push([init.method, url, init.body]);
    return calls.length === 1 ? busy() : ok({});
  };
  const first = api("PATCH", "/rooms/R/messages/4", { body: "first" });
  await new Promise((resolve) => setImmediate(resolve));
  await api("PATCH", "/rooms/R/messages/4", { body: "second" });
  t.mock.timers.tick(2000);
  await assert.rejects(first, (e) => e.status === 503);
  assert.deepEqual(calls.map((c) => JSON.parse(c[2]).body), ["first", "second"], "the old edit never goes again");
});
