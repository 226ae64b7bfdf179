// The member list of the open room: online first, then away, then offline, each by name,
// with roles and statuses. A click opens the person's profile card. On a phone it covers
// the conversation and closes with its button, Escape, or a tap outside.

import { html } from "../core/html.js";
import { fold } from "../state/store.js";
import { Avatar, Icon, PresenceDot, useApp } from "./common.js";

const ORDER = { online: 0, away: 1, offline: 2 };

export function Members({ room, close }) {
  const { state, t, ui } = useApp();
  const list = state.members.get(room.id) || [];
  const sorted = [...list].sort((a, b) => ORDER[a.presence] - ORDER[b.presence]
    || a.user.display_name.localeCompare(b.user.display_name));
  const online = list.filter((m) => m.presence !== "offline").length;
  return html`<aside class="members" aria-labelledby="members-title">
    <div class="panel-head">
      <h2 id="members-title">${t("members.title")} <span class="count">${t("members.online", { count: online, total: list.length })}</span></h2>
      <button class="icon-button close" aria-label=${t("members.close")} onClick=${close}><${Icon} name="x" /></button>
    </div>
    <ul class="member-list">
      ${sorted.map((m) => html`<li key=${m.user.id}>
        <button class=${`member ${m.presence}`} onClick=${() => ui.profile(m.user)}>
          <span class="avatar-wrap"><${Avatar} user=${m.user} /><${PresenceDot} status=${m.presence} /></span>
          <span class="member-name" dir="auto">${m.user.display_name}</span>
          ${m.role !== "member" ? html`<span class="role">${t(`role.${m.role}`)}</span>` : null}
          ${fold(m.user.display_name) !== fold(m.user.username) ? html`<span class="username">@${m.user.username}</span>` : null}
          ${m.user.status_emoji || m.user.status_text ? html`<span class="member-status" dir="auto">${`${m.user.status_emoji} ${m.user.status_text}`.trim()}</span>` : null}
        </button>
      </li>`)}
    </ul>
  </aside>`;
}
