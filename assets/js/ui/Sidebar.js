// The sidebar: a filter box, then your rooms and your direct messages, each by latest
// activity, with unread and mention badges. On a phone it slides over the conversation.

import { html, useState } from "../core/html.js";
import { Avatar, Icon, PresenceDot, useApp, kindIcon } from "./common.js";
import { BrowseRooms, CreateRoom, JoinRoom, NewDirect } from "./dialogs.js";

export function Sidebar({ open, onPicked, close }) {
  const { state, t, ui } = useApp();
  const [filter, setFilter] = useState("");
  const { rooms, direct } = state.sections(filter);
  const [notifyAsk, setNotifyAsk] = useState(() => "Notification" in window && Notification.permission === "default");

  const pick = (id) => {
    onPicked();
    state.open(id);
  };
  const filterKeys = (e) => {
    if (e.key === "Enter") {
      const first = rooms[0] || direct[0];
      if (first) pick(first.id);
    } else if (e.key === "Escape" && filter) {
      e.stopPropagation();
      setFilter("");
    }
  };

  return html`<aside class=${`sidebar${open ? " open" : ""}`} id="sidebar" aria-label=${t("sidebar.label")}>
    <div class="sidebar-head">
      <button class="icon-button close" aria-label=${t("sidebar.close")} onClick=${close}><${Icon} name="x" /></button>
    </div>
    <div class="filter">
      <${Icon} name="search" />
      <input type="search" value=${filter} onInput=${(e) => setFilter(e.currentTarget.value)} onKeyDown=${filterKeys}
        aria-label=${t("sidebar.filter")} placeholder=${t("sidebar.filter")} dir="auto" />
    </div>
    <nav aria-label=${t("sidebar.your_rooms")}>
      <${Section} id="section-rooms" title=${t("sidebar.rooms")} rooms=${rooms} pick=${pick} filtered=${Boolean(filter)} actions=${html`
        <button class="icon-button" aria-label=${t("rooms.browse")} title=${t("rooms.browse")} onClick=${() => ui.open(BrowseRooms)}><${Icon} name="compass" /></button>
        <button class="icon-button" aria-label=${t("rooms.join")} title=${t("rooms.join")} onClick=${() => ui.open(JoinRoom)}><${Icon} name="log-in" /></button>
        <button class="icon-button" aria-label=${t("rooms.new")} title=${t("rooms.new")} onClick=${() => ui.open(CreateRoom)}><${Icon} name="plus" /></button>`} />
      <${Section} id="section-direct" title=${t("sidebar.direct")} rooms=${direct} pick=${pick} filtered=${Boolean(filter)} actions=${html`
        <button class="icon-button" aria-label=${t("direct.new")} title=${t("direct.new")} onClick=${() => ui.open(NewDirect)}><${Icon} name="message-square-plus" /></button>`} />
    </nav>
    ${notifyAsk ? html`<button class="link notify-offer" onClick=${async () => {
      await Notification.requestPermission();
      setNotifyAsk(false);
    }}><${Icon} name="bell-ring" /> ${t("sidebar.notifications_offer")}</button>` : null}
  </aside>`;
}

function Section({ id, title, rooms, pick, actions, filtered }) {
  const { t } = useApp();
  return html`<section class="room-section" aria-labelledby=${id}>
    <div class="section-head"><h2 id=${id}>${title}</h2><div class="section-actions">${actions}</div></div>
    <ul class="room-list">
      ${rooms.map((room) => html`<${RoomRow} key=${room.id} room=${room} pick=${pick} />`)}
      ${!rooms.length ? html`<li class="hint empty-section">${filtered ? t("sidebar.no_match") : t("sidebar.none_yet")}</li>` : null}
    </ul>
  </section>`;
}

function RoomRow({ room, pick }) {
  const { state, t, i18n } = useApp();
  const current = room.id === state.current;
  const peer = state.directPeer(room);
  const last = room.last_message && state.view(room.last_message);
  const preview = last
    ? t("sidebar.preview", { name: last.sender.id === state.me.id ? t("sidebar.you") : state.userInfo(last.sender).display_name, text: last.deleted ? t("message.deleted")
      : last.sealed && last.sealed !== "open" ? t("sealed.preview")
      : last.body ? clip(last.body, 120) : t("sidebar.files", { count: last.attachments?.length || 1 }) })
    : room.topic || "";
  const unread = room.unread || 0;
  const label = unread ? t(room.unread_mentions ? "sidebar.unread_mentions" : "sidebar.unread", { count: unread, mentions: room.unread_mentions }) : null;
  return html`<li>
    <button class=${`room${current ? " current" : ""}${unread ? " has-unread" : ""}`} aria-current=${current ? "page" : null}
      data-room=${room.id} data-kind=${room.kind} onClick=${() => pick(room.id)}>
      <span class="room-icon">${peer
        ? html`<${Avatar} user=${peer} size="small" /><${PresenceDot} status=${state.presence.get(peer.id)} />`
        : html`<${Icon} name=${kindIcon(room.kind, room.seal)} />`}</span>
      <span class="room-name" dir="auto">${state.roomTitle(room)}</span>
      ${unread ? html`<span class=${room.unread_mentions ? "badge mention" : "badge"} aria-label=${label}>${unread > 999 ? `${i18n.numbers.format(999)}+` : i18n.numbers.format(unread)}</span>` : null}
      <span class="preview" dir="auto">${clip(preview, 80)}</span>
    </button>
  </li>`;
}

/** The first `n` characters (code points, so an emoji is never cut in half). */
const clip = (text, n) => (text.length <= n ? text : Array.from(text).slice(0, n).join(""));
