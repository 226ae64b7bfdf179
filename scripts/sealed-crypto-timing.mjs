// Times sealed rooms' cryptography (assets/js/core/sealed.js) under Node's WebCrypto: deriving a
// room's keys from a passphrase (PBKDF2 at the rooms' cost, then HKDF), and sealing and
// opening a 100-character message. `node scripts/sealed-crypto-timing.mjs`; the figures are in
// docs/performance.md ("Sealed rooms"). A browser's WebCrypto is of the same order.

import { deriveKeys, newSeal, openMessage, sealMessage } from "../assets/js/core/sealed.js";

const passphrase = "violet-harbour-7-lantern";
const { seal, key } = await newSeal(passphrase);
const derive = [];
for (let i = 0; i < 5; i++) {
  const t = performance.now();
  await deriveKeys(passphrase, seal);
  derive.push(performance.now() - t);
}
derive.sort((a, b) => a - b);
const value = { v: 1, from: "u_0123456789abcdef", text: "x".repeat(100), files: [] };
const rounds = 2000;
let body;
let t = performance.now();
for (let i = 0; i < rounds; i++) body = await sealMessage(key, "room", value);
const sealUs = ((performance.now() - t) / rounds) * 1000;
t = performance.now();
for (let i = 0; i < rounds; i++) await openMessage(key, "room", body);
const openUs = ((performance.now() - t) / rounds) * 1000;
console.log(`derive (PBKDF2 ${seal.iterations} + HKDF): median ${derive[2].toFixed(0)} ms of 5 (${derive.map((x) => x.toFixed(0)).join(", ")})`);
console.log(`seal a 100-character message: ${sealUs.toFixed(0)} µs; open it: ${openUs.toFixed(0)} µs; body ${body.length} characters`);
