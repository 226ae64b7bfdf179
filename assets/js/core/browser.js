// The page around the store (state/store.js takes it as `env`), in a browser: is the tab
// hidden, the address, storage that outlives a reload, desktop notifications, file uploads
// (with progress) and local previews of the images being attached, and the store of sealed
// rooms' keys (IndexedDB: a CryptoKey is kept there as it is, not extractable).

import { fetchBytes, uploadFile } from "./api.js";
import { keyStore } from "./keystore.js";

export const browserEnv = {
  hidden: () => document.hidden,
  /** Uploads a file: `{promise, abort}` (core/api.js). */
  upload: (file, onProgress, options) => uploadFile(file, onProgress, options),
  fetchBytes,
  keys: keyStore,
  /** A local address showing an image file before it is sent (null for other files). */
  preview: (file) => (/^image\/(png|jpeg|gif|webp)$/.test(file.type) ? URL.createObjectURL(file) : null),
  unpreview: (url) => url && URL.revokeObjectURL(url),
  /** Calls back whenever the user comes back to the tab; returns how to stop. */
  onReturn(callback) {
    document.addEventListener("visibilitychange", callback);
    window.addEventListener("focus", callback);
    return () => {
      document.removeEventListener("visibilitychange", callback);
      window.removeEventListener("focus", callback);
    };
  },
  /** The room the address names (`/r/<room id>`), or null (also for a malformed address). */
  route() {
    const match = location.pathname.match(/^\/r\/([^/]+)$/);
    try {
      return match ? decodeURIComponent(match[1]) : null;
    } catch {
      return null;
    }
  },
  /** Puts the open room in the address: a new history entry, or in place of the current one. */
  setRoute(roomId, replace) {
    const path = roomId ? `/r/${encodeURIComponent(roomId)}` : "/";
    if (location.pathname === path) return;
    if (replace) history.replaceState(null, "", path);
    else history.pushState(null, "", path);
  },
  /** Calls back with the room when Back or Forward changes the address; returns how to stop. */
  onRoute(callback) {
    const listener = () => callback(this.route());
    window.addEventListener("popstate", listener);
    return () => window.removeEventListener("popstate", listener);
  },
  /** Where drafts outlive a reload (null where the browser refuses storage). */
  storage: (() => {
    try {
      return window.localStorage;
    } catch {
      return null;
    }
  })(),
  /** A desktop notification, when the user allowed them. */
  notify(title, body, tag, onClick) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    const n = new Notification(title, { body, tag });
    n.onclick = () => {
      window.focus();
      onClick();
    };
  },
};
