// Sign in and create an account. Errors from the server appear next to the field they
// concern (the `fields` of an invalid_input answer), others above the button. What was typed
// survives switching between the two forms. The server says its name, welcome text and who may
// register (`GET /server`): an invite code is asked for while registration is by invite, and
// there is no sign-up while it is closed. A link with `?setup=` (the one-time link a fresh
// server logs) or `?invite=` opens the sign-up with it filled in.

import { html, useEffect, useRef, useState } from "../core/html.js";
import { api } from "../core/api.js";
import { errorText, fieldErrors, useApp } from "./common.js";

const USERNAME = /^[A-Za-z0-9._-]{3,32}$/;

/** The setup token and invite code of the link the page was opened with. */
function linked() {
  const params = new URLSearchParams(location.search);
  return { setup: params.get("setup") || "", invite: params.get("invite") || "" };
}

export function Auth({ notice, onSignedIn }) {
  const { t, i18n } = useApp();
  const [link] = useState(linked);
  const [server, setServer] = useState(null);
  const [mode, setMode] = useState(link.setup || link.invite ? "register" : "login");
  const [values, setValues] = useState({ username: "", display_name: "", password: "", invite: link.invite });
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
  const set = (name) => (e) => setValues({ ...values, [name]: e.currentTarget.value });

  function validate() {
    const found = {};
    const username = values.username.trim();
    if (!username) found.username = t("auth.username_missing");
    else if (register && !USERNAME.test(username)) found.username = t("auth.username_rule");
    if (!values.password) found.password = t("auth.password_missing");
    else if (register && [...values.password].length < 8) found.password = t("auth.password_rule");
    if (register && needsInvite && !values.invite.trim()) found.invite = t("auth.invite_missing");
    setErrors(found);
    return Object.keys(found).length === 0;
  }

  async function submit(e) {
    e.preventDefault();
    setGeneral("");
    if (!validate()) return;
    const body = { username: values.username.trim(), password: values.password };
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

  const field = (name, label, type, autocomplete, hint = "", ref = null) => html`
    <div class="field">
      <label for=${`auth-${name}`}>${label}</label>
      <input id=${`auth-${name}`} name=${name} type=${type} autocomplete=${autocomplete} ref=${ref}
        value=${values[name]} onInput=${set(name)} required=${name !== "display_name"} dir=${name === "invite" ? "ltr" : "auto"}
        aria-invalid=${errors[name] ? "true" : "false"} aria-describedby=${`auth-${name}-hint auth-${name}-error`} />
      ${hint ? html`<p class="hint" id=${`auth-${name}-hint`}>${hint}</p>` : null}
      <p class="field-error" id=${`auth-${name}-error`}>${errors[name] || ""}</p>
    </div>`;

  const tab = (which, label) => html`<button type="button" role="tab" aria-selected=${String(mode === which)}
    onClick=${() => { setMode(which); setErrors({}); setGeneral(""); }}>${label}</button>`;

  return html`<main class="auth">
    <div class="auth-card">
      <div class="brand-mark"><img src="/assets/icon.svg" alt="" width="48" height="48" /><h1>Natter</h1></div>
      ${server && server.name !== "Natter" ? html`<p class="server-name" dir="auto">${server.name}</p>` : null}
      <p class="tagline">${t("auth.tagline")}</p>
      ${server?.welcome_text ? html`<p class="welcome" dir="auto">${server.welcome_text}</p>` : null}
      ${notice ? html`<p class="notice" role="status">${t(notice)}</p>` : null}
      ${link.setup ? html`<p class="notice" role="status">${t("auth.setup_banner")}</p>` : null}
      ${closed ? html`<p class="hint">${t("auth.registration_closed")}</p>` : html`<div class="tabs" role="tablist" aria-label=${t("auth.choose")}>
        ${tab("login", t("auth.sign_in"))}${tab("register", t("auth.create_account"))}
      </div>`}
      <form class="auth-form" novalidate onSubmit=${submit}>
        ${field("username", t("auth.username"), "text", "username", register ? t("auth.username_hint") : "", first)}
        ${register ? field("display_name", t("auth.display_name_optional"), "text", "nickname") : null}
        ${field("password", t("auth.password"), "password", register ? "new-password" : "current-password", register ? t("auth.password_hint") : "")}
        ${register && needsInvite ? field("invite", t("auth.invite_code"), "text", "off", t("auth.invite_hint")) : null}
        <p class="form-error" role="alert">${general}</p>
        <button type="submit" class="primary" disabled=${busy}>${register ? t("auth.create_account") : t("auth.sign_in")}</button>
      </form>
    </div>
  </main>`;
}
