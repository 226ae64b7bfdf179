// The open room: its header (title, topic, search, pinned messages, notification level,
// members, settings, leave), the message list, who is typing, and the composer. Files dropped
// anywhere on it are attached to the next message.

import { html, useState } from "../core/html.js";
import { api } from "../core/api.js";
import { Icon, useApp, kindIcon } from "./common.js";
import { MessageList } from "./MessageList.js";
import { Composer } from "./Composer.js";
import { Confirm } from "./dialogs.js";

export function Conversation({ room, membersOpen, toggleMembers }) {
  const { state, t, i18n } = useApp();
  const peer = state.directPeer(room);
  const typing = state.typingIn(room.id).map((u) => u.display_name);
  const typingText = typing.length === 0 ? "" : typing.length > 3 ? t("typing.several") : t("typing.some", { names: i18n.list(typing), count: typing.length });
  const [dragging, setDragging] = useState(false);
  const carriesFiles = (e) => [...(e.dataTransfer?.types || [])].includes("Files");
  const over = (e) => {
    if (!carriesFiles(e) || !state.may(room, "upload")) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = "copy";
    if (!dragging) setDragging(true);
  };
  const leave = (e) => {
    if (!e.currentTarget.contains(e.relatedTarget)) setDragging(false);
  };
  const drop = (e) => {
    if (!carriesFiles(e) || !state.may(room, "upload")) return;
    e.preventDefault();
    setDragging(false);
    const files = [...e.dataTransfer.files];
    if (files.length) state.attach(room.id, files);
  };
  return html`<main class=${`conversation${dragging ? " dropping" : ""}`} aria-labelledby="room-title"
    onDragOver=${over} onDragLeave=${leave} onDrop=${drop}>
    ${dragging ? html`<div class="drop-hint" aria-hidden="true"><${Icon} name="paperclip" /> ${t("attach.drop")}</div>` : null}
    <${RoomHeader} room=${room} peer=${peer} membersOpen=${membersOpen} toggleMembers=${toggleMembers} />
    ${room.seal && state.seals.unlocked(room.id) === false
      ? html`<${Unlock} room=${room} />`
      : html`<${MessageList} room=${room} />
        <p class="typing" aria-live="polite">${typingText}</p>
        <${Composer} room=${room} />`}
  </main>`;
}

function RoomHeader({ room, peer, membersOpen, toggleMembers }) {
  const { state, t, ui } = useApp();
  const leave = async () => {
    const detail = room.kind === "public" ? t("leave.public") : room.kind === "group" ? t("leave.group") : t("leave.private");
    if (!(await ui.open(Confirm, { title: t("leave.title", { room: room.name }), detail, action: t("leave.action") }))) return;
    await api("POST", `/rooms/${room.id}/leave`);
    state.leftRoom(room.id, null);
  };
  const setNotify = async (e) => {
    const { room: fresh } = await api("PUT", `/rooms/${room.id}/notify`, { level: e.currentTarget.value });
    room.notify = fresh.notify;
  };
  const subtitle = peer ? `@${peer.username}` : room.topic;
  return html`<header class="room-header">
    <span class="room-kind">${peer ? html`<${Icon} name="at-sign" />` : html`<${Icon} name=${kindIcon(room.kind, room.seal)} />`}</span>
    <div class="room-heading">
      <h2 class="room-title" id="room-title" dir="auto">${state.roomTitle(room)}${room.seal
        ? html` <span class="sealed-badge" title=${t("sealed.badge_title")}><${Icon} name="shield" />${t("sealed.badge")}</span>` : null}</h2>
      ${subtitle ? html`<p class="room-topic" dir="auto">${subtitle}</p>` : null}
    </div>
    <button class="icon-button" aria-label=${t("search.in_this_room")} title=${t("search.in_this_room")}
      onClick=${() => ui.search({ roomId: room.id })}><${Icon} name="search" /></button>
    <button class="icon-button" aria-label=${t("pins.title")} title=${t("pins.title")} onClick=${() => ui.pins(room.id)}><${Icon} name="pin" /></button>
    <label class="notify-level">
      <${Icon} name=${room.notify === "muted" ? "bell-off" : "bell"} />
      <select aria-label=${t("room.notify_label")} value=${room.notify || "mentions"} onChange=${setNotify}>
        <option value="all">${t("room.notify_all")}</option>
        <option value="mentions">${t("room.notify_mentions")}</option>
        <option value="muted">${t("room.notify_muted")}</option>
      </select>
    </label>
    <button class="icon-button members-toggle" aria-pressed=${String(membersOpen)} aria-label=${t("members.title")} title=${t("members.title")}
      onClick=${toggleMembers}><${Icon} name="users" /></button>
    ${room.kind !== "direct" && room.kind !== "group" && ["change_settings", "kick", "mute", "ban", "delete_others", "invite"].some((a) => state.may(room, a))
      ? html`<button class="icon-button" aria-label=${t("room.settings")} title=${t("room.settings")} onClick=${() => ui.roomSettings(room)}><${Icon} name="settings" /></button>`
      : null}
    ${room.kind === "group" || (room.kind !== "direct" && room.role !== "owner")
      ? html`<button class="icon-button" aria-label=${t("leave.action")} title=${t("leave.action")} onClick=${leave}><${Icon} name="door-open" /></button>`
      : null}
  </header>`;
}

/** A sealed room this browser has no key for (a new device, an invite): what it is, and the
 * passphrase to open it. Checked here against the room's check value: nothing is sent. */
function Unlock({ room }) {
  const { state, t } = useApp();
  const [passphrase, setPassphrase] = useState("");
  const [wrong, setWrong] = useState(false);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setWrong(false);
    try {
      if (!(await state.seals.unlock(room, passphrase))) setWrong(true);
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="sealed-unlock" onSubmit=${submit} aria-labelledby="unlock-title">
    <${Icon} name="shield" />
    <h3 id="unlock-title">${t("sealed.unlock_title")}</h3>
    <p>${t("sealed.unlock_detail")}</p>
    <label for="unlock-passphrase">${t("sealed.passphrase")}</label>
    <input id="unlock-passphrase" type="password" autocomplete="off" required value=${passphrase} aria-invalid=${wrong ? "true" : null}
      aria-describedby=${wrong ? "unlock-wrong" : null} onInput=${(e) => setPassphrase(e.currentTarget.value)} />
    ${wrong ? html`<p class="form-error" id="unlock-wrong" role="alert">${t("sealed.wrong_here")}</p>` : null}
    <button type="submit" class="primary" disabled=${busy}>${busy ? t("sealed.opening_key") : t("sealed.unlock")}</button>
  </form>`;
}
