// The security parts of your settings, each a collapsible section of the profile dialog:
// changing the password, the devices signed in to your account (with where and when, and
// "one device at a time"), two-factor sign-in (turning it on with an authenticator app,
// recovery codes, turning it off), and the people you block.

import { html, useEffect, useState } from "../../core/html.js";
import { api } from "../../core/api.js";
import { Field, Icon, errorText, useApp } from "../common.js";

export function Password() {
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

/** Every browser or app signed in to this account; each but this one can be signed out. */
export function Devices({ oneDevice, setOneDevice }) {
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
        <span><${Icon} name="monitor-smartphone" /> ${s.device}
          <span class="hint">${t("devices.where", { address: s.address || "?", when: i18n.dateTime(s.created_at) })}
            — ${s.current ? t("devices.this") : t("devices.last_seen", { when: i18n.dateTime(s.last_seen) })}</span></span>
        ${s.current ? null : html`<button type="button" onClick=${() => out([s.id])}>${t("devices.sign_out")}</button>`}
      </li>`)}
    </ul>
    ${others.length ? html`<button type="button" onClick=${() => out(others.map((s) => s.id))}>${t("devices.sign_out_others")}</button>` : null}
    <label class="check"><input type="checkbox" name="one_device" checked=${oneDevice} onChange=${setOneDevice} /> ${t("devices.one_at_a_time")}</label>
    <p class="hint">${t("devices.one_at_a_time_hint")}</p>
  </details>`;
}

/** Two-factor sign-in: off → password → QR code and secret → a code → recovery codes. */
export function TwoFactor() {
  const { t, i18n } = useApp();
  const [state, setState] = useState(null);
  const [step, setStep] = useState("idle");
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const [setup, setSetup] = useState(null);
  const [codes, setCodes] = useState(null);
  const [error, setError] = useState("");
  const load = () => api("GET", "/me/totp").then(setState, (err) => setError(errorText(i18n, err)));
  useEffect(() => {
    load();
  }, []);
  const attempt = (work) => async () => {
    setError("");
    try {
      await work();
    } catch (err) {
      setError(err.code === "forbidden" ? t("profile.password_wrong") : err.fields?.code ? t("twofactor.code_wrong") : errorText(i18n, err));
    }
  };
  const begin = attempt(async () => {
    setSetup(await api("POST", "/me/totp/setup", { password }));
    setPassword("");
    setStep("scan");
  });
  const confirm = attempt(async () => {
    const answer = await api("POST", "/me/totp/enable", { code });
    setCodes(answer.recovery_codes);
    setSetup(null);
    setCode("");
    setStep("codes");
    load();
  });
  const turnOff = attempt(async () => {
    await api("POST", "/me/totp/disable", { password });
    setPassword("");
    setStep("idle");
    load();
  });
  const renew = attempt(async () => {
    const answer = await api("POST", "/me/totp/recovery-codes", { password });
    setPassword("");
    setCodes(answer.recovery_codes);
    setStep("codes");
    load();
  });
  const passwordField = html`<${Field} label=${t("profile.current_password")}>${(a) => html`<input ...${a} name="totp_password" type="password"
    autocomplete="current-password" value=${password} onInput=${(e) => setPassword(e.currentTarget.value)} />`}</${Field}>`;
  let body;
  if (step === "scan" && setup) {
    body = html`<p>${t("twofactor.scan")}</p>
      <img class="qr" src=${`data:image/png;base64,${setup.qr_png_base64}`} alt=${t("twofactor.qr_alt")} width="200" height="200" />
      <p class="hint">${t("twofactor.or_type")} <code class="secret">${setup.secret}</code></p>
      <${Field} label=${t("twofactor.code")}>${(a) => html`<input ...${a} name="totp_code" inputmode="numeric" autocomplete="one-time-code"
        maxlength="6" value=${code} onInput=${(e) => setCode(e.currentTarget.value)} dir="ltr" />`}</${Field}>
      <button type="button" class="primary" onClick=${confirm}>${t("twofactor.turn_on")}</button>`;
  } else if (step === "codes" && codes) {
    body = html`<p>${t("twofactor.codes_once")}</p>
      <ol class="recovery-codes" dir="ltr">${codes.map((c) => html`<li key=${c}><code>${c}</code></li>`)}</ol>
      <button type="button" onClick=${() => navigator.clipboard?.writeText(codes.join("\n"))}>${t("twofactor.copy_codes")}</button>
      <button type="button" onClick=${() => { setCodes(null); setStep("idle"); }}>${t("twofactor.saved_them")}</button>`;
  } else if (state?.enabled) {
    body = html`<p>${t("twofactor.on", { count: state.recovery_codes_left })}</p>
      ${passwordField}
      <div class="buttons">
        <button type="button" onClick=${renew}>${t("twofactor.new_codes")}</button>
        <button type="button" class="danger" onClick=${turnOff}>${t("twofactor.turn_off")}</button>
      </div>`;
  } else if (state) {
    body = html`<p>${t("twofactor.off")}</p>${passwordField}
      <button type="button" onClick=${begin}>${t("twofactor.set_up")}</button>`;
  }
  return html`<details><summary>${t("twofactor.title")}</summary>
    ${body}
    <p class="form-error" role="alert">${error}</p>
  </details>`;
}

/** The people you block, each with a way to unblock them. */
export function Blocked() {
  const { t, i18n, state } = useApp();
  const [users, setUsers] = useState(null);
  const [error, setError] = useState("");
  const load = () => api("GET", "/me/blocks").then((a) => setUsers(a.users), (err) => setError(errorText(i18n, err)));
  useEffect(() => {
    load();
  }, []);
  const unblock = async (u) => {
    try {
      await state.block(u.id, false);
    } catch (err) {
      setError(errorText(i18n, err));
    }
    load();
  };
  return html`<details><summary>${t("blocked.title")}</summary>
    <p class="form-error" role="alert">${error}</p>
    <ul class="pick-list">
      ${(users || []).map((u) => html`<li key=${u.id}>
        <span><span dir="auto">${u.display_name}</span> <span class="username">@${u.username}</span></span>
        <button type="button" onClick=${() => unblock(u)}>${t("profile.unblock")}</button>
      </li>`)}
      ${users && !users.length ? html`<li class="hint">${t("blocked.none")}</li>` : null}
    </ul>
  </details>`;
}
