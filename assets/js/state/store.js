// The page's model of the chat: rooms, messages per room, members, presence, typing, read
// receipts, pending sends, drafts, and what the composer is doing (replying, editing). It
// applies server events and tells the views what changed through "change" events whose detail
// names the part ("rooms", "room", "messages", "older", "members", "typing", "receipts",
// "connection", "notice", "me", "compose", "attach", "signed-out").
//
// A room's timeline (protocol §6): new messages and changes to them (edits, deletions,
// reactions, pins) each take the room's next seq; a change event carries the message after
// the change, which replaces the copy held. `reactions[].me` is kept here (events carry the
// acting user instead).
//
// It touches no page globals: the API, the socket and the page around it (is the tab hidden,
// the address, storage, desktop notifications: state/env.js in a browser) are handed in, so
// `node --test` drives it (e2e/unit/state.test.mjs). Texts it makes (notices, notification
// titles) are catalogue keys with parameters, or go through the `t` it is given.

import { api } from "../core/api.js";
import { SealedRooms, sealedAttachment as sealedView } from "./seals.js";

const PAGE = 50;

/** Ranks, lowest first. */
export const RANK = { member: 0, moderator: 1, admin: 2, owner: 3 };
/** A room's permission table before the server sends one (protocol: `PATCH /rooms/{id}`). */
export const DEFAULT_PERMISSIONS = {
  post: "member", react: "member", upload: "member", reply: "member", pin: "moderator",
  invite: "moderator", mention_room: "moderator", delete_others: "moderator", kick: "moderator",
  mute: "moderator", ban: "admin", change_settings: "admin",
};
const SEND_TIMEOUT_MS = 10000;
/** Times a send refused with `busy` is tried again by itself before it shows as failed. */
const BUSY_TRIES = 5;

/** One room's loaded messages, kept in seq order (new ones nearly always go at the end). */
export class RoomLog {
  constructor() {
    this.bySeq = new Map();
    this.items = [];
    this.historyStart = false;
    this.loaded = false;
    /** Bumped on every change, so views can tell a changed log from the same one. */
    this.version = 0;
    /** The newest timeline seq applied (messages and changes): what a sync starts from. */
    this.lastEvent = 0;
    /** message seq → {seq, message}: the latest change that came live and the message after
     * it, so a history answer asked for before it does not undo it. */
    this.touched = new Map();
  }
  add(message) {
    const known = this.bySeq.get(message.seq);
    this.bySeq.set(message.seq, message);
    this.version += 1;
    if (known) {
      this.items[this.indexOf(message.seq)] = message;
      return;
    }
    const items = this.items;
    if (!items.length || items[items.length - 1].seq < message.seq) {
      items.push(message);
    } else {
      items.splice(this.insertionPoint(message.seq), 0, message);
    }
  }
  /** The index of the first message with seq >= `seq`. */
  insertionPoint(seq) {
    let lo = 0;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.items[mid].seq < seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
  indexOf(seq) {
    const at = this.insertionPoint(seq);
    return this.items[at]?.seq === seq ? at : -1;
  }
  list() {
    return this.items;
  }
  oldest() {
    return this.items.length ? this.items[0].seq : null;
  }
  /** Where a sync should start: past every event applied. */
  since() {
    return Math.max(this.lastEvent, this.newest());
  }
  newest() {
    return this.items.length ? this.items[this.items.length - 1].seq : 0;
  }
}

/** Does a room's title contain the typed text (any case, any accents)? */
export function fold(text) {
  return String(text).normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();
}

export class ChatState extends EventTarget {
  constructor(me, { call = api, socket, env, t = (key) => key }) {
    super();
    this.api = call;
    this.env = env;
    this.t = t;
    this.me = me;
    this.rooms = new Map();
    this.logs = new Map();
    this.pending = new Map();
    this.members = new Map();
    this.typing = new Map();
    this.presence = new Map();
    this.users = new Map();
    this.drafts = new Map();
    /** room id → {mode: "reply"|"edit", message}: what the composer is doing there. */
    this.composing = new Map();
    /** room id → files being attached to the next message there (see `attach`). */
    this.attaching = new Map();
    /** The message to show and flash once (a reply's original, a search result). */
    this.highlight = null;
    /** room id → Map(user id → seq read up to), of members who share receipts. */
    this.receipts = new Map();
    this.notices = [];
    /** Ids of the people you block: their messages are collapsed (`loadBlocks`, `block`). */
    this.blocked = new Set();
    /** Is the open room's list at its newest message? Only then do new ones count as read. */
    this.following = true;
    this.current = null;
    this.connection = "connecting";
    /** Sealed rooms' keys and what they open (state/seals.js). */
    this.seals = new SealedRooms(me, {
      call,
      sealedRoom: (roomId) => this.sealed(roomId),
      keys: env.keys,
      fetchBytes: env.fetchBytes,
      onChange: (roomId) => {
        this.emit("rooms");
        this.emit("messages", roomId || this.current);
      },
    });
    this.socket = socket;
    this.socket.addEventListener("event", (e) => this.onEvent(e.detail));
    this.socket.addEventListener("state", (e) => {
      this.connection = e.detail;
      if (e.detail !== "connected") this.failPending("connection_lost");
      this.emit("connection");
    });
    this.socket.addEventListener("revoked", () => this.emit("signed-out"));
    // The address names the open room: a reload reopens it, Back and Forward move between rooms.
    this.current = env.route();
    this.unlisten = [
      env.onReturn(() => this.markRead()),
      env.onRoute((roomId) => {
        if (roomId && this.rooms.has(roomId)) this.open(roomId, { history: false });
      }),
    ];
  }

  start() {
    this.socket.start();
    this.loadBlocks();
  }

  loadBlocks() {
    return this.api("GET", "/me/blocks").then(({ users }) => {
      this.blocked = new Set(users.map((u) => u.id));
      this.emit("messages", this.current);
    }, () => {});
  }

  /** Blocks (`on`) or unblocks a person; their messages collapse or come back at once. */
  async block(userId, on) {
    await this.api(on ? "PUT" : "DELETE", `/me/blocks/${userId}`);
    const next = new Set(this.blocked);
    if (on) next.add(userId);
    else next.delete(userId);
    this.blocked = next;
    this.emit("messages", this.current);
  }

  /** Signing out: the socket closes and the page's listeners go. */
  stop() {
    this.socket.stop();
    this.seals.clear();
    for (const off of this.unlisten) off?.();
    this.unlisten = [];
  }

  emit(what, room = null) {
    this.dispatchEvent(new CustomEvent("change", { detail: { what, room } }));
  }

  // --- drafts: kept per room, and in the browser's storage so a reload keeps them -------

  draftKey(roomId) {
    return `natter.draft.${this.me.id}.${roomId}`;
  }

  draft(roomId) {
    if (!this.drafts.has(roomId)) {
      const saved = this.env.storage?.getItem(this.draftKey(roomId));
      if (saved) this.drafts.set(roomId, saved);
    }
    return this.drafts.get(roomId) || "";
  }

  setDraft(roomId, text) {
    if (!roomId) return;
    if (text) {
      this.drafts.set(roomId, text);
      this.env.storage?.setItem(this.draftKey(roomId), text);
    } else {
      this.drafts.delete(roomId);
      this.env.storage?.removeItem(this.draftKey(roomId));
    }
  }

  /** Signing out leaves no drafts behind on this browser. */
  forgetDrafts() {
    const storage = this.env.storage;
    this.drafts.clear();
    if (!storage) return;
    const prefix = `natter.draft.${this.me.id}.`;
    for (let i = storage.length - 1; i >= 0; i--) {
      const key = storage.key(i);
      if (key?.startsWith(prefix)) storage.removeItem(key);
    }
  }

  /** A notice for the user: a catalogue key and its parameters. */
  /** Shows a notice; `action` (`{label, run}`) adds a button, `sticky` keeps it until closed. */
  notice(key, params = {}, { action = null, sticky = false } = {}) {
    this.notices = [...this.notices, { id: `${Date.now()}-${Math.random()}`, key, params, action, sticky }];
    this.emit("notice");
  }

  dismissNotice(id) {
    this.notices = this.notices.filter((n) => n.id !== id);
    this.emit("notice");
  }

  log(roomId) {
    if (!this.logs.has(roomId)) this.logs.set(roomId, new RoomLog());
    return this.logs.get(roomId);
  }

  /** Rooms by latest activity. */
  sortedRooms() {
    const activity = (r) => Date.parse(r.last_message?.ts || r.created_at);
    return [...this.rooms.values()].sort((a, b) => activity(b) - activity(a));
  }

  /** The sidebar's sections, each by latest activity, with only the rooms whose title
   * contains `filter`: `{rooms: [...], direct: [...]}`. */
  sections(filter = "") {
    const wanted = fold(filter.trim());
    const rooms = [];
    const direct = [];
    for (const room of this.sortedRooms()) {
      if (wanted && !fold(this.roomTitle(room)).includes(wanted) && !fold(this.directUsername(room)).includes(wanted)) continue;
      (room.kind === "direct" || room.kind === "group" ? direct : rooms).push(room);
    }
    return { rooms, direct };
  }

  /** The room `delta` places away from the open one in the sidebar's order (Alt+↑/↓). */
  neighbour(delta) {
    const { rooms, direct } = this.sections();
    const order = [...rooms, ...direct];
    if (!order.length) return null;
    const at = order.findIndex((r) => r.id === this.current);
    const next = at < 0 ? 0 : (at + delta + order.length) % order.length;
    return order[next].id;
  }

  totalUnread() {
    let n = 0;
    for (const r of this.rooms.values()) n += r.unread || 0;
    return n;
  }

  /** Unread messages in rooms other than the open one. */
  unreadElsewhere() {
    let n = 0;
    for (const r of this.rooms.values()) if (r.id !== this.current) n += r.unread || 0;
    return n;
  }

  /** The other person of a direct room (null for other rooms, or while unknown). */
  directPeer(room) {
    if (room.kind !== "direct") return null;
    const other = room.direct_user_ids?.find((id) => id !== this.me.id);
    return (other && this.users.get(other)) || null;
  }

  directUsername(room) {
    return this.directPeer(room)?.username || "";
  }

  roomTitle(room) {
    return this.directPeer(room)?.display_name || room.name;
  }

  /** The freshest profile we know of a user (messages carry the one at sending time). */
  userInfo(user) {
    return this.users.get(user.id) || user;
  }

  isAdmin(room) {
    return room.role === "owner" || room.role === "admin";
  }

  /** Moderators and up delete others' messages and pin (protocol: ranks). */
  isModerator(room) {
    return this.isAdmin(room) || room.role === "moderator";
  }

  /** Whether the room's permission table lets you take `action` (on a member of `target`
   * role, for actions on someone: they must rank below you). */
  may(room, action, target = null) {
    const min = room?.permissions?.[action] ?? DEFAULT_PERMISSIONS[action] ?? "owner";
    const mine = RANK[room?.role] ?? -1;
    return mine >= RANK[min] && (target === null || mine > RANK[target]);
  }

  /** A message with `me` on its reactions, carried over from the copy held (events carry the
   * acting user instead); `actor`/`added` say how this event changed ours. */
  withMe(message, held, change = null) {
    if (!message.reactions?.length) return message;
    const reactions = message.reactions.map((r) => {
      if (r.me !== undefined) return r;
      let me = held?.reactions?.find((x) => x.emoji === r.emoji)?.me;
      if (change && change.emoji === r.emoji && change.user === this.me.id) me = change.added;
      if (me === undefined) me = r.user_ids.includes(this.me.id);
      return { ...r, me };
    });
    return { ...message, reactions };
  }

  /** Who has read up to each loaded message of a room: Map(seq → [user]), each reader at
   * the newest loaded message their marker covers. You are left out. */
  seenBy(roomId) {
    const marks = this.receipts.get(roomId);
    const out = new Map();
    if (!marks) return out;
    const log = this.log(roomId);
    for (const [userId, seq] of marks) {
      if (userId === this.me.id) continue;
      const at = log.insertionPoint(seq + 1) - 1;
      if (at < 0) continue;
      const mark = log.items[at].seq;
      const user = this.users.get(userId) || { id: userId, display_name: userId, username: userId };
      if (!out.has(mark)) out.set(mark, []);
      out.get(mark).push(user);
    }
    return out;
  }

  // --- server events -------------------------------------------------------------------

  onEvent(ev) {
    const handler = this[`on_${ev.type}`];
    if (handler) handler.call(this, ev);
  }

  on_ready(ev) {
    this.me = ev.user;
    /** What the server accepts (files larger are refused here, before a byte is sent). */
    this.limits = ev.limits || this.limits || null;
    const fresh = new Map(ev.rooms.map((r) => [r.id, r]));
    // A room just joined over HTTP (an invite link) that this `ready` was made too early to
    // hold: kept, and opened (its events come once the server subscribes the socket).
    if (this.wanted) {
      if (!fresh.has(this.wanted.id)) fresh.set(this.wanted.id, this.wanted);
      this.current = this.wanted.id;
      this.wanted = null;
    }
    // A log never loaded holds only what came live: it has holes a sync would not fill, so
    // it starts afresh from the newest page when opened.
    for (const [id, log] of this.logs) if (!fresh.has(id) || !log.loaded) this.logs.delete(id);
    this.rooms = fresh;
    const since = {};
    for (const [id, log] of this.logs) if (log.loaded && fresh.has(id)) since[id] = log.since();
    if (Object.keys(since).length) this.socket.send({ type: "sync", since });
    for (const room of fresh.values()) this.learnDirectPeer(room);
    this.retryPending();
    this.emit("rooms");
    this.emit("me");
    if (!this.current || !fresh.has(this.current)) {
      const first = this.sortedRooms()[0];
      this.open(first ? first.id : null, { replace: true });
    } else {
      this.open(this.current, { replace: true });
    }
  }

  on_message(ev) {
    const log = this.log(ev.message.room_id);
    const known = log.bySeq.has(ev.message.seq);
    const m = this.withMe(ev.message, log.bySeq.get(ev.message.seq));
    log.add(m);
    log.lastEvent = Math.max(log.lastEvent, m.seq);
    // Our own message may come before its ack: it is sent, whatever happens to the ack.
    const p = m.sender.id === this.me.id && this.pending.get(m.client_id);
    if (p) {
      clearTimeout(p.timer);
      this.pending.delete(m.client_id);
    }
    this.users.set(m.sender.id, { ...this.users.get(m.sender.id), ...m.sender });
    const room = this.rooms.get(m.room_id);
    if (room && !known) {
      // Only a message newer than the room's last_seq is news: older ones (a sync replay, or
      // one the server already counted in the room it just sent) are in `unread` already.
      const news = m.seq > (room.last_seq || 0);
      if (news || !room.last_message || m.seq > room.last_message.seq) room.last_message = m;
      room.last_seq = Math.max(room.last_seq || 0, m.seq);
      const mine = m.sender.id === this.me.id;
      if (news && !mine && m.seq > (room.read_seq || 0)) {
        if (this.viewing(room.id)) {
          this.markRead();
        } else {
          room.unread = (room.unread || 0) + 1;
          if (m.mentions.some((x) => x.user_id === this.me.id)) room.unread_mentions = (room.unread_mentions || 0) + 1;
        }
      }
      this.clearTyping(room.id, m.sender.id);
      this.emit("rooms");
    }
    this.emit("messages", m.room_id);
  }

  /** A change to a message: the copy held is replaced by the message after the change. */
  applyChange(ev) {
    const log = this.log(ev.room_id);
    const held = log.bySeq.get(ev.message_seq);
    const added = ev.type === "reaction_added" ? true : ev.type === "reaction_removed" ? false : null;
    const m = this.withMe(ev.message, held, added === null ? null : { emoji: ev.emoji, user: ev.user_id, added });
    log.lastEvent = Math.max(log.lastEvent, ev.seq);
    log.touched.set(m.seq, { seq: ev.seq, message: m });
    // A log that never held the message keeps out of it (history brings it when needed).
    if (held || (log.loaded && log.items.length && m.seq > log.oldest())) log.add(m);
    const room = this.rooms.get(ev.room_id);
    if (ev.type === "message_deleted" && room && !held?.deleted && m.sender.id !== this.me.id && m.seq > (room.read_seq || 0)) {
      // A deleted message is unread no more (protocol §4).
      if (held) {
        room.unread = Math.max(0, (room.unread || 0) - 1);
        if (held.mentions?.some((x) => x.user_id === this.me.id)) room.unread_mentions = Math.max(0, (room.unread_mentions || 0) - 1);
        this.emit("rooms");
      } else {
        this.api("GET", `/rooms/${ev.room_id}`).then(({ room: fresh }) => this.adoptCounts(room, fresh), () => {});
      }
    }
    if (ev.type === "message_deleted") {
      // Replies quote a deleted message no more (protocol §4).
      for (const reply of log.items) {
        if (reply.reply_to?.seq === ev.message_seq && !reply.reply_to.deleted) {
          log.add({ ...reply, reply_to: { ...reply.reply_to, excerpt: "", deleted: true } });
        }
      }
      const c = this.composing.get(ev.room_id);
      if (c?.message.seq === ev.message_seq) this.compose(ev.room_id, null);
    }
    if (room) {
      room.last_seq = Math.max(room.last_seq || 0, ev.seq);
      if (room.last_message?.seq === m.seq) {
        room.last_message = m;
        this.emit("rooms");
      }
    }
    this.emit("messages", ev.room_id);
  }

  on_message_edited(ev) { this.applyChange(ev); }
  on_message_deleted(ev) { this.applyChange(ev); }
  on_reaction_added(ev) { this.applyChange(ev); }
  on_reaction_removed(ev) { this.applyChange(ev); }
  on_message_pinned(ev) { this.applyChange(ev); }
  on_message_unpinned(ev) { this.applyChange(ev); }

  on_ack(ev) {
    const p = this.pending.get(ev.client_id);
    clearTimeout(p?.timer);
    this.pending.delete(ev.client_id);
    this.on_message({ message: ev.message });
  }

  on_error(ev) {
    const p = ev.client_id && this.pending.get(ev.client_id);
    if (p && ev.code === "busy" && (p.busyTries || 0) < BUSY_TRIES) {
      // Refused unstored because the server is past capacity: the same client_id again,
      // after the hint and some jitter so refused clients do not all come back at once.
      // Until then the room's later messages wait behind it, so they keep their order.
      clearTimeout(p.timer);
      p.busyTries = (p.busyTries || 0) + 1;
      p.held = true;
      const wait = (ev.retry_after_ms || 500) * (1 + Math.random());
      p.timer = setTimeout(() => this.release(p.room_id), wait);
      return;
    }
    if (p) {
      clearTimeout(p.timer);
      p.state = "failed";
      p.error = ev.code || "internal";
      p.refused = true;
      this.emit("messages", p.room_id);
    } else if (ev.room_id && (ev.code === "not_found" || ev.code === "forbidden")) {
      this.leftRoom(ev.room_id, null);
    }
  }

  on_synced(ev) {
    if (!ev.complete) {
      // More was missed than a replay carries: start this room afresh from its newest page.
      this.logs.delete(ev.room_id);
      if (this.current === ev.room_id) this.loadHistory(ev.room_id);
    }
  }

  on_room_updated(ev) {
    const old = this.rooms.get(ev.room_id);
    const room = { ...(old || {}), ...ev.room };
    if (old && ev.room.role === undefined) {
      for (const key of ["role", "read_seq", "unread", "unread_mentions", "notify", "last_message"]) room[key] = old[key];
    }
    this.rooms.set(ev.room_id, room);
    this.learnDirectPeer(room);
    this.emit("rooms");
    if (this.current === ev.room_id) this.emit("room");
    if (!old) {
      // A room we just joined: its first messages may have come before this event, so take
      // the counts from the server rather than from what was counted so far.
      this.api("GET", `/rooms/${ev.room_id}`).then(({ room: fresh }) => {
        const known = this.rooms.get(ev.room_id);
        if (!this.adoptCounts(known, fresh)) return;
        known.last_seq = fresh.last_seq;
        known.last_message = this.logs.get(ev.room_id)?.bySeq.get(fresh.last_seq) || known.last_message;
        if (this.viewing(ev.room_id)) this.markRead();
      }, () => {});
    }
  }

  on_room_deleted(ev) {
    this.leftRoom(ev.room_id, "notice.room_deleted");
  }

  on_member_banned(ev) {
    if (ev.user_id === this.me.id) {
      this.leftRoom(ev.room_id, ev.reason ? "notice.banned_reason" : "notice.banned", { reason: ev.reason || "" });
    } else {
      this.refreshMembers(ev.room_id);
    }
  }

  /** The account signed in elsewhere: say where, with a way to sign that session out. */
  on_new_login(ev) {
    const s = ev.session;
    const run = () => this.api("DELETE", `/me/sessions/${s.id}`).then(
      () => this.notice("notice.signed_out_there", { device: s.device }),
      (err) => this.notice("notice.action_failed", { reason: err.message }),
    );
    this.notice("notice.new_login", { device: s.device, address: s.address }, { action: { label: "notice.not_you", run }, sticky: true });
  }

  /** A report for the room's moderators and the server's admins. */
  on_report_filed(ev) {
    this.notice("notice.report_filed", { room: ev.report.room_name, reason: ev.report.reason });
  }

  on_member_left(ev) {
    if (ev.user_id === this.me.id) this.leftRoom(ev.room_id, ev.kicked ? "notice.kicked" : null);
    else this.refreshMembers(ev.room_id);
  }

  on_member_joined(ev) {
    this.users.set(ev.user.id, { ...this.users.get(ev.user.id), ...ev.user });
    this.refreshMembers(ev.room_id);
  }

  on_role_changed(ev) {
    if (ev.user_id === this.me.id) {
      const room = this.rooms.get(ev.room_id);
      if (room) room.role = ev.role;
      this.emit("room");
    }
    this.refreshMembers(ev.room_id);
  }

  on_typing(ev) {
    if (ev.user_id === this.me.id) return;
    if (!ev.active) return this.clearTyping(ev.room_id, ev.user_id);
    const room = this.typing.get(ev.room_id) || new Map();
    this.typing.set(ev.room_id, room);
    clearTimeout(room.get(ev.user_id)?.timer);
    const timer = setTimeout(() => this.clearTyping(ev.room_id, ev.user_id), ev.expires_in_ms || 6000);
    room.set(ev.user_id, { user: ev.user, timer });
    this.emit("typing", ev.room_id);
  }

  clearTyping(roomId, userId) {
    const room = this.typing.get(roomId);
    if (!room?.has(userId)) return;
    clearTimeout(room.get(userId).timer);
    room.delete(userId);
    this.emit("typing", roomId);
  }

  /** The names of the people typing in a room. */
  typingIn(roomId) {
    return [...(this.typing.get(roomId)?.values() || [])].map((t) => this.userInfo(t.user));
  }

  on_presence(ev) {
    this.presence.set(ev.user_id, ev.status);
    const list = this.members.get(ev.room_id);
    const member = list?.find((m) => m.user.id === ev.user_id);
    if (member) member.presence = ev.status;
    this.emit("members", ev.room_id);
  }

  on_read(ev) {
    const room = this.rooms.get(ev.room_id);
    if (!room || ev.seq < (room.read_seq || 0)) return;
    room.read_seq = ev.seq;
    if (ev.seq >= (room.last_seq || 0)) {
      // Read up to everything we hold (protocol §9): nothing is unread.
      if (room.unread || room.unread_mentions) {
        room.unread = 0;
        room.unread_mentions = 0;
        this.emit("rooms");
      }
      return;
    }
    this.api("GET", `/rooms/${ev.room_id}`).then(({ room: fresh }) => this.adoptCounts(room, fresh), () => {});
  }

  /** Takes a room's unread counts from a `GET /rooms/{id}` answer, unless messages that came
   * live while it was on its way make it stale (they are counted already); says whether. */
  adoptCounts(room, fresh) {
    if (!room || !fresh || (fresh.last_seq ?? 0) < (room.last_seq || 0)) return false;
    Object.assign(room, { unread: fresh.unread, unread_mentions: fresh.unread_mentions });
    this.emit("rooms");
    return true;
  }

  on_receipt(ev) {
    const marks = this.receipts.get(ev.room_id);
    if (!marks) return; // not loaded: the open room's come with GET …/receipts
    marks.set(ev.user_id, ev.seq);
    this.emit("receipts", ev.room_id);
  }

  on_user_updated(ev) {
    this.users.set(ev.user.id, ev.user);
    if (ev.user.id === this.me.id) {
      this.me = { ...this.me, ...ev.user };
      this.emit("me");
    }
    if (ev.room_id) {
      const member = this.members.get(ev.room_id)?.find((m) => m.user.id === ev.user.id);
      if (member) member.user = ev.user;
      this.emit("members", ev.room_id);
    }
    this.emit("rooms");
    if (this.current) this.emit("messages", this.current);
  }

  on_notify(ev) {
    if (!this.env.hidden() && this.current === ev.room_id) return;
    const room = this.rooms.get(ev.room_id);
    const message = this.logs.get(ev.room_id)?.bySeq.get(ev.seq);
    if (!room || !message || this.blocked.has(message.sender.id)) return;
    const from = this.userInfo(message.sender).display_name;
    const title = room.kind === "direct" ? from : this.t("notify.title", { name: from, room: this.roomTitle(room) });
    // A sealed room's notifications say only that something came (they may show on a lock screen).
    const text = room.seal ? this.t("notify.sealed") : message.body.slice(0, 200);
    this.env.notify(title, text, ev.message_id, () => this.open(ev.room_id));
  }

  learnDirectPeer(room) {
    if (room.kind !== "direct" || !room.direct_user_ids) return;
    const other = room.direct_user_ids.find((id) => id !== this.me.id);
    if (other && !this.users.has(other)) {
      this.api("GET", `/users/${other}`).then(({ user }) => {
        this.users.set(user.id, user);
        this.emit("rooms");
        if (this.current === room.id) this.emit("room");
      }, () => {});
    }
  }

  /** A room we are no longer in; `noticeKey` says why to the user (null: they know). */
  leftRoom(roomId, noticeKey, params = {}) {
    const room = this.rooms.get(roomId);
    if (!room) return;
    this.rooms.delete(roomId);
    this.logs.delete(roomId);
    this.members.delete(roomId);
    this.receipts.delete(roomId);
    // What was waiting to be sent there goes with it (a sealed room's text must never be
    // retried as if the room were ordinary), and so does the room's key here.
    for (const [clientId, p] of this.pending) {
      if (p.room_id === roomId) {
        clearTimeout(p.timer);
        this.pending.delete(clientId);
      }
    }
    if (room.seal) this.seals.forget(roomId);
    this.emit("rooms");
    if (noticeKey) this.notice(noticeKey, { room: this.roomTitle(room), ...params });
    if (this.current === roomId) {
      const next = this.sortedRooms()[0];
      this.open(next ? next.id : null);
    }
  }

  // --- actions -------------------------------------------------------------------------

  viewing(roomId) {
    return this.current === roomId && !this.env.hidden() && this.following;
  }

  /** Opens a room (or none). The address follows: a new history entry unless `replace`, or
   * none at all when the address already moved (`history: false`, from Back or Forward). */
  open(roomId, { replace = false, history = true } = {}) {
    const switched = this.current !== roomId;
    this.current = roomId;
    if (switched) this.following = true;
    if (history) this.env.setRoute(roomId, replace);
    this.emit("room");
    if (!roomId) return;
    const log = this.log(roomId);
    if (!log.loaded) this.loadHistory(roomId);
    else this.emit("messages", roomId);
    if (switched || !this.members.has(roomId)) this.refreshMembers(roomId);
    this.loadReceipts(roomId);
    this.markRead();
  }

  async loadHistory(roomId, older = false) {
    const log = this.log(roomId);
    if (older && (log.historyStart || log.loadingOlder)) return false;
    const before = older ? log.oldest() : null;
    log.loadingOlder = older;
    const asked = log.lastEvent;
    try {
      const query = before ? `?before=${before}&limit=${PAGE}` : `?limit=${PAGE}`;
      const page = await this.api("GET", `/rooms/${roomId}/messages${query}`);
      this.addPage(log, page.messages, asked);
      if (!older || page.history_start) log.historyStart = page.history_start;
      log.loaded = true;
      this.emit(older ? "older" : "messages", roomId);
      if (!older) this.markRead();
      return page.messages.length > 0;
    } catch (e) {
      if (e.status === 403 || e.status === 404) this.leftRoom(roomId, null);
      return false;
    } finally {
      log.loadingOlder = false;
    }
  }

  /** Adds a page of history; a message a live change touched after the page was asked for
   * goes in as that change left it. */
  addPage(log, messages, asked) {
    for (const m of messages) {
      const touched = log.touched.get(m.seq);
      log.add(touched && touched.seq > asked ? touched.message : m);
    }
  }

  /** Loads the history around a message (a reply's original, a search result) and asks the
   * list to show it; resolves to whether it is there. */
  async jumpTo(roomId, seq) {
    if (this.current !== roomId) this.open(roomId);
    const log = this.log(roomId);
    if (!log.bySeq.has(seq)) {
      const asked = log.lastEvent;
      try {
        const page = await this.api("GET", `/rooms/${roomId}/messages?around=${seq}&limit=${PAGE}`);
        this.addPage(log, page.messages, asked);
        log.loaded = true;
        // The pages between may be missing now: the list loads them as it scrolls.
        if (page.history_start) log.historyStart = true;
      } catch {
        return false;
      }
    }
    this.highlight = { roomId, seq, at: Date.now() };
    this.emit("messages", roomId);
    return log.bySeq.has(seq);
  }

  // --- changes to messages (each answers over HTTP; the room hears the event) ---------------

  /** A message as its readers see it: in a sealed room, opened (state/seals.js). */
  view(message) {
    return this.seals.view(message);
  }

  /** Whether a room is sealed end to end. */
  sealed(roomId) {
    return this.seals.isSealed(this.rooms.get(roomId));
  }

  compose(roomId, mode, message = null) {
    if (mode) this.composing.set(roomId, { mode, message: message && this.view(message) });
    else this.composing.delete(roomId);
    this.emit("compose", roomId);
  }

  async edit(roomId, seq, body) {
    if (this.sealed(roomId)) {
      const held = this.log(roomId).bySeq.get(seq);
      if (!held) throw Object.assign(new Error("not loaded"), { code: "not_found" });
      body = await this.seals.reseal(roomId, held, body);
    }
    return this.api("PATCH", `/rooms/${roomId}/messages/${seq}`, { body });
  }

  remove(roomId, seq) {
    return this.api("DELETE", `/rooms/${roomId}/messages/${seq}`);
  }

  react(roomId, seq, emoji, add) {
    return this.api(add ? "PUT" : "DELETE", `/rooms/${roomId}/messages/${seq}/reactions/${encodeURIComponent(emoji)}`);
  }

  pin(roomId, seq, on) {
    return this.api(on ? "PUT" : "DELETE", `/rooms/${roomId}/pins/${seq}`);
  }

  /** The caller's last message in a room that can still be edited (Arrow-Up). */
  lastOwn(roomId) {
    const items = this.log(roomId).items;
    for (let i = items.length - 1; i >= 0; i--) {
      if (items[i].sender.id === this.me.id && !items[i].deleted) return items[i];
    }
    return null;
  }

  async refreshMembers(roomId) {
    if (roomId !== this.current) {
      this.members.delete(roomId);
      return;
    }
    try {
      const { members } = await this.api("GET", `/rooms/${roomId}/members`);
      for (const m of members) {
        this.users.set(m.user.id, m.user);
        this.presence.set(m.user.id, m.presence);
      }
      this.members.set(roomId, members);
      this.emit("members", roomId);
    } catch {
      // A room we lost access to is handled by its own event.
    }
  }

  async loadReceipts(roomId) {
    // Receipts that come while asking are kept, and merged with the answer.
    if (!this.receipts.has(roomId)) this.receipts.set(roomId, new Map());
    try {
      const { receipts } = await this.api("GET", `/rooms/${roomId}/receipts`);
      const marks = new Map(receipts.map((r) => [r.user_id, r.read_seq]));
      // Events that came while asking are newer than the answer.
      for (const [userId, seq] of this.receipts.get(roomId) || []) marks.set(userId, Math.max(seq, marks.get(userId) || 0));
      this.receipts.set(roomId, marks);
      this.emit("receipts", roomId);
    } catch {
      // As above.
    }
  }

  markRead() {
    const roomId = this.current;
    const room = roomId && this.rooms.get(roomId);
    if (!room || this.env.hidden() || !this.following) return;
    const newest = this.log(roomId).newest();
    if (newest > (room.read_seq || 0)) {
      room.read_seq = newest;
      this.socket.send({ type: "read", room_id: roomId, seq: newest });
    }
    if (room.unread || room.unread_mentions) {
      room.unread = 0;
      room.unread_mentions = 0;
      this.emit("rooms");
    }
  }

  // --- attachments: files uploaded while the next message is written ---------------------

  /** The files being attached in a room: `{key, name, size, type, progress (0-1), status
   * ("uploading"|"done"|"failed"), error, upload (once done), preview (a local image URL)}`. */
  attachments(roomId) {
    return this.attaching.get(roomId) || [];
  }

  /** Starts uploading files for the room's next message (each with its own progress). */
  attach(roomId, files) {
    const list = [...this.attachments(roomId)];
    const most = this.limits?.max_attachments ?? 10;
    if (list.length + files.length > most) {
      this.notice("notice.too_many_files", { count: most });
      files = [...files].slice(0, Math.max(0, most - list.length));
    }
    for (const file of files) {
      const item = {
        key: crypto.randomUUID(), name: file.name || "file", size: file.size, type: file.type || "",
        progress: 0, status: "uploading", error: null, upload: null, preview: null,
      };
      const max = this.limits?.max_upload_bytes;
      // A sealed file grows by its nonce and tag.
      if (max && file.size + (this.sealed(roomId) ? 28 : 0) > max) {
        item.status = "failed";
        item.error = "payload_too_large";
        list.push(item);
        continue;
      }
      item.preview = this.env.preview?.(file) ?? null;
      const progress = (at) => {
        item.progress = at;
        this.emit("attach", roomId);
      };
      const job = this.sealed(roomId) ? this.sealedUpload(file, item, progress) : this.env.upload(file, progress);
      item.abort = job.abort;
      job.promise.then(
        (upload) => {
          item.status = "done";
          item.progress = 1;
          item.upload = upload;
          // Dropped meanwhile: the server forgets it too.
          if (!this.attachments(roomId).includes(item)) this.api("DELETE", `/uploads/${upload.id}`).catch(() => {});
          this.emit("attach", roomId);
        },
        (err) => {
          item.status = "failed";
          item.error = err?.code || "internal";
          this.emit("attach", roomId);
        },
      );
      list.push(item);
    }
    this.attaching.set(roomId, list);
    this.emit("attach", roomId);
  }

  /** Uploads a file for a sealed room: sealed here first, then sent as opaque bytes; its
   * name, type and key wait in `item.sealedMeta` for the message that will carry them. */
  sealedUpload(file, item, progress) {
    let inner = null;
    let cancelled = false;
    const promise = this.seals.sealFile(file).then(({ blob, meta }) => {
      if (cancelled) throw Object.assign(new Error("cancelled"), { code: "cancelled" });
      item.sealedMeta = meta;
      inner = this.env.upload(blob, progress, { sealed: true });
      return inner.promise;
    });
    return { promise, abort: () => { cancelled = true; inner?.abort(); } };
  }

  /** Takes a file off the next message: its upload stops, or the server forgets it. */
  detach(roomId, key) {
    const list = this.attachments(roomId);
    const item = list.find((x) => x.key === key);
    if (!item) return;
    if (item.status === "uploading") item.abort?.();
    if (item.status === "done") this.api("DELETE", `/uploads/${item.upload.id}`).catch(() => {});
    this.env.unpreview?.(item.preview);
    this.attaching.set(roomId, list.filter((x) => x !== item));
    this.emit("attach", roomId);
  }

  /** Whether the room's attachments are all uploaded (and so may be sent). */
  attachmentsReady(roomId) {
    return this.attachments(roomId).every((x) => x.status === "done");
  }

  send(roomId, body, replyTo = null) {
    this.lastTyping = 0; // the message ends the typing indicator: typing again is news
    const clientId = crypto.randomUUID();
    const p = { client_id: clientId, room_id: roomId, body, state: "pending", ts: new Date().toISOString() };
    // The files uploaded for it go with it.
    const files = this.attachments(roomId).filter((x) => x.status === "done");
    if (files.length) {
      p.attachments = files.map((x) => x.upload);
      for (const x of this.attachments(roomId)) this.env.unpreview?.(x.preview);
      this.attaching.delete(roomId);
      this.emit("attach", roomId);
    }
    if (replyTo) p.reply_to = { seq: replyTo.seq, sender: replyTo.sender, excerpt: replyTo.body.slice(0, 140), deleted: false };
    this.pending.set(clientId, p);
    if (this.sealed(roomId)) {
      // Sealed here before it goes: the text, the files' names, types and keys, the quote.
      // Marked once and for all, so nothing (a retry, the room gone meanwhile) sends it plain.
      p.sealed = true;
      p.metas = files.map((x) => ({ id: x.upload.id, ...x.sealedMeta }));
      if (p.attachments) p.attachments = p.attachments.map((a, i) => ({ ...a, ...sealedView(a, p.metas[i]) }));
    }
    this.transmit(p);
    this.emit("messages", p.room_id);
  }

  /** Seals a pending message of a sealed room, then transmits it (or marks it failed). */
  sealPending(p) {
    if (p.sealing) return;
    p.sealing = true;
    const reply = p.reply_to ? { excerpt: p.reply_to.excerpt } : null;
    this.seals.seal(p.room_id, { text: p.body, files: p.metas || [], reply }).then(
      (wire) => {
        p.sealing = false;
        p.wire = wire;
        if (this.pending.get(p.client_id) === p) this.transmit(p);
      },
      (err) => {
        p.sealing = false;
        p.state = "failed";
        p.error = err?.code || "sealed_locked";
        this.emit("messages", p.room_id);
      },
    );
  }

  transmit(p) {
    p.state = "pending";
    p.error = null;
    p.refused = false;
    // Behind a message of the same room waiting to be sent again after `busy`: it goes after.
    if (!p.held && this.pendingIn(p.room_id).some((q) => q !== p && q.held && q.state === "pending")) {
      p.waiting = true;
      return;
    }
    // A sealed room's message goes only once sealed: its plain text never does.
    if (p.sealed && !p.wire) {
      this.sealPending(p);
      return;
    }
    const frame = { type: "send", room_id: p.room_id, client_id: p.client_id, body: p.sealed ? p.wire : p.body };
    if (p.reply_to) frame.reply_to = p.reply_to.seq;
    if (p.attachments?.length) frame.attachments = p.attachments.map((a) => a.id);
    const sent = this.socket.send(frame);
    if (!sent) {
      p.state = "failed";
      p.error = "not_connected";
      return;
    }
    clearTimeout(p.timer);
    p.timer = setTimeout(() => {
      if (this.pending.get(p.client_id)?.state === "pending") {
        p.state = "failed";
        p.error = "no_answer";
        this.emit("messages", p.room_id);
      }
    }, SEND_TIMEOUT_MS);
  }

  /** Sends a failed message again with the same client_id, so it can never be doubled. */
  retry(clientId) {
    const p = this.pending.get(clientId);
    if (!p) return;
    p.busyTries = 0;
    this.transmit(p);
    this.emit("messages", p.room_id);
  }

  /** Gives up on a failed message: it goes back to nobody. */
  discard(clientId) {
    const p = this.pending.get(clientId);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(clientId);
    if (p.held) this.release(p.room_id);
    this.emit("messages", p.room_id);
  }

  /** Sends again, in the order they were written, a room's messages held after `busy`. */
  release(roomId) {
    const queue = this.pendingIn(roomId).filter((q) => q.state === "pending" && (q.held || q.waiting));
    for (const q of queue) {
      q.held = false;
      q.waiting = false;
    }
    for (const q of queue) this.transmit(q);
    this.emit("messages", roomId);
  }

  retryPending() {
    for (const p of this.pending.values()) if (p.state === "failed" && !p.refused) this.transmit(p);
    if (this.current) this.emit("messages", this.current);
  }

  failPending(reason) {
    for (const p of this.pending.values()) {
      if (p.state === "pending") {
        clearTimeout(p.timer);
        p.state = "failed";
        p.error = reason;
        p.held = p.waiting = false;
      }
    }
    if (this.current) this.emit("messages", this.current);
  }

  pendingIn(roomId) {
    return [...this.pending.values()].filter((p) => p.room_id === roomId);
  }

  typed(roomId) {
    const now = Date.now();
    if (now - (this.lastTyping || 0) < 2000) return;
    this.lastTyping = now;
    this.socket.send({ type: "typing", room_id: roomId });
  }

  addRoom(room) {
    this.rooms.set(room.id, { ...(this.rooms.get(room.id) || {}), ...room });
    this.learnDirectPeer(room);
    this.emit("rooms");
    this.open(room.id);
  }

  /** Opens (creating it if need be) the direct room with a user. */
  async messageUser(user) {
    const { room } = await this.api("POST", "/dms", { user_id: user.id });
    this.users.set(user.id, { ...this.users.get(user.id), ...user });
    this.addRoom(room);
  }
}
