// Start: load the browser language's catalogue, mount the app (ui/App.js), and register the service worker that lets it be installed
// and open offline (assets/sw.js).

import { html, render } from "./core/html.js";
import { loadI18n, resolveLocale } from "./core/i18n.js";
import { App } from "./ui/App.js";

// The browser's language first (the profile's, if it differs, comes with sign-in).
const i18n = await loadI18n(resolveLocale(null, navigator.languages));

const root = document.getElementById("app");
root.replaceChildren(); // the "Loading…" the page shows until the script runs
render(html`<${App} initial=${i18n} />`, root);

if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/sw.js").catch(() => {});
}
