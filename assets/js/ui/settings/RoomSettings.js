// A room's settings for its owner and admins (loaded on first use): topic, visibility and
// key, who may read history, retention, the permission table (who may post, react, pin, kick,
// …), members' roles, kicks, mutes and bans, invite links, the room's reports (for its moderators), its
// activity (the room's audit log, admins' reads of it included) and deleting the room.

import { html, useEffect, useState } from "../../core/html.js";
import { api } from "../../core/api.js";
import { Avatar, Field, Icon, Modal, errorText, useApp } from "../common.js";
import { Ban, Confirm } from "../dialogs.js";
import { DEFAULT_PERMISSIONS, RANK } from "../../state/store.js";

/** The table's actions, in the order shown, and the roles each may be given. */
const ACTIONS = Object.keys(DEFAULT_PERMISSIONS);
const MODERATION = new Set(["delete_others", "kick", "mute", "ban", "change_settings"]);
const ROLES = ["member", "moderator", "admin", "owner"];

export function RoomSettings({ close, room }) {
  const { state, t, ui } = useApp();
  const owner = room.role === "owner";
  const settings = state.may(room, "change_settings");
  const [v, setV] = useState({
    topic: room.topic || "", visibility: room.kind === "private" ? "private" : "public", key: "", history: room.history,
    max_messages: room.retention?.max_messages ?? "",
    max_days: room.retention?.max_age_secs ? Math.round(room.retention.max_age_secs / 86400) : "",
  });
  const [table, setTable] = useState({ ...DEFAULT_PERMISSIONS, ...(room.permissions || {}) });
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
    const changes = Object.fromEntries(ACTIONS.filter((a) => table[a] !== (room.permissions || DEFAULT_PERMISSIONS)[a]).map((a) => [a, table[a]]));
    if (Object.keys(changes).length) body.permissions = changes;
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

  return html`<${Modal} title=${t("room.settings_of", { room: room.name })} close=${close} onSubmit=${settings ? save : null} wide=${true}>${({ fields }) => html`
    ${settings ? html`
    <${Field} label=${t("room.topic")} error=${fields.topic}>${(a) => html`<input ...${a} name="topic" maxlength="256" value=${v.topic}
      onInput=${set("topic")} dir="auto" />`}</${Field}>
    ${room.seal ? html`<p class="hint sealed-note"><${Icon} name="shield" /> ${t("sealed.settings_note")}</p>` : html`<div class="row">
      <${Field} label=${t("rooms.visibility")} error=${fields.visibility}>${(a) => html`<select ...${a} name="visibility" value=${v.visibility} onChange=${set("visibility")}>
        <option value="public">${t("rooms.public")}</option>
        <option value="private">${t("rooms.private")}</option>
      </select>`}</${Field}>
      <${Field} label=${t("rooms.key")} error=${fields.key}>${(a) => html`<input ...${a} name="key" type="password" autocomplete="new-password"
        placeholder=${room.kind === "private" ? t("room.key_unchanged") : ""} value=${v.key} onInput=${set("key")} />`}</${Field}>
    </div>`}
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
    <h3>${t("room.permissions")}</h3>
    <p class="hint">${t("room.permissions_hint")}</p>
    <div class="permission-table">
      ${ACTIONS.map((a) => html`<${Field} key=${a} label=${t(`perm.${a}`)}>${(f) => html`<select ...${f} name=${`perm-${a}`} value=${table[a]}
        onChange=${(e) => setTable({ ...table, [a]: e.currentTarget.value })}>
        ${ROLES.filter((r) => !MODERATION.has(a) || r !== "member").map((r) => html`<option value=${r}>${t("room.and_up", { role: t(`role.${r}`) })}</option>`)}
      </select>`}</${Field}>`)}
    </div>
    `: null}
    <${People} room=${room} />
    ${state.may(room, "invite") ? html`<h3>${t("room.invite_links")}</h3><${Lazy} load=${() => import("../admin/Records.js")}
      name="InviteLinks" props=${{ path: `/rooms/${room.id}/invites`, hint: "room.invite_links_hint" }} />` : null}
    ${state.may(room, "delete_others") ? html`<h3>${t("reports.title")}</h3><${Lazy} load=${() => import("../admin/Records.js")}
      name="ReportList" props=${{ path: `/rooms/${room.id}/reports` }} />` : null}
    ${settings ? html`<h3>${t("room.activity")}</h3><p class="hint">${t("room.activity_hint")}</p><${Lazy} load=${() => import("../admin/Records.js")}
      name="AuditLog" props=${{ path: `/rooms/${room.id}/audit`, filters: false }} />` : null}
    ${owner ? html`<button type="button" class="danger" onClick=${remove}>${t("room.delete")}…</button>` : null}`}
  </${Modal}>`;
}

/** A component from a module loaded when first shown. */
function Lazy({ load, name, props }) {
  const [Shown, setShown] = useState(null);
  useEffect(() => {
    load().then((module) => setShown(() => module[name]));
  }, []);
  return Shown ? html`<${Shown} ...${props} />` : null;
}

/** Members with their roles (the owner makes admins) and ban buttons, and the ban list. */
function People({ room }) {
  const { state, t, i18n, ui } = useApp();
  const [members, setMembers] = useState([]);
  const [bans, setBans] = useState([]);
  const [error, setError] = useState("");
  const load = () => {
    api("GET", `/rooms/${room.id}/members`).then((a) => setMembers(a.members), (err) => setError(errorText(i18n, err)));
    if (state.may(room, "ban")) api("GET", `/rooms/${room.id}/bans`).then((a) => setBans(a.bans), (err) => setError(errorText(i18n, err)));
  };
  useEffect(load, [room.id]);
  const act = (fn) => async () => {
    setError("");
    try {
      await fn();
      load();
    } catch (err) {
      setError(errorText(i18n, err));
      load(); // what is shown goes back to what the server holds
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
          ${RANK[room.role] > RANK[m.role] ? html`<select aria-label=${t("room.role_of", { name: m.user.display_name })} value=${m.role}
            onChange=${(e) => act(() => api("PUT", `/rooms/${room.id}/members/${m.user.id}/role`, { role: e.currentTarget.value }))()}>
            ${["member", "moderator", "admin"].filter((r) => RANK[r] < RANK[room.role]).map((r) => html`<option value=${r}>${t(`role.${r}`)}</option>`)}
          </select>` : null}
          ${state.may(room, "mute", m.role) ? html`<button type="button" onClick=${act(() => api("POST", `/rooms/${room.id}/mutes`,
            { user_id: m.user.id, until: new Date(Date.now() + 3600e3).toISOString() }))}>${t("room.mute_hour")}</button>` : null}
          ${state.may(room, "kick", m.role) ? html`<button type="button" onClick=${act(() => api("DELETE", `/rooms/${room.id}/members/${m.user.id}`))}>${t("room.kick")}</button>` : null}
          ${state.may(room, "ban", m.role) ? html`<button type="button" class="danger" onClick=${ban(m)}>${t("ban.action")}</button>` : null}
        </div>
      </li>`)}
    </ul>
    ${state.may(room, "ban") ? html`<h3>${t("room.banned")}</h3>
    <ul class="pick-list">
      ${bans.map((b) => html`<li key=${b.user.id}>
        <span><span dir="auto">${b.user.display_name}</span> <span class="username">@${b.user.username}</span>${b.reason ? html` — <span dir="auto">${b.reason}</span>` : null}</span>
        <button type="button" onClick=${act(() => api("DELETE", `/rooms/${room.id}/bans/${b.user.id}`))}>${t("room.unban")}</button>
      </li>`)}
      ${!bans.length ? html`<li class="hint">${t("room.nobody_banned")}</li>` : null}
    </ul>` : null}`;
}
