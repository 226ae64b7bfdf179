// Sign in and create an account. Errors from the server appear next to the field they
// concern (the `fields` of an invalid_input answer), others above the button. What was typed
// survives switching between the two forms. The server says its name, welcome text and who may
// register (`GET /server`): an invite code is asked for while registration is by invite, and
// there is no sign-up while it is closed. A link with `?setup=` (the one-time link a fresh
// server logs) or `?invite=` opens the sign-up with it filled in. An account with two-factor
// sign-in is asked for its code after the password. "Forgot your password?" asks for a link by
// email; a `?reset=` link (emailed, or from an admin) opens the form for a new password.

import { html, useEffect, useRef, useState } from "../core/html.js";
import { api } from "../core/api.js";
import { errorText, fieldErrors, useApp } from "./common.js";

const USERNAME = /^[A-Za-z0-9._-]{3,32}$/;

/** The setup token and invite code of the link the page was opened with. */
function linked() {
  const params = new URLSearchParams(location.search);
  return {
    setup: params.get("setup") || "", invite: params.get("invite") || "", reset: params.get("reset") || "",
    join: params.get("join") || "",
  };
}

export function Auth({ notice, onSignedIn }) {
  const { t, i18n } = useApp();
  const [link] = useState(linked);
  const [server, setServer] = useState(null);
  const [mode, setMode] = useState(link.reset ? "reset" : link.setup || link.invite ? "register" : "login");
  const [values, setValues] = useState({ username: "", display_name: "", password: "", invite: link.invite, totp: "" });
  const [needCode, setNeedCode] = useState(false);
  const [shown, setShown] = useState(notice);
  // The app's latest word wins (a sign-out's notice over the session-ended one its socket
  // close brought a moment before).
  useEffect(() => setShown(notice), [notice]);
  useEffect(() => {
    api("GET", "/server").then(setServer, () => {});
  }, []);
  const closed = server?.registration === "closed" && !link.setup;
  const needsInvite = server?.registration === "invite" && !link.setup;
  useEffect(() => {
    if (closed && mode === "register") setMode("login");
  }, [closed]);
  const [errors, setErrors] = useState({});
  const [general, setGeneral] = useState("");
  const [busy, setBusy] = useState(false);
  const first = useRef(null);
  useEffect(() => first.current?.focus(), [mode]);

  const register = mode === "register";
  const forgot = mode === "forgot";
  const reset = mode === "reset";
  const set = (name) => (e) => setValues({ ...values, [name]: e.currentTarget.value });

  function validate() {
    const found = {};
    const username = values.username.trim();
    if (!username && !reset) found.username = t("auth.username_missing");
    else if (register && !USERNAME.test(username)) found.username = t("auth.username_rule");
    if (!values.password && !forgot) found.password = t("auth.password_missing");
    else if ((register || reset) && [...values.password].length < 8) found.password = t("auth.password_rule");
    if (register && needsInvite && !values.invite.trim()) found.invite = t("auth.invite_missing");
    setErrors(found);
    return Object.keys(found).length === 0;
  }

  async function submit(e) {
    e.preventDefault();
    setGeneral("");
    if (!validate()) return;
    if (forgot || reset) return recover();
    const body = { username: values.username.trim(), password: values.password };
    if (!register && needCode) body.totp = values.totp.trim();
    if (register && values.display_name.trim()) body.display_name = values.display_name.trim();
    if (register && link.setup) body.setup = link.setup;
    else if (register && needsInvite) body.invite = values.invite.trim();
    setBusy(true);
    try {
      const answer = await api("POST", register ? "/auth/register" : "/auth/login", body);
      // The link's token or code is spent: it should not stay in the address bar or history.
      if (link.setup || link.invite) history.replaceState(null, "", "/");
      const me = await api("GET", "/me").catch(() => null);
      onSignedIn(answer.user, me?.locale || "");
    } catch (err) {
      if (err.code === "totp_required") {
        // The password was right: now the code (a wrong one says so).
        if (needCode) setErrors({ totp: t("auth.code_wrong") });
        setNeedCode(true);
        return;
      }
      const placed = fieldErrors(i18n, err);
      if (err.code === "conflict" && register) placed.username = t("auth.username_taken");
      if (placed.setup) placed.username = placed.setup;
      const shown = Object.fromEntries(Object.entries(placed).filter(([name]) => name in values));
      setErrors(shown);
      if (!Object.keys(shown).length) setGeneral(err.code === "unauthorized" && !register ? t("auth.wrong_password") : errorText(i18n, err));
    } finally {
      setBusy(false);
    }
  }

  /** Asks for a reset link by email, or sets the new password of a reset link. */
  async function recover() {
    setBusy(true);
    try {
      if (forgot) {
        await api("POST", "/auth/forgot", { username: values.username.trim() });
        setShown("auth.forgot_sent");
      } else {
        await api("POST", "/auth/reset", { token: link.reset, password: values.password });
        history.replaceState(null, "", "/");
        setValues({ ...values, password: "" });
        setShown("auth.reset_done");
      }
      setMode("login");
    } catch (err) {
      if (err.code === "not_configured") setGeneral(t("auth.forgot_unavailable"));
      else if (err.fields?.token) setGeneral(t("auth.reset_link_bad"));
      else setGeneral(fieldErrors(i18n, err).password || errorText(i18n, err));
    } finally {
      setBusy(false);
    }
  }

  const field = (name, label, type, autocomplete, hint = "", ref = null) => html`
    <div class="field">
      <label for=${`auth-${name}`}>${label}</label>
      <input id=${`auth-${name}`} name=${name} type=${type} autocomplete=${autocomplete} ref=${ref}
        value=${values[name]} onInput=${set(name)} required=${name !== "display_name"} dir=${name === "invite" || name === "totp" ? "ltr" : "auto"}
        aria-invalid=${errors[name] ? "true" : "false"} aria-describedby=${`auth-${name}-hint auth-${name}-error`} />
      ${hint ? html`<p class="hint" id=${`auth-${name}-hint`}>${hint}</p>` : null}
      <p class="field-error" id=${`auth-${name}-error`}>${errors[name] || ""}</p>
    </div>`;

  const tab = (which, label) => html`<button type="button" role="tab" aria-selected=${String(mode === which)}
    onClick=${() => { setMode(which); setErrors({}); setGeneral(""); setNeedCode(false); }}>${label}</button>`;
  const submitLabel = register ? t("auth.create_account") : forgot ? t("auth.send_link") : reset ? t("auth.set_password") : t("auth.sign_in");

  return html`<main class="auth">
    <div class="auth-card">
      <div class="brand-mark"><img src="/assets/icon.svg" alt="" width="48" height="48" /><h1>Natter</h1></div>
      ${server && server.name !== "Natter" ? html`<p class="server-name" dir="auto">${server.name}</p>` : null}
      <p class="tagline">${t("auth.tagline")}</p>
      ${server?.welcome_text ? html`<p class="welcome" dir="auto">${server.welcome_text}</p>` : null}
      ${shown ? html`<p class="notice" role="status">${t(shown)}</p>` : null}
      ${link.setup ? html`<p class="notice" role="status">${t("auth.setup_banner")}</p>` : null}
      ${link.join ? html`<p class="notice" role="status">${t("auth.join_banner")}</p>` : null}
      ${forgot || reset ? html`<h2 class="auth-title">${forgot ? t("auth.forgot_title") : t("auth.reset_title")}</h2>`
        : closed ? html`<p class="hint">${t("auth.registration_closed")}</p>` : html`<div class="tabs" role="tablist" aria-label=${t("auth.choose")}>
        ${tab("login", t("auth.sign_in"))}${tab("register", t("auth.create_account"))}
      </div>`}
      <form class="auth-form" novalidate onSubmit=${submit}>
        ${forgot ? html`<p class="hint">${t("auth.forgot_hint")}</p>` : null}
        ${reset ? null : field("username", t("auth.username"), "text", "username", register ? t("auth.username_hint") : "", first)}
        ${register ? field("display_name", t("auth.display_name_optional"), "text", "nickname") : null}
        ${forgot ? null : field("password", reset ? t("auth.new_password") : t("auth.password"), "password",
          register || reset ? "new-password" : "current-password", register || reset ? t("auth.password_hint") : "", reset ? first : null)}
        ${register && needsInvite ? field("invite", t("auth.invite_code"), "text", "off", t("auth.invite_hint")) : null}
        ${mode === "login" && needCode ? field("totp", t("auth.code"), "text", "one-time-code", t("auth.code_hint")) : null}
        <p class="form-error" role="alert">${general}</p>
        <button type="submit" class="primary" disabled=${busy}>${submitLabel}</button>
        ${mode === "login" ? html`<button type="button" class="link" onClick=${() => { setMode("forgot"); setGeneral(""); setErrors({}); }}>${t("auth.forgot_link")}</button>` : null}
        ${forgot || reset ? html`<button type="button" class="link" onClick=${() => { setMode("login"); setGeneral(""); setErrors({}); }}>${t("auth.back_to_sign_in")}</button>` : null}
      </form>
    </div>
  </main>`;
}
