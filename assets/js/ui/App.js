// The app: the sign-in screen, the chat, or the offline notice. It owns the language (the
// profile's choice, else the browser's) and keeps `lang` and `dir` on <html> in step with it.

import { html, useEffect, useLayoutEffect, useMemo, useRef, useState } from "../core/html.js";
import { api } from "../core/api.js";
import { keyStore } from "../core/keystore.js";
import { loadI18n, resolveLocale } from "../core/i18n.js";
import { AppContext } from "./common.js";
import { Auth } from "./Auth.js";
import { Chat } from "./Chat.js";

function boot() {
  // The readable CSRF cookie comes with a session: without it there is nobody to ask about.
  return document.cookie.includes("natter_csrf=") ? { screen: "loading" } : { screen: "auth", notice: "" };
}

export function App({ initial }) {
  const [view, setView] = useState(boot);
  const [i18n, setI18n] = useState(initial);
  // The language asked for last: a slower load of an earlier choice must not win.
  const wanted = useRef(initial.locale);
  /** Switches language (a code we have, "" or null for the browser's), loading its catalogue. */
  const setLocale = (code) => {
    const locale = resolveLocale(code, navigator.languages);
    wanted.current = locale;
    loadI18n(locale).then((loaded) => {
      if (wanted.current === locale) setI18n((now) => (now.locale === locale ? now : loaded));
    }, () => {});
  };

  useLayoutEffect(() => {
    document.documentElement.lang = i18n.locale;
    document.documentElement.dir = i18n.dir;
  }, [i18n]);

  const signedIn = (user, profileLocale) => {
    setLocale(profileLocale);
    setView({ screen: "chat", user });
  };
  const signedOut = (notice = "") => {
    // Sealed rooms' keys stay with the person, not the browser: signing out forgets them.
    keyStore.clear().catch(() => {});
    setLocale(null);
    document.title = "Natter";
    setView({ screen: "auth", notice });
  };

  useEffect(() => {
    if (view.screen !== "loading") return;
    api("GET", "/me").then(
      (answer) => signedIn(answer.user, answer.locale),
      (err) => (err.code === "network" ? setView({ screen: "offline" }) : signedOut()),
    );
  }, []);

  useLayoutEffect(() => {
    if (view.screen !== "offline") return;
    // Opened without a network (from the service worker's copy): start over once back. A
    // layout effect, so the listener is there before the next event can come.
    const back = () => location.reload();
    window.addEventListener("online", back, { once: true });
    return () => window.removeEventListener("online", back);
  }, [view.screen]);

  const t = (key, params) => i18n.t(key, params);
  const context = useMemo(() => ({ i18n, t, setLocale }), [i18n]);
  let screen;
  if (view.screen === "loading") screen = html`<p class="loading">${t("app.loading")}</p>`;
  else if (view.screen === "offline") screen = html`<p class="loading offline" role="status">${t("app.offline")}</p>`;
  else if (view.screen === "auth") screen = html`<${Auth} notice=${view.notice} onSignedIn=${signedIn} />`;
  else screen = html`<${Chat} user=${view.user} onSignOut=${signedOut} />`;
  return html`<${AppContext.Provider} value=${context}>${screen}</${AppContext.Provider}>`;
}
