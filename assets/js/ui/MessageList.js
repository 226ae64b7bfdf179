// The message list of the open room, windowed: only a slice of the loaded messages is in the
// page (about 120 rows, never more than 300), moved as the user scrolls, so a room with
// 10,000 loaded messages scrolls as lightly as one with 100. The slice is held by the seqs
// at its ends, so history arriving above does not move what is on screen; each render keeps
// the row at the top of the view where it was (or stays at the bottom when it was there).
// Reaching the oldest loaded message asks the server for the page before it.
//
// Rows are grouped (same sender within 5 minutes), with a heading per day. Keys: one row at
// a time is in the tab order, ↑/↓ move between rows, Home/End to the first/last shown.
//
// A message the store asks to show (a reply's original, a search result) is brought into the
// slice, scrolled to the middle, focused and flashed.
//
// The list tells the store whether it is at the newest message (`state.following`): only
// then do new messages count as read. It is not a live region (it changes in batches as the
// slice moves); a hidden one beside it announces each new message from someone else.

import { html, useEffect, useLayoutEffect, useReducer, useRef, useState } from "../core/html.js";
import { Icon, useApp } from "./common.js";
import { Message } from "./Message.js";

const WINDOW = 120;
const STEP = 60;
const MAX_ROWS = 300;
const EDGE_PX = 600;
const GROUP_MS = 5 * 60 * 1000;

export function MessageList({ room }) {
  const { state, t, i18n } = useApp();
  const log = state.log(room.id);
  const items = log.items;
  const scroller = useRef(null);
  // from/to: the seqs at the ends of the slice (to null: the slice follows the newest).
  const view = useRef(null);
  // A fresh view for a fresh log (the store starts a room afresh after a long absence).
  if (view.current?.log !== log) view.current = { log, from: null, to: null, atBottom: true, anchor: null, active: null };
  const v = view.current;
  const [, rerender] = useReducer((n) => n + 1, 0);
  const [below, setBelow] = useState(false);

  // --- the slice --------------------------------------------------------------------------
  let end = v.to === null ? items.length : log.insertionPoint(v.to + 1);
  if (v.from === null && items.length) v.from = items[Math.max(0, end - WINDOW)].seq;
  let start = v.from === null ? 0 : log.insertionPoint(v.from);
  if (end - start > MAX_ROWS) {
    if (v.to === null && v.atBottom) {
      // Following the newest: the oldest rows go.
      start = end - WINDOW;
      v.from = items[start].seq;
    } else {
      // Reading further up while messages arrive: the newest stay out ("Jump to latest").
      end = start + MAX_ROWS;
      v.to = items[end - 1].seq;
    }
  }

  // A message to show: the slice moves around it (once per request).
  const wanted = state.highlight?.roomId === room.id ? state.highlight : null;
  if (wanted && wanted.at !== v.shown && log.bySeq.has(wanted.seq)) {
    v.shown = wanted.at;
    const at = log.indexOf(wanted.seq);
    start = Math.max(0, at - WINDOW / 2);
    end = Math.min(items.length, at + WINDOW / 2);
    v.from = items[start].seq;
    v.to = end === items.length ? null : items[end - 1].seq;
    v.atBottom = false;
    v.focus = wanted.seq;
    state.following = false;
  }

  // Where the view is now, to put it back after the page changes under it.
  v.anchor = v.atBottom ? null : topRow(scroller.current);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    if (v.focus !== undefined && v.focus !== null) {
      const row = el.querySelector(`[data-seq="${v.focus}"]`);
      v.focus = null;
      if (row) {
        el.scrollTop = row.offsetTop - el.clientHeight / 2 + row.offsetHeight / 2;
        v.active = row.dataset.key;
        row.focus({ preventScroll: true });
        setBelow(true);
      }
    } else if (v.atBottom) {
      el.scrollTop = el.scrollHeight;
    } else if (v.anchor) {
      const row = el.querySelector(`[data-key="${v.anchor.key}"]`);
      if (row) el.scrollTop = row.offsetTop - v.anchor.offset;
    }
    extend();
  });

  // A new message while scrolled up: offer the way down. From someone else: say it.
  const newestMessage = items.length ? items[items.length - 1] : null;
  const newest = newestMessage?.seq || 0;
  const [said, setSaid] = useState("");
  const heard = useRef(log.loaded ? newest : null); // null: the first page is not news
  useEffect(() => {
    if (!v.atBottom) setBelow(true);
    if (!log.loaded) return;
    if (heard.current !== null && newest > heard.current && newestMessage.sender.id !== state.me.id) {
      const who = state.userInfo(newestMessage.sender).display_name;
      const shown = state.view(newestMessage);
      setSaid(t("sidebar.preview", { name: who, text: shown.sealed && shown.sealed !== "open" ? t("sealed.preview") : shown.body.slice(0, 300) }));
    }
    heard.current = Math.max(heard.current ?? 0, newest);
  }, [newest, log.loaded]);

  // Sending brings the view down to the message being sent.
  const sending = state.pendingIn(room.id).length;
  const sent = useRef(sending);
  useEffect(() => {
    if (sending > sent.current && !v.atBottom) jump();
    sent.current = sending;
  }, [sending]);

  // Leaving the room (or the page) leaves the store following again.
  useEffect(() => () => {
    state.following = true;
  }, []);

  /** Grows the slice toward an end the view is near, and loads older history at the top. */
  function extend() {
    const el = scroller.current;
    if (!el || !items.length) return;
    const nearTop = el.scrollTop < EDGE_PX;
    const nearBottom = el.scrollHeight - el.scrollTop - el.clientHeight < EDGE_PX;
    if (nearTop && start > 0) {
      const from = Math.max(0, start - STEP);
      v.from = items[from].seq;
      if (end - from > MAX_ROWS) v.to = items[from + MAX_ROWS - 1].seq;
      rerender();
    } else if (nearTop && !log.historyStart && !log.loadingOlder) {
      state.loadHistory(room.id, true);
    } else if (nearBottom && end < items.length) {
      const to = Math.min(items.length, end + STEP);
      v.to = to === items.length ? null : items[to - 1].seq;
      if (to - start > MAX_ROWS) v.from = items[to - MAX_ROWS].seq;
      rerender();
    }
  }

  const scrolled = () => {
    const el = scroller.current;
    if (!el) return; // a scroll event that comes after the room closed
    const fromBottom = el.scrollHeight - el.scrollTop - el.clientHeight;
    v.atBottom = v.to === null && fromBottom < 40;
    // The way down shows once the newest is a screen away, or out of the slice.
    setBelow(v.to !== null || fromBottom > el.clientHeight);
    state.following = v.atBottom;
    if (v.atBottom) state.markRead();
    extend();
  };

  function jump() {
    v.to = null;
    v.from = items.length ? items[Math.max(0, items.length - WINDOW)].seq : null;
    v.atBottom = true;
    state.following = true;
    setBelow(false);
    rerender();
    state.markRead();
  }

  // --- keys: one row in the tab order, arrows move ------------------------------------------
  const keys = (e) => {
    if (!["ArrowUp", "ArrowDown", "Home", "End"].includes(e.key)) return;
    const row = e.target.closest?.(".message");
    if (!row || e.target !== row) return;
    const rows = [...scroller.current.querySelectorAll(".message")];
    const at = rows.indexOf(row);
    const next = { ArrowUp: at - 1, ArrowDown: at + 1, Home: 0, End: rows.length - 1 }[e.key];
    if (next < 0 || next >= rows.length) return;
    e.preventDefault();
    v.active = rows[next].dataset.key;
    rows[next].focus();
    rerender();
  };
  const focused = (e) => {
    const row = e.target.closest?.(".message");
    if (row && v.active !== row.dataset.key) {
      v.active = row.dataset.key;
      rerender();
    }
  };

  // --- the rows -----------------------------------------------------------------------------
  const seen = state.seenBy(room.id);
  const moderator = state.may(room, "delete_others");
  const pinner = state.may(room, "pin");
  // What the toolbar offers follows the room's table (kept as one string: rows compare it).
  const can = ["react", "reply", "post"].filter((a) => state.may(room, a) && (a !== "reply" || state.may(room, "post"))).join(" ");
  const flashing = wanted && Date.now() - wanted.at < 3000 ? wanted.seq : null;
  const pending = end === items.length ? state.pendingIn(room.id) : [];
  const rows = [];
  if (start === 0 && log.historyStart) rows.push(html`<p class="history-start" key="start">${t("messages.history_start")}</p>`);
  if (start === 0 && log.loadingOlder) rows.push(html`<p class="loading-older" key="loading">${t("messages.loading")}</p>`);
  const lastKey = pending.length ? `c-${pending[pending.length - 1].client_id}` : end > start ? `s-${items[end - 1].seq}` : null;
  const slice = [];
  for (let i = start; i < end; i++) slice.push({ m: items[i], key: `s-${items[i].seq}` });
  for (const p of pending) slice.push({ m: { ...p, sender: state.me, mentions: [], seq: null }, key: `c-${p.client_id}`, pending: p });
  const tabRow = slice.some((row) => row.key === v.active) ? v.active : lastKey;
  // Each row's day and time are worked out once; a day is named only where a heading starts.
  const before = start > 0 ? items[start - 1] : null;
  let prev = before && { sender: before.sender.id, at: Date.parse(before.ts), day: dayOf(before.ts) };
  for (const { m, key, pending: p } of slice) {
    const at = Date.parse(m.ts);
    const day = dayOf(m.ts);
    if (prev?.day !== day) {
      rows.push(html`<h3 class="day" key=${`d-${key}`}><span>${i18n.day(at)}</span></h3>`);
      prev = null;
    }
    const grouped = Boolean(prev && prev.sender === m.sender.id && at - prev.at < GROUP_MS && !p);
    rows.push(html`<${Message} key=${key} rowKey=${key} message=${state.view(m)} sender=${state.userInfo(m.sender)} grouped=${grouped}
      mine=${m.sender.id === state.me.id} pending=${p ? p.state : null} error=${p?.error || null}
      seen=${m.seq !== null ? seen.get(m.seq) || null : null} tabbable=${key === tabRow} moderator=${moderator} pinner=${pinner} can=${can}
      flash=${m.seq !== null && m.seq === flashing} blocked=${state.blocked.has(m.sender.id)} />`);
    prev = { sender: m.sender.id, at, day };
  }

  return html`<div class="messages-wrap">
    <div class="messages" ref=${scroller} role="log" aria-live="off" aria-label=${t("messages.label")} onScroll=${scrolled}
      onKeyDown=${keys} onFocusIn=${focused}>
      ${rows}
      ${!items.length && !pending.length && log.loaded ? html`<p class="empty-room">${t("messages.empty")}</p>` : null}
    </div>
    <p class="visually-hidden" aria-live="polite">${said}</p>
    ${below ? html`<button class="jump" onClick=${jump}><${Icon} name="arrow-down" />${t("messages.jump")}</button>` : null}
  </div>`;
}

/** The local calendar day of a time, as a number to compare (20261206). */
function dayOf(ts) {
  const d = new Date(ts);
  return d.getFullYear() * 10000 + d.getMonth() * 100 + d.getDate();
}

/** The row at the top of the view and how far below the top of the list it sits. */
function topRow(el) {
  if (!el) return null;
  const top = el.scrollTop;
  for (const row of el.querySelectorAll("[data-key]")) {
    if (row.offsetTop + row.offsetHeight > top) return { key: row.dataset.key, offset: row.offsetTop - top };
  }
  return null;
}
