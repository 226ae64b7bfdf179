// Start: mount the app (ui/App.js) and register the service worker that lets it be installed
// and open offline (assets/sw.js).

import { html, render } from "./core/html.js";
import { App } from "./ui/App.js";

const root = document.getElementById("app");
root.replaceChildren(); // the "Loading…" the page shows until the script runs
render(html`<${App} />`, root);

if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/sw.js").catch(() => {});
}
