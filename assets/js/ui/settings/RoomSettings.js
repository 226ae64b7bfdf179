// A room's settings for its owner and admins (loaded on first use): topic, visibility and
// key, who may read history, retention, members' roles, bans, and deleting the room.

import { html, useEffect, useState } from "../../core/html.js";
import { api } from "../../core/api.js";
import { Avatar, Field, Modal, errorText, useApp } from "../common.js";
import { Ban, Confirm } from "../dialogs.js";

const RANK = { member: 0, admin: 1, owner: 2 };

export function RoomSettings({ close, room }) {
  const { state, t, ui } = useApp();
  const owner = room.role === "owner";
  const [v, setV] = useState({
    topic: room.topic || "", visibility: room.kind === "private" ? "private" : "public", key: "", history: room.history,
    max_messages: room.retention?.max_messages ?? "",
    max_days: room.retention?.max_age_secs ? Math.round(room.retention.max_age_secs / 86400) : "",
  });
  const set = (name) => (e) => setV({ ...v, [name]: e.currentTarget.value, touched: v.touched || name.startsWith("max_") });

  const save = async () => {
    const body = { topic: v.topic, visibility: v.visibility, history: v.history };
    // Retention only when edited: the form shows days, the room may hold any number of seconds.
    if (v.touched) {
      body.retention = {
        max_messages: v.max_messages === "" ? null : Number(v.max_messages),
        max_age_secs: v.max_days === "" ? null : Number(v.max_days) * 86400,
      };
    }
    if (v.key) body.key = v.key;
    const { room: fresh } = await api("PATCH", `/rooms/${room.id}`, body);
    Object.assign(room, fresh);
    state.emit("room");
    return true;
  };
  const remove = async () => {
    const yes = await ui.open(Confirm, { title: t("room.delete_title", { room: room.name }), detail: t("room.delete_detail"), action: t("room.delete") });
    if (!yes) return;
    await api("DELETE", `/rooms/${room.id}`);
    close();
  };

  return html`<${Modal} title=${t("room.settings_of", { room: room.name })} close=${close} onSubmit=${save} wide=${true}>${({ fields }) => html`
    <${Field} label=${t("room.topic")} error=${fields.topic}>${(a) => html`<input ...${a} name="topic" maxlength="256" value=${v.topic}
      onInput=${set("topic")} dir="auto" />`}</${Field}>
    <div class="row">
      <${Field} label=${t("rooms.visibility")} error=${fields.visibility}>${(a) => html`<select ...${a} name="visibility" value=${v.visibility} onChange=${set("visibility")}>
        <option value="public">${t("rooms.public")}</option>
        <option value="private">${t("rooms.private")}</option>
      </select>`}</${Field}>
      <${Field} label=${t("rooms.key")} error=${fields.key}>${(a) => html`<input ...${a} name="key" type="password" autocomplete="new-password"
        placeholder=${room.kind === "private" ? t("room.key_unchanged") : ""} value=${v.key} onInput=${set("key")} />`}</${Field}>
    </div>
    <${Field} label=${t("room.history_who")} error=${fields.history}>${(a) => html`<select ...${a} name="history" value=${v.history} onChange=${set("history")}>
      <option value="shared">${t("room.history_shared")}</option>
      <option value="joined">${t("room.history_joined")}</option>
    </select>`}</${Field}>
    <div class="row">
      <${Field} label=${t("room.keep_messages")} error=${fields.retention}>${(a) => html`<input ...${a} name="retention" type="number" min="1"
        value=${v.max_messages} onInput=${set("max_messages")} />`}</${Field}>
      <${Field} label=${t("room.keep_days")}>${(a) => html`<input ...${a} name="max_days" type="number" min="1"
        value=${v.max_days} onInput=${set("max_days")} />`}</${Field}>
    </div>
    <${People} room=${room} />
    ${owner ? html`<button type="button" class="danger" onClick=${remove}>${t("room.delete")}…</button>` : null}`}
  </${Modal}>`;
}

/** Members with their roles (the owner makes admins) and ban buttons, and the ban list. */
function People({ room }) {
  const { state, t, i18n, ui } = useApp();
  const [members, setMembers] = useState([]);
  const [bans, setBans] = useState([]);
  const [error, setError] = useState("");
  const load = () => {
    api("GET", `/rooms/${room.id}/members`).then((a) => setMembers(a.members), (err) => setError(errorText(i18n, err)));
    api("GET", `/rooms/${room.id}/bans`).then((a) => setBans(a.bans), (err) => setError(errorText(i18n, err)));
  };
  useEffect(load, [room.id]);
  const act = (fn) => async () => {
    setError("");
    try {
      await fn();
      load();
    } catch (err) {
      setError(errorText(i18n, err));
    }
  };
  const ban = (m) => act(async () => {
    const reason = await ui.open(Ban, { name: m.user.display_name });
    if (reason === undefined) return;
    await api("POST", `/rooms/${room.id}/bans`, { user_id: m.user.id, reason });
  });
  return html`
    <h3>${t("members.title")}</h3>
    <p class="form-error" role="alert">${error}</p>
    <ul class="pick-list">
      ${members.filter((m) => m.user.id !== state.me.id).map((m) => html`<li key=${m.user.id}>
        <div class="who"><${Avatar} user=${m.user} /><span><span dir="auto">${m.user.display_name}</span> <span class="username">@${m.user.username}</span>
          <span class="hint">${t(`role.${m.role}`)}</span></span></div>
        <div class="buttons">
          ${room.role === "owner" && m.role !== "owner" ? html`<button type="button" onClick=${act(() => api("PUT", `/rooms/${room.id}/members/${m.user.id}/role`,
            { role: m.role === "admin" ? "member" : "admin" }))}>${m.role === "admin" ? t("room.make_member") : t("room.make_admin")}</button>` : null}
          ${RANK[room.role] > RANK[m.role] ? html`<button type="button" class="danger" onClick=${ban(m)}>${t("ban.action")}</button>` : null}
        </div>
      </li>`)}
    </ul>
    <h3>${t("room.banned")}</h3>
    <ul class="pick-list">
      ${bans.map((b) => html`<li key=${b.user.id}>
        <span><span dir="auto">${b.user.display_name}</span> <span class="username">@${b.user.username}</span>${b.reason ? html` — <span dir="auto">${b.reason}</span>` : null}</span>
        <button type="button" onClick=${act(() => api("DELETE", `/rooms/${room.id}/bans/${b.user.id}`))}>${t("room.unban")}</button>
      </li>`)}
      ${!bans.length ? html`<li class="hint">${t("room.nobody_banned")}</li>` : null}
    </ul>`;
}
