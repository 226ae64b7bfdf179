// Start: mount the app (ui/App.js) and register the service worker that lets it be installed
// and open offline (assets/sw.js).

import { html, render } from "./core/html.js";
import { App } from "./ui/App.js";

render(html`<${App} />`, document.getElementById("app"));

if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/sw.js").catch(() => {});
}
