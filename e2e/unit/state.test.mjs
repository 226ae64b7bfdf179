// Unit tests of the page's state (assets/js/state/store.js) under `node --test`: server events in,
// what the views are told and what goes back to the server out. No browser: the API, the
// socket and the page around the state are fakes.

import { test } from "node:test";
import assert from "node:assert/strict";

import { ChatState, fold } from "../../assets/js/state/store.js";
import { loadI18n } from "../../assets/js/core/i18n.js";

const me = { id: "u_me", username: "me", display_name: "Me" };
const bob = { id: "u_bob", username: "bob", display_name: "Bob", avatar_url: "" };

/** A socket that records what the state sends. */
class FakeSocket extends EventTarget {
  sent = [];
  send(frame) {
    this.sent.push(frame);
  }
  start() {}
  stop() {}
}

function room(id, fields = {}) {
  return { id, name: id, kind: "public", role: "member", last_seq: 0, read_seq: 0, unread: 0,
    unread_mentions: 0, created_at: "2026-01-01T00:00:00Z", ...fields };
}

function message(roomId, seq, sender = bob, body = `hello ${seq}`, mentions = []) {
  return { id: `${roomId}-${seq}`, room_id: roomId, seq, sender, client_id: `c${seq}`, body,
    mentions, ts: `2026-01-01T00:00:${String(seq).padStart(2, "0")}Z` };
}

/** A state with two rooms, "lobby" open, and fakes to look at. */
/** A Storage (as localStorage) in memory. */
class FakeStorage {
  items = new Map();
  get length() {
    return this.items.size;
  }
  key(i) {
    return [...this.items.keys()][i] ?? null;
  }
  getItem(key) {
    return this.items.get(key) ?? null;
  }
  setItem(key, value) {
    this.items.set(key, String(value));
  }
  removeItem(key) {
    this.items.delete(key);
  }
}

async function setUp({ hidden = false, storage = new FakeStorage(), receipts = [], rooms = null } = {}) {
  const socket = new FakeSocket();
  const notified = [];
  const routes = [];
  const env = {
    hidden: () => hidden,
    onReturn() {},
    notify: (...args) => notified.push(args),
    route: () => null,
    setRoute: (roomId, replace) => routes.push([roomId, replace]),
    onRoute() {},
    storage,
  };
  const call = async (method, path) => {
    if (path.includes("/messages")) return { messages: [], history_start: true };
    if (path.endsWith("/members")) return { members: [] };
    if (path === `/users/${bob.id}`) return { user: bob };
    if (path.endsWith("/receipts")) return { receipts: receipts.map(([user_id, read_seq]) => ({ user_id, read_seq })) };
    return {};
  };
  const i18n = await loadI18n("en");
  const state = new ChatState(me, { call, socket, env, t: (k, p) => i18n.t(k, p) });
  const changes = [];
  state.addEventListener("change", (e) => changes.push(e.detail.what));
  state.onEvent({ type: "ready", user: me, rooms: rooms || [room("lobby", { last_seq: 0 }), room("quiet")] });
  state.open("lobby");
  await new Promise((resolve) => setTimeout(resolve, 0));
  return { state, socket, notified, changes, routes, storage };
}

test("messages from others count as unread in rooms not open", async () => {
  const { state } = await setUp();
  state.onEvent({ type: "message", message: message("quiet", 1) });
  state.onEvent({ type: "message", message: message("quiet", 2, bob, "hi @me", [{ user_id: me.id }]) });
  assert.equal(state.rooms.get("quiet").unread, 2);
  assert.equal(state.rooms.get("quiet").unread_mentions, 1);
  assert.equal(state.totalUnread(), 2);
  // The same message again (a sync replay) changes nothing.
  state.onEvent({ type: "message", message: message("quiet", 2) });
  assert.equal(state.rooms.get("quiet").unread, 2);
});

test("the open room is read as messages arrive, and the server is told", async () => {
  const { state, socket } = await setUp();
  state.onEvent({ type: "message", message: message("lobby", 1) });
  assert.equal(state.rooms.get("lobby").unread, 0);
  assert.deepEqual(socket.sent.at(-1), { type: "read", room_id: "lobby", seq: 1 });
});

test("a hidden tab reads nothing and notifies instead", async () => {
  const { state, socket, notified } = await setUp({ hidden: true });
  state.onEvent({ type: "message", message: message("lobby", 1) });
  assert.equal(state.rooms.get("lobby").unread, 1);
  assert.equal(socket.sent.filter((f) => f.type === "read").length, 0);
  state.onEvent({ type: "notify", room_id: "lobby", seq: 1, message_id: "lobby-1" });
  assert.equal(notified.length, 1);
  const [title, body, tag] = notified[0];
  assert.equal(title, "Bob in lobby");
  assert.equal(body, "hello 1");
  assert.equal(tag, "lobby-1");
});

test("messages are kept in seq order whatever order they come in", async () => {
  const { state } = await setUp();
  for (const seq of [3, 1, 2]) state.onEvent({ type: "message", message: message("quiet", seq) });
  assert.deepEqual(state.log("quiet").list().map((m) => m.seq), [1, 2, 3]);
  assert.equal(state.rooms.get("quiet").last_seq, 3);
});

test("losing a room to an error event closes it", async () => {
  const { state, changes } = await setUp();
  state.onEvent({ type: "error", code: "forbidden", room_id: "quiet", message: "banned" });
  assert.equal(state.rooms.has("quiet"), false);
  assert.ok(changes.includes("rooms"));
});

test("the address follows the open room", async () => {
  const { state, routes } = await setUp();
  // Ready opened a room in place of the start page's address, then the test opened lobby.
  assert.deepEqual(routes[0][1], true);
  state.open("quiet");
  assert.deepEqual(routes.at(-1), ["quiet", false]);
  const before = routes.length;
  state.open("lobby", { history: false });
  assert.equal(routes.length, before, "Back and Forward move the address themselves");
});

test("drafts outlive a reload, and signing out forgets them", async () => {
  const storage = new FakeStorage();
  storage.setItem("natter.draft.u_other.lobby", "someone else's");
  const first = await setUp({ storage });
  first.state.setDraft("lobby", "half a thought");
  first.state.setDraft("quiet", "another");
  first.state.setDraft("quiet", "");
  const reloaded = await setUp({ storage });
  assert.equal(reloaded.state.draft("lobby"), "half a thought");
  assert.equal(reloaded.state.draft("quiet"), "");
  reloaded.state.forgetDrafts();
  assert.equal(storage.getItem("natter.draft.u_me.lobby"), null);
  assert.equal(storage.getItem("natter.draft.u_other.lobby"), "someone else's");
});

test("messages the server already counted are not counted again", async () => {
  const { state } = await setUp();
  // Reconnected: ready says quiet has 1 unread up to seq 5; the sync replay then brings it.
  state.onEvent({ type: "ready", user: me, rooms: [room("lobby"), room("quiet", { last_seq: 5, unread: 1 })] });
  state.onEvent({ type: "message", message: message("quiet", 5) });
  assert.equal(state.rooms.get("quiet").unread, 1);
  state.onEvent({ type: "message", message: message("quiet", 6) });
  assert.equal(state.rooms.get("quiet").unread, 2);
});

test("the sidebar has rooms and direct messages apart, filtered by any case and accent", async () => {
  const { state } = await setUp({ rooms: [
    room("lobby", { name: "Lobby" }), room("cafe", { name: "Café ☕" }),
    room("dm", { kind: "direct", name: "dm", direct_user_ids: [me.id, bob.id] }),
  ] });
  state.users.set(bob.id, bob);
  let { rooms, direct } = state.sections();
  assert.deepEqual(rooms.map((r) => r.id).sort(), ["cafe", "lobby"]);
  assert.deepEqual(direct.map((r) => r.id), ["dm"]);
  assert.deepEqual(state.sections("CAFE").rooms.map((r) => r.id), ["cafe"]);
  ({ rooms, direct } = state.sections("bo"));
  assert.deepEqual([rooms.length, direct.map((r) => r.id)], [0, ["dm"]], "a direct room is found by the person's name");
  assert.equal(fold("Ça Élan"), "ca elan");
});

test("Alt+arrows move through the sidebar's order and wrap around", async () => {
  const { state } = await setUp();
  const order = [...state.sections().rooms, ...state.sections().direct].map((r) => r.id);
  const at = order.indexOf(state.current);
  assert.equal(state.neighbour(1), order[(at + 1) % order.length]);
  assert.equal(state.neighbour(-1), order[(at - 1 + order.length) % order.length]);
});

test("read receipts place each reader at the newest loaded message they have read", async () => {
  const { state } = await setUp({ receipts: [["u_bob", 2], ["u_me", 3], ["u_cleo", 9]] });
  for (const seq of [1, 2, 3]) state.onEvent({ type: "message", message: message("lobby", seq) });
  state.users.set("u_cleo", { id: "u_cleo", username: "cleo", display_name: "Cleo" });
  state.open("lobby");
  await new Promise((resolve) => setTimeout(resolve, 0));
  let seen = state.seenBy("lobby");
  assert.deepEqual(seen.get(2).map((u) => u.id), ["u_bob"]);
  assert.deepEqual(seen.get(3).map((u) => u.id), ["u_cleo"], "a marker past the loaded messages sits at the newest; you are left out");
  state.onEvent({ type: "receipt", room_id: "lobby", user_id: "u_bob", seq: 3 });
  seen = state.seenBy("lobby");
  assert.equal(seen.has(2), false);
  assert.deepEqual(seen.get(3).map((u) => u.id).sort(), ["u_bob", "u_cleo"]);
});

test("a refused message is not sent again on reconnect, and can be discarded", async () => {
  const { state, socket } = await setUp();
  state.send("lobby", "too fast");
  const clientId = socket.sent.at(-1).client_id;
  state.onEvent({ type: "error", code: "rate_limited", client_id: clientId, message: "slow down" });
  assert.equal(state.pendingIn("lobby")[0].error, "rate_limited");
  const before = socket.sent.length;
  state.onEvent({ type: "ready", user: me, rooms: [room("lobby"), room("quiet")] });
  assert.equal(socket.sent.filter((f, i) => i >= before && f.type === "send").length, 0);
  state.discard(clientId);
  assert.deepEqual(state.pendingIn("lobby"), []);
});

test("a message refused busy is sent again by itself, and later ones in its room wait behind it", async (t) => {
  const { state, socket } = await setUp();
  socket.send = (frame) => socket.sent.push(frame) > 0; // connected: the frame went
  t.mock.timers.enable({ apis: ["setTimeout"] });
  state.send("lobby", "first");
  const first = socket.sent.at(-1).client_id;
  state.onEvent({ type: "error", code: "busy", client_id: first, room_id: "lobby", message: "busy", retry_after_ms: 500 });
  assert.equal(state.pendingIn("lobby")[0].state, "pending", "not shown as failed");
  const before = socket.sent.length;
  state.send("lobby", "second");
  state.send("quiet", "elsewhere");
  const sends = () => socket.sent.slice(before).filter((f) => f.type === "send").map((f) => f.body);
  assert.deepEqual(sends(), ["elsewhere"], "the room's next message waits; other rooms do not");
  t.mock.timers.tick(1000); // the hint, at most doubled by the jitter
  assert.deepEqual(sends(), ["elsewhere", "first", "second"], "in the order they were written");
  assert.equal(socket.sent.filter((f) => f.client_id === first).length, 2, "with the same client_id");
  state.onEvent({ type: "ack", client_id: first, message: { ...message("lobby", 1, me, "first"), client_id: first } });
  assert.equal(state.pendingIn("lobby").length, 1);
});

test("notices are catalogue keys, so they show in the user's language", async () => {
  const { state } = await setUp();
  state.onEvent({ type: "member_banned", room_id: "quiet", user_id: me.id, reason: "spam" });
  assert.equal(state.notices.length, 1);
  const { key, params } = state.notices[0];
  assert.equal((await loadI18n("en")).t(key, params), "You were banned from “quiet”. Reason: spam");
  state.dismissNotice(state.notices[0].id);
  assert.equal(state.notices.length, 0);
});

test("a room never opened starts afresh after a reconnect, so no hole is left in its history", async () => {
  const { state } = await setUp();
  state.onEvent({ type: "message", message: message("quiet", 100) }); // live, quiet not opened
  state.onEvent({ type: "ready", user: me, rooms: [room("lobby"), room("quiet", { last_seq: 300 })] });
  assert.equal(state.logs.has("quiet"), false, "the lone live message is not kept as the start of its history");
});

test("our own message arriving before its ack is sent, not pending", async () => {
  const { state, socket } = await setUp();
  state.send("lobby", "first");
  const clientId = socket.sent.at(-1).client_id;
  state.onEvent({ type: "message", message: { ...message("lobby", 1, me, "first"), client_id: clientId } });
  assert.deepEqual(state.pendingIn("lobby"), []);
  state.failPending("connection_lost"); // the connection drops before the ack
  assert.deepEqual(state.pendingIn("lobby"), [], "nothing shows as not sent");
});

test("while the list is scrolled up, new messages are not marked read", async () => {
  const { state, socket } = await setUp();
  state.following = false;
  state.onEvent({ type: "message", message: message("lobby", 1) });
  assert.equal(state.rooms.get("lobby").unread, 1);
  assert.equal(socket.sent.filter((f) => f.type === "read").length, 0);
  state.following = true;
  state.markRead();
  assert.deepEqual(socket.sent.at(-1), { type: "read", room_id: "lobby", seq: 1 });
  assert.equal(state.rooms.get("lobby").unread, 0);
});

test("our own read marker at the newest message clears the counts without asking the server", async () => {
  const calls = [];
  const { state } = await setUp();
  const call = state.api;
  state.api = (method, path) => {
    calls.push(path);
    return call(method, path);
  };
  Object.assign(state.rooms.get("quiet"), { last_seq: 4, unread: 3, unread_mentions: 1 });
  state.onEvent({ type: "read", room_id: "quiet", seq: 4 });
  assert.equal(state.rooms.get("quiet").unread, 0);
  assert.deepEqual(calls, []);
});

test("counts from the server that are older than what came live do not undo it", async () => {
  const { state } = await setUp();
  let answer;
  state.api = (method, path) => (path === "/rooms/dm"
    ? new Promise((resolve) => { answer = resolve; })
    : Promise.resolve({ user: bob, members: [], receipts: [], messages: [], history_start: true }));
  // A direct room appears, its first message arrives live, then the server's counts (taken
  // before that message was stored) come back.
  state.onEvent({ type: "room_updated", room_id: "dm", room: room("dm", { kind: "direct", direct_user_ids: [me.id, bob.id] }) });
  state.onEvent({ type: "message", message: message("dm", 1) });
  assert.equal(state.rooms.get("dm").unread, 1);
  answer({ room: { ...room("dm"), last_seq: 0, unread: 0, unread_mentions: 0 } });
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(state.rooms.get("dm").unread, 1, "the stale answer is not taken");
  assert.equal(state.unreadElsewhere(), 1);
});

// --- the room timeline (protocol §6) ---------------------------------------------------

/** A change event as the server sends it: its own seq, the message after the change. */
function change(type, seq, msg, extra = {}) {
  return { type, room_id: msg.room_id, seq, message_seq: msg.seq, user_id: bob.id, message: msg, ...extra };
}

test("change events replace the message by its seq and never count as unread", async () => {
  const { state } = await setUp();
  state.onEvent({ type: "message", message: message("quiet", 1) });
  assert.equal(state.rooms.get("quiet").unread, 1);
  const edited = { ...message("quiet", 1, bob, "fixed"), edited_at: "2026-01-01T00:01:00Z" };
  state.onEvent(change("message_edited", 2, edited));
  const pinned = { ...edited, pinned: true };
  state.onEvent(change("message_pinned", 3, pinned));
  const log = state.log("quiet");
  assert.equal(log.items.length, 1, "a change adds no row");
  assert.equal(log.items[0].body, "fixed");
  assert.equal(log.items[0].pinned, true);
  assert.equal(state.rooms.get("quiet").unread, 1, "changes never count");
  assert.equal(state.rooms.get("quiet").last_seq, 3);
  assert.equal(state.rooms.get("quiet").last_message.body, "fixed", "the preview shows the message as it is now");
  // The next message is news after the changes' seqs.
  state.onEvent({ type: "message", message: message("quiet", 4) });
  assert.equal(state.rooms.get("quiet").unread, 2);
});

test("a sync starts after the newest event applied, changes included", async () => {
  const { state, socket } = await setUp();
  state.onEvent({ type: "message", message: message("lobby", 1) });
  state.log("lobby").loaded = true;
  state.onEvent(change("reaction_added", 2, { ...message("lobby", 1), reactions: [{ emoji: "👍", count: 1, user_ids: [bob.id] }] }, { emoji: "👍" }));
  socket.sent = [];
  state.onEvent({ type: "ready", user: me, rooms: [room("lobby", { last_seq: 2 }), room("quiet")] });
  assert.deepEqual(socket.sent.find((f) => f.type === "sync").since, { lobby: 2 });
});

test("reactions keep `me`: set by our own event, carried over from the copy held otherwise", async () => {
  const { state } = await setUp();
  const plain = message("lobby", 1);
  state.onEvent({ type: "message", message: plain });
  const one = { ...plain, reactions: [{ emoji: "👍", count: 1, user_ids: [me.id] }] };
  state.onEvent({ ...change("reaction_added", 2, one, { emoji: "👍" }), user_id: me.id });
  assert.equal(state.log("lobby").items[0].reactions[0].me, true);
  // Someone else's reaction to the same emoji: ours stays.
  const many = Array.from({ length: 25 }, (_, i) => `u${i}`);
  const two = { ...plain, reactions: [{ emoji: "👍", count: 26, user_ids: many.slice(0, 20) }] };
  state.onEvent(change("reaction_added", 3, two, { emoji: "👍" }));
  assert.equal(state.log("lobby").items[0].reactions[0].me, true, "carried over though we are not in the first 20");
  const gone = { ...plain, reactions: [{ emoji: "👍", count: 25, user_ids: many.slice(0, 20) }] };
  state.onEvent({ ...change("reaction_removed", 4, gone, { emoji: "👍" }), user_id: me.id });
  assert.equal(state.log("lobby").items[0].reactions[0].me, false);
});

test("a deleted message leaves a tombstone, and replies quote it no more", async () => {
  const { state } = await setUp();
  const original = message("lobby", 1);
  state.onEvent({ type: "message", message: original });
  const reply = { ...message("lobby", 2, me, "yes"), reply_to: { seq: 1, sender: bob, excerpt: "hello 1", deleted: false } };
  state.onEvent({ type: "message", message: reply });
  state.compose("lobby", "reply", original);
  const tomb = { ...original, body: "", deleted: true, reactions: [] };
  state.onEvent(change("message_deleted", 3, tomb));
  const [first, second] = state.log("lobby").items;
  assert.equal(first.deleted, true);
  assert.deepEqual(second.reply_to, { seq: 1, sender: bob, excerpt: "", deleted: true });
  assert.equal(state.composing.has("lobby"), false, "no reply to a deleted message");
});

test("a history answer does not undo a change that came live while it was on its way", async () => {
  const { state } = await setUp();
  const log = state.log("lobby");
  const asked = log.lastEvent;
  state.onEvent({ type: "message", message: message("lobby", 1) });
  state.onEvent(change("message_edited", 2, { ...message("lobby", 1, bob, "new text"), edited_at: "2026-01-01T00:02:00Z" }));
  // A change to a message not held yet (the page with it is on its way) is kept for it.
  const quiet = state.log("quiet");
  state.onEvent(change("message_deleted", 3, { ...message("quiet", 7), body: "", deleted: true }));
  assert.equal(quiet.items.length, 0);
  state.addPage(log, [message("lobby", 1, bob, "old text")], asked);
  state.addPage(quiet, [message("quiet", 7, bob, "secret")], 0);
  assert.equal(log.items[0].body, "new text");
  assert.equal(quiet.items[0].deleted, true, "the deletion wins over the older page");
});

test("a deleted message from someone else is unread no more", async () => {
  const { state } = await setUp();
  state.onEvent({ type: "message", message: message("quiet", 1, bob, "hi @me", [{ user_id: me.id }]) });
  state.onEvent({ type: "message", message: message("quiet", 2) });
  assert.deepEqual([state.rooms.get("quiet").unread, state.rooms.get("quiet").unread_mentions], [2, 1]);
  state.onEvent(change("message_deleted", 3, { ...message("quiet", 1), body: "", deleted: true, mentions: [] }));
  assert.deepEqual([state.rooms.get("quiet").unread, state.rooms.get("quiet").unread_mentions], [1, 0]);
});

test("Arrow-Up finds the last message of ours that is not deleted", async () => {
  const { state } = await setUp();
  state.onEvent({ type: "message", message: message("lobby", 1, me, "mine") });
  state.onEvent({ type: "message", message: { ...message("lobby", 2, me, ""), deleted: true } });
  state.onEvent({ type: "message", message: message("lobby", 3) });
  assert.equal(state.lastOwn("lobby").seq, 1);
});

test("attachments upload with progress, go with the next message, and a dropped one is forgotten", async () => {
  const { state, socket } = await setUp();
  const jobs = [];
  const deleted = [];
  state.env.upload = (file, onProgress) => {
    let settle;
    const promise = new Promise((resolve, reject) => { settle = { resolve, reject }; });
    const job = { file, onProgress, settle, aborted: false };
    jobs.push(job);
    return { promise, abort: () => { job.aborted = true; settle.reject({ code: "cancelled" }); } };
  };
  state.env.preview = (file) => `blob:${file.name}`;
  state.env.unpreview = () => {};
  state.api = async (method, path) => {
    if (method === "DELETE") deleted.push(path);
    return {};
  };
  state.attach("lobby", [{ name: "a.png", size: 10, type: "image/png" }, { name: "b.txt", size: 5, type: "text/plain" }]);
  assert.equal(state.attachments("lobby").length, 2);
  assert.equal(state.attachments("lobby")[0].preview, "blob:a.png");
  assert.equal(state.attachmentsReady("lobby"), false);
  jobs[0].onProgress(0.5);
  assert.equal(state.attachments("lobby")[0].progress, 0.5);
  // b.txt is dropped while it uploads: its upload stops.
  state.detach("lobby", state.attachments("lobby")[1].key);
  assert.equal(jobs[1].aborted, true);
  jobs[0].settle.resolve({ id: "up1", filename: "a.png", content_type: "image/png", size: 10, url: "/api/v1/uploads/up1" });
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(state.attachmentsReady("lobby"), true);
  state.send("lobby", "", null);
  const frame = socket.sent.find((f) => f.type === "send");
  assert.deepEqual(frame.attachments, ["up1"]);
  assert.equal(frame.body, "");
  assert.equal(state.attachments("lobby").length, 0, "the tray empties once sent");
  assert.equal(state.pendingIn("lobby")[0].attachments[0].id, "up1");
  // Over the server's limit (from `ready`): refused here, nothing sent.
  state.limits = { max_upload_bytes: 100, max_attachments: 10 };
  state.attach("lobby", [{ name: "huge.bin", size: 101, type: "" }]);
  assert.equal(state.attachments("lobby")[0].status, "failed");
  assert.equal(state.attachments("lobby")[0].error, "payload_too_large");
  assert.equal(jobs.length, 2, "no upload started");
  state.detach("lobby", state.attachments("lobby")[0].key);
  // One finished and then dropped: the server is told to forget it.
  state.attach("lobby", [{ name: "c.png", size: 3, type: "image/png" }]);
  jobs[2].settle.resolve({ id: "up3" });
  await new Promise((r) => setTimeout(r, 0));
  state.detach("lobby", state.attachments("lobby")[0].key);
  assert.deepEqual(deleted, ["/uploads/up3"]);
});
