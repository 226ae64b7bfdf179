// The emoji picker (loaded on first use): a search box, the groups as tabs, and a grid of
// emoji; closes with the one chosen. Names are Emojibase's English ones (the search also
// takes shortcodes and keywords).

import { html, useEffect, useState } from "../core/html.js";
import { emojiMatches, loadEmoji } from "../core/complete.js";
import { Modal, useApp } from "./common.js";

const GROUPS = [0, 1, 3, 4, 5, 6, 7, 8, 9];

export function EmojiPicker({ close }) {
  const { t } = useApp();
  const [data, setData] = useState(null);
  const [query, setQuery] = useState("");
  const [group, setGroup] = useState(0);
  useEffect(() => {
    loadEmoji().then(setData, () => setData([]));
  }, []);
  const q = query.trim().toLowerCase();
  const shown = !data ? [] : q
    ? emojiMatches(data, q).concat(
      data.filter(([, name]) => name.toLowerCase().includes(q)).slice(0, 60).map(([emoji, name]) => ({ emoji, name })),
    ).filter((e, i, all) => all.findIndex((x) => x.emoji === e.emoji) === i).slice(0, 80)
    : data.filter(([, , g]) => g === group).map(([emoji, name]) => ({ emoji, name }));
  // Enter in the search box takes the first match (rather than closing with nothing).
  const searchKeys = (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      if (shown[0]) close(shown[0].emoji);
    }
  };
  return html`<${Modal} title=${t("emoji.title")} close=${close} wide=${true}>
    <input type="search" aria-label=${t("emoji.search")} placeholder=${t("emoji.search")} value=${query} autofocus
      onInput=${(e) => setQuery(e.currentTarget.value)} onKeyDown=${searchKeys} />
    ${query.trim() ? null : html`<div class="emoji-groups" role="group" aria-label=${t("emoji.groups")}>
      ${GROUPS.map((g) => html`<button type="button" key=${g} aria-pressed=${String(g === group)} onClick=${() => setGroup(g)}>${t(`emoji.group_${g}`)}</button>`)}
    </div>`}
    <div class="emoji-grid" aria-busy=${data ? "false" : "true"}>
      ${shown.map((e) => html`<button type="button" key=${e.emoji} aria-label=${e.name} title=${e.name} onClick=${() => close(e.emoji)}>${e.emoji}</button>`)}
      ${data && !shown.length ? html`<p class="hint">${t("picker.nothing")}</p>` : null}
    </div>
  </${Modal}>`;
}
