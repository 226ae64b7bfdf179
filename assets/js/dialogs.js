// Dialogs (native <dialog>: modal, focus kept inside, Escape closes): create, join and
// browse rooms, start a direct message, your profile, and room settings for its owner and
// admins. Each shows the server's error next to the field it names.

import { api } from "./api.js";
import { avatar, clear, formatDay, formatTime, h } from "./dom.js";

/** Opens a modal with a form; `onSubmit` returns true to close. */
function modal(titleText, body, { submitLabel = "Save", onSubmit = null, wide = false } = {}) {
  const error = h("p", { class: "form-error", role: "alert" });
  const submit = onSubmit ? h("button", { type: "submit", class: "primary" }, submitLabel) : null;
  const close = h("button", { type: "button", onclick: () => dialog.close() }, onSubmit ? "Cancel" : "Close");
  // Dialogs can stack (a confirmation over settings): each title has its own id.
  const titleId = `dialog-title-${Math.random().toString(36).slice(2, 8)}`;
  const form = h("form", { method: "dialog" }, h("h2", { id: titleId }, titleText), body, error, h("div", { class: "actions" }, close, submit));
  const dialog = h("dialog", { class: wide ? "wide" : "", "aria-labelledby": titleId }, form);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!onSubmit) return dialog.close();
    error.textContent = "";
    form.querySelectorAll(".field-error").forEach((f) => { f.textContent = ""; });
    submit.disabled = true;
    try {
      if (await onSubmit()) dialog.close();
    } catch (err) {
      showError(form, error, err);
    } finally {
      submit.disabled = false;
    }
  });
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  return { dialog, form, error };
}

function showError(form, general, err) {
  for (const [name, why] of Object.entries(err.fields || {})) {
    const slot = form.querySelector(`[data-error-for="${name}"]`);
    if (slot) {
      slot.textContent = why;
      return;
    }
  }
  general.textContent = err.message;
}

function field(label, input, name, hint = "") {
  const id = `f-${name}-${Math.random().toString(36).slice(2, 8)}`;
  input.id = id;
  input.name = name;
  return h("div", { class: "field" }, h("label", { for: id }, label), input,
    hint ? h("p", { class: "hint" }, hint) : null, h("p", { class: "field-error", dataset: { errorFor: name } }));
}

export const openDialog = {
  /** Asks before a ban, with an optional reason the banned user is shown; resolves to the
   * reason ("" for none), or null when cancelled. */
  ban(name) {
    return new Promise((resolve) => {
      let reason = null;
      const input = h("input", { maxlength: 256, placeholder: "Optional: the banned person sees it" });
      const { dialog } = modal(`Ban ${name}?`, [
        h("p", {}, `${name} leaves the room at once and cannot come back until unbanned.`),
        field("Reason", input, "reason"),
      ], { submitLabel: "Ban", onSubmit: () => { reason = input.value.trim(); return true; } });
      dialog.addEventListener("close", () => resolve(reason));
    });
  },
  confirm(text, action = "OK", detail = "This cannot be undone.") {
    return new Promise((resolve) => {
      let yes = false;
      const { dialog } = modal(text, h("p", {}, detail), { submitLabel: action, onSubmit: () => { yes = true; return true; } });
      dialog.addEventListener("close", () => resolve(yes));
    });
  },
};

export function createRoom(state) {
  const name = h("input", { required: true, maxlength: 64, autocomplete: "off" });
  const visibility = h("select", {}, h("option", { value: "public" }, "Public: anyone can find and join it"), h("option", { value: "private" }, "Private: joined with a key"));
  const key = h("input", { type: "password", autocomplete: "new-password" });
  const keyField = field("Key", key, "key", "Members need it to join.");
  keyField.hidden = true;
  visibility.addEventListener("change", () => { keyField.hidden = visibility.value !== "private"; });
  const history = h("select", {}, h("option", { value: "shared" }, "Members read the whole history"), h("option", { value: "joined" }, "Members read from when they joined"));
  modal("New room", [field("Name", name, "name"), field("Visibility", visibility, "visibility"), keyField, field("History", history, "history")], {
    submitLabel: "Create",
    onSubmit: async () => {
      const body = { name: name.value, visibility: visibility.value, history: history.value };
      if (visibility.value === "private") body.key = key.value;
      const { room } = await api("POST", "/rooms", body);
      state.addRoom(room);
      return true;
    },
  });
  name.focus();
}

export function joinRoom(state, presetName = "") {
  const name = h("input", { required: true, value: presetName, autocomplete: "off" });
  const key = h("input", { type: "password", autocomplete: "off" });
  const keyField = field("Key", key, "key", "This room is private: ask a member for its key.");
  keyField.hidden = true;
  modal("Join a room", [field("Room name", name, "name"), keyField], {
    submitLabel: "Join",
    onSubmit: async () => {
      try {
        const { room } = await api("POST", "/rooms/join", { name: name.value, key: keyField.hidden ? undefined : key.value });
        state.addRoom(room);
        return true;
      } catch (err) {
        if (err.status === 403 && keyField.hidden && /key/.test(err.message)) {
          keyField.hidden = false;
          key.focus();
          return false;
        }
        throw err;
      }
    },
  });
  (presetName ? key : name).focus();
}

export function browseRooms(state) {
  const search = h("input", { type: "search", placeholder: "Search rooms", "aria-label": "Search public rooms" });
  const list = h("ul", { class: "pick-list" });
  async function load() {
    const { rooms } = await api("GET", `/rooms/public?q=${encodeURIComponent(search.value)}`);
    clear(list, rooms.length ? rooms.map((room) => h("li", {},
      h("div", {}, h("strong", {}, room.name), room.topic ? h("p", { class: "hint" }, room.topic) : null),
      state.rooms.has(room.id)
        ? h("button", { type: "button", onclick: () => { dialog.close(); state.open(room.id); } }, "Open")
        : h("button", { type: "button", onclick: async () => {
          const { room: joined } = await api("POST", "/rooms/join", { name: room.name });
          dialog.close();
          state.addRoom(joined);
        } }, "Join"))) : h("li", { class: "hint" }, "No public rooms match."));
  }
  let timer;
  search.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(load, 200); });
  const { dialog } = modal("Public rooms", [search, list], { wide: true });
  search.focus();
  load();
}

export function newDirect(state) {
  const search = h("input", { type: "search", placeholder: "Search people", "aria-label": "Search people" });
  const list = h("ul", { class: "pick-list" });
  async function load() {
    const { users } = await api("GET", `/users?q=${encodeURIComponent(search.value)}`);
    const others = users.filter((u) => u.id !== state.me.id);
    clear(list, others.length ? others.map((user) => h("li", {},
      h("div", { class: "who" }, avatar(user), h("span", {}, user.display_name, " ", h("span", { class: "hint" }, `@${user.username}`))),
      h("button", { type: "button", onclick: async () => {
        const { room } = await api("POST", "/dms", { user_id: user.id });
        state.users.set(user.id, user);
        dialog.close();
        state.addRoom(room);
      } }, "Message"))) : h("li", { class: "hint" }, "Nobody found."));
  }
  let timer;
  search.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(load, 200); });
  const { dialog } = modal("New direct message", [search, list], { wide: true });
  search.focus();
  load();
}

/** A browser and system from a User-Agent, in words ("Firefox on Linux"). */
function deviceName(ua = "") {
  const browser = [["Edg/", "Edge"], ["Firefox/", "Firefox"], ["Chrome/", "Chrome"], ["Safari/", "Safari"]]
    .find(([mark]) => ua.includes(mark))?.[1];
  const system = [["Android", "Android"], ["iPhone", "iPhone"], ["iPad", "iPad"], ["Windows", "Windows"], ["Mac OS", "macOS"], ["Linux", "Linux"]]
    .find(([mark]) => ua.includes(mark))?.[1];
  if (browser && system) return `${browser} on ${system}`;
  return browser || system || ua.slice(0, 60) || "Unknown device";
}

export function profileDialog(state, onSignOut) {
  const me = state.me;
  const displayName = h("input", { value: me.display_name, maxlength: 64, required: true });
  const emoji = h("input", { value: me.status_emoji || "", maxlength: 16, class: "short" });
  const status = h("input", { value: me.status_text || "", maxlength: 140 });
  const presence = h("select", {}, h("option", { value: "auto" }, "Automatic"), h("option", { value: "away" }, "Away"), h("option", { value: "invisible" }, "Invisible (appear offline)"));
  const receipts = h("input", { type: "checkbox" });
  const preview = avatar(me, "large");
  const file = h("input", { type: "file", accept: "image/png,image/jpeg,image/webp,image/gif" });
  let chosen = null;
  file.addEventListener("change", () => {
    chosen = file.files[0] || null;
    if (chosen) preview.src = URL.createObjectURL(chosen);
  });
  api("GET", "/me").then((answer) => {
    presence.value = answer.presence;
    receipts.checked = answer.send_receipts;
  }, () => {});
  const current = h("input", { type: "password", autocomplete: "current-password" });
  const next = h("input", { type: "password", autocomplete: "new-password" });
  const passwordNote = h("p", { class: "hint", role: "status" });
  const changePassword = h("button", { type: "button", onclick: async () => {
    passwordNote.textContent = "";
    try {
      await api("POST", "/me/password", { current_password: current.value, new_password: next.value });
      passwordNote.textContent = "Password changed. Your other devices were signed out.";
      current.value = next.value = "";
    } catch (err) {
      passwordNote.textContent = err.message;
    }
  } }, "Change password");
  // Devices: every signed-in browser or app of this account, each can be signed out.
  const devices = h("ul", { class: "pick-list devices" });
  const othersOut = h("button", { type: "button", hidden: true }, "Sign out all other devices");
  async function loadDevices() {
    const { sessions } = await api("GET", "/me/sessions");
    const others = sessions.filter((s) => !s.current);
    othersOut.hidden = others.length === 0;
    clear(devices, sessions.map((s) => h("li", {},
      h("span", {}, deviceName(s.user_agent), " ",
        h("span", { class: "hint" }, s.current ? "this device" : `last seen ${formatDay(new Date(s.last_seen))}, ${formatTime(new Date(s.last_seen))}`)),
      s.current ? null : h("button", { type: "button", onclick: async () => {
        await api("DELETE", `/me/sessions/${s.id}`);
        loadDevices();
      } }, "Sign out"))));
  }
  othersOut.addEventListener("click", async () => {
    const { sessions } = await api("GET", "/me/sessions");
    for (const s of sessions) if (!s.current) await api("DELETE", `/me/sessions/${s.id}`).catch(() => {});
    loadDevices();
  });
  loadDevices().catch(() => {});
  const signOut = h("button", { type: "button", class: "danger", onclick: async () => {
    await api("POST", "/auth/logout").catch(() => {});
    dialog.close();
    onSignOut("You are signed out.");
  } }, "Sign out");

  const { dialog } = modal("Your profile", [
    h("div", { class: "avatar-edit" }, preview, field("Avatar (PNG, JPEG, WebP or GIF, up to 5 MiB)", file, "avatar")),
    field("Display name", displayName, "display_name"),
    h("div", { class: "row" }, field("Emoji", emoji, "status_emoji"), field("Status", status, "status_text")),
    field("Presence", presence, "presence"),
    h("label", { class: "check" }, receipts, " Let others see how far I have read"),
    h("details", {}, h("summary", {}, "Password"), field("Current password", current, "current_password"), field("New password", next, "new_password"), changePassword, passwordNote),
    h("details", {}, h("summary", {}, "Devices"), devices, othersOut),
    signOut,
  ], {
    onSubmit: async () => {
      // The fields first: if the server refuses one, nothing is changed, the avatar included.
      let answer = await api("PATCH", "/me", {
        display_name: displayName.value, status_emoji: emoji.value, status_text: status.value,
        presence: presence.value, send_receipts: receipts.checked,
      });
      state.me = answer.user;
      state.emit("me");
      if (chosen) {
        answer = await api("PUT", "/me/avatar", chosen, true);
        chosen = null;
        state.me = answer.user;
        state.emit("me");
      }
      return true;
    },
  });
}

export function roomSettings(state, room) {
  const owner = room.role === "owner";
  const topic = h("input", { value: room.topic || "", maxlength: 256 });
  const visibility = h("select", {}, h("option", { value: "public" }, "Public"), h("option", { value: "private" }, "Private (key)"));
  visibility.value = room.kind === "private" ? "private" : "public";
  const key = h("input", { type: "password", autocomplete: "new-password", placeholder: room.kind === "private" ? "Unchanged" : "" });
  const history = h("select", {}, h("option", { value: "shared" }, "Whole history"), h("option", { value: "joined" }, "From joining"));
  history.value = room.history;
  const maxMessages = h("input", { type: "number", min: 1, value: room.retention?.max_messages ?? "" });
  const maxDays = h("input", { type: "number", min: 1, value: room.retention?.max_age_secs ? Math.round(room.retention.max_age_secs / 86400) : "" });
  const people = h("ul", { class: "pick-list" });
  const bans = h("ul", { class: "pick-list" });

  async function loadPeople() {
    const { members } = await api("GET", `/rooms/${room.id}/members`);
    clear(people, members.filter((m) => m.user.id !== state.me.id).map((m) => {
      const rank = { member: 0, admin: 1, owner: 2 };
      const canBan = rank[room.role] > rank[m.role];
      return h("li", {},
        h("div", { class: "who" }, avatar(m.user), h("span", {}, m.user.display_name, " ", h("span", { class: "hint" }, m.role))),
        h("div", { class: "buttons" },
          owner && m.role !== "owner" ? h("button", { type: "button", onclick: async () => {
            await api("PUT", `/rooms/${room.id}/members/${m.user.id}/role`, { role: m.role === "admin" ? "member" : "admin" });
            loadPeople();
          } }, m.role === "admin" ? "Make member" : "Make admin") : null,
          canBan ? h("button", { type: "button", class: "danger", onclick: async () => {
            const reason = await openDialog.ban(m.user.display_name);
            if (reason === null) return;
            await api("POST", `/rooms/${room.id}/bans`, { user_id: m.user.id, reason });
            loadPeople();
            loadBans();
          } }, "Ban") : null));
    }));
  }
  async function loadBans() {
    const { bans: list } = await api("GET", `/rooms/${room.id}/bans`);
    clear(bans, list.length ? list.map((b) => h("li", {},
      h("span", {}, b.user.display_name, b.reason ? ` — ${b.reason}` : ""),
      h("button", { type: "button", onclick: async () => {
        await api("DELETE", `/rooms/${room.id}/bans/${b.user.id}`);
        loadBans();
      } }, "Unban"))) : h("li", { class: "hint" }, "Nobody is banned."));
  }

  const remove = owner ? h("button", { type: "button", class: "danger", onclick: async () => {
    if (!(await openDialog.confirm(`Delete “${room.name}” and all its messages?`, "Delete room"))) return;
    await api("DELETE", `/rooms/${room.id}`);
    dialog.close();
  } }, "Delete room…") : null;

  const { dialog } = modal(`Settings of “${room.name}”`, [
    field("Topic", topic, "topic"),
    h("div", { class: "row" }, field("Visibility", visibility, "visibility"), field("Key", key, "key")),
    field("Who may read history", history, "history"),
    h("div", { class: "row" }, field("Keep at most (messages)", maxMessages, "retention"), field("Delete after (days)", maxDays, "max_days")),
    h("h3", {}, "Members"), people,
    h("h3", {}, "Banned"), bans,
    remove,
  ], {
    wide: true,
    onSubmit: async () => {
      const body = {
        topic: topic.value, visibility: visibility.value, history: history.value,
        retention: {
          max_messages: maxMessages.value ? Number(maxMessages.value) : null,
          max_age_secs: maxDays.value ? Number(maxDays.value) * 86400 : null,
        },
      };
      if (key.value) body.key = key.value;
      const { room: fresh } = await api("PATCH", `/rooms/${room.id}`, body);
      Object.assign(room, fresh);
      state.emit("room");
      return true;
    },
  });
  loadPeople();
  loadBans();
}
