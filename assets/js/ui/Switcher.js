// The quick switcher (Ctrl+K / Cmd+K): type part of a room's or person's name, ↑/↓ to pick,
// Enter to open. Rooms with unread messages come first when nothing is typed. The last choice,
// once something is typed, searches messages for it.

import { html, useState } from "../core/html.js";
import { Avatar, Icon, Modal, useApp, kindIcon } from "./common.js";

export function Switcher({ close }) {
  const { state, t, i18n, ui } = useApp();
  const [query, setQuery] = useState("");
  const [at, setAt] = useState(0);
  const { rooms, direct } = state.sections(query);
  let found = [...rooms, ...direct];
  if (!query) found = found.sort((a, b) => (b.unread || 0) - (a.unread || 0));
  found = found.slice(0, 30);
  // Searching messages is the last choice.
  const searchItem = query.trim() ? { id: "search-messages", search: true } : null;
  if (searchItem) found = [...found, searchItem];
  const pick = (room) => {
    close();
    if (room.search) ui.search({ query: query.trim() });
    else state.open(room.id);
  };
  const keys = (e) => {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      setAt((at + (e.key === "ArrowDown" ? 1 : -1) + found.length) % Math.max(1, found.length));
    } else if (e.key === "Enter") {
      e.preventDefault();
      if (found[at]) pick(found[at]);
    }
  };
  const chosen = found[Math.min(at, found.length - 1)];
  return html`<${Modal} title=${t("switcher.title")} close=${close}>
    <div class="switcher">
      <input type="search" role="combobox" aria-expanded="true" aria-controls="switcher-list" aria-autocomplete="list"
        aria-activedescendant=${chosen ? `switch-${chosen.id}` : null} aria-label=${t("switcher.label")}
        placeholder=${t("switcher.placeholder")} value=${query} autofocus dir="auto"
        onInput=${(e) => { setQuery(e.currentTarget.value); setAt(0); }} onKeyDown=${keys} />
      <ul id="switcher-list" role="listbox" aria-label=${t("switcher.results")}>
        ${found.map((room, i) => {
          if (room.search) {
            return html`<li key="search" id="switch-search-messages" role="option" aria-selected=${String(room === chosen)}
              class=${`search-messages${room === chosen ? " chosen" : ""}`} onClick=${() => pick(room)}>
              <${Icon} name="search" /><span dir="auto">${t("switcher.search_messages", { query: query.trim() })}</span>
            </li>`;
          }
          const peer = state.directPeer(room);
          return html`<li key=${room.id} id=${`switch-${room.id}`} role="option" aria-selected=${String(room === chosen)}
            class=${room === chosen ? "chosen" : ""} onClick=${() => pick(room)}>
            ${peer ? html`<${Avatar} user=${peer} size="small" />` : html`<${Icon} name=${kindIcon(room.kind, room.seal)} />`}
            <span dir="auto">${state.roomTitle(room)}</span>
            ${peer ? html`<span class="username">@${peer.username}</span>` : null}
            ${room.unread ? html`<span class="badge">${i18n.numbers.format(room.unread)}</span>` : null}
          </li>`;
        })}
        ${found.length === (searchItem ? 1 : 0) ? html`<li class="hint">${t("switcher.nothing")}</li>` : null}
      </ul>
      <p class="hint">${t("switcher.keys")}</p>
    </div>
  </${Modal}>`;
}
