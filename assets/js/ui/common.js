// Small pieces every screen uses: the app context (store, translations, dialogs), icons,
// avatars, native modal dialogs and their forms.

import { html, createContext, useContext, useEffect, useRef, useState } from "../core/html.js";

/** `{state, i18n, t, ui}`: the store, the translations, and `ui.open(Dialog, props)`. */
export const AppContext = createContext(null);
export const useApp = () => useContext(AppContext);

/** An icon from the vendored Lucide sprite; decorative unless it has a `label`. */
export function Icon({ name, label = null, class: cls = "" }) {
  return html`<svg class=${`icon ${cls}`} aria-hidden=${label ? null : "true"} role=${label ? "img" : null}
    aria-label=${label} focusable="false"><use href=${`/assets/vendor/lucide/sprite.svg#${name}`} /></svg>`;
}

/** The icon of a room's kind: a group conversation, a sealed room, a private room, any other room. */
export const kindIcon = (kind, sealed = false) => (kind === "group" ? "users" : sealed ? "shield" : kind === "private" ? "lock" : "hash");

export function Avatar({ user, size = "" }) {
  return html`<img class=${`avatar ${size}`} src=${user?.avatar_url || ""} alt="" width="32" height="32" loading="lazy" />`;
}

/** A user's presence as a dot; the word is for screen readers. */
export function PresenceDot({ status }) {
  const { t } = useApp();
  return html`<span class=${`presence-dot ${status || "offline"}`} role="img" aria-label=${t(`presence.${status || "offline"}`)}
    title=${t(`presence.${status || "offline"}`)}></span>`;
}

/** Text for a failed request: our words for its stable code (the server's message only for
 * a code newer than the catalogues). */
export function errorText(i18n, err) {
  return i18n.error(err?.code || "internal", err?.message);
}

/** The per-field reasons of an error. The server says them in English and has no code per
 * rule, so other languages get the code's text with the server's reason after it. */
export function fieldErrors(i18n, err) {
  const out = {};
  for (const [name, why] of Object.entries(err?.fields || {})) {
    out[name] = i18n.locale === "en" ? capitalise(why) : `${errorText(i18n, err)} (${why})`;
  }
  return out;
}

const capitalise = (text) => `${text[0]?.toUpperCase() || ""}${text.slice(1)}${/[.!?]$/.test(text) ? "" : "."}`;

let ids = 0;
/** A fresh id for label/description pairs. */
export const useId = (prefix) => {
  const ref = useRef(null);
  ref.current ??= `${prefix}-${(ids += 1)}`;
  return ref.current;
};

/** A labelled field: `children` is the control, given `id` and `aria-describedby`. */
export function Field({ label, hint = "", error = "", children, hidden = false }) {
  const id = useId("f");
  const control = typeof children === "function" ? children({ id, "aria-describedby": `${id}-hint ${id}-error`, "aria-invalid": error ? "true" : "false" }) : children;
  return html`<div class="field" hidden=${hidden}>
    <label for=${id}>${label}</label>
    ${control}
    ${hint ? html`<p class="hint" id=${`${id}-hint`}>${hint}</p>` : null}
    <p class="field-error" id=${`${id}-error`}>${error}</p>
  </div>`;
}

/** Shows the `<dialog>` in `ref` as a native modal (focus stays inside, Escape closes) and
 * calls `close` when it closes; closing it properly on unmount gives focus back to what had it
 * before it opened. */
export function useModalDialog(ref, close) {
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog.open) dialog.showModal();
    const closed = () => close();
    dialog.addEventListener("close", closed);
    return () => {
      dialog.removeEventListener("close", closed);
      if (dialog.open) dialog.close();
    };
  }, []);
}

/**
 * A native modal dialog (focus stays inside, Escape closes). With `onSubmit` it is a form:
 * the callback may throw an API error, which shows next to its field or above the buttons;
 * it resolves to true to close.
 */
export function Modal({ title, close, children, onSubmit = null, submitLabel = null, wide = false, danger = false, cancelLabel = null, ready = true }) {
  const { t, i18n } = useApp();
  const ref = useRef(null);
  const titleId = useId("dialog-title");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const [fields, setFields] = useState({});
  useModalDialog(ref, close);
  const submit = async (e) => {
    e.preventDefault();
    if (!onSubmit) return close();
    setError("");
    setFields({});
    setBusy(true);
    try {
      if (await onSubmit()) close();
    } catch (err) {
      const placed = err.shownFields || fieldErrors(i18n, err);
      setFields(placed);
      if (!Object.keys(placed).some((name) => ref.current?.querySelector(`[name="${name}"]`))) setError(errorText(i18n, err));
    } finally {
      setBusy(false);
    }
  };
  const body = typeof children === "function" ? children({ fields }) : children;
  return html`<dialog ref=${ref} class=${wide ? "wide" : ""} aria-labelledby=${titleId}>
    <form method="dialog" onSubmit=${submit} novalidate>
      <div class="dialog-head">
        <h2 id=${titleId}>${title}</h2>
        <button type="button" class="icon-button" aria-label=${t("action.close")} onClick=${() => close()}><${Icon} name="x" /></button>
      </div>
      ${body}
      <p class="form-error" role="alert">${error}</p>
      <div class="actions">
        <button type="button" onClick=${() => close()}>${cancelLabel || (onSubmit ? t("action.cancel") : t("action.close"))}</button>
        ${onSubmit ? html`<button type="submit" class=${danger ? "danger-solid" : "primary"} disabled=${busy || !ready}>${submitLabel || t("action.save")}</button>` : null}
      </div>
    </form>
  </dialog>`;
}

/** Calls `fn` after `ms` of quiet (search boxes). */
export function useDebounced(fn, ms, deps) {
  useEffect(() => {
    const timer = setTimeout(fn, ms);
    return () => clearTimeout(timer);
  }, deps);
}
