// The chat screen: a sidebar of rooms, the open conversation with its composer, and the
// member list. Views re-render the part the state says changed.

import { clear, formatDay, formatTime, h, richText, avatar } from "./dom.js";

/** The longest message the server takes, in characters (code points). */
const MAX_BODY = 4000;
import { openDialog, browseRooms, createRoom, joinRoom, newDirect, profileDialog, roomSettings } from "./dialogs.js";
import { api } from "./api.js";

const GROUP_MS = 5 * 60 * 1000;

export function renderChat(root, state, onSignOut) {
  const connection = h("span", { class: "connection", role: "status", "aria-live": "polite" });
  const meButton = h("button", { class: "me-button", "aria-label": "Your profile and settings", onclick: () => profileDialog(state, onSignOut) });
  const menuButton = h("button", { class: "icon menu-button", "aria-label": "Show rooms", "aria-expanded": "false", "aria-controls": "sidebar" }, "☰");
  const membersButton = h("button", { class: "link", "aria-pressed": "false" }, "Members");
  const notice = h("div", { class: "notice-bar", role: "alert", hidden: true });
  const roomList = h("ul", { class: "room-list" });
  const notifyOffer = h("button", { class: "link notify-offer", hidden: true, onclick: askNotifications }, "Turn on desktop notifications");
  const sidebar = h("aside", { class: "sidebar", id: "sidebar", "aria-label": "Rooms" },
    h("div", { class: "sidebar-actions" },
      h("button", { onclick: () => createRoom(state) }, "New room"),
      h("button", { onclick: () => joinRoom(state) }, "Join"),
      h("button", { onclick: () => browseRooms(state) }, "Browse"),
      h("button", { onclick: () => newDirect(state) }, "Message…")),
    h("nav", { "aria-label": "Your rooms" }, roomList),
    notifyOffer);

  const title = h("h2", { class: "room-title" });
  const topic = h("p", { class: "room-topic" });
  const notifySelect = h("select", { "aria-label": "Notifications for this room" },
    h("option", { value: "all" }, "All messages"),
    h("option", { value: "mentions" }, "Mentions only"),
    h("option", { value: "muted" }, "Muted"));
  const settingsButton = h("button", { class: "icon", "aria-label": "Room settings", hidden: true }, "⚙");
  const leaveButton = h("button", { class: "link", hidden: true }, "Leave");
  const messages = h("div", { class: "messages", role: "log", "aria-label": "Messages", tabindex: "0" });
  const jump = h("button", { class: "jump", hidden: true }, "Jump to latest ↓");
  const typing = h("p", { class: "typing", "aria-live": "polite" });
  // No maxlength: a longer text is refused with a counter, never silently cut.
  const input = h("textarea", { rows: 1, "aria-label": "Message", placeholder: "Write a message…" });
  const counter = h("span", { class: "counter", "aria-live": "polite", hidden: true });
  const sendButton = h("button", { type: "submit", class: "primary" }, "Send");
  const composer = h("form", { class: "composer" }, input, counter, sendButton);
  const empty = h("div", { class: "empty" }, h("p", {}, "No room open. Create one, join one by name, or browse the public rooms."));
  const conversation = h("main", { class: "conversation" },
    h("header", { class: "room-header" }, h("div", { class: "room-heading" }, title, topic), notifySelect, leaveButton, settingsButton, membersButton),
    notice, messages, jump, typing, composer);
  const membersList = h("ul", { class: "member-list" });
  const closeMembers = h("button", { class: "icon close", "aria-label": "Close members" }, "×");
  const members = h("aside", { class: "members", "aria-label": "Members", hidden: true },
    h("div", { class: "panel-head" }, h("h3", {}, "Members"), closeMembers), membersList);

  const layout = h("div", { class: "chat" },
    h("header", { class: "topbar" }, menuButton, h("span", { class: "brand" }, "Natter"), connection, meButton),
    h("div", { class: "panes" }, sidebar, conversation, members, empty));
  clear(root, layout);

  // --- sidebar ---
  menuButton.addEventListener("click", () => {
    const open = !sidebar.classList.contains("open");
    sidebar.classList.toggle("open", open);
    menuButton.setAttribute("aria-expanded", String(open));
  });
  function showMembers(show) {
    members.hidden = !show;
    membersButton.setAttribute("aria-pressed", String(show));
  }
  function closeRooms() {
    sidebar.classList.remove("open");
    menuButton.setAttribute("aria-expanded", "false");
  }
  closeMembers.addEventListener("click", () => {
    showMembers(false);
    membersButton.focus();
  });
  // Every panel closes with Escape, and (where it covers the conversation) by tapping outside.
  layout.addEventListener("keydown", (e) => {
    if (e.key !== "Escape" || document.querySelector("dialog[open]")) return;
    if (!members.hidden) showMembers(false);
    if (sidebar.classList.contains("open")) closeRooms();
  });
  conversation.addEventListener("click", (e) => {
    if (!window.matchMedia("(max-width: 720px)").matches) return;
    if (e.target.closest(".members") || e.target === membersButton) return;
    if (!members.hidden) showMembers(false);
  });
  conversation.addEventListener("click", () => {
    if (sidebar.classList.contains("open")) closeRooms();
  });
  membersButton.addEventListener("click", () => {
    members.hidden = !members.hidden;
    membersButton.setAttribute("aria-pressed", String(!members.hidden));
  });

  function renderRooms() {
    clear(roomList, state.sortedRooms().map((room) => {
      const last = room.last_message;
      const preview = last ? `${last.sender.id === state.me.id ? "You" : state.userInfo(last.sender).display_name}: ${last.body}` : room.topic || "";
      const badge = room.unread ? h("span", { class: room.unread_mentions ? "badge mention" : "badge", "aria-label": `${room.unread} unread` }, String(room.unread)) : null;
      return h("li", {},
        h("button", {
          class: room.id === state.current ? "room current" : "room",
          "aria-current": room.id === state.current ? "page" : false,
          dataset: { room: room.id },
          onclick: () => {
            sidebar.classList.remove("open");
            menuButton.setAttribute("aria-expanded", "false");
            state.open(room.id);
          },
        },
        h("span", { class: "room-name" }, room.kind === "direct" ? "@ " : room.kind === "private" ? "🔒 " : "# ", state.roomTitle(room)),
        badge,
        h("span", { class: "preview" }, preview.slice(0, 80))));
    }));
    const total = state.totalUnread();
    document.title = total ? `(${total}) Natter` : "Natter";
    // On a phone the room list hides behind ☰: it tells of unread messages in other rooms.
    let elsewhere = 0;
    for (const r of state.rooms.values()) if (r.id !== state.current) elsewhere += r.unread || 0;
    menuButton.dataset.unread = elsewhere ? "true" : "false";
    menuButton.setAttribute("aria-label", elsewhere ? `Show rooms (${elsewhere} unread)` : "Show rooms");
    notifyOffer.hidden = !("Notification" in window) || Notification.permission !== "default";
  }

  async function askNotifications() {
    await Notification.requestPermission();
    notifyOffer.hidden = true;
  }

  // --- conversation ---
  let renderedRoom = null;

  function renderRoomHeader() {
    const room = state.rooms.get(state.current);
    conversation.hidden = !room;
    empty.hidden = !!room;
    if (!room) {
      renderedRoom = null;
      return;
    }
    title.textContent = state.roomTitle(room);
    topic.textContent = room.topic || (room.kind === "direct" ? "Direct messages" : "");
    notifySelect.value = room.notify || "mentions";
    settingsButton.hidden = !(state.isAdmin(room) && room.kind !== "direct");
    leaveButton.hidden = room.kind === "direct" || room.role === "owner";
    if (renderedRoom !== room.id) {
      if (renderedRoom) state.setDraft(renderedRoom, input.value);
      input.value = state.draft(room.id);
      fitComposer();
      renderedRoom = room.id;
      atBottom = true;
      renderMessages();
      renderTyping();
      renderMembers();
    }
  }

  notifySelect.addEventListener("change", async () => {
    const room = state.rooms.get(state.current);
    const { room: fresh } = await api("PUT", `/rooms/${room.id}/notify`, { level: notifySelect.value });
    room.notify = fresh.notify;
  });
  settingsButton.addEventListener("click", () => roomSettings(state, state.rooms.get(state.current)));
  leaveButton.addEventListener("click", async () => {
    const room = state.rooms.get(state.current);
    const after = room.kind === "public"
      ? "You can join it again from Browse."
      : "You will need its key, or an invitation, to join it again.";
    if (!(await openDialog.confirm(`Leave “${room.name}”?`, "Leave", after))) return;
    await api("POST", `/rooms/${room.id}/leave`);
    state.leftRoom(room.id, null);
  });

  let atBottom = true;
  messages.addEventListener("scroll", () => {
    atBottom = messages.scrollHeight - messages.scrollTop - messages.clientHeight < 40;
    if (atBottom) jump.hidden = true;
    if (messages.scrollTop < 80 && state.current) state.loadHistory(state.current, true);
  });
  jump.addEventListener("click", () => {
    messages.scrollTop = messages.scrollHeight;
    jump.hidden = true;
  });

  function messageNode(m, grouped, pending = null) {
    const mine = m.sender.id === state.me.id;
    const sender = state.userInfo(m.sender);
    const when = new Date(m.ts);
    const body = h("div", { class: "body" }, richText(m.body, m.mentions || [], state.me.id));
    const status = pending
      ? h("span", { class: `status ${pending.state}` }, pending.state === "pending" ? "Sending…" : `Not sent${pending.error ? ` (${pending.error})` : ""}`,
          pending.state === "failed" ? h("button", { class: "link", onclick: () => state.retry(pending.client_id) }, "Retry") : null)
      : null;
    return h("article", {
      class: `message${mine ? " mine" : ""}${grouped ? " grouped" : ""}${pending ? ` ${pending.state}` : ""}`,
      dataset: pending ? { clientId: pending.client_id } : { seq: m.seq },
      "aria-label": `${sender.display_name} at ${formatTime(when)}`,
    },
    grouped ? null : avatar(sender),
    h("div", { class: "content" },
      grouped ? null : h("header", {}, h("span", { class: "author" }, sender.display_name), " ",
        h("time", { datetime: m.ts }, formatTime(when))),
      body, status));
  }

  function renderMessages() {
    const roomId = state.current;
    if (!roomId) return;
    const log = state.log(roomId);
    const list = log.list();
    const nodes = [];
    if (log.historyStart) nodes.push(h("p", { class: "history-start" }, "This is the beginning of the room."));
    let prev = null;
    for (const m of list) {
      const when = new Date(m.ts);
      const day = when.toDateString();
      if (!prev || new Date(prev.ts).toDateString() !== day) {
        nodes.push(h("div", { class: "day", role: "separator" }, h("span", {}, formatDay(when))));
        prev = null;
      }
      const grouped = prev && prev.sender.id === m.sender.id && when - new Date(prev.ts) < GROUP_MS;
      nodes.push(messageNode(m, grouped));
      prev = m;
    }
    for (const p of state.pendingIn(roomId)) {
      nodes.push(messageNode({ ...p, sender: state.me, mentions: [] }, false, p));
    }
    const fromBottom = messages.scrollHeight - messages.scrollTop;
    clear(messages, nodes);
    if (atBottom) {
      messages.scrollTop = messages.scrollHeight;
    } else {
      messages.scrollTop = messages.scrollHeight - fromBottom;
    }
  }

  function renderTyping() {
    const names = [...(state.typing.get(state.current)?.values() || [])].map((t) => state.userInfo(t.user).display_name);
    typing.textContent = names.length === 0 ? "" :
      names.length === 1 ? `${names[0]} is typing…` :
      names.length === 2 ? `${names[0]} and ${names[1]} are typing…` : "Several people are typing…";
  }

  function renderMembers() {
    const list = state.members.get(state.current) || [];
    const order = { online: 0, away: 1, offline: 2 };
    const sorted = [...list].sort((a, b) => order[a.presence] - order[b.presence] || a.user.display_name.localeCompare(b.user.display_name));
    clear(membersList, sorted.map((m) => h("li", { class: `member ${m.presence}` },
      avatar(m.user),
      h("span", { class: "presence-dot", "aria-label": m.presence, title: m.presence }),
      h("span", { class: "member-name" }, m.user.display_name),
      m.role !== "member" ? h("span", { class: "role" }, m.role) : null,
      m.user.status_emoji || m.user.status_text ? h("span", { class: "member-status" }, `${m.user.status_emoji} ${m.user.status_text}`.trim()) : null)));
  }

  // --- composer ---
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      composer.requestSubmit();
    }
  });
  input.addEventListener("input", () => {
    fitComposer();
    if (state.current) {
      state.setDraft(state.current, input.value);
      if (input.value.trim()) state.typed(state.current);
    }
  });
  composer.addEventListener("submit", (e) => {
    e.preventDefault();
    const body = input.value;
    if (!body.trim() || !state.current || tooLong()) return;
    atBottom = true;
    state.send(state.current, body);
    input.value = "";
    fitComposer();
    state.setDraft(state.current, "");
  });

  /** Characters over the server's limit (it counts code points), or 0. */
  function tooLong() {
    return Math.max(0, Array.from(input.value).length - MAX_BODY);
  }

  /** Grows the composer with its text (the stylesheet caps it at 40 % of the height) and
   * shows a counter near the limit: the send button is off past it. */
  function fitComposer() {
    input.style.height = "auto";
    input.style.height = `${input.scrollHeight + 2}px`;
    const length = Array.from(input.value).length;
    const over = tooLong();
    counter.hidden = length < MAX_BODY - 400;
    counter.classList.toggle("over", over > 0);
    counter.textContent = over > 0
      ? `${over} ${over === 1 ? "character" : "characters"} too many`
      : `${MAX_BODY - length} left`;
    sendButton.disabled = over > 0;
  }

  // --- state changes ---
  function renderConnection() {
    const labels = { connecting: "Connecting…", connected: "Connected", reconnecting: "Reconnecting…", offline: "Offline" };
    connection.textContent = labels[state.connection] || state.connection;
    connection.dataset.state = state.connection;
  }

  function renderMe() {
    clear(meButton, avatar(state.me), h("span", { class: "me-name" }, state.me.display_name));
  }

  state.addEventListener("change", (e) => {
    const { what, room } = e.detail;
    if (what === "rooms") renderRooms();
    if (what === "room") {
      sidebar.classList.remove("open");
      menuButton.setAttribute("aria-expanded", "false");
      renderRooms();
      renderRoomHeader();
    }
    if (what === "connection") renderConnection();
    if (what === "me") renderMe();
    if (what === "notice") {
      notice.textContent = state.noticeText;
      notice.hidden = false;
      setTimeout(() => { notice.hidden = true; }, 8000);
    }
    if (room !== state.current) return;
    if (what === "messages") {
      const wasAtBottom = atBottom;
      renderMessages();
      if (!wasAtBottom) jump.hidden = false;
    }
    if (what === "older") {
      atBottom = false;
      renderMessages();
    }
    if (what === "typing") renderTyping();
    if (what === "members") renderMembers();
  });

  renderConnection();
  renderMe();
  renderRooms();
  renderRoomHeader();
}
