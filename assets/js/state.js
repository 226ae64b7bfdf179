// The page's model of the chat: rooms, messages per room, members, presence, typing,
// pending sends and drafts. It applies server events and tells views what changed through
// "change" events whose detail names the part ("rooms", "messages", "members", "typing",
// "connection", "notice", "me", "signed-out").
//
// It touches no page globals itself: the API, the socket and the page around it (is the tab
// hidden, desktop notifications) are handed in, so `node --test` can drive it
// (e2e/unit/state.test.mjs); the browser gets the real ones by default.

import { api } from "./api.js";
import { Socket } from "./socket.js";

const PAGE = 50;
const SEND_TIMEOUT_MS = 10000;

/** One room's loaded messages, by seq. */
class RoomLog {
  constructor() {
    this.bySeq = new Map();
    this.historyStart = false;
    this.loaded = false;
  }
  add(message) {
    this.bySeq.set(message.seq, message);
  }
  list() {
    return [...this.bySeq.values()].sort((a, b) => a.seq - b.seq);
  }
  oldest() {
    let min = Infinity;
    for (const seq of this.bySeq.keys()) min = Math.min(min, seq);
    return min === Infinity ? null : min;
  }
  newest() {
    let max = 0;
    for (const seq of this.bySeq.keys()) max = Math.max(max, seq);
    return max;
  }
}

/** The page around the state, in a browser. */
export const browserEnv = {
  hidden: () => document.hidden,
  /** Calls back whenever the user comes back to the tab. */
  onReturn(callback) {
    document.addEventListener("visibilitychange", callback);
    window.addEventListener("focus", callback);
  },
  /** The room the address names (`/r/<room id>`), or null. */
  route() {
    const match = location.pathname.match(/^\/r\/([^/]+)$/);
    return match ? decodeURIComponent(match[1]) : null;
  },
  /** Puts the open room in the address: a new history entry, or in place of the current one. */
  setRoute(roomId, replace) {
    const path = roomId ? `/r/${encodeURIComponent(roomId)}` : "/";
    if (location.pathname === path) return;
    if (replace) history.replaceState(null, "", path);
    else history.pushState(null, "", path);
  },
  /** Calls back with the room when Back or Forward changes the address. */
  onRoute(callback) {
    window.addEventListener("popstate", () => callback(this.route()));
  },
  /** Where drafts outlive a reload (null where the browser refuses storage). */
  storage: (() => {
    try {
      return window.localStorage;
    } catch {
      return null;
    }
  })(),
  /** A desktop notification, when the user allowed them. */
  notify(title, body, tag, onClick) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    const n = new Notification(title, { body, tag });
    n.onclick = () => {
      window.focus();
      onClick();
    };
  },
};

export class ChatState extends EventTarget {
  constructor(me, { call = api, socket = new Socket(), env = browserEnv } = {}) {
    super();
    this.api = call;
    this.env = env;
    this.me = me;
    this.rooms = new Map();
    this.logs = new Map();
    this.pending = new Map();
    this.members = new Map();
    this.typing = new Map();
    this.presence = new Map();
    this.users = new Map();
    this.drafts = new Map();
    this.current = null;
    this.connection = "connecting";
    this.socket = socket;
    this.socket.addEventListener("event", (e) => this.onEvent(e.detail));
    this.socket.addEventListener("state", (e) => {
      this.connection = e.detail;
      if (e.detail !== "connected") this.failPending("connection lost");
      this.emit("connection");
    });
    this.socket.addEventListener("revoked", () => this.emit("signed-out"));
    env.onReturn(() => this.markRead());
    // The address names the open room: a reload reopens it, Back and Forward move between rooms.
    this.current = env.route();
    env.onRoute((roomId) => {
      if (roomId && this.rooms.has(roomId)) this.open(roomId, { history: false });
    });
  }

  start() {
    this.socket.start();
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

  notice(text) {
    this.noticeText = text;
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

  totalUnread() {
    let n = 0;
    for (const r of this.rooms.values()) n += r.unread || 0;
    return n;
  }

  roomTitle(room) {
    if (room.kind !== "direct") return room.name;
    const other = room.direct_user_ids?.find((id) => id !== this.me.id);
    const user = this.users.get(other);
    return user ? user.display_name : room.name;
  }

  /** The freshest profile we know of a user (messages carry the one at sending time). */
  userInfo(user) {
    return this.users.get(user.id) || user;
  }

  isAdmin(room) {
    return room.role === "owner" || room.role === "admin";
  }

  // --- server events -------------------------------------------------------------------

  onEvent(ev) {
    const handler = this[`on_${ev.type}`];
    if (handler) handler.call(this, ev);
  }

  on_ready(ev) {
    this.me = ev.user;
    const fresh = new Map(ev.rooms.map((r) => [r.id, r]));
    for (const id of this.rooms.keys()) if (!fresh.has(id)) this.logs.delete(id);
    this.rooms = fresh;
    const since = {};
    for (const [id, log] of this.logs) if (log.loaded && fresh.has(id)) since[id] = log.newest();
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
    const m = ev.message;
    const log = this.log(m.room_id);
    const known = log.bySeq.has(m.seq);
    log.add(m);
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

  on_ack(ev) {
    this.pending.delete(ev.client_id);
    this.on_message({ message: ev.message });
  }

  on_error(ev) {
    const p = ev.client_id && this.pending.get(ev.client_id);
    if (p) {
      p.state = "failed";
      p.error = ev.message;
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
        if (!known) return;
        Object.assign(known, { unread: fresh.unread, unread_mentions: fresh.unread_mentions, last_seq: fresh.last_seq });
        known.last_message = this.logs.get(ev.room_id)?.bySeq.get(fresh.last_seq) || known.last_message;
        if (this.viewing(ev.room_id)) this.markRead();
        this.emit("rooms");
      }, () => {});
    }
  }

  on_room_deleted(ev) {
    this.leftRoom(ev.room_id, (name) => `The room “${name}” was deleted.`);
  }

  on_member_banned(ev) {
    if (ev.user_id === this.me.id) {
      this.leftRoom(ev.room_id, (name) => `You were banned from “${name}”.` + (ev.reason ? ` Reason: ${ev.reason}` : ""));
    } else {
      this.refreshMembers(ev.room_id);
    }
  }

  on_member_left(ev) {
    if (ev.user_id === this.me.id) this.leftRoom(ev.room_id, null);
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

  on_presence(ev) {
    this.presence.set(ev.user_id, ev.status);
    const list = this.members.get(ev.room_id);
    const member = list?.find((m) => m.user.id === ev.user_id);
    if (member) {
      member.presence = ev.status;
      this.emit("members", ev.room_id);
    }
  }

  on_read(ev) {
    const room = this.rooms.get(ev.room_id);
    if (!room || ev.seq < (room.read_seq || 0)) return;
    room.read_seq = ev.seq;
    this.api("GET", `/rooms/${ev.room_id}`).then(({ room: fresh }) => {
      Object.assign(room, { unread: fresh.unread, unread_mentions: fresh.unread_mentions });
      this.emit("rooms");
    }, () => {});
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
    if (!room || !message) return;
    const from = this.userInfo(message.sender).display_name;
    const title = room.kind === "direct" ? from : `${from} in ${room.name}`;
    this.env.notify(title, message.body.slice(0, 200), ev.message_id, () => this.open(ev.room_id));
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

  leftRoom(roomId, message) {
    const room = this.rooms.get(roomId);
    if (!room) return;
    this.rooms.delete(roomId);
    this.logs.delete(roomId);
    this.members.delete(roomId);
    this.emit("rooms");
    if (message) this.notice(message(this.roomTitle(room)));
    if (this.current === roomId) {
      const next = this.sortedRooms()[0];
      this.open(next ? next.id : null);
    }
  }

  // --- actions -------------------------------------------------------------------------

  viewing(roomId) {
    return this.current === roomId && !this.env.hidden();
  }

  /** Opens a room (or none). The address follows: a new history entry unless `replace`, or
   * none at all when the address already moved (`history: false`, from Back or Forward). */
  open(roomId, { replace = false, history = true } = {}) {
    this.current = roomId;
    if (history) this.env.setRoute(roomId, replace);
    this.emit("room");
    if (!roomId) return;
    const log = this.log(roomId);
    if (!log.loaded) this.loadHistory(roomId);
    else this.emit("messages", roomId);
    this.refreshMembers(roomId);
    this.markRead();
  }

  async loadHistory(roomId, older = false) {
    const log = this.log(roomId);
    if (older && (log.historyStart || log.loadingOlder)) return false;
    const before = older ? log.oldest() : null;
    log.loadingOlder = older;
    try {
      const query = before ? `?before=${before}&limit=${PAGE}` : `?limit=${PAGE}`;
      const page = await this.api("GET", `/rooms/${roomId}/messages${query}`);
      for (const m of page.messages) log.add(m);
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

  markRead() {
    const roomId = this.current;
    const room = roomId && this.rooms.get(roomId);
    if (!room || this.env.hidden()) return;
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

  send(roomId, body) {
    this.lastTyping = 0; // the message ends the typing indicator: typing again is news
    const clientId = crypto.randomUUID();
    const p = { client_id: clientId, room_id: roomId, body, state: "pending", ts: new Date().toISOString() };
    this.pending.set(clientId, p);
    this.transmit(p);
    this.emit("messages", roomId);
  }

  transmit(p) {
    p.state = "pending";
    p.error = null;
    const sent = this.socket.send({ type: "send", room_id: p.room_id, client_id: p.client_id, body: p.body });
    if (!sent) {
      p.state = "failed";
      p.error = "not connected";
      return;
    }
    clearTimeout(p.timer);
    p.timer = setTimeout(() => {
      if (this.pending.get(p.client_id)?.state === "pending") {
        p.state = "failed";
        p.error = "no answer from the server";
        this.emit("messages", p.room_id);
      }
    }, SEND_TIMEOUT_MS);
  }

  /** Sends a failed message again with the same client_id, so it can never be doubled. */
  retry(clientId) {
    const p = this.pending.get(clientId);
    if (!p) return;
    this.transmit(p);
    this.emit("messages", p.room_id);
  }

  retryPending() {
    for (const p of this.pending.values()) if (p.state === "failed" && p.error !== "refused") this.transmit(p);
    if (this.current) this.emit("messages", this.current);
  }

  failPending(reason) {
    for (const p of this.pending.values()) {
      if (p.state === "pending") {
        p.state = "failed";
        p.error = reason;
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

  async addRoom(room) {
    this.rooms.set(room.id, { ...(this.rooms.get(room.id) || {}), ...room });
    this.learnDirectPeer(room);
    this.emit("rooms");
    this.open(room.id);
  }
}
