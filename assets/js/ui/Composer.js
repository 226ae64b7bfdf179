// The composer: grows with its text up to ~40 % of the height, shows a counter near the
// server's 4,000-character limit and refuses (never cuts) a longer text, and keeps a draft per
// room across room switches and reloads. Enter sends, Shift+Enter starts a new line.
// Typing `@` offers the room's members, `:sm` offers emoji (core/complete.js): ↑/↓ choose,
// Enter or Tab take one, Escape closes the list. The smile button opens the emoji picker.
//
// It also replies (a banner quotes the message answered) and edits: ↑ in an empty composer
// edits your last message, Enter saves, Escape cancels either (the draft comes back).
//
// Files are attached with the paperclip (several at once), by pasting, or by dropping them on
// the conversation (ui/Conversation.js); each uploads at once with its own progress bar and
// can be dropped from the tray. Where the browser records sound, the microphone records a
// voice message, attached like any file. The message goes when every file is uploaded.

import { html, useEffect, useLayoutEffect, useRef, useState } from "../core/html.js";
import { applyCompletion, completionAt, emojiMatches, loadEmoji, mentionMatches } from "../core/complete.js";
import { Icon, errorText, useApp } from "./common.js";
import { AttachTray } from "./Attachments.js";

/** Can this browser record a voice message? */
const canRecord = () => Boolean(globalThis.navigator?.mediaDevices?.getUserMedia && globalThis.MediaRecorder);

/** The longest message the server takes, in characters (code points). */
export const MAX_BODY = 4000;
const WARN_FROM = MAX_BODY - 400;

export function Composer({ room }) {
  const { state, t, ui, i18n } = useApp();
  const [text, setText] = useState(() => state.draft(room.id));
  const caret = useRef(null);
  const composing = state.composing.get(room.id) || null;
  const editing = composing?.mode === "edit" ? composing.message : null;
  const replying = composing?.mode === "reply" ? composing.message : null;
  // Entering an edit puts the message's text in the box; leaving it brings the draft back.
  const shownEdit = useRef(null);
  if ((editing?.seq ?? null) !== shownEdit.current) {
    shownEdit.current = editing?.seq ?? null;
    const next = editing ? editing.body : state.draft(room.id);
    if (next !== text) {
      setText(next);
      caret.current = next.length;
    }
  }
  const [suggest, setSuggest] = useState(null); // {completion, items, at}
  const box = useRef(null);
  // Bumped whenever the list should no longer come back (typed on, closed, sent): an emoji
  // load that finishes later is then dropped.
  const asked = useRef(0);

  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return; // a room where you may not post has no box
    el.style.height = "auto";
    el.style.height = `${el.scrollHeight + 2}px`;
    if (caret.current !== null) {
      el.setSelectionRange(caret.current, caret.current);
      caret.current = null;
    }
  }, [text]);

  const length = text.length > WARN_FROM / 2 ? Array.from(text).length : text.length;
  const over = Math.max(0, length - MAX_BODY);

  const update = (value) => {
    setText(value);
    if (!editing) state.setDraft(room.id, value);
  };

  /** Looks for something to complete at the caret and offers it. */
  const offer = async (value, at) => {
    const ticket = ++asked.current;
    const completion = completionAt(value, at);
    if (!completion) return setSuggest(null);
    let items;
    if (completion.kind === "mention") {
      const members = (state.members.get(room.id) || []).map((m) => m.user).filter((u) => u.id !== state.me.id);
      items = mentionMatches(members, completion.query);
    } else {
      items = emojiMatches(await loadEmoji().catch(() => []), completion.query);
      if (ticket !== asked.current) return; // typed on, or closed, while the emoji loaded
    }
    setSuggest(items.length ? { completion, items, at: 0 } : null);
  };

  const dismiss = () => {
    asked.current += 1;
    setSuggest(null);
  };

  const take = (item) => {
    const next = applyCompletion(text, suggest.completion, item.text);
    caret.current = next.caret;
    update(next.value);
    dismiss();
  };

  const change = (e) => {
    const value = e.currentTarget.value;
    update(value);
    if (value.trim()) state.typed(room.id);
    // Not while an input method is still composing the text: it offers its own choices.
    if (!e.isComposing) offer(value, e.currentTarget.selectionStart);
  };
  /** The caret moved without typing: what it is at now decides the list. */
  const moved = (e) => {
    if (["ArrowLeft", "ArrowRight", "Home", "End"].includes(e.key) || e.type === "click") {
      offer(e.currentTarget.value, e.currentTarget.selectionStart);
    }
  };
  const files = editing ? [] : state.attachments(room.id);
  const filesReady = editing || state.attachmentsReady(room.id);
  const [recording, setRecording] = useState(null);
  // The recorder, so leaving the room (or starting an edit) turns the microphone off.
  const recorder = useRef(null);
  useEffect(() => () => recorder.current?.stop(), []);
  useEffect(() => {
    if (editing) recorder.current?.stop();
  }, [editing]);
  const picker = useRef(null);
  const send = async (e) => {
    e?.preventDefault();
    if ((!text.trim() && !files.length) || over) return;
    if (!filesReady) {
      state.notice("notice.wait_uploads");
      return;
    }
    dismiss();
    if (editing) {
      const body = text;
      state.compose(room.id, null);
      if (body !== editing.body) {
        try {
          await state.edit(room.id, editing.seq, body);
        } catch (err) {
          state.notice("notice.action_failed", { reason: errorText(i18n, err) });
        }
      }
    } else {
      state.send(room.id, text, replying);
      update("");
      if (replying) state.compose(room.id, null);
    }
    box.current?.focus();
  };
  const cancel = () => {
    state.compose(room.id, null);
    box.current?.focus();
  };
  const keys = (e) => {
    if (suggest && !e.isComposing && e.keyCode !== 229 && !e.altKey) {
      const n = suggest.items.length;
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        setSuggest({ ...suggest, at: (suggest.at + (e.key === "ArrowDown" ? 1 : n - 1)) % n });
        return;
      }
      if ((e.key === "Enter" && !e.shiftKey) || e.key === "Tab") {
        e.preventDefault();
        take(suggest.items[suggest.at]);
        return;
      }
      if (e.key === "Escape") {
        e.preventDefault();
        e.stopPropagation();
        dismiss();
        return;
      }
    }
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      send();
    } else if (e.key === "Escape" && composing) {
      e.preventDefault();
      e.stopPropagation();
      cancel();
    } else if (e.key === "ArrowUp" && !text && !composing && !e.shiftKey && !e.altKey) {
      const last = state.lastOwn(room.id);
      if (last) {
        e.preventDefault();
        state.compose(room.id, "edit", last);
      }
    }
  };
  const pickEmoji = async () => {
    const emoji = await ui.open(() => import("./EmojiPicker.js"), {}, "EmojiPicker");
    const el = box.current;
    if (!emoji || !el) return;
    const start = el.selectionStart ?? text.length;
    const next = applyCompletion(text, { start, end: el.selectionEnd ?? start }, emoji);
    caret.current = next.caret;
    update(next.value);
    el.focus();
  };

  const chosen = (e) => {
    const list = [...(e.currentTarget.files || [])];
    e.currentTarget.value = "";
    if (list.length) state.attach(room.id, list);
    box.current?.focus();
  };
  const paste = (e) => {
    const list = [...(e.clipboardData?.files || [])];
    // Text copied from a spreadsheet or a document may come with a picture of itself: the
    // text is what was meant.
    if (!list.length || editing || e.clipboardData.types.includes("text/plain") || !state.may(room, "upload")) return;
    e.preventDefault();
    state.attach(room.id, list);
  };
  /** Starts or stops recording a voice message; a finished one is attached. */
  const record = async () => {
    if (recording) {
      recording.stop();
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch {
      state.notice("notice.no_microphone");
      return;
    }
    const stopTracks = () => {
      for (const track of stream.getTracks()) track.stop();
    };
    let media;
    try {
      media = new MediaRecorder(stream);
    } catch {
      stopTracks();
      state.notice("notice.no_microphone");
      return;
    }
    const chunks = [];
    media.ondataavailable = (ev) => ev.data.size && chunks.push(ev.data);
    media.onstop = () => {
      stopTracks();
      recorder.current = null;
      setRecording(null);
      const type = media.mimeType || "audio/webm";
      const ext = type.includes("ogg") ? "ogg" : type.includes("mp4") ? "m4a" : "webm";
      const name = `${t("composer.voice_file")} ${new Date().toISOString().slice(0, 16).replace("T", " ")}.${ext}`;
      if (chunks.length) state.attach(room.id, [new File(chunks, name, { type })]);
    };
    media.start();
    recorder.current = media;
    setRecording(media);
  };

  const listId = `suggest-${room.id}`;
  if (!state.may(room, "post")) {
    return html`<p class="composer read-only" role="status">${t("composer.read_only")}</p>`;
  }
  const quoted = replying && state.userInfo(replying.sender).display_name;
  return html`<form class=${`composer${composing ? ` ${composing.mode}ing` : ""}`} onSubmit=${send}>
    ${composing ? html`<div class="composing" role="status">
      <${Icon} name=${editing ? "pencil" : "reply"} />
      <span class="what" dir="auto">${editing
        ? t("composer.editing")
        : html`${t("composer.replying", { name: quoted })} <span class="excerpt">${replying.body.slice(0, 140)}</span>`}</span>
      <button type="button" class="icon-button" aria-label=${t("composer.cancel")} title=${t("composer.cancel")} onClick=${cancel}><${Icon} name="x" /></button>
    </div>` : null}
    ${editing ? null : html`<${AttachTray} roomId=${room.id} />`}
    ${suggest ? html`<ul class="suggestions" id=${listId} role="listbox" aria-label=${t("composer.suggestions")}>
      ${suggest.items.map((item, i) => html`<li key=${item.text + i} id=${`${listId}-${i}`} role="option" aria-selected=${String(i === suggest.at)}
        class=${i === suggest.at ? "chosen" : ""} onMouseDown=${(e) => e.preventDefault()} onClick=${() => take(item)}>
        ${item.user
          ? html`<span dir="auto">${item.user.display_name}</span> <span class="username">@${item.user.username}</span>`
          : html`<span class="emoji">${item.emoji}</span> <span>:${item.code}:</span>`}
      </li>`)}
    </ul>` : null}
    <button type="button" class="icon-button" aria-label=${t("composer.emoji")} title=${t("composer.emoji")} onClick=${pickEmoji}>
      <${Icon} name="smile-plus" />
    </button>
    ${editing || !state.may(room, "upload") ? null : html`<button type="button" class="icon-button attach" aria-label=${t("composer.attach")} title=${t("composer.attach")}
      onClick=${() => picker.current?.click()}><${Icon} name="paperclip" /></button>
    <input ref=${picker} type="file" multiple hidden onChange=${chosen} aria-hidden="true" tabindex="-1" />`}
    <textarea id="composer-input" ref=${box} rows="1" aria-label=${t("composer.label")} dir="auto"
      placeholder=${t("composer.placeholder", { room: state.roomTitle(room) })}
      aria-autocomplete="list" aria-controls=${suggest ? listId : null}
      aria-activedescendant=${suggest ? `${listId}-${suggest.at}` : null}
      value=${text} onInput=${change} onKeyDown=${keys} onKeyUp=${moved} onClick=${moved}
      onCompositionEnd=${(e) => offer(e.currentTarget.value, e.currentTarget.selectionStart)}
      onBlur=${dismiss} onPaste=${paste} aria-describedby="composer-counter"></textarea>
    <p class="visually-hidden" aria-live="polite">${suggest
      ? t("composer.suggestions_count", { count: suggest.items.length, chosen: suggestionName(suggest.items[suggest.at]) })
      : ""}</p>
    <span id="composer-counter" class=${`counter${over ? " over" : ""}`} aria-live="polite" hidden=${length < WARN_FROM}>
      ${over ? t("composer.too_long", { count: over }) : t("composer.left", { count: MAX_BODY - length })}
    </span>
    ${!editing && canRecord() ? html`<button type="button" class=${`icon-button record${recording ? " on" : ""}`} aria-pressed=${String(Boolean(recording))}
      aria-label=${recording ? t("composer.voice_stop") : t("composer.voice")} title=${recording ? t("composer.voice_stop") : t("composer.voice")}
      onClick=${record}><${Icon} name=${recording ? "circle-stop" : "mic"} /></button>` : null}
    <button type="submit" class="primary send" disabled=${over > 0 || !filesReady} aria-label=${editing ? t("composer.save") : t("composer.send")}
      title=${editing ? t("composer.save") : t("composer.send")}>
      <${Icon} name=${editing ? "check" : "send-horizontal"} />
    </button>
  </form>`;
}

/** What a suggestion is called, for the screen reader's line. */
const suggestionName = (item) => (item.user ? `@${item.user.username}` : `:${item.code}:`);
