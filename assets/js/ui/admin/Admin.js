// The server admin panel (loaded on first use, and only for admins): an overview of the
// server, its accounts, every room, reports, invites, settings and the audit log, each a tab.
// Everything here is a call to `/api/v1/admin/…`; the server refuses anyone who is not an
// admin, whatever this page shows.

import { html, useEffect, useRef, useState } from "../../core/html.js";
import { api } from "../../core/api.js";
import { isSealed } from "../../core/sealed.js";
import { Avatar, Icon, Modal, errorText, useApp, useDebounced, useModalDialog } from "../common.js";
import { Confirm } from "../dialogs.js";
import { Audit, Invites, Reports, ServerSettings } from "./Records.js";

const TABS = ["overview", "users", "rooms", "reports", "invites", "settings", "audit"];

export function AdminPanel({ close }) {
  const { t } = useApp();
  const ref = useRef(null);
  const [tab, setTab] = useState("overview");
  useModalDialog(ref, close);
  const Shown = { overview: Overview, users: Users, rooms: Rooms, reports: Reports, invites: Invites, settings: ServerSettings, audit: Audit }[tab];
  const keys = (e) => {
    const at = TABS.indexOf(tab);
    const next = e.key === "ArrowRight" ? at + 1 : e.key === "ArrowLeft" ? at - 1 : null;
    if (next === null) return;
    e.preventDefault();
    const to = TABS[(next + TABS.length) % TABS.length];
    setTab(to);
    requestAnimationFrame(() => document.getElementById(`admin-tab-${to}`)?.focus());
  };
  return html`<dialog ref=${ref} class="admin" aria-labelledby="admin-title">
    <div class="dialog-head">
      <h2 id="admin-title"><${Icon} name="shield" /> ${t("admin.title")}</h2>
      <button type="button" class="icon-button" aria-label=${t("action.close")} onClick=${() => close()}><${Icon} name="x" /></button>
    </div>
    <div class="tabs admin-tabs" role="tablist" aria-label=${t("admin.title")} onKeyDown=${keys}>
      ${TABS.map((name) => html`<button type="button" role="tab" id=${`admin-tab-${name}`} aria-controls="admin-tabpanel"
        aria-selected=${String(tab === name)} tabindex=${tab === name ? "0" : "-1"} onClick=${() => setTab(name)}>${t(`admin.${name}`)}</button>`)}
    </div>
    <div class="admin-body" role="tabpanel" id="admin-tabpanel" aria-labelledby=${`admin-tab-${tab}`}>
      <${Shown} key=${tab} />
    </div>
  </dialog>`;
}

/** Loads `path` and re-loads it on `reload()`; `error` is the last failure as text. */
export function useLoad(path, deps = []) {
  const { i18n } = useApp();
  const [data, setData] = useState(null);
  const [error, setError] = useState("");
  const load = () => {
    if (!path) return;
    api("GET", path).then((d) => { setData(d); setError(""); }, (err) => setError(errorText(i18n, err)));
  };
  useEffect(load, [path, ...deps]);
  return { data, error, setError, reload: load };
}

/** Runs `work` (an API call), then `after`; a failure is shown through `setError`. */
export function acting(i18n, setError, after) {
  return (work) => async () => {
    setError("");
    try {
      await work();
    } catch (err) {
      setError(errorText(i18n, err));
    }
    after();
  };
}

function Overview() {
  const { t, i18n } = useApp();
  const { data, error, reload } = useLoad("/admin/dashboard");
  // Two readings a few seconds apart give the message rate of the node that answers.
  const [rate, setRate] = useState(null);
  const last = useRef(null);
  useEffect(() => {
    const timer = setInterval(reload, 5000);
    return () => clearInterval(timer);
  }, []);
  useEffect(() => {
    if (!data) return;
    const before = last.current;
    if (before && data.uptime_secs > before.uptime_secs) {
      setRate((data.messages_stored - before.messages_stored) / (data.uptime_secs - before.uptime_secs));
    }
    last.current = data;
  }, [data]);
  if (!data) return html`<p class="form-error" role="alert">${error}</p>`;
  const n = (value) => i18n.number(value);
  const cards = [
    ["users", "admin.stat_users", n(data.totals.users)],
    ["user-x", "admin.stat_deactivated", n(data.totals.deactivated_users)],
    ["shield", "admin.stat_admins", n(data.totals.admins)],
    ["hash", "admin.stat_rooms", n(data.totals.rooms)],
    ["message-square", "admin.stat_messages", n(data.totals.messages)],
    ["flag", "admin.stat_reports", n(data.totals.open_reports)],
    ["hard-drive", "admin.stat_storage", i18n.size(data.stored_bytes)],
    ["plug", "admin.stat_connections", n(data.connections)],
    ["activity", "admin.stat_rate", rate === null ? "…" : t("admin.per_second", { n: i18n.number(Math.round(rate * 10) / 10) })],
  ];
  return html`<p class="form-error" role="alert">${error}</p>
    <ul class="stat-cards">
      ${cards.map(([icon, label, value]) => html`<li key=${label}><${Icon} name=${icon} /><span class="stat-value">${value}</span><span class="stat-label">${t(label)}</span></li>`)}
    </ul>
    <p class="hint">${t("admin.node_hint")}</p>`;
}

function Users() {
  const { t, i18n, ui, state } = useApp();
  const [q, setQ] = useState("");
  const [path, setPath] = useState("/admin/users?q=");
  useDebounced(() => setPath(`/admin/users?q=${encodeURIComponent(q.trim())}`), 250, [q]);
  const { data, error, setError, reload } = useLoad(path);
  const [open, setOpen] = useState(null);
  const act = acting(i18n, setError, reload);
  const patch = (u, body) => act(() => api("PATCH", `/admin/users/${u.id}`, body));
  const deactivate = (u) => act(async () => {
    const yes = await ui.open(Confirm, { title: t("admin.deactivate_title", { name: u.display_name }), detail: t("admin.deactivate_detail"), action: t("admin.deactivate") });
    if (yes) await api("PATCH", `/admin/users/${u.id}`, { deactivated: true });
  });
  return html`<div class="field"><label for="admin-user-search">${t("admin.search_users")}</label>
      <input id="admin-user-search" type="search" value=${q} onInput=${(e) => setQ(e.currentTarget.value)} autocomplete="off" /></div>
    <p class="form-error" role="alert">${error}</p>
    <table class="admin-table">
      <thead><tr><th scope="col">${t("admin.user")}</th><th scope="col">${t("admin.joined")}</th><th scope="col">${t("admin.last_seen")}</th>
        <th scope="col">${t("admin.counts")}</th><th scope="col"><span class="visually-hidden">${t("admin.actions")}</span></th></tr></thead>
      <tbody>
        ${(data?.users || []).map((u) => html`<tr key=${u.id} class=${u.deactivated ? "deactivated" : ""}>
          <td><div class="who"><${Avatar} user=${u} /><span><span dir="auto">${u.display_name}</span> <span class="username">@${u.username}</span>
            ${u.is_admin ? html` <span class="badge">${t("admin.admin_badge")}</span>` : null}
            ${u.deactivated ? html` <span class="badge danger">${t("admin.deactivated_badge")}</span>` : null}</span></div></td>
          <td>${i18n.dateTime(new Date(u.created_at))}</td>
          <td>${u.last_seen ? i18n.dateTime(new Date(u.last_seen)) : "—"}</td>
          <td>${t("admin.user_counts", { rooms: u.rooms, messages: u.messages, sessions: u.sessions })}</td>
          <td class="buttons">
            <button type="button" onClick=${() => setOpen(open === u.id ? null : u.id)} aria-expanded=${String(open === u.id)}>${t("admin.details")}</button>
            ${u.id === state.me.id ? null : u.deactivated
              ? html`<button type="button" onClick=${patch(u, { deactivated: false })}>${t("admin.reactivate")}</button>`
              : html`<button type="button" class="danger" onClick=${deactivate(u)}>${t("admin.deactivate")}</button>`}
          </td>
        </tr>
        ${open === u.id ? html`<tr key=${`${u.id}-detail`} class="detail"><td colspan="5"><${UserDetail} user=${u} reload=${reload} /></td></tr>` : null}`)}
      </tbody>
    </table>`;
}

/** One account's sessions, and what an admin can do to it beyond (de)activation. */
function UserDetail({ user, reload }) {
  const { t, i18n, state } = useApp();
  const { data, error, setError, reload: again } = useLoad(`/admin/users/${user.id}`);
  const act = acting(i18n, setError, () => { again(); reload(); });
  const me = user.id === state.me.id;
  const [link, setLink] = useState("");
  const { ui } = useApp();
  const remove = act(async () => {
    const messages = await ui.open(DeleteAccount, { name: user.display_name });
    if (messages) await api("DELETE", `/admin/users/${user.id}?messages=${messages}`);
  });
  const makeLink = act(async () => {
    const answer = await api("POST", `/admin/users/${user.id}/reset-link`);
    setLink(answer.url.startsWith("/") ? `${location.origin}${answer.url}` : answer.url);
  });
  return html`<div class="user-detail">
    <p class="form-error" role="alert">${error}</p>
    <p>${t("admin.email")}: ${user.email || "—"} · ${user.totp_enabled ? t("admin.totp_on") : t("admin.totp_off")}</p>
    <h4>${t("admin.sessions")}</h4>
    <ul class="plain-list">
      ${(data?.sessions || []).map((s) => html`<li key=${s.id}>${s.device || t("admin.unknown_device")} — ${s.address || "?"} — ${i18n.dateTime(new Date(s.last_seen))}</li>`)}
      ${data && !data.sessions.length ? html`<li class="hint">${t("admin.no_sessions")}</li>` : null}
    </ul>
    <div class="buttons">
      ${!me ? html`<button type="button" onClick=${act(() => api("POST", `/admin/users/${user.id}/sign-out`))}>${t("admin.sign_out_everywhere")}</button>` : null}
      ${!me ? html`<button type="button" onClick=${makeLink}>${t("admin.reset_link")}</button>` : null}
      ${!me ? html`<button type="button" class="danger" onClick=${remove}>${t("admin.delete_account")}…</button>` : null}
      ${user.is_admin
        ? html`<button type="button" onClick=${act(() => api("PATCH", `/admin/users/${user.id}`, { is_admin: false }))}>${t("admin.unmake_admin")}</button>`
        : html`<button type="button" onClick=${act(() => api("PATCH", `/admin/users/${user.id}`, { is_admin: true }))}>${t("admin.make_admin")}</button>`}
    </div>
    ${link ? html`<div class="field made-invite"><label for=${`reset-${user.id}`}>${t("admin.reset_link_label")}</label>
      <input id=${`reset-${user.id}`} readonly value=${link} onFocus=${(e) => e.currentTarget.select()} />
      <p class="hint">${t("admin.reset_link_hint")}</p></div>` : null}
  </div>`;
}

function Rooms() {
  const { t, i18n, ui } = useApp();
  const [q, setQ] = useState("");
  const [path, setPath] = useState("/admin/rooms?q=");
  useDebounced(() => setPath(`/admin/rooms?q=${encodeURIComponent(q.trim())}`), 250, [q]);
  const { data, error, setError, reload } = useLoad(path);
  const [reading, setReading] = useState(null);
  const act = acting(i18n, setError, reload);
  const remove = (r) => act(async () => {
    const yes = await ui.open(Confirm, { title: t("room.delete_title", { room: r.name }), detail: t("admin.delete_room_detail"), action: t("room.delete") });
    if (yes) await api("DELETE", `/admin/rooms/${r.id}`);
  });
  return html`<div class="field"><label for="admin-room-search">${t("admin.search_rooms")}</label>
      <input id="admin-room-search" type="search" value=${q} onInput=${(e) => setQ(e.currentTarget.value)} autocomplete="off" /></div>
    <p class="form-error" role="alert">${error}</p>
    <table class="admin-table">
      <thead><tr><th scope="col">${t("admin.room")}</th><th scope="col">${t("admin.kind")}</th><th scope="col">${t("admin.members")}</th>
        <th scope="col">${t("admin.created")}</th><th scope="col"><span class="visually-hidden">${t("admin.actions")}</span></th></tr></thead>
      <tbody>
        ${(data?.rooms || []).map((r) => html`<tr key=${r.id}>
          <td dir="auto">${r.kind === "direct" ? t("admin.direct_room") : r.name}</td>
          <td>${t(`admin.kind_${r.kind}`)}</td>
          <td>${i18n.number(r.member_count)}</td>
          <td>${i18n.dateTime(new Date(r.created_at))}</td>
          <td class="buttons">
            <button type="button" onClick=${() => setReading(reading?.id === r.id ? null : r)}>${t("admin.read_room")}</button>
            <button type="button" class="danger" onClick=${remove(r)}>${t("room.delete")}…</button>
          </td>
        </tr>
        ${reading?.id === r.id ? html`<tr key=${`${r.id}-read`} class="detail"><td colspan="5"><${ReadRoom} room=${r} /></td></tr>` : null}`)}
      </tbody>
    </table>`;
}

/** A room's members, and its newest messages as an admin reads them (the read goes to the
 * audit log). */
function ReadRoom({ room }) {
  const { t, i18n } = useApp();
  const { data, error } = useLoad(`/admin/rooms/${room.id}/messages?limit=50`);
  const { data: people } = useLoad(`/admin/rooms/${room.id}/members`);
  return html`<div class="read-room">
    <h4>${t("admin.members")}</h4>
    <p>${(people?.members || []).map((m) => `@${m.user.username} (${t(`role.${m.role}`)})`).join(", ")}</p>
    <p class="hint">${t("admin.read_room_hint")}</p>
    <p class="form-error" role="alert">${error}</p>
    <ol class="plain-list">
      ${(data?.messages || []).map((m) => html`<li key=${m.seq}><strong dir="auto">${m.sender.display_name}</strong>
        <time datetime=${m.ts}> ${i18n.dateTime(new Date(m.ts))}</time>: <span dir="auto">${m.deleted ? t("message.deleted") : isSealed(m.body) ? t("sealed.admin_body") : m.body}</span></li>`)}
      ${data && !data.messages.length ? html`<li class="hint">${t("admin.no_messages")}</li>` : null}
    </ol>
  </div>`;
}

/** Asks before deleting an account, and what becomes of its messages. Closes with "delete",
 * "keep", or undefined when cancelled. */
function DeleteAccount({ close, name }) {
  const { t } = useApp();
  const [messages, setMessages] = useState("keep");
  return html`<${Modal} title=${t("admin.delete_account_title", { name })} close=${close} submitLabel=${t("admin.delete_account")} danger=${true}
    onSubmit=${() => { close(messages); return false; }}>
    <p>${t("admin.delete_account_detail")}</p>
    <fieldset class="choices"><legend>${t("admin.delete_messages_legend")}</legend>
      <label class="check"><input type="radio" name="messages" value="keep" checked=${messages === "keep"} onChange=${() => setMessages("keep")} /> ${t("admin.delete_keep")}</label>
      <label class="check"><input type="radio" name="messages" value="delete" checked=${messages === "delete"} onChange=${() => setMessages("delete")} /> ${t("admin.delete_messages")}</label>
    </fieldset>
  </${Modal}>`;
}
