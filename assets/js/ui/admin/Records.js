// The admin panel's record-keeping tabs: reports (of every room), server invites, the server
// settings, and the audit log with its filters and CSV/JSON downloads. `ReportList` is also
// what a room's moderators see in the room's settings.

import { html, useState } from "../../core/html.js";
import { api } from "../../core/api.js";
import { isSealed } from "../../core/sealed.js";
import { Field, errorText, fieldErrors, useApp } from "../common.js";
import { acting, useLoad } from "./Admin.js";

/** Reports with the actions that close them; `path` lists them (the server's or a room's). */
export function ReportList({ path, admin = false }) {
  const { t, i18n, state } = useApp();
  // A sealed room's message reads only where this browser holds the room's key (a room
  // moderator's, say); elsewhere it says it is sealed.
  const said = (r) => {
    if (!isSealed(r.message.body)) return r.message.body;
    const shown = state?.view?.({ ...r.message, room_id: r.room_id, attachments: [] });
    return shown?.sealed === "open" ? shown.body : t("sealed.admin_body");
  };
  const [all, setAll] = useState(false);
  const { data, error, setError, reload } = useLoad(`${path}${all ? "?all=true" : ""}`);
  const act = acting(i18n, setError, reload);
  const resolve = (r, resolution) => act(() => api("POST", `/reports/${r.id}/resolve`, { resolution }));
  const reports = data?.reports || [];
  return html`<label class="check"><input type="checkbox" checked=${all} onChange=${(e) => setAll(e.currentTarget.checked)} /> ${t("reports.show_closed")}</label>
    <p class="form-error" role="alert">${error}</p>
    <ul class="report-list">
      ${reports.map((r) => html`<li key=${r.id} class=${r.resolved_at ? "closed" : ""}>
        <p class="report-head">${t("reports.by", { reporter: r.reporter.display_name, room: r.room_name })}
          <time datetime=${r.created_at}> ${i18n.dateTime(new Date(r.created_at))}</time></p>
        <p class="report-reason" dir="auto">${r.reason}</p>
        ${r.message
          ? html`<blockquote><strong dir="auto">${r.message.sender.display_name}</strong>: <span dir="auto">${said(r)}</span></blockquote>`
          : html`<p class="hint">${t("reports.message_gone")}</p>`}
        ${r.resolved_at
          ? html`<p class="hint">${t(`reports.closed_${r.resolution}`)}</p>`
          : html`<div class="buttons">
            <button type="button" onClick=${resolve(r, "dismissed")}>${t("reports.dismiss")}</button>
            ${r.message ? html`
              <button type="button" onClick=${resolve(r, "message_deleted")}>${t("reports.delete_message")}</button>
              <button type="button" class="danger" onClick=${resolve(r, "banned")}>${t("reports.ban_sender")}</button>
              ${admin ? html`<button type="button" class="danger" onClick=${resolve(r, "deactivated")}>${t("reports.deactivate_sender")}</button>` : null}` : null}
          </div>`}
      </li>`)}
      ${data && !reports.length ? html`<li class="hint">${t("reports.none")}</li>` : null}
    </ul>`;
}

export function Reports() {
  return html`<${ReportList} path="/admin/reports" admin=${true} />`;
}

export function Invites() {
  return html`<${InviteLinks} path="/admin/invites" hint="admin.invites_hint" />`;
}

/** Invite links: the server's (`/admin/invites`) or a room's (`/rooms/{id}/invites`): make one
 * (its link shown once), see how each was used, revoke. */
export function InviteLinks({ path, hint }) {
  const { t, i18n } = useApp();
  const { data, error, setError, reload } = useLoad(path);
  const [v, setV] = useState({ max_uses: "1", days: "7" });
  const [made, setMade] = useState(null);
  const act = acting(i18n, setError, reload);
  const create = act(async () => {
    const body = {};
    if (v.max_uses) body.max_uses = Number(v.max_uses);
    if (v.days) body.expires_in_secs = Number(v.days) * 86400;
    const { invite } = await api("POST", path, body);
    setMade(invite.url.startsWith("/") ? `${location.origin}${invite.url}` : invite.url);
  });
  const state = (i) => (i.revoked ? "revoked" : i.expires_at && new Date(i.expires_at) < new Date() ? "expired"
    : i.max_uses !== null && i.uses >= i.max_uses ? "used_up" : "good");
  return html`<p class="hint">${t(hint)}</p>
    <div class="row">
      <${Field} label=${t("admin.invite_uses")}>${(a) => html`<input ...${a} name="max_uses" type="number" min="1" max="10000"
        value=${v.max_uses} onInput=${(e) => setV({ ...v, max_uses: e.currentTarget.value })} />`}</${Field}>
      <${Field} label=${t("admin.invite_days")}>${(a) => html`<input ...${a} name="days" type="number" min="1" max="365"
        value=${v.days} onInput=${(e) => setV({ ...v, days: e.currentTarget.value })} />`}</${Field}>
    </div>
    <button type="button" class="primary" onClick=${create}>${t("admin.invite_create")}</button>
    ${made ? html`<div class="field made-invite"><label for="made-invite">${t("admin.invite_link")}</label>
      <input id="made-invite" readonly value=${made} onFocus=${(e) => e.currentTarget.select()} />
      <p class="hint">${t("admin.invite_once")}</p></div>` : null}
    <p class="form-error" role="alert">${error}</p>
    <table class="admin-table">
      <thead><tr><th scope="col">${t("admin.created")}</th><th scope="col">${t("admin.invite_used")}</th>
        <th scope="col">${t("admin.invite_expires")}</th><th scope="col">${t("admin.invite_state")}</th>
        <th scope="col"><span class="visually-hidden">${t("admin.actions")}</span></th></tr></thead>
      <tbody>
        ${(data?.invites || []).map((i) => html`<tr key=${i.id}>
          <td>${i18n.dateTime(new Date(i.created_at))}</td>
          <td>${i.max_uses === null ? i18n.number(i.uses) : `${i18n.number(i.uses)} / ${i18n.number(i.max_uses)}`}</td>
          <td>${i.expires_at ? i18n.dateTime(new Date(i.expires_at)) : "—"}</td>
          <td>${t(`admin.invite_${state(i)}`)}</td>
          <td class="buttons">${state(i) === "good" ? html`<button type="button" onClick=${act(() => api("DELETE", `${path}/${i.id}`))}>${t("admin.revoke")}</button>` : null}</td>
        </tr>`)}
      </tbody>
    </table>`;
}

const MIB = 1024 * 1024;

export function ServerSettings() {
  const { t, i18n } = useApp();
  const { data, error } = useLoad("/admin/settings");
  const [v, setV] = useState(null);
  const [loaded, setLoaded] = useState(null);
  const [fields, setFields] = useState({});
  const [status, setStatus] = useState("");
  const [failed, setFailed] = useState("");
  if (data && !v) {
    const s = data;
    const shown = {
      registration: s.registration, server_name: s.server_name, welcome_text: s.welcome_text,
      max_upload_mib: String(Math.round(s.max_upload_bytes / MIB * 10) / 10),
      quota_mib: s.upload_quota_per_user_bytes ? String(Math.round(s.upload_quota_per_user_bytes / MIB)) : "",
      send_rate_per_sec: String(s.send_rate_per_sec), send_burst: String(s.send_burst),
      retention_max_messages: s.retention_max_messages ?? "", retention_days: s.retention_max_age_secs ? String(Math.round(s.retention_max_age_secs / 86400)) : "",
      require_totp_for_admins: s.require_totp_for_admins,
    };
    setV(shown);
    setLoaded(shown);
  }
  if (!v) return html`<p class="form-error" role="alert">${error}</p>`;
  const set = (name) => (e) => setV({ ...v, [name]: e.currentTarget.value });
  const save = async (e) => {
    e.preventDefault();
    setStatus("");
    setFailed("");
    setFields({});
    // Only what was changed in the form: a value shown rounded (MiB, days) is never written
    // back rounded.
    const changed = (name) => v[name] !== loaded[name];
    const body = {};
    for (const name of ["registration", "server_name", "welcome_text", "require_totp_for_admins"]) if (changed(name)) body[name] = v[name];
    if (changed("max_upload_mib")) body.max_upload_bytes = Math.round(Number(v.max_upload_mib) * MIB);
    if (changed("quota_mib")) body.upload_quota_per_user_bytes = v.quota_mib === "" ? 0 : Math.round(Number(v.quota_mib) * MIB);
    if (changed("send_rate_per_sec")) body.send_rate_per_sec = Number(v.send_rate_per_sec);
    if (changed("send_burst")) body.send_burst = Number(v.send_burst);
    if (changed("retention_max_messages")) body.retention_max_messages = v.retention_max_messages === "" ? null : Number(v.retention_max_messages);
    if (changed("retention_days")) body.retention_max_age_secs = v.retention_days === "" ? null : Math.round(Number(v.retention_days) * 86400);
    try {
      await api("PATCH", "/admin/settings", body);
      setLoaded(v);
      setStatus(t("admin.saved"));
    } catch (err) {
      const placed = fieldErrors(i18n, err);
      setFields(placed);
      if (!Object.keys(placed).length) setFailed(errorText(i18n, err));
    }
  };
  const f = (name) => fields[name] || "";
  return html`<form class="server-settings" onSubmit=${save} novalidate>
    <${Field} label=${t("admin.registration")} error=${f("registration")}>${(a) => html`<select ...${a} name="registration" value=${v.registration} onChange=${set("registration")}>
      <option value="open">${t("admin.registration_open")}</option>
      <option value="invite">${t("admin.registration_invite")}</option>
      <option value="closed">${t("admin.registration_closed")}</option>
    </select>`}</${Field}>
    <${Field} label=${t("admin.server_name")} error=${f("server_name")}>${(a) => html`<input ...${a} name="server_name" maxlength="64" required
      value=${v.server_name} onInput=${set("server_name")} dir="auto" />`}</${Field}>
    <${Field} label=${t("admin.welcome_text")} hint=${t("admin.welcome_hint")} error=${f("welcome_text")}>${(a) => html`<textarea ...${a} name="welcome_text" maxlength="2000" rows="3"
      value=${v.welcome_text} onInput=${set("welcome_text")} dir="auto" />`}</${Field}>
    <div class="row">
      <${Field} label=${t("admin.max_upload")} error=${f("max_upload_bytes")}>${(a) => html`<input ...${a} name="max_upload_mib" type="number" min="0.1" step="0.1"
        value=${v.max_upload_mib} onInput=${set("max_upload_mib")} />`}</${Field}>
      <${Field} label=${t("admin.quota")} hint=${t("admin.no_limit_hint")} error=${f("upload_quota_per_user_bytes")}>${(a) => html`<input ...${a} name="quota_mib" type="number" min="1"
        value=${v.quota_mib} onInput=${set("quota_mib")} />`}</${Field}>
    </div>
    <div class="row">
      <${Field} label=${t("admin.send_rate")} error=${f("send_rate_per_sec")}>${(a) => html`<input ...${a} name="send_rate_per_sec" type="number" min="1"
        value=${v.send_rate_per_sec} onInput=${set("send_rate_per_sec")} />`}</${Field}>
      <${Field} label=${t("admin.send_burst")} error=${f("send_burst")}>${(a) => html`<input ...${a} name="send_burst" type="number" min="1"
        value=${v.send_burst} onInput=${set("send_burst")} />`}</${Field}>
    </div>
    <div class="row">
      <${Field} label=${t("admin.retention_messages")} hint=${t("admin.no_limit_hint")} error=${f("retention_max_messages")}>${(a) => html`<input ...${a} name="retention_max_messages" type="number" min="1"
        value=${v.retention_max_messages} onInput=${set("retention_max_messages")} />`}</${Field}>
      <${Field} label=${t("admin.retention_days")} hint=${t("admin.no_limit_hint")} error=${f("retention_max_age_secs")}>${(a) => html`<input ...${a} name="retention_days" type="number" min="1"
        value=${v.retention_days} onInput=${set("retention_days")} />`}</${Field}>
    </div>
    <label class="check"><input type="checkbox" name="require_totp_for_admins" checked=${v.require_totp_for_admins}
      onChange=${(e) => setV({ ...v, require_totp_for_admins: e.currentTarget.checked })} /> ${t("admin.require_totp")}</label>
    <p class="form-error" role="alert">${failed}</p>
    <p class="form-status" role="status">${status}</p>
    <button type="submit" class="primary">${t("action.save")}</button>
  </form>`;
}

const ACTIONS = [
  "settings_changed", "invite_created", "invite_revoked", "user_deactivated", "user_reactivated",
  "user_signed_out", "admin_granted", "admin_revoked", "room_deleted", "room_read_by_admin",
  "report_resolved", "member_banned", "member_unbanned", "member_kicked", "member_muted",
  "member_unmuted", "role_changed", "room_settings_changed", "message_deleted", "message_pinned",
  "message_unpinned", "reset_link_created", "user_deleted",
];

/** The audit log (the whole server's, or one room's with `path`), with filters and paging. */
export function AuditLog({ path = "/admin/audit", filters = true }) {
  const { t, i18n } = useApp();
  const [filter, setFilter] = useState({ action: "", actor: "", since: "", until: "" });
  const [pages, setPages] = useState([]);
  const query = new URLSearchParams();
  if (filter.action) query.set("action", filter.action);
  if (filter.actor) query.set("actor", filter.actor);
  if (filter.since) query.set("since", new Date(filter.since).toISOString());
  if (filter.until) query.set("until", new Date(`${filter.until}T23:59:59`).toISOString());
  const qs = query.toString();
  const { data, error } = useLoad(`${path}${qs ? `?${qs}` : ""}`);
  const [more, setMore] = useState("");
  const entries = [...(data?.entries || []), ...pages];
  const older = async () => {
    const last = entries[entries.length - 1];
    const q = new URLSearchParams(query);
    q.set("before", String(last.id));
    try {
      const page = await api("GET", `${path}?${q}`);
      setPages([...pages, ...page.entries]);
      if (!page.entries.length) setMore(t("admin.audit_end"));
    } catch (err) {
      setMore(errorText(i18n, err));
    }
  };
  const set = (name) => (e) => {
    setPages([]);
    setMore("");
    setFilter({ ...filter, [name]: e.currentTarget.value });
  };
  const download = (format) => `/api/v1/admin/audit?${new URLSearchParams({ ...Object.fromEntries(query), format })}`;
  return html`${filters ? html`<div class="row audit-filters">
      <${Field} label=${t("admin.audit_action")}>${(a) => html`<select ...${a} name="action" value=${filter.action} onChange=${set("action")}>
        <option value="">${t("admin.audit_any")}</option>
        ${ACTIONS.map((x) => html`<option value=${x}>${t(`audit.${x}`)}</option>`)}
      </select>`}</${Field}>
      <${Field} label=${t("admin.audit_since")}>${(a) => html`<input ...${a} type="date" name="since" value=${filter.since} onChange=${set("since")} />`}</${Field}>
      <${Field} label=${t("admin.audit_until")}>${(a) => html`<input ...${a} type="date" name="until" value=${filter.until} onChange=${set("until")} />`}</${Field}>
    </div>
    <p class="buttons"><a class="button" href=${download("csv")} download>${t("admin.export_csv")}</a>
      <a class="button" href=${download("json")} download>${t("admin.export_json")}</a></p>` : null}
    <p class="form-error" role="alert">${error}</p>
    <table class="admin-table audit-table">
      <thead><tr><th scope="col">${t("admin.audit_when")}</th><th scope="col">${t("admin.audit_who")}</th><th scope="col">${t("admin.audit_action")}</th>
        <th scope="col">${t("admin.audit_target")}</th><th scope="col">${t("admin.audit_reason")}</th><th scope="col">${t("admin.audit_address")}</th></tr></thead>
      <tbody>
        ${entries.map((e) => html`<tr key=${e.id}>
          <td>${i18n.dateTime(new Date(e.ts))}</td>
          <td>${e.actor_username ? `@${e.actor_username}` : e.actor}</td>
          <td>${i18n.has(`audit.${e.action}`) ? t(`audit.${e.action}`) : e.action}</td>
          <td class=${e.target_username ? "" : "mono"}>${e.target_username ? `@${e.target_username}` : e.target}</td>
          <td dir="auto">${e.reason}</td>
          <td class="mono">${e.address}</td>
        </tr>`)}
        ${data && !entries.length ? html`<tr><td colspan="6" class="hint">${t("admin.audit_empty")}</td></tr>` : null}
      </tbody>
    </table>
    ${entries.length >= 100 && !more ? html`<button type="button" onClick=${older}>${t("admin.audit_older")}</button>` : null}
    <p class="hint">${more}</p>`;
}

export function Audit() {
  return html`<${AuditLog} />`;
}
