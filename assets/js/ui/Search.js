// Searching messages (loaded on first use): in the open room or across every room you may
// read, newest first, the words found marked; choosing a result shows it in context. Opened
// from the room header, from the top bar's search, and from the quick switcher.

import { html, useEffect, useRef, useState } from "../core/html.js";
import { Icon, Modal, errorText, useApp, useDebounced, kindIcon } from "./common.js";

/** The body's text with the found words in <mark> (ranges count code points). */
export function marked(body, ranges) {
  const chars = Array.from(body);
  const out = [];
  let at = 0;
  for (const [start, end] of ranges) {
    if (start < at) continue;
    if (start > at) out.push(chars.slice(at, start).join(""));
    out.push(html`<mark>${chars.slice(start, end).join("")}</mark>`);
    at = end;
  }
  out.push(chars.slice(at).join(""));
  return out;
}

export function Search({ close, roomId = null, query: first = "" }) {
  const { state, t, i18n } = useApp();
  const [query, setQuery] = useState(first);
  const [scope, setScope] = useState(roomId ? "room" : "all");
  const [found, setFound] = useState(null); // {results, next, error}
  const [busy, setBusy] = useState(false);
  const ticket = useRef(0);

  // A sealed room is searched here, in its messages loaded so far (the server cannot read
  // them); "more" loads older pages first.
  const sealedHere = scope === "room" && state.sealed(roomId);
  const runHere = async (q, mine, more) => {
    if (more) for (let i = 0; i < 4; i++) if (!(await state.loadHistory(roomId, true))) break;
    const log = state.log(roomId);
    const results = await state.seals.search(roomId, log.items, q);
    if (mine !== ticket.current) return;
    setFound({ results, next: log.historyStart ? null : "older", error: null });
  };

  const run = async (more = false) => {
    const q = query.trim();
    const mine = ++ticket.current;
    if (!q) return setFound(null);
    if (sealedHere) {
      setBusy(true);
      try {
        await runHere(q, mine, more);
      } finally {
        if (mine === ticket.current) setBusy(false);
      }
      return;
    }
    const params = new URLSearchParams({ q, limit: "20" });
    if (scope === "room" && roomId) params.set("room_id", roomId);
    if (more && found?.next) params.set("before", found.next);
    setBusy(true);
    try {
      const page = await state.api("GET", `/search?${params}`);
      if (mine !== ticket.current) return;
      setFound({ results: more ? [...found.results, ...page.results] : page.results, next: page.next, error: null });
    } catch (e) {
      if (mine === ticket.current) setFound({ results: [], next: null, error: errorText(i18n, e) });
    } finally {
      if (mine === ticket.current) setBusy(false);
    }
  };
  useDebounced(() => run(), 250, [query, scope]);

  const open = (r) => {
    close();
    state.jumpTo(r.room_id, r.message.seq);
  };
  const room = roomId && state.rooms.get(roomId);
  return html`<${Modal} title=${t("search.title")} close=${close} wide=${true}>
    <div class="search">
      <input type="search" aria-label=${t("search.label")} placeholder=${t("search.placeholder")} value=${query} autofocus dir="auto"
        onInput=${(e) => setQuery(e.currentTarget.value)}
        onKeyDown=${(e) => { if (e.key === "Enter") { e.preventDefault(); run(); } }} />
      ${room ? html`<div class="search-scope" role="radiogroup" aria-label=${t("search.scope")}>
        <label><input type="radio" name="scope" checked=${scope === "room"} onChange=${() => setScope("room")} />
          ${t("search.in_room", { room: state.roomTitle(room) })}</label>
        <label><input type="radio" name="scope" checked=${scope === "all"} onChange=${() => setScope("all")} />
          ${t("search.everywhere")}</label>
      </div>` : null}
      ${sealedHere ? html`<p class="hint sealed-note"><${Icon} name="shield" /> ${t("sealed.search_here")}</p>` : null}
      <div aria-live="polite" class="visually-hidden">${found && !busy ? t("search.count", { count: found.results.length }) : ""}</div>
      ${found?.error ? html`<p class="error" role="alert">${found.error}</p>` : null}
      <ul class="search-results" aria-busy=${String(busy)} aria-label=${t("search.results")}>
        ${(found?.results || []).map((r) => {
          const sender = state.userInfo(r.message.sender);
          const where = state.rooms.get(r.room_id);
          return html`<li key=${`${r.room_id}-${r.message.seq}`}>
            <button class="result" onClick=${() => open(r)}>
              <span class="where">
                ${where ? html`<${Icon} name=${where.kind === "direct" ? "at-sign" : kindIcon(where.kind, where.seal)} /><span dir="auto">${state.roomTitle(where)}</span>` : null}
                <strong dir="auto">${sender.display_name}</strong>
                <time datetime=${r.message.ts}>${i18n.dateTime(new Date(r.message.ts))}</time>
              </span>
              <span class="text" dir="auto">${marked(r.message.body, r.highlights)}</span>
            </button>
          </li>`;
        })}
      </ul>
      ${found && !found.results.length && !found.error && !busy ? html`<p class="hint">${t("search.nothing")}</p>` : null}
      ${found?.next ? html`<button type="button" onClick=${() => run(true)} disabled=${busy}>${t(sealedHere ? "sealed.search_older" : "search.more")}</button>` : null}
    </div>
  </${Modal}>`;
}

/** The room's pinned messages; choosing one shows it in context. */
export function Pins({ close, roomId }) {
  const { state, t, i18n } = useApp();
  const [pins, setPins] = useState(null);
  useEffect(() => {
    state.api("GET", `/rooms/${roomId}/pins`).then(({ messages }) => setPins(messages), (e) => setPins({ error: errorText(i18n, e) }));
  }, []);
  // A sealed room's pins are opened here (and shown again once they are).
  const [, opened] = useState(0);
  useEffect(() => {
    const again = () => opened((n) => n + 1);
    state.addEventListener("change", again);
    return () => state.removeEventListener("change", again);
  }, [roomId]);
  return html`<${Modal} title=${t("pins.title")} close=${close} wide=${true}>
    ${pins?.error ? html`<p class="error" role="alert">${pins.error}</p>` : null}
    ${Array.isArray(pins) && !pins.length ? html`<p class="hint">${t("pins.none")}</p>` : null}
    <ul class="search-results" aria-busy=${String(!pins)}>
      ${(Array.isArray(pins) ? pins : []).map((m) => html`<li key=${m.seq}>
        <button class="result" onClick=${() => { close(); state.jumpTo(roomId, m.seq); }}>
          <span class="where"><strong dir="auto">${state.userInfo(m.sender).display_name}</strong>
            <time datetime=${m.ts}>${i18n.dateTime(new Date(m.ts))}</time></span>
          <span class="text" dir="auto">${state.view(m).body || t("sealed.preview")}</span>
        </button>
      </li>`)}
    </ul>
  </${Modal}>`;
}
