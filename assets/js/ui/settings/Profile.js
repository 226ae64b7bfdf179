// Your profile and settings (loaded on first use): avatar, display name, status, presence,
// read receipts, language, the email address for password resets, and (settings/Security.js)
// the password, the devices signed in to your account, two-factor sign-in; signing out.

import { html, useEffect, useMemo, useState } from "../../core/html.js";
import { api } from "../../core/api.js";
import { LANGUAGES } from "../../core/i18n.js";
import { Avatar, Field, Icon, Modal, useApp } from "../common.js";
import { Blocked, Devices, Password, TwoFactor } from "./Security.js";

export function ProfileSettings({ close, onSignOut }) {
  const { state, t, setLocale } = useApp();
  const me = state.me;
  const [v, setV] = useState({
    display_name: me.display_name, status_emoji: me.status_emoji || "", status_text: me.status_text || "",
    presence: "auto", send_receipts: true, locale: "", email: "", one_device: false,
  });
  const [loaded, setLoaded] = useState(false);
  const [loadedEmail, setLoadedEmail] = useState("");
  const [avatar, setAvatar] = useState(null);
  const preview = useMemo(() => (avatar ? URL.createObjectURL(avatar) : null), [avatar]);
  useEffect(() => {
    // Saving sends every field: not before the ones only the server knows are in.
    api("GET", "/me").then((answer) => {
      setV((old) => ({
        ...old, presence: answer.presence, send_receipts: answer.send_receipts, locale: answer.locale || "",
        email: answer.email || "", one_device: answer.one_device, current_password: "",
      }));
      setLoadedEmail(answer.email || "");
      setLoaded(true);
    }, () => {});
  }, []);
  const set = (name) => (e) => setV({ ...v, [name]: e.currentTarget.type === "checkbox" ? e.currentTarget.checked : e.currentTarget.value });

  const save = async () => {
    // The fields first: if the server refuses one, nothing is changed, the avatar included.
    const { current_password, ...fields } = v;
    const body = fields.email !== loadedEmail ? { ...fields, current_password } : fields;
    let answer = await api("PATCH", "/me", body);
    setLoadedEmail(answer.email || "");
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
    <${Field} label=${t("profile.email")} hint=${t("profile.email_hint")} error=${fields.email}>${(a) => html`<input ...${a} name="email" type="email"
      autocomplete="email" maxlength="254" value=${v.email} onInput=${set("email")} dir="ltr" />`}</${Field}>
    ${v.email !== loadedEmail ? html`<${Field} label=${t("profile.current_password")} hint=${t("profile.email_password_hint")} error=${fields.current_password}>${(a) => html`<input ...${a}
      name="current_password" type="password" autocomplete="current-password" value=${v.current_password} onInput=${set("current_password")} />`}</${Field}>` : null}
    <${Password} />
    <${Devices} oneDevice=${v.one_device} setOneDevice=${set("one_device")} />
    <${TwoFactor} />
    <${Blocked} />
    <button type="button" class="danger" onClick=${signOut}><${Icon} name="log-out" /> ${t("profile.sign_out")}</button>`}
  </${Modal}>`;
}
