// One message row: avatar and name (with @username where the display name differs), time,
// what it replies to (a quote that jumps to the original), the body (formatted:
// core/markdown.js) with an "(edited)" mark, its reactions (each a toggle naming who reacted),
// its files (ui/Attachments.js), its sending state, who has read up to it, and a toolbar
// shown on hover or focus. A deleted
// message is a tombstone line. The toolbar's actions are a list (`ACTIONS`) each capability
// adds to.
//
// A row re-renders only when something it shows changed, which keeps a live room cheap.

import { html, h, Component } from "../core/html.js";
import { renderBody } from "../core/markdown.js";
import { fold } from "../state/store.js";
import { AppContext, Avatar, Icon, errorText } from "./common.js";
import { Confirm } from "./dialogs.js";
import { Attachments } from "./Attachments.js";

/** Runs a change; a refusal becomes a notice. */
async function attempt(app, work) {
  try {
    await work();
  } catch (e) {
    app.state.notice("notice.action_failed", { reason: errorText(app.i18n, e) });
  }
}

/** Asks for an emoji and adds it as the user's reaction. */
export async function pickReaction(m, app) {
  const emoji = await app.ui.open(() => import("./EmojiPicker.js"), {}, "EmojiPicker");
  if (emoji) await attempt(app, () => app.state.react(m.room_id, m.seq, emoji, true));
}

/** Whether what a message says can be read here (a sealed one once it is open). */
const readable = (m) => !m.sealed || m.sealed === "open";

/** The toolbar's actions: `{id, icon, label (catalogue key), when(message, row), run(message, app)}`;
 * `row.moderator` says the room's table lets you delete others' messages, `row.pinner` pin. */
export const ACTIONS = [
  {
    id: "react",
    icon: "smile-plus",
    label: "message.react",
    when: (m, row) => !row.pending && !m.deleted && row.can.includes("react"),
    run: pickReaction,
  },
  {
    id: "reply",
    icon: "reply",
    label: "message.reply",
    when: (m, row) => !row.pending && !m.deleted && readable(m) && row.can.includes("reply"),
    run: (m, app) => {
      app.state.compose(m.room_id, "reply", m);
      document.getElementById("composer-input")?.focus();
    },
  },
  {
    id: "edit",
    icon: "pencil",
    label: "message.edit",
    when: (m, row) => !row.pending && !m.deleted && readable(m) && row.mine && row.can.includes("post"),
    run: (m, app) => {
      app.state.compose(m.room_id, "edit", m);
      document.getElementById("composer-input")?.focus();
    },
  },
  {
    id: "pin",
    icon: "pin",
    label: (m) => (m.pinned ? "message.unpin" : "message.pin"),
    when: (m, row) => !row.pending && !m.deleted && row.pinner,
    run: (m, app) => attempt(app, () => app.state.pin(m.room_id, m.seq, !m.pinned)),
  },
  {
    id: "copy",
    icon: "copy",
    label: "message.copy",
    when: (m, row) => !row.pending && !m.deleted && readable(m),
    run: (m) => navigator.clipboard?.writeText(m.body),
  },
  {
    id: "report",
    icon: "flag",
    label: "message.report",
    when: (m, row) => !row.pending && !m.deleted && !row.mine,
    run: async (m, app) => {
      const { ReportMessage } = await import("./dialogs.js");
      const done = await app.ui.open(ReportMessage, { message: m });
      if (done) app.state.notice("notice.reported");
    },
  },
  {
    id: "delete",
    icon: "trash-2",
    label: "message.delete",
    when: (m, row) => !row.pending && !m.deleted && (row.mine || row.moderator),
    run: async (m, app) => {
      const { t, ui, state } = app;
      const mine = m.sender.id === state.me.id;
      const ok = await ui.open(Confirm, {
        title: t("delete.title"),
        detail: mine ? t("delete.own") : t("delete.other", { name: state.userInfo(m.sender).display_name }),
        action: t("delete.action"),
      });
      if (ok) await attempt(app, () => state.remove(m.room_id, m.seq));
    },
  },
];

export class Message extends Component {
  static contextType = AppContext;

  shouldComponentUpdate(next, _state, context) {
    const p = this.props;
    return context?.i18n !== this.context?.i18n || next.message !== p.message || next.sender !== p.sender || next.grouped !== p.grouped
      || next.pending !== p.pending || next.error !== p.error || next.tabbable !== p.tabbable
      || next.moderator !== p.moderator || next.pinner !== p.pinner || next.can !== p.can || next.flash !== p.flash || seenKey(next.seen) !== seenKey(p.seen)
      || next.blocked !== p.blocked || _state?.revealed !== this.state.revealed;
  }

  render({ message: m, sender, grouped, mine, moderator, pinner, can = "", pending, error, seen, tabbable, rowKey, flash, blocked }) {
    const app = this.context;
    const { state, t, i18n, ui } = app;
    if (blocked && !this.state.revealed && !m.deleted) {
      // Someone you block: a line saying so, shown on request.
      return html`<article class="message blocked" data-key=${rowKey} data-seq=${m.seq ?? null} tabindex=${tabbable ? "0" : "-1"}>
        <p class="hint">${t("message.from_blocked")} <button class="link" onClick=${() => this.setState({ revealed: true })}>${t("message.show")}</button></p>
      </article>`;
    }
    const when = new Date(m.ts);
    const showUsername = fold(sender.display_name) !== fold(sender.username);
    const tab = tabbable ? "0" : "-1";
    const profile = () => ui.profile(sender);
    const actions = ACTIONS.filter((a) => a.when(m, { pending, mine, moderator, pinner, can }));
    const label = (a) => t(typeof a.label === "function" ? a.label(m) : a.label);
    const cls = `message${mine ? " mine" : ""}${grouped ? " grouped" : ""}${pending ? ` ${pending}` : ""}${m.deleted ? " deleted" : ""}${flash ? " flash" : ""}`;
    return html`<article class=${cls} data-key=${rowKey} data-seq=${m.seq ?? null} tabindex=${tab}>
      ${grouped
        ? html`<time class="side-time" datetime=${m.ts} title=${i18n.dateTime(when)}>${i18n.time(when)}</time>`
        : html`<button class="avatar-button" tabindex="-1" aria-hidden="true" onClick=${profile}><${Avatar} user=${sender} /></button>`}
      <div class="content">
        ${grouped ? null : html`<header>
          <button class="author" tabindex=${tab} onClick=${profile} dir="auto">${sender.display_name}</button>
          ${showUsername ? html`<span class="username">@${sender.username}</span>` : null}
          <time datetime=${m.ts} title=${i18n.dateTime(when)}>${i18n.time(when)}</time>
          ${m.pinned ? html`<span class="pinned-mark" title=${t("message.pinned")}><${Icon} name="pin" label=${t("message.pinned")} /></span>` : null}
        </header>`}
        ${m.reply_to ? html`<${Quote} reply=${m.reply_to} roomId=${m.room_id} tab=${tab} />` : null}
        ${m.deleted
          ? html`<p class="body tombstone">${t("message.deleted")}</p>`
          : !readable(m)
            ? html`<p class="body sealed-note"><${Icon} name="lock" /> ${t(`sealed.${m.sealed}`)}</p>`
          : m.body || m.edited_at || !m.attachments?.length
            ? html`<div class="body" dir="auto">${renderBody(m.body, { h, mentions: m.mentions || [], me: state.me.id })}${m.edited_at
              ? html` <span class="edited" title=${i18n.dateTime(new Date(m.edited_at))}>${t("message.edited")}</span>` : null}</div>`
            : null}
        ${m.forged ? html`<p class="sealed-forged" role="note">${t("sealed.forged")}</p>` : null}
        ${!m.deleted && readable(m) && m.attachments?.length ? html`<${Attachments} message=${m} tab=${tab} />` : null}
        ${m.reactions?.length ? html`<${Reactions} message=${m} tab=${tab} />` : null}
        ${pending ? html`<p class=${`status ${pending}`}>
          ${pending === "pending" ? t("message.sending") : t("message.not_sent", { reason: i18n.has(`send.${error}`) ? t(`send.${error}`) : i18n.error(error) })}
          ${pending === "failed" ? html`
            <button class="link" tabindex=${tab} onClick=${() => state.retry(m.client_id)}>${t("message.retry")}</button>
            <button class="link" tabindex=${tab} onClick=${() => state.discard(m.client_id)}>${t("message.discard")}</button>` : null}
        </p>` : null}
        ${seen ? html`<p class="seen" title=${t("message.seen_by", { names: i18n.list(seen.map((u) => u.display_name)) })}>
          ${seen.slice(0, 5).map((u) => html`<${Avatar} key=${u.id} user=${u} size="tiny" />`)}
          <span>${seen.length > 3
            ? t("message.seen_by_more", { names: i18n.list(seen.slice(0, 3).map((u) => u.display_name)), count: seen.length - 3 })
            : t("message.seen_by", { names: i18n.list(seen.map((u) => u.display_name)) })}</span>
        </p>` : null}
      </div>
      ${actions.length ? html`<div class="toolbar" role="toolbar" aria-label=${t("message.actions")}>
        ${actions.map((a) => html`<button key=${a.id} class=${`icon-button action-${a.id}`} tabindex=${tab} aria-label=${label(a)} title=${label(a)}
          onClick=${() => a.run(m, app)}><${Icon} name=${a.icon} /></button>`)}
      </div>` : null}
    </article>`;
  }
}

/** What a reply quotes; choosing it shows the original in context. */
class Quote extends Component {
  static contextType = AppContext;
  render({ reply, roomId, tab }) {
    const { state, t } = this.context;
    const who = state.userInfo(reply.sender).display_name;
    // A quote without text (in rooms where not everyone reads older history) shows the copy
    // held here, if any.
    const own = !reply.deleted && !reply.excerpt ? state.view(state.log(roomId).bySeq.get(reply.seq)) : null;
    const text = reply.deleted || own?.deleted ? t("message.deleted") : reply.excerpt || own?.body.slice(0, 140) || "…";
    return html`<button class="quote" tabindex=${tab} aria-label=${t("message.reply_to", { name: who, text })}
      onClick=${() => state.jumpTo(roomId, reply.seq)}>
      <${Icon} name="reply" /><strong dir="auto">${who}</strong> <span dir="auto" class=${reply.deleted ? "tombstone" : ""}>${text}</span>
    </button>`;
  }
}

/** The reactions under a message: each toggles the user's own, and names who gave it. */
class Reactions extends Component {
  static contextType = AppContext;
  render({ message: m, tab }) {
    const app = this.context;
    const { state, t, i18n } = app;
    const names = (r) => {
      const known = r.user_ids.map((id) => (id === state.me.id ? t("reaction.you") : state.users.get(id)?.display_name || t("reaction.someone")));
      const more = r.count - known.length;
      return more > 0 ? t("reaction.by_more", { names: i18n.list(known), count: more }) : t("reaction.by", { names: i18n.list(known) });
    };
    return html`<div class="reactions" role="group" aria-label=${t("reaction.group")}>
      ${m.reactions.map((r) => html`<button key=${r.emoji} class="reaction" tabindex=${tab} aria-pressed=${String(Boolean(r.me))}
        title=${names(r)} aria-label=${`${r.emoji} ${r.count}, ${names(r)}`}
        onClick=${() => attempt(app, () => state.react(m.room_id, m.seq, r.emoji, !r.me))}>
        <span class="emoji">${r.emoji}</span> <span class="count">${r.count}</span>
      </button>`)}
      <button class="reaction add" tabindex=${tab} aria-label=${t("message.react")} title=${t("message.react")}
        onClick=${() => pickReaction(m, app)}><${Icon} name="smile-plus" /></button>
    </div>`;
  }
}

const seenKey = (seen) => (seen ? seen.map((u) => `${u.id}:${u.display_name}`).join(",") : "");
