// Unit tests of sealed rooms' cryptography (assets/js/core/sealed.js) and of the state that
// uses it (assets/js/state/seals.js, state/store.js) under `node --test`, with Node's own
// WebCrypto: what a passphrase gives, what opens and what does not, and that the state never
// hands the socket a sealed room's plain text.

import { test } from "node:test";
import assert from "node:assert/strict";

import {
  ITERATIONS, PREFIX, deriveKeys, fromBase64url, isSealed, newSeal, openFile, openMessage, opensCheck, sealFile,
  sealMessage, suggestPassphrase, toBase64url,
} from "../../assets/js/core/sealed.js";
import { SealedRooms, wordsAt } from "../../assets/js/state/seals.js";
import { ChatState } from "../../assets/js/state/store.js";

// Tests derive with fewer iterations than rooms use (the cost is the browser's, not the logic's).
const FAST = 1000;

test("a passphrase gives the same key and proof for the same seal, and others for another", async () => {
  const { seal, proof, key } = await newSeal("correct horse battery staple", FAST);
  assert.equal(seal.kdf, "pbkdf2-sha256");
  assert.equal(fromBase64url(seal.salt).length, 16);
  assert.equal(fromBase64url(proof).length, 32);
  const again = await deriveKeys("correct horse battery staple", seal);
  assert.equal(again.proof, proof);
  assert.ok(await opensCheck(again.key, seal));
  assert.ok(await opensCheck(key, seal));
  const wrong = await deriveKeys("correct horse battery stapler", seal);
  assert.notEqual(wrong.proof, proof);
  assert.equal(await opensCheck(wrong.key, seal), false);
  // Unicode passphrases are taken in one normal form: composed and decomposed "é" agree.
  const composed = await newSeal("caf\u00e9 au lait tous les jours", FAST);
  const decomposed = await deriveKeys("cafe\u0301 au lait tous les jours", composed.seal);
  assert.equal(decomposed.proof, composed.proof);
  assert.equal(ITERATIONS, 600000, "rooms use OWASP's figure");
});

test("the content key cannot be read out of the page", async () => {
  const { key } = await newSeal("a long enough passphrase", FAST);
  assert.equal(key.extractable, false);
  await assert.rejects(globalThis.crypto.subtle.exportKey("raw", key));
});

test("a sealed body opens only with its key, in its room", async () => {
  const { key, seal } = await newSeal("one passphrase here", FAST);
  const other = await newSeal("another passphrase here", FAST);
  const value = { v: 1, from: "u_ana", text: "meet at the old mill 🌾", files: [] };
  const body = await sealMessage(key, "room1", value);
  assert.ok(isSealed(body) && body.startsWith(PREFIX));
  assert.ok(!body.includes("mill"));
  assert.match(body.slice(PREFIX.length), /^[A-Za-z0-9_-]+$/);
  assert.notEqual(await sealMessage(key, "room1", value), body, "a fresh nonce each time");
  assert.deepEqual(await openMessage(key, "room1", body), value);
  await assert.rejects(openMessage(key, "room2", body), "bound to its room");
  await assert.rejects(openMessage(other.key, "room1", body), "another key");
  const tampered = body.slice(0, -2) + (body.endsWith("A") ? "BB" : "AA");
  await assert.rejects(openMessage(key, "room1", tampered), "changed bytes");
  assert.ok(seal.check.length > 0);
});

test("files are sealed with a key of their own", async () => {
  const bytes = new TextEncoder().encode("file contents ".repeat(1000));
  const { key, data } = await sealFile(bytes);
  assert.equal(fromBase64url(key).length, 32);
  assert.equal(data.length, bytes.length + 12 + 16);
  assert.deepEqual(new Uint8Array(await openFile(key, data)), bytes);
  const { key: other } = await sealFile(bytes);
  await assert.rejects(openFile(other, data));
  assert.equal(toBase64url(fromBase64url(key)), key);
});

test("suggested passphrases are long and different", () => {
  const a = suggestPassphrase();
  assert.match(a, /^[a-z2-9]{4}(-[a-z2-9]{4}){4}$/);
  assert.notEqual(a, suggestPassphrase());
});

test("found words are marked where they are, accents and case aside", () => {
  assert.deepEqual(wordsAt("Le Café de la Gare", ["cafe", "gare"]), [[3, 7], [14, 18]]);
  assert.equal(wordsAt("nothing here", ["mill"]), null);
  assert.deepEqual(wordsAt("🌾 Mill", ["mill"]), [[2, 6]]);
});

/** A key store in memory, as IndexedDB is in a page. */
function memoryKeys() {
  const map = new Map();
  return { map, get: async (id) => map.get(id), put: async (id, k) => void map.set(id, k), delete: async (id) => void map.delete(id) };
}

test("messages are shown locked, then opened once the room is unlocked, and found by search", async () => {
  const me = { id: "u_me" };
  const made = await newSeal("the room's passphrase");
  const room = { id: "r1", seal: made.seal };
  const changed = [];
  const seals = new SealedRooms(me, { call: null, keys: memoryKeys(), fetchBytes: null, onChange: (id) => changed.push(id) });
  const body = await sealMessage(made.key, "r1", { v: 1, from: "u_bob", text: "the Café opens at nine", files: [] });
  const m = { room_id: "r1", seq: 1, sender: { id: "u_bob" }, body, attachments: [] };
  assert.equal(seals.view(m).sealed, "opening", "the key store is asked first");
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(seals.unlocked("r1"), false);
  assert.equal(seals.view(m).sealed, "locked");
  assert.equal(seals.view(m).body, "");
  // A seal with a cost below what rooms are made with (a server cheapening the proof) is refused.
  const cheap = await newSeal("the room's passphrase", FAST);
  await assert.rejects(seals.unlock({ id: "r1", seal: cheap.seal }, "the room's passphrase"));
  assert.equal(await seals.unlock(room, "not the passphrase"), false);
  assert.equal(seals.unlocked("r1"), false);
  assert.ok(await seals.unlock(room, "the room's passphrase"));
  assert.equal(seals.unlocked("r1"), true);
  seals.view(m);
  await new Promise((r) => setTimeout(r, 10));
  const shown = seals.view(m);
  assert.equal(shown.sealed, "open");
  assert.equal(shown.body, "the Café opens at nine");
  assert.equal(shown.forged, false);
  assert.equal(seals.view(m), shown, "the same view for the same copy");
  const found = await seals.search("r1", [m], "cafe nine");
  assert.equal(found.length, 1);
  assert.deepEqual(found[0].highlights, [[4, 8], [18, 22]]);
  assert.deepEqual(await seals.search("r1", [m], "tea"), []);
  // A body that claims another sender is flagged.
  const forged = { ...m, seq: 2, sender: { id: "u_eve" } };
  await seals.opening("r1", forged.body);
  assert.equal(seals.view(forged).forged, true);
  // The same body moved to another room does not open there, even though it opened here.
  const moved = { ...m, room_id: "r2" };
  await seals.opening("r2", moved.body);
  assert.notEqual(seals.view(moved).sealed, "open");
  assert.ok(changed.includes("r1"));
});

test("in a sealed room the socket only ever carries sealed bodies", async () => {
  const me = { id: "u_me", username: "me", display_name: "Me" };
  const made = await newSeal("the room's passphrase");
  const sent = [];
  const socket = Object.assign(new EventTarget(), { send: (f) => (sent.push(f), true), start() {}, stop() {} });
  const keys = memoryKeys();
  const env = { hidden: () => false, onReturn() {}, notify() {}, route: () => null, setRoute() {}, onRoute() {}, storage: null, keys };
  const call = async (method, path) => (path.includes("/messages") ? { messages: [], history_start: true } : { members: [], receipts: [] });
  const state = new ChatState(me, { call, socket, env });
  state.onEvent({ type: "ready", user: me, rooms: [{ id: "r1", name: "r1", kind: "private", role: "owner", last_seq: 0, seal: made.seal }] });
  state.open("r1");
  // Locked: nothing goes.
  state.send("r1", "plain words before the key");
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(sent.filter((f) => f.type === "send"), []);
  assert.equal(state.pendingIn("r1")[0].state, "failed");
  const early = state.pendingIn("r1")[0].client_id;
  state.retry(early);
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(sent.filter((f) => f.type === "send"), [], "a retry does not send it plain either");
  // Unlocked: a retry now seals and sends it; a new message goes sealed, and opens to what
  // was typed.
  assert.ok(await state.seals.unlock(state.rooms.get("r1"), "the room's passphrase"));
  state.retry(early);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(sent.filter((f) => f.type === "send").length, 1);
  state.discard(early);
  sent.length = 0;
  state.send("r1", "secret plans for the mill", { seq: 4, sender: me, body: "the quoted words" });
  await new Promise((r) => setTimeout(r, 20));
  const frames = sent.filter((f) => f.type === "send");
  assert.equal(frames.length, 1);
  assert.ok(isSealed(frames[0].body));
  assert.ok(!JSON.stringify(sent).includes("mill") && !JSON.stringify(sent).includes("quoted"));
  const opened = await openMessage(made.key, "r1", frames[0].body);
  assert.equal(opened.text, "secret plans for the mill");
  assert.equal(opened.from, "u_me");
  assert.equal(opened.reply.excerpt, "the quoted words");
  assert.equal(frames[0].reply_to, 4);
  // A message still waiting when its room is left is dropped, never sent as ordinary text.
  state.seals.forget("r1");
  state.send("r1", "last words before leaving");
  state.leftRoom("r1", null);
  state.retryPending();
  await new Promise((r) => setTimeout(r, 20));
  assert.ok(!JSON.stringify(sent).includes("last words"));
  assert.deepEqual(state.pendingIn("r1"), []);
});
