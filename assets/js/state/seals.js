// The sealed rooms this browser can read: their content keys (kept in the browser's own key
// store, `env.keys`: IndexedDB in a page, never sent anywhere), the messages opened with them,
// and the files opened for display. core/sealed.js does the cryptography.
//
// Opening is asynchronous and views render synchronously, so `view(message)` answers from
// what is already open and starts opening the rest; when that is done, `onChange(roomId)`
// makes the views render again. A viewed message is the server's copy with its sealed parts
// replaced by what they say (`body`, the files' names, types and keys, the reply's quote)
// and `sealed` saying how it went: "open", "opening", "locked" (no key here yet) or
// "broken" (it does not open with the room's key). Each is made once per copy, so rows that
// compare messages by identity stay cheap.

import { ITERATIONS, deriveKeys, isSealed, newSeal, openFile, openMessage, opensCheck, sealFile, sealMessage } from "../core/sealed.js";
import { fold } from "./store.js";

/** The most opened bodies kept (each is a few hundred bytes; a room's loaded history is
 * usually far fewer). */
const MAX_OPENED = 20000;
/** The most files kept opened (their bytes are held by the page while it has them). */
const MAX_FILES = 200;
/** How long a file that did not open waits before it is fetched again. */
const RETRY_FILE_MS = 30000;

/** A server-supplied seal within the bounds rooms are made with: a compromised server could
 * otherwise ask for 1 iteration (a proof cheap to brute-force) or billions (a hung tab). */
function checkSeal(seal) {
  if (!seal || !(seal.iterations >= ITERATIONS && seal.iterations <= 10000000)) {
    throw Object.assign(new Error("unacceptable seal"), { code: "invalid_input" });
  }
}

/** The type a sealed file is opened as: the sender's for media the page shows, else bytes. */
function shownType(type) {
  return /^(image\/(png|jpeg|gif|webp)|video\/(mp4|webm|ogg)|audio\/[a-z0-9.+-]+)$/.test(type) ? type : "application/octet-stream";
}

export class SealedRooms {
  constructor(me, { call, keys, fetchBytes, onChange, sealedRoom = () => true }) {
    this.me = me;
    this.call = call;
    /** Whether a room is sealed: only there is a body of the sealed shape opened. */
    this.sealedRoom = sealedRoom;
    this.store = keys;
    this.fetchBytes = fetchBytes;
    this.onChange = onChange;
    /** room id → CryptoKey, or null when this browser has none (looked up once). */
    this.keys = new Map();
    /** room id + sealed body → {status, value} (a body opens only in its own room) */
    this.opened = new Map();
    /** message copy → its view */
    this.views = new WeakMap();
    /** upload id → {status: "opening"|"open"|"failed", url} */
    this.files = new Map();
  }

  isSealed(room) {
    return Boolean(room?.seal);
  }

  /** Whether this browser holds the room's key (null: not looked up yet, and now asked). */
  unlocked(roomId) {
    if (!this.keys.has(roomId)) {
      this.keys.set(roomId, undefined);
      this.load(roomId);
      return null;
    }
    const key = this.keys.get(roomId);
    return key === undefined ? null : Boolean(key);
  }

  async load(roomId) {
    let key = null;
    try {
      key = (await this.store?.get(this.id(roomId))) || null;
    } catch {
      key = null;
    }
    const had = this.keys.get(roomId);
    if (had) return had; // unlocked meanwhile
    this.keys.set(roomId, key);
    this.onChange(roomId);
    return key;
  }

  async key(roomId) {
    const known = this.keys.get(roomId);
    return known === undefined ? this.load(roomId) : known;
  }

  id(roomId) {
    return `${this.me.id}:${roomId}`;
  }

  async remember(roomId, key) {
    this.keys.set(roomId, key);
    try {
      await this.store?.put(this.id(roomId), key);
    } catch {
      // Storage refused (private browsing): the key lasts as long as the page.
    }
    // Bodies that could not be opened before may open now.
    for (const [at, o] of this.opened) if (o.status !== "open") this.opened.delete(at);
    this.views = new WeakMap();
    this.onChange(roomId);
  }

  /** Forgets a room's key here (leaving it, or it is gone). */
  forget(roomId) {
    this.keys.set(roomId, null);
    this.store?.delete(this.id(roomId))?.catch?.(() => {});
  }

  /** Makes a sealed room: the passphrase stays here; the server gets the seal and the proof. */
  async create(fields, passphrase) {
    const { seal, proof, key } = await newSeal(passphrase);
    const { room } = await this.call("POST", "/rooms", { ...fields, visibility: "private", seal: { ...seal, proof } });
    await this.remember(room.id, key);
    return room;
  }

  /** The seal of a room by name, or null when it is not sealed (no such room: an ApiError). */
  async sealOf(name) {
    const { seal } = await this.call("GET", `/rooms/seal?name=${encodeURIComponent(name)}`);
    return seal || null;
  }

  /** Joins a sealed room with its passphrase (the server checks the proof derived from it). */
  async join(name, seal, passphrase) {
    checkSeal(seal);
    const { key, proof } = await deriveKeys(passphrase, seal);
    const { room } = await this.call("POST", "/rooms/join", { name, proof });
    await this.remember(room.id, key);
    return room;
  }

  /** Unlocks a room this account is in (a new browser, an invite): true when the
   * passphrase opens the room's check value. Nothing is sent to the server. */
  async unlock(room, passphrase) {
    checkSeal(room.seal);
    const { key } = await deriveKeys(passphrase, room.seal);
    if (!(await opensCheck(key, room.seal))) return false;
    await this.remember(room.id, key);
    return true;
  }

  // --- messages ------------------------------------------------------------------------------

  /** The message as members read it (see the top of this file). */
  view(message) {
    if (!isSealed(message?.body) || !this.sealedRoom(message.room_id)) return message;
    const made = this.views.get(message);
    if (made) return made;
    const o = this.open(message.room_id, message.body);
    if (o.status === "opening") return { ...message, body: "", sealed: "opening" };
    const view = o.status === "open" ? this.applied(message, o.value) : { ...message, body: "", sealed: o.status };
    this.views.set(message, view);
    return view;
  }

  applied(message, value) {
    const files = new Map((Array.isArray(value.files) ? value.files : []).map((f) => [f.id, f]));
    return {
      ...message,
      body: value.text,
      sealed: "open",
      // A sealed body names its sender inside: another member (who holds the key too) or the
      // server could otherwise put words in someone else's mouth.
      forged: value.from !== message.sender?.id,
      attachments: (message.attachments || []).map((a) => {
        const f = files.get(a.id);
        return f ? sealedAttachment(a, f) : a;
      }),
      reply_to: message.reply_to && { ...message.reply_to, excerpt: String(value.reply?.excerpt || "") },
    };
  }

  /** What a sealed body says: `{status, value}`, opening it in the background if need be. */
  open(roomId, body) {
    const at = `${roomId}\n${body}`;
    const known = this.opened.get(at);
    if (known) return known;
    const key = this.keys.get(roomId);
    if (key === undefined) {
      this.unlocked(roomId);
      return { status: "opening" };
    }
    if (!key) return { status: "locked" };
    const o = { status: "opening" };
    if (this.opened.size >= MAX_OPENED) this.opened.delete(this.opened.keys().next().value);
    this.opened.set(at, o);
    o.done = openMessage(key, roomId, body).then(
      (value) => Object.assign(o, { status: "open", value }),
      () => Object.assign(o, { status: "broken" }),
    );
    o.done.then(() => this.onChange(roomId));
    return o;
  }

  /** What a sealed body says, once opened (null if it does not open here). */
  async opening(roomId, body) {
    await this.key(roomId);
    const o = this.open(roomId, body);
    if (o.done) await o.done;
    return o.status === "open" ? o.value : null;
  }

  /** Searches a sealed room here, in its loaded messages (the server cannot): those whose
   * text holds every word of `q` (any case, any accents), newest first, shaped like the
   * server's results (`{room_id, message, highlights}`). */
  async search(roomId, messages, q) {
    const terms = fold(q).split(/\s+/).filter(Boolean);
    const found = [];
    if (!terms.length) return found;
    for (let i = messages.length - 1; i >= 0; i--) {
      const m = messages[i];
      if (m.deleted || !isSealed(m.body)) continue;
      const value = await this.opening(roomId, m.body);
      if (!value) continue;
      const highlights = wordsAt(value.text, terms);
      if (highlights) found.push({ room_id: roomId, message: this.applied(m, value), highlights });
    }
    return found;
  }

  /** Seals what a message says for its room (the files' keys and the quote inside). */
  async seal(roomId, { text, files = [], reply = null }) {
    const key = await this.key(roomId);
    if (!key) throw Object.assign(new Error("locked"), { code: "sealed_locked" });
    const value = { v: 1, from: this.me.id, text, files };
    if (reply) value.reply = reply;
    const body = await sealMessage(key, roomId, value);
    this.opened.set(`${roomId}\n${body}`, { status: "open", value });
    return body;
  }

  /** A new text for a sealed message, keeping its files and quote. */
  async reseal(roomId, message, text) {
    const value = await this.opening(roomId, message.body);
    if (!value) throw Object.assign(new Error("locked"), { code: "sealed_locked" });
    return this.seal(roomId, { ...value, text });
  }

  // --- files -----------------------------------------------------------------------------------

  /** Seals a file before it is uploaded: `{blob, meta}` (meta goes in the message). */
  async sealFile(file) {
    const { key, data } = await sealFile(await file.arrayBuffer());
    const meta = { key, name: file.name || "file", type: file.type || "application/octet-stream", size: file.size };
    // An image's size, so its box is kept while it opens (the server cannot measure it).
    if (/^image\//.test(meta.type) && globalThis.createImageBitmap) {
      try {
        const bitmap = await createImageBitmap(file);
        Object.assign(meta, { width: bitmap.width, height: bitmap.height });
        bitmap.close();
      } catch {
        // Not an image the browser reads: shown as a file.
      }
    }
    return { blob: new Blob([data], { type: "application/octet-stream" }), meta };
  }

  /** The local address of a sealed file opened for display: `{status, url}`. */
  file(a) {
    const known = this.files.get(a.id);
    if (known) return known;
    const f = { status: "opening", url: null };
    if (this.files.size >= MAX_FILES) {
      const [oldest, gone] = this.files.entries().next().value;
      if (gone.url) URL.revokeObjectURL(gone.url);
      this.files.delete(oldest);
    }
    this.files.set(a.id, f);
    f.done = this.fetchBytes(a.sealed_url)
      .then((data) => openFile(a.sealed_key, data))
      .then(
        // Shown as the sender said only for media the page displays; anything else is bytes
        // to download (a sender could otherwise name HTML or SVG, opened on our origin).
        (bytes) => Object.assign(f, { status: "open", url: URL.createObjectURL(new Blob([bytes], { type: shownType(a.content_type) })) }),
        () => {
          Object.assign(f, { status: "failed" });
          // Tried again later (the network may have been down), not on every render.
          setTimeout(() => this.files.get(a.id) === f && this.files.delete(a.id), RETRY_FILE_MS);
        },
      );
    return f;
  }

  /** Forgets the files opened here (signing out). */
  clear() {
    for (const f of this.files.values()) if (f.url) URL.revokeObjectURL(f.url);
    this.files.clear();
    this.opened.clear();
    this.keys.clear();
  }
}

/** A sealed file as the views show it: the upload with the name, type and size from inside
 * the message, and where its sealed bytes are. */
export function sealedAttachment(upload, f) {
  return {
    ...upload,
    filename: String(f.name || "file"),
    content_type: String(f.type || "application/octet-stream"),
    size: Number(f.size) || upload.size,
    width: f.width || null,
    height: f.height || null,
    thumbnail_url: null,
    sealed_key: String(f.key || ""),
    sealed_url: upload.url,
  };
}

/** Where each of `terms` (folded) first occurs in `text`, as code-point ranges sorted by
 * start, or null when one of them does not occur. */
export function wordsAt(text, terms) {
  // The folded text, and for each of its characters the code point of `text` it came from.
  const chars = Array.from(text);
  let folded = "";
  const from = [];
  chars.forEach((ch, i) => {
    for (const f of fold(ch)) {
      folded += f;
      from.push(i);
    }
  });
  const ranges = [];
  for (const term of terms) {
    const at = folded.indexOf(term);
    if (at < 0) return null;
    const units = Array.from(folded.slice(0, at)).length;
    const last = units + Array.from(term).length - 1;
    ranges.push([from[units], from[last] + 1]);
  }
  return ranges.sort((a, b) => a[0] - b[0]);
}
