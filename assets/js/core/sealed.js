// The cryptography of sealed rooms (docs/protocol.md, "Sealed rooms"), with the browser's
// WebCrypto and nothing else: the server only ever sees what these functions produce.
//
// - A room's passphrase gives, through PBKDF2-SHA-256 (the room's salt and cost) and then
//   HKDF-SHA-256, two independent values: the **content key** (AES-256-GCM, made
//   non-extractable: script cannot read it out, it never leaves this browser) and the **join
//   proof** (32 bytes the server keeps an Argon2 hash of, as it does a private room's key).
// - A body is JSON sealed with the content key: "sealed:v1:" + base64url(nonce ‖ ciphertext),
//   a random 96-bit nonce each time, the room's id as associated data (a body moved to
//   another room does not open).
// - A file is sealed with a random key of its own (AES-256-GCM, one nonce, the whole file),
//   and that key travels inside the sealed body of the message that holds the file.
//
// Pure functions of their inputs and `crypto.subtle` (which Node has too): e2e/unit/ tests them.

export const PREFIX = "sealed:v1:";
export const KDF = "pbkdf2-sha256";
/** PBKDF2 iterations for new rooms (OWASP's figure for PBKDF2-HMAC-SHA256; the server's least). */
export const ITERATIONS = 600000;
const CHECK = "natter sealed v1 check";
const subtle = () => globalThis.crypto.subtle;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function toBase64url(bytes) {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let text = "";
  for (let i = 0; i < view.length; i += 0x8000) text += String.fromCharCode(...view.subarray(i, i + 0x8000));
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function fromBase64url(text) {
  const plain = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  const bytes = new Uint8Array(plain.length);
  for (let i = 0; i < plain.length; i++) bytes[i] = plain.charCodeAt(i);
  return bytes;
}

/** Whether a body is sealed (has the shape the server checks). */
export const isSealed = (body) => typeof body === "string" && body.startsWith(PREFIX);

/** The content key and join proof a passphrase gives for a room's seal. */
export async function deriveKeys(passphrase, seal) {
  if (seal.kdf !== KDF) throw new Error(`unknown key derivation ${seal.kdf}`);
  const base = await subtle().importKey("raw", encoder.encode(passphrase.normalize("NFC")), "PBKDF2", false, ["deriveBits"]);
  const master = await subtle().deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt: fromBase64url(seal.salt), iterations: seal.iterations }, base, 256);
  const hkdf = await subtle().importKey("raw", master, "HKDF", false, ["deriveKey", "deriveBits"]);
  const info = (what) => ({ name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: encoder.encode(`natter sealed v1 ${what}`) });
  const key = await subtle().deriveKey(info("content"), hkdf, { name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
  const proof = toBase64url(await subtle().deriveBits(info("proof"), hkdf, 256));
  return { key, proof };
}

/** A new room's seal from its passphrase: `{seal, proof, key}` (the seal's check value is a
 * fixed text sealed with the key, so members can test a passphrase without the server). */
export async function newSeal(passphrase, iterations = ITERATIONS) {
  const salt = toBase64url(globalThis.crypto.getRandomValues(new Uint8Array(16)));
  const seal = { kdf: KDF, iterations, salt };
  const { key, proof } = await deriveKeys(passphrase, seal);
  seal.check = (await sealText(key, CHECK, "check")).slice(PREFIX.length);
  return { seal, proof, key };
}

/** Whether `key` is the room's (opens its check value). */
export async function opensCheck(key, seal) {
  try {
    return (await openText(key, PREFIX + seal.check, "check")) === CHECK;
  } catch {
    return false;
  }
}

async function sealText(key, text, context) {
  const iv = globalThis.crypto.getRandomValues(new Uint8Array(12));
  const data = await subtle().encrypt({ name: "AES-GCM", iv, additionalData: encoder.encode(`natter sealed v1|${context}`) },
    key, encoder.encode(text));
  const out = new Uint8Array(12 + data.byteLength);
  out.set(iv);
  out.set(new Uint8Array(data), 12);
  return PREFIX + toBase64url(out);
}

async function openText(key, body, context) {
  if (!isSealed(body)) throw new Error("not a sealed body");
  const bytes = fromBase64url(body.slice(PREFIX.length));
  const plain = await subtle().decrypt({ name: "AES-GCM", iv: bytes.subarray(0, 12), additionalData: encoder.encode(`natter sealed v1|${context}`) },
    key, bytes.subarray(12));
  return decoder.decode(plain);
}

/** Seals a message's contents (`{v, from, text, files?, reply?}`) for a room. */
export const sealMessage = (key, roomId, value) => sealText(key, JSON.stringify(value), `room ${roomId}`);

/** Opens a sealed body of a room; throws when the key or the room is not its own. */
export async function openMessage(key, roomId, body) {
  const value = JSON.parse(await openText(key, body, `room ${roomId}`));
  if (!value || typeof value !== "object" || typeof value.text !== "string") throw new Error("not a sealed message");
  return value;
}

/** Seals a file's bytes with a fresh key: `{key (base64url), data (nonce ‖ ciphertext)}`. */
export async function sealFile(bytes) {
  const raw = globalThis.crypto.getRandomValues(new Uint8Array(32));
  const key = await subtle().importKey("raw", raw, "AES-GCM", false, ["encrypt"]);
  const iv = globalThis.crypto.getRandomValues(new Uint8Array(12));
  const data = await subtle().encrypt({ name: "AES-GCM", iv }, key, bytes);
  const out = new Uint8Array(12 + data.byteLength);
  out.set(iv);
  out.set(new Uint8Array(data), 12);
  return { key: toBase64url(raw), data: out };
}

/** Opens a sealed file's bytes with the key its message carries. */
export async function openFile(keyText, data) {
  const key = await subtle().importKey("raw", fromBase64url(keyText), "AES-GCM", false, ["decrypt"]);
  const bytes = new Uint8Array(data);
  return subtle().decrypt({ name: "AES-GCM", iv: bytes.subarray(0, 12) }, key, bytes.subarray(12));
}

/** A passphrase to suggest: 20 random letters and digits without look-alikes (about 100
 * bits), in groups of four. */
export function suggestPassphrase() {
  const alphabet = "abcdefghjkmnpqrstuvwxyz23456789";
  const chars = [];
  while (chars.length < 20) {
    // Bytes past the last whole run of the alphabet are dropped, so every letter is as likely.
    for (const b of globalThis.crypto.getRandomValues(new Uint8Array(32))) {
      if (b < 248 && chars.length < 20) chars.push(alphabet[b % alphabet.length]);
    }
  }
  return [0, 4, 8, 12, 16].map((i) => chars.slice(i, i + 4).join("")).join("-");
}
