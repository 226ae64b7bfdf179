// The service worker: it keeps a copy of the page shell (the page, its stylesheet, scripts
// and icon) so Natter opens without a network into its own offline state instead of the
// browser's error page. Network first: while online every request goes to the server as
// before (so an upgrade is never hidden behind a stale copy) and the copy is refreshed;
// only when the network fails is the copy served. The API, the WebSocket and avatars are
// never touched.

const CACHE = "natter-shell-v2"; // a new name drops the old copies (v1: the client before Preact)

self.addEventListener("install", () => self.skipWaiting());

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) if (name !== CACHE) await caches.delete(name);
    await self.clients.claim();
  })());
});

/** The page itself (at `/` or a room's `/r/<id>`) and its assets; nothing else of the site
 * (a link to `/healthz` or `/api/…` opened in a tab must not replace the shell). */
function isShell(request) {
  if (request.method !== "GET") return false;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return false;
  if (request.mode === "navigate") return url.pathname === "/" || /^\/r\/[^/]+$/.test(url.pathname);
  return url.pathname.startsWith("/assets/");
}

self.addEventListener("fetch", (event) => {
  if (!isShell(event.request)) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    // Every page of the app is the same shell.
    const key = event.request.mode === "navigate" ? "/" : event.request;
    try {
      const response = await fetch(event.request);
      if (response.ok) await cache.put(key, response.clone());
      return response;
    } catch (offline) {
      const copy = await cache.match(key);
      if (copy) return copy;
      throw offline;
    }
  })());
});
