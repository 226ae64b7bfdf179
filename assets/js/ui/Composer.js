// The composer: grows with its text up to ~40 % of the height, shows a counter near the
// server's 4,000-character limit and refuses (never cuts) a longer text, and keeps a draft per
// room across room switches and reloads. Enter sends, Shift+Enter starts a new line.

import { html, useLayoutEffect, useRef, useState } from "../core/html.js";
import { Icon, useApp } from "./common.js";

/** The longest message the server takes, in characters (code points). */
export const MAX_BODY = 4000;
const WARN_FROM = MAX_BODY - 400;

export function Composer({ room }) {
  const { state, t } = useApp();
  const [text, setText] = useState(() => state.draft(room.id));
  const box = useRef(null);

  useLayoutEffect(() => {
    const el = box.current;
    el.style.height = "auto";
    el.style.height = `${el.scrollHeight + 2}px`;
  }, [text]);

  const length = text.length > WARN_FROM / 2 ? Array.from(text).length : text.length;
  const over = Math.max(0, length - MAX_BODY);

  const change = (e) => {
    const value = e.currentTarget.value;
    setText(value);
    state.setDraft(room.id, value);
    if (value.trim()) state.typed(room.id);
  };
  const send = (e) => {
    e?.preventDefault();
    if (!text.trim() || over) return;
    state.send(room.id, text);
    setText("");
    state.setDraft(room.id, "");
    box.current.focus();
  };
  const keys = (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      send();
    }
  };

  return html`<form class="composer" onSubmit=${send}>
    <textarea id="composer-input" ref=${box} rows="1" aria-label=${t("composer.label")} dir="auto"
      placeholder=${t("composer.placeholder", { room: state.roomTitle(room) })}
      value=${text} onInput=${change} onKeyDown=${keys} aria-describedby="composer-counter"></textarea>
    <span id="composer-counter" class=${`counter${over ? " over" : ""}`} aria-live="polite" hidden=${length < WARN_FROM}>
      ${over ? t("composer.too_long", { count: over }) : t("composer.left", { count: MAX_BODY - length })}
    </span>
    <button type="submit" class="primary send" disabled=${over > 0} aria-label=${t("composer.send")} title=${t("composer.send")}>
      <${Icon} name="send-horizontal" />
    </button>
  </form>`;
}
