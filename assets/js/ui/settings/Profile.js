// Your profile and settings (loaded on first use): avatar, display name, status, presence,
// read receipts, language, password, the devices signed in to your account, signing out.

import { html, useEffect, useMemo, useState } from "../../core/html.js";
import { api } from "../../core/api.js";
import { LANGUAGES } from "../../core/i18n.js";
import { Avatar, Field, Icon, Modal, errorText, useApp } from "../common.js";

export function ProfileSettings({ close, onSignOut }) {
  const { state, t, setLocale } = useApp();
  const me = state.me;
  const [v, setV] = useState({
    display_name: me.display_name, status_emoji: me.status_emoji || "", status_text: me.status_text || "",
    presence: "auto", send_receipts: true, locale: "",
  });
  const [loaded, setLoaded] = useState(false);
  const [avatar, setAvatar] = useState(null);
  const preview = useMemo(() => (avatar ? URL.createObjectURL(avatar) : null), [avatar]);
  useEffect(() => {
    // Saving sends every field: not before the ones only the server knows are in.
    api("GET", "/me").then((answer) => {
      setV((old) => ({ ...old, presence: answer.presence, send_receipts: answer.send_receipts, locale: answer.locale || "" }));
      setLoaded(true);
    }, () => {});
  }, []);
  const set = (name) => (e) => setV({ ...v, [name]: e.currentTarget.type === "checkbox" ? e.currentTarget.checked : e.currentTarget.value });

  const save = async () => {
    // The fields first: if the server refuses one, nothing is changed, the avatar included.
    let answer = await api("PATCH", "/me", v);
    state.me = answer.user;
    if (avatar) {
      answer = await api("PUT", "/me/avatar", avatar, true);
      state.me = answer.user;
    }
    state.emit("me");
    setLocale(answer.locale);
    return true;
  };
  const signOut = async () => {
    await api("POST", "/auth/logout").catch(() => {});
    close();
    onSignOut("notice.signed_out");
  };

  return html`<${Modal} title=${t("profile.title")} close=${close} onSubmit=${save} wide=${true} ready=${loaded}>${({ fields }) => html`
    <div class="avatar-edit">
      <img class="avatar large" src=${preview || me.avatar_url} alt="" width="96" height="96" />
      <${Field} label=${t("profile.avatar")} error=${fields.avatar}>${(a) => html`<input ...${a} name="avatar" type="file"
        accept="image/png,image/jpeg,image/webp,image/gif" onChange=${(e) => setAvatar(e.currentTarget.files[0] || null)} />`}</${Field}>
    </div>
    <${Field} label=${t("profile.display_name")} error=${fields.display_name}>${(a) => html`<input ...${a} name="display_name"
      value=${v.display_name} maxlength="64" required onInput=${set("display_name")} dir="auto" />`}</${Field}>
    <div class="row">
      <${Field} label=${t("profile.emoji")} error=${fields.status_emoji}>${(a) => html`<input ...${a} class="short" name="status_emoji"
        value=${v.status_emoji} maxlength="16" onInput=${set("status_emoji")} />`}</${Field}>
      <${Field} label=${t("profile.status")} error=${fields.status_text}>${(a) => html`<input ...${a} name="status_text"
        value=${v.status_text} maxlength="140" onInput=${set("status_text")} dir="auto" />`}</${Field}>
    </div>
    <div class="row">
      <${Field} label=${t("profile.presence")} error=${fields.presence}>${(a) => html`<select ...${a} name="presence" value=${v.presence} onChange=${set("presence")}>
        <option value="auto">${t("profile.presence_auto")}</option>
        <option value="away">${t("profile.presence_away")}</option>
        <option value="invisible">${t("profile.presence_invisible")}</option>
      </select>`}</${Field}>
      <${Field} label=${t("profile.language")} error=${fields.locale}>${(a) => html`<select ...${a} name="locale" value=${v.locale} onChange=${set("locale")}>
        <option value="">${t("profile.language_browser")}</option>
        ${Object.entries(LANGUAGES).map(([code, l]) => html`<option value=${code} lang=${code}>${l.name}</option>`)}
      </select>`}</${Field}>
    </div>
    <label class="check"><input type="checkbox" name="send_receipts" checked=${v.send_receipts} onChange=${set("send_receipts")} /> ${t("profile.receipts")}</label>
    <${Password} />
    <${Devices} />
    <button type="button" class="danger" onClick=${signOut}><${Icon} name="log-out" /> ${t("profile.sign_out")}</button>`}
  </${Modal}>`;
}

function Password() {
  const { t, i18n } = useApp();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [note, setNote] = useState("");
  const change = async () => {
    setNote("");
    try {
      await api("POST", "/me/password", { current_password: current, new_password: next });
      setNote(t("profile.password_changed"));
      setCurrent("");
      setNext("");
    } catch (err) {
      setNote(err.code === "forbidden" ? t("profile.password_wrong") : errorText(i18n, err));
    }
  };
  return html`<details><summary>${t("profile.password")}</summary>
    <${Field} label=${t("profile.current_password")}>${(a) => html`<input ...${a} name="current_password" type="password"
      autocomplete="current-password" value=${current} onInput=${(e) => setCurrent(e.currentTarget.value)} />`}</${Field}>
    <${Field} label=${t("profile.new_password")}>${(a) => html`<input ...${a} name="new_password" type="password"
      autocomplete="new-password" value=${next} onInput=${(e) => setNext(e.currentTarget.value)} />`}</${Field}>
    <button type="button" onClick=${change}>${t("profile.change_password")}</button>
    <p class="hint" role="status">${note}</p>
  </details>`;
}

/** A browser and system from a User-Agent, in words ("Firefox · Linux"). */
export function deviceName(ua = "") {
  const browser = [["Edg/", "Edge"], ["Firefox/", "Firefox"], ["Chrome/", "Chrome"], ["Safari/", "Safari"]]
    .find(([mark]) => ua.includes(mark))?.[1];
  const system = [["Android", "Android"], ["iPhone", "iPhone"], ["iPad", "iPad"], ["Windows", "Windows"], ["Mac OS", "macOS"], ["Linux", "Linux"]]
    .find(([mark]) => ua.includes(mark))?.[1];
  if (browser && system) return `${browser} · ${system}`;
  return browser || system || ua.slice(0, 60) || "?";
}

/** Every browser or app signed in to this account; each but this one can be signed out. */
function Devices() {
  const { t, i18n } = useApp();
  const [sessions, setSessions] = useState(null);
  const [error, setError] = useState("");
  const load = () => api("GET", "/me/sessions").then((a) => setSessions(a.sessions), (err) => setError(errorText(i18n, err)));
  useEffect(() => {
    load();
  }, []);
  const out = async (ids) => {
    for (const id of ids) await api("DELETE", `/me/sessions/${id}`).catch(() => {});
    load();
  };
  const others = (sessions || []).filter((s) => !s.current);
  return html`<details><summary>${t("devices.title")}</summary>
    <p class="form-error" role="alert">${error}</p>
    <ul class="pick-list devices">
      ${(sessions || []).map((s) => html`<li key=${s.id}>
        <span><${Icon} name="monitor-smartphone" /> ${deviceName(s.user_agent)}
          <span class="hint">${s.current ? t("devices.this") : t("devices.last_seen", { when: i18n.dateTime(s.last_seen) })}</span></span>
        ${s.current ? null : html`<button type="button" onClick=${() => out([s.id])}>${t("devices.sign_out")}</button>`}
      </li>`)}
    </ul>
    ${others.length ? html`<button type="button" onClick=${() => out(others.map((s) => s.id))}>${t("devices.sign_out_others")}</button>` : null}
  </details>`;
}
