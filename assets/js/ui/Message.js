// One message row: avatar and name (with @username where the display name differs), time,
// the body (formatted: core/markdown.js), its sending state, who has read up to it, and a toolbar shown on hover or focus.
// The toolbar's actions are a list (`ACTIONS`) each later capability adds to.
//
// A row re-renders only when something it shows changed, which keeps a live room cheap.

import { html, h, Component } from "../core/html.js";
import { renderBody } from "../core/markdown.js";
import { fold } from "../state/store.js";
import { AppContext, Avatar, Icon } from "./common.js";

/** The toolbar's actions: `{id, icon, label (catalogue key), when(message, row), run(message, app)}`. */
export const ACTIONS = [
  {
    id: "copy",
    icon: "copy",
    label: "message.copy",
    when: (m, row) => !row.pending,
    run: (m) => navigator.clipboard?.writeText(m.body),
  },
];

export class Message extends Component {
  static contextType = AppContext;

  shouldComponentUpdate(next, _state, context) {
    const p = this.props;
    return context?.i18n !== this.context?.i18n || next.message !== p.message || next.sender !== p.sender || next.grouped !== p.grouped
      || next.pending !== p.pending || next.error !== p.error || next.tabbable !== p.tabbable
      || seenKey(next.seen) !== seenKey(p.seen);
  }

  render({ message: m, sender, grouped, mine, pending, error, seen, tabbable, rowKey }) {
    const app = this.context;
    const { state, t, i18n, ui } = app;
    const when = new Date(m.ts);
    const showUsername = fold(sender.display_name) !== fold(sender.username);
    const tab = tabbable ? "0" : "-1";
    const profile = () => ui.profile(sender);
    const actions = ACTIONS.filter((a) => a.when(m, { pending, mine }));
    return html`<article class=${`message${mine ? " mine" : ""}${grouped ? " grouped" : ""}${pending ? ` ${pending}` : ""}`}
      data-key=${rowKey} data-seq=${m.seq ?? null} tabindex=${tab}>
      ${grouped
        ? html`<time class="side-time" datetime=${m.ts} title=${i18n.dateTime(when)}>${i18n.time(when)}</time>`
        : html`<button class="avatar-button" tabindex="-1" aria-hidden="true" onClick=${profile}><${Avatar} user=${sender} /></button>`}
      <div class="content">
        ${grouped ? null : html`<header>
          <button class="author" tabindex=${tab} onClick=${profile} dir="auto">${sender.display_name}</button>
          ${showUsername ? html`<span class="username">@${sender.username}</span>` : null}
          <time datetime=${m.ts} title=${i18n.dateTime(when)}>${i18n.time(when)}</time>
        </header>`}
        <div class="body" dir="auto">${renderBody(m.body, { h, mentions: m.mentions || [], me: state.me.id })}</div>
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
        ${actions.map((a) => html`<button key=${a.id} class="icon-button" tabindex=${tab} aria-label=${t(a.label)} title=${t(a.label)}
          onClick=${() => a.run(m, app)}><${Icon} name=${a.icon} /></button>`)}
      </div>` : null}
    </article>`;
  }
}

const seenKey = (seen) => (seen ? seen.map((u) => `${u.id}:${u.display_name}`).join(",") : "");
