// The lightbox: one image at full size over the chat, with the room's other images a key
// away (← and →, mirrored in right-to-left languages), its name, place in the list and a
// download link. Esc or the close button returns to the chat (a native modal dialog, so
// focus goes back where it was). Loaded on first use.

import { html, useRef, useState } from "../core/html.js";
import { Icon, useApp, useModalDialog } from "./common.js";

export function Lightbox({ close, items, index: first }) {
  const { t, i18n } = useApp();
  const [at, setAt] = useState(first);
  const ref = useRef(null);
  const item = items[at];
  useModalDialog(ref, close);
  const step = (by) => setAt((n) => (n + by + items.length) % items.length);
  const keys = (e) => {
    if (items.length < 2) return;
    const forward = i18n.dir === "rtl" ? "ArrowLeft" : "ArrowRight";
    const back = i18n.dir === "rtl" ? "ArrowRight" : "ArrowLeft";
    if (e.key === forward) {
      e.preventDefault();
      step(1);
    } else if (e.key === back) {
      e.preventDefault();
      step(-1);
    }
  };
  return html`<dialog ref=${ref} class="lightbox" aria-label=${t("lightbox.title", { name: item.filename })} onKeyDown=${keys}>
    <div class="lightbox-head">
      <span class="name" dir="auto">${item.filename}</span>
      ${items.length > 1 ? html`<span class="count">${t("lightbox.position", { at: at + 1, count: items.length })}</span>` : null}
      <a class="icon-button" href=${item.url} download=${item.filename} aria-label=${t("lightbox.download")} title=${t("lightbox.download")}>
        <${Icon} name="download" /></a>
      <button type="button" class="icon-button" aria-label=${t("action.close")} title=${t("action.close")} onClick=${() => close()} autofocus>
        <${Icon} name="x" /></button>
    </div>
    <div class="lightbox-stage">
      ${items.length > 1 ? html`<button type="button" class="icon-button step back" aria-label=${t("lightbox.previous")} title=${t("lightbox.previous")}
        onClick=${() => step(-1)}><${Icon} name="chevron-left" /></button>` : null}
      <img key=${item.id} src=${item.url} alt=${item.filename} width=${item.width || null} height=${item.height || null} />
      ${items.length > 1 ? html`<button type="button" class="icon-button step forward" aria-label=${t("lightbox.next")} title=${t("lightbox.next")}
        onClick=${() => step(1)}><${Icon} name="chevron-right" /></button>` : null}
    </div>
  </dialog>`;
}
