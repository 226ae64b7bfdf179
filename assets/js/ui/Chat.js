// The chat screen: the top bar, the sidebar of rooms, the open conversation and the member
// list, with the dialogs opened over them. It makes the store for the signed-in user and
// re-renders when the store says something changed (Preact's diffing keeps that cheap: the
// message rows skip work unless their message changed, and the list is windowed).
//
// Keys: Ctrl+K / Cmd+K opens the quick switcher, Alt+↑/↓ moves between rooms, Escape
// closes the open panel.

import { html, useEffect, useMemo, useReducer, useRef, useState } from "../core/html.js";
import { Socket } from "../core/socket.js";
import { browserEnv } from "../core/browser.js";
import { ChatState } from "../state/store.js";
import { api } from "../core/api.js";
import { AppContext, Avatar, Icon, errorText, useApp } from "./common.js";
import { Sidebar } from "./Sidebar.js";
import { Conversation } from "./Conversation.js";
import { Members } from "./Members.js";
import { Switcher } from "./Switcher.js";

const PHONE = "(max-width: 720px)";

export function Chat({ user, onSignOut }) {
  const app = useApp();
  const { t, i18n } = app;
  const state = useMemo(() => new ChatState(user, { socket: new Socket(), env: browserEnv, t: (k, p) => i18n.t(k, p) }), [user.id]);
  state.t = (k, p) => i18n.t(k, p);
  const [, changed] = useReducer((n) => n + 1, 0);
  const [dialogs, setDialogs] = useState([]);
  const [roomsOpen, setRoomsOpen] = useState(false);
  const [membersOpen, setMembersOpen] = useState(false);

  // Listeners made once read the newest props through this.
  const latest = useRef(null);
  latest.current = { onSignOut };
  const signOut = (notice) => {
    state.stop();
    state.forgetDrafts();
    latest.current.onSignOut(notice);
  };

  useEffect(() => {
    let shown = state.current;
    const listen = (e) => {
      // Only the session on screen can end it (not one already signed out of on purpose).
      if (e.detail.what === "signed-out") return signOut("notice.session_ended");
      // Another room opened: the phone's room list has done its job.
      if (e.detail.what === "room" && state.current !== shown) {
        shown = state.current;
        setRoomsOpen(false);
      }
      changed();
    };
    state.addEventListener("change", listen);
    state.start();
    return () => {
      state.removeEventListener("change", listen);
      state.stop();
    };
  }, [state]);

  /** Opens a dialog over the chat; resolves with what it closes with. `Component` may be a
   * loader (`() => import(...)`, with `name` the export) for screens loaded on first use. */
  const ui = useMemo(() => ({
    async open(Component, props = {}, name = null) {
      const Shown = name ? (await Component())[name] : Component;
      return new Promise((resolve) => {
        const id = `${Date.now()}-${Math.random()}`;
        const close = (value) => {
          setDialogs((list) => list.filter((d) => d.id !== id));
          resolve(value);
        };
        setDialogs((list) => [...list, { id, Shown, props, close }]);
      });
    },
    profile: (person) => import("./ProfileCard.js").then(({ ProfileCard }) => ui.open(ProfileCard, { person })),
    settings: () => ui.open(() => import("./settings/Profile.js"), { onSignOut: signOut }, "ProfileSettings"),
    roomSettings: (room) => ui.open(() => import("./settings/RoomSettings.js"), { room }, "RoomSettings"),
    switcher: () => ui.open(Switcher),
    search: (props = {}) => ui.open(() => import("./Search.js"), props, "Search"),
    pins: (roomId) => ui.open(() => import("./Search.js"), { roomId }, "Pins"),
    admin: () => ui.open(() => import("./admin/Admin.js"), {}, "AdminPanel"),
  }), [state]);

  // Opened with an invite link (`/?join=CODE`): join that room once signed in, and open it.
  useEffect(() => {
    const code = new URLSearchParams(location.search).get("join");
    if (!code) return;
    history.replaceState(null, "", "/");
    api("POST", "/rooms/join", { invite: code }).then(
      ({ room }) => {
        // The socket's `ready` may have been made before the join: it must not drop the room.
        state.wanted = room;
        state.addRoom(room);
      },
      (err) => state.notice(err.fields?.invite ? "notice.invite_bad" : "notice.action_failed", { reason: errorText(i18n, err) }),
    );
  }, [state]);

  useEffect(() => {
    const keys = (e) => {
      if ((e.ctrlKey || e.metaKey) && !e.altKey && e.key.toLowerCase() === "k") {
        e.preventDefault();
        if (!document.querySelector("dialog[open]")) ui.switcher();
      } else if (e.altKey && (e.key === "ArrowUp" || e.key === "ArrowDown") && !document.querySelector("dialog[open]")) {
        e.preventDefault();
        const next = state.neighbour(e.key === "ArrowUp" ? -1 : 1);
        if (next) state.open(next);
      } else if (e.key === "Escape" && !document.querySelector("dialog[open]")) {
        if (window.matchMedia(PHONE).matches) setMembersOpen(false);
        setRoomsOpen(false);
      }
    };
    document.addEventListener("keydown", keys);
    return () => document.removeEventListener("keydown", keys);
  }, [state]);

  const total = state.totalUnread();
  useEffect(() => {
    document.title = total ? `(${total}) Natter` : "Natter";
  }, [total]);

  // One context object while the language stays: message rows compare it to skip renders.
  const context = useMemo(() => ({ ...app, state, ui }), [app.i18n, state, ui]);
  const elsewhere = state.unreadElsewhere();
  const room = state.current ? state.rooms.get(state.current) : null;
  const connection = { connecting: "connection.connecting", connected: "connection.connected", reconnecting: "connection.reconnecting", offline: "connection.offline" }[state.connection];
  // On a phone the panels cover the conversation: a tap on it closes them.
  const tapOutside = (e) => {
    if (roomsOpen) setRoomsOpen(false);
    if (membersOpen && window.matchMedia(PHONE).matches && !e.target.closest(".members-toggle")) setMembersOpen(false);
  };

  return html`<${AppContext.Provider} value=${context}>
    <div class="chat">
      <a class="skip-link" href="#composer-input">${t("chat.skip_to_composer")}</a>
      <header class="topbar">
        <button class="icon-button menu-button" data-unread=${elsewhere ? "true" : "false"} aria-expanded=${String(roomsOpen)}
          aria-controls="sidebar" aria-label=${elsewhere ? t("chat.show_rooms_unread", { count: elsewhere }) : t("chat.show_rooms")}
          onClick=${() => setRoomsOpen(!roomsOpen)}><${Icon} name="menu" /></button>
        <span class="brand"><img src="/assets/icon.svg" alt="" width="24" height="24" />Natter</span>
        <button class="search-button" onClick=${() => ui.switcher()} aria-keyshortcuts="Control+K Meta+K">
          <${Icon} name="search" /><span class="search-label">${t("switcher.open")}</span><kbd aria-hidden="true">Ctrl K</kbd>
        </button>
        <span class="connection" role="status" aria-live="polite" data-state=${state.connection}>${t(connection)}</span>
        ${state.me.is_admin ? html`<button class="icon-button admin-button" title=${t("admin.title")} aria-label=${t("admin.title")}
          onClick=${() => ui.admin()}><${Icon} name="shield" /></button>` : null}
        <button class="me-button" title=${t("chat.profile_and_settings")} onClick=${() => ui.settings()}>
          <${Avatar} user=${state.me} /><span class="me-name" dir="auto">${state.me.display_name}</span>
          <span class="visually-hidden">${t("chat.profile_and_settings")}</span>
        </button>
      </header>
      <${Notices} />
      <div class="panes">
        <${Sidebar} open=${roomsOpen} onPicked=${() => setRoomsOpen(false)} close=${() => {
          setRoomsOpen(false);
          document.querySelector(".menu-button")?.focus();
        }} />
        <div class="main-pane" onClick=${tapOutside}>
          ${room
            ? html`<${Conversation} key=${room.id} room=${room} membersOpen=${membersOpen} toggleMembers=${() => setMembersOpen(!membersOpen)} />`
            : html`<div class="empty"><${Icon} name="message-circle" class="big" /><p>${t("chat.no_room")}</p></div>`}
        </div>
        ${room && membersOpen ? html`<${Members} room=${room} close=${() => {
          setMembersOpen(false);
          document.querySelector(".members-toggle")?.focus();
        }} />` : null}
      </div>
      ${dialogs.map(({ id, Shown, props, close }) => html`<${Shown} key=${id} ...${props} close=${close} />`)}
    </div>
  </${AppContext.Provider}>`;
}

/** Things the user should know (banned, a room deleted): a bar each, closed by hand or in 10 s. */
function Notices() {
  const { state, t } = useApp();
  useEffect(() => {
    const timers = state.notices.filter((n) => !n.sticky).map((n) => setTimeout(() => state.dismissNotice(n.id), 10000));
    return () => timers.forEach(clearTimeout);
  }, [state.notices]);
  if (!state.notices.length) return null;
  return html`<div class="notices" role="alert">
    ${state.notices.map((n) => html`<div class="notice-bar" key=${n.id}>
      <span dir="auto">${t(n.key, n.params)}</span>
      ${n.action ? html`<button type="button" onClick=${() => { state.dismissNotice(n.id); n.action.run(); }}>${t(n.action.label)}</button>` : null}
      <button class="icon-button" aria-label=${t("action.dismiss")} onClick=${() => state.dismissNotice(n.id)}><${Icon} name="x" /></button>
    </div>`)}
  </div>`;
}
