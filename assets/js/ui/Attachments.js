// The files a message holds: images as thumbnails (their box reserved from the sizes the
// server measured, so nothing jumps as they load) that open the lightbox, videos with their
// poster and the browser's player, audio with a player, anything else as a card with its
// name, size and a download link. Also the tray of files being attached in the composer.

import { html, useEffect, useState } from "../core/html.js";
import { Icon, errorText, useApp } from "./common.js";

/** The largest box a thumbnail is shown in, in CSS pixels. */
const BOX = { width: 320, height: 240 };

/** The size to show an image or video at: its own, shrunk to fit the box. */
export function fitted(a) {
  const w = a.width || BOX.width;
  const h = a.height || BOX.height;
  const scale = Math.min(1, BOX.width / w, BOX.height / h);
  return { width: Math.max(1, Math.round(w * scale)), height: Math.max(1, Math.round(h * scale)) };
}

const kind = (a) => {
  if (a.content_type.startsWith("image/") && a.thumbnail_url) return "image";
  if (/^video\/(mp4|webm|ogg)$/.test(a.content_type)) return "video";
  if (a.content_type.startsWith("audio/")) return "audio";
  return "file";
};

/** Every image shown in a room's loaded messages, oldest first: what the lightbox steps through. */
function roomImages(state, roomId) {
  const out = [];
  for (const m of state.log(roomId).items) {
    for (const a of m.attachments || []) if (kind(a) === "image") out.push({ ...a, seq: m.seq });
  }
  return out;
}

export function Attachments({ message: m, tab }) {
  const app = useApp();
  const open = (a) => {
    // A sealed image is opened alone (it is decrypted here, one at a time).
    const items = a.sealed_key ? [a] : roomImages(app.state, m.room_id);
    const index = Math.max(0, items.findIndex((x) => x.id === a.id));
    app.ui.open(() => import("./Lightbox.js"), { items: items.length ? items : [a], index }, "Lightbox");
  };
  return html`<div class="attachments">
    ${m.attachments.map((a) => (a.sealed_key
      ? html`<${SealedFile} key=${a.id} a=${a} tab=${tab} open=${open} />`
      : shown(a, tab, open, app)))}
  </div>`;
}

/** A file of a sealed room: fetched, opened here, then shown like any other (from a local
 * address); a box of its size meanwhile. */
function SealedFile({ a, tab, open }) {
  const app = useApp();
  const f = app.state.seals.file(a);
  // The row around it re-renders only when its message changes: this shows the file itself.
  const [, opened] = useState(0);
  useEffect(() => {
    if (f.status === "opening") f.done.then(() => opened((n) => n + 1));
  }, [f]);
  if (f.status === "open") return shown({ ...a, url: f.url, thumbnail_url: /^image\//.test(a.content_type) ? f.url : null }, tab, open, app);
  const size = fitted(a);
  return html`<p class=${`attachment sealed-file ${f.status}`} style=${`min-width:${Math.min(size.width, 240)}px`}>
    <${Icon} name="lock" /> <span dir="auto">${a.filename}</span>
    <span class="size">${f.status === "failed" ? app.t("sealed.file_failed") : app.t("sealed.file_opening")}</span>
  </p>`;
}

function shown(a, tab, open, { t, i18n }) {
  const size = fitted(a);
  switch (kind(a)) {
    case "image":
      return html`<button key=${a.id} type="button" class="attachment image" tabindex=${tab}
        aria-label=${t("attach.open_image", { name: a.filename })} onClick=${() => open(a)}>
        <img src=${a.thumbnail_url} alt=${a.filename} width=${size.width} height=${size.height} loading="lazy" decoding="async" />
      </button>`;
    case "video":
      return html`<video key=${a.id} class="attachment video" controls preload="metadata" tabindex=${tab}
        src=${a.url} poster=${a.thumbnail_url || null} width=${size.width} height=${size.height}
        aria-label=${a.filename}></video>`;
    case "audio":
      return html`<figure key=${a.id} class="attachment audio">
        <figcaption dir="auto">${a.filename}${a.duration_ms ? html` <span class="size">${duration(a.duration_ms)}</span>` : null}</figcaption>
        <audio controls preload="metadata" src=${a.url} tabindex=${tab} aria-label=${a.filename}></audio>
      </figure>`;
    default:
      return html`<a key=${a.id} class="attachment file" href=${a.url} download=${a.filename} tabindex=${tab}
        aria-label=${t("attach.download", { name: a.filename, size: i18n.size(a.size) })}>
        <${Icon} name="file" />
        <span class="name" dir="auto">${a.filename}</span>
        <span class="size">${i18n.size(a.size)}</span>
        <${Icon} name="download" />
      </a>`;
  }
}

/** "1:05" from milliseconds. */
export function duration(ms) {
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(h ? 2 : 1, "0");
  const ss = String(s % 60).padStart(2, "0");
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** The composer's tray: each file being attached, its progress, and a button to drop it. */
export function AttachTray({ roomId }) {
  const { state, t, i18n } = useApp();
  const files = state.attachments(roomId);
  if (!files.length) return null;
  return html`<ul class="attach-tray" aria-label=${t("attach.tray")}>
    ${files.map((f) => html`<li key=${f.key} class=${`attaching ${f.status}`}>
      ${f.preview ? html`<img src=${f.preview} alt="" width="40" height="40" />` : html`<${Icon} name="file" />`}
      <span class="what">
        <span class="name" dir="auto">${f.name}</span>
        <span class="size">${f.status === "failed"
          ? html`<span class="error">${f.error === "payload_too_large" && state.limits?.max_upload_bytes
            ? t("attach.too_large", { size: i18n.size(state.limits.max_upload_bytes) })
            : errorText(i18n, { code: f.error })}</span>`
          : i18n.size(f.size)}</span>
        ${f.status === "uploading"
          ? html`<progress max="1" value=${f.progress} aria-label=${t("attach.progress", { name: f.name })}></progress>` : null}
      </span>
      <button type="button" class="icon-button" aria-label=${t("attach.remove", { name: f.name })} title=${t("attach.remove", { name: f.name })}
        onClick=${() => state.detach(roomId, f.key)}><${Icon} name="x" /></button>
    </li>`)}
  </ul>`;
}
