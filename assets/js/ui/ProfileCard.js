// A person's card: avatar, display name, @username (what tells look-alike names apart),
// status, presence, and buttons to message them and to block or unblock them (or to edit your
// own profile).

import { html, useEffect, useState } from "../core/html.js";
import { api } from "../core/api.js";
import { Avatar, Icon, Modal, PresenceDot, errorText, useApp } from "./common.js";

export function ProfileCard({ person, close }) {
  const { state, t, i18n, ui } = useApp();
  const [user, setUser] = useState(() => state.userInfo(person));
  const [error, setError] = useState("");
  useEffect(() => {
    api("GET", `/users/${person.id}`).then(({ user: fresh }) => {
      state.users.set(fresh.id, { ...state.users.get(fresh.id), ...fresh });
      setUser(fresh);
    }, () => {});
  }, [person.id]);
  const me = user.id === state.me.id;
  const [blocked, setBlocked] = useState(state.blocked.has(person.id));
  const toggleBlock = async () => {
    try {
      await state.block(user.id, !blocked);
      setBlocked(!blocked);
    } catch (err) {
      setError(errorText(i18n, err));
    }
  };
  const presence = state.presence.get(user.id);
  const message = async () => {
    try {
      await state.messageUser(user);
      close();
    } catch (err) {
      setError(errorText(i18n, err));
    }
  };
  return html`<${Modal} title=${user.display_name} close=${close}>
    <div class="profile-card">
      <${Avatar} user=${user} size="large" />
      <div>
        <p class="username" dir="ltr">@${user.username}</p>
        ${presence ? html`<p class="presence-line"><${PresenceDot} status=${presence} /> ${t(`presence.${presence}`)}</p>` : null}
        ${user.status_emoji || user.status_text ? html`<p class="status-line" dir="auto">${`${user.status_emoji || ""} ${user.status_text || ""}`.trim()}</p>` : null}
        ${user.created_at ? html`<p class="hint">${t("profile.member_since", { date: i18n.date(user.created_at) })}</p>` : null}
      </div>
    </div>
    <p class="form-error" role="alert">${error}</p>
    <div class="card-actions">
      ${me
        ? html`<button type="button" class="primary" onClick=${() => { close(); ui.settings(); }}><${Icon} name="pencil" /> ${t("profile.edit")}</button>`
        : html`<button type="button" class="primary" onClick=${message}><${Icon} name="message-circle" /> ${t("profile.message")}</button>
          <button type="button" class=${blocked ? "" : "danger"} onClick=${toggleBlock}>${blocked ? t("profile.unblock") : t("profile.block")}</button>`}
    </div>
  </${Modal}>`;
}
