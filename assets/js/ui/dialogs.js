// The everyday dialogs: create, join and browse rooms, start a direct message, report a
// message, and the confirmations (a plain one, and a ban with its reason). Each shows the server's error next
// to the field it names. A dialog gets `close(value)`; `ui.open` resolves with that value.

import { html, useEffect, useRef, useState } from "../core/html.js";
import { api } from "../core/api.js";
import { Avatar, Field, Icon, Modal, errorText, useApp, useDebounced } from "./common.js";
import { suggestPassphrase } from "../core/sealed.js";

export function Confirm({ close, title, detail, action, danger = true }) {
  return html`<${Modal} title=${title} close=${close} submitLabel=${action} danger=${danger} onSubmit=${() => {
    close(true);
    return false;
  }}><p>${detail}</p></${Modal}>`;
}

/** Asks before a ban, with an optional reason the banned person is shown. Closes with the
 * reason ("" for none), or undefined when cancelled. */
export function Ban({ close, name }) {
  const { t } = useApp();
  const [reason, setReason] = useState("");
  return html`<${Modal} title=${t("ban.title", { name })} close=${close} submitLabel=${t("ban.action")} danger=${true}
    onSubmit=${() => { close(reason.trim()); return false; }}>
    <p>${t("ban.detail", { name })}</p>
    <${Field} label=${t("ban.reason")} hint=${t("ban.reason_hint")}>${(a) => html`<input ...${a} name="reason" maxlength="256"
      value=${reason} onInput=${(e) => setReason(e.currentTarget.value)} dir="auto" />`}</${Field}>
  </${Modal}>`;
}

/** Reports a message to the room's moderators and the server's admins, with a reason.
 * Closes with true once reported. */
export function ReportMessage({ close, message }) {
  const { t, state } = useApp();
  const [reason, setReason] = useState("");
  const name = state.userInfo(message.sender).display_name;
  return html`<${Modal} title=${t("report.title", { name })} close=${close} submitLabel=${t("report.action")}
    onSubmit=${async () => {
      await api("POST", `/rooms/${message.room_id}/messages/${message.seq}/report`, { reason });
      close(true);
      return false;
    }}>${({ fields }) => html`
    <p>${t("report.detail")}</p>
    <blockquote class="reported" dir="auto">${message.body}</blockquote>
    ${message.sealed ? html`<p class="hint sealed-note">${t("sealed.report_note")}</p>` : null}
    <${Field} label=${t("report.reason")} error=${fields.reason}>${(a) => html`<textarea ...${a} name="reason" maxlength="500" rows="3" required
      value=${reason} onInput=${(e) => setReason(e.currentTarget.value)} dir="auto" />`}</${Field}>`}
  </${Modal}>`;
}

export function CreateRoom({ close }) {
  const { state, t } = useApp();
  const [v, setV] = useState({ name: "", visibility: "public", key: "", passphrase: "", history: "shared" });
  const [shown, setShown] = useState(false);
  const set = (name) => (e) => setV({ ...v, [name]: e.currentTarget.value });
  const sealed = v.visibility === "sealed";
  return html`<${Modal} title=${t("rooms.new")} close=${close} submitLabel=${t("rooms.create")} onSubmit=${async () => {
    const body = { name: v.name, history: v.history };
    let room;
    if (sealed) {
      if (v.passphrase.length < 12) throw Object.assign(new Error("short"), { shownFields: { passphrase: t("sealed.too_short") } });
      // The passphrase stays here: the server gets the seal and a proof derived from it.
      room = await state.seals.create(body, v.passphrase);
    } else {
      body.visibility = v.visibility;
      if (v.visibility === "private") body.key = v.key;
      ({ room } = await api("POST", "/rooms", body));
    }
    state.addRoom(room);
    return true;
  }}>${({ fields }) => html`
    <${Field} label=${t("rooms.name")} error=${fields.name}>${(a) => html`<input ...${a} name="name" required maxlength="64" autocomplete="off"
      value=${v.name} onInput=${set("name")} autofocus dir="auto" />`}</${Field}>
    <${Field} label=${t("rooms.visibility")} error=${fields.visibility}>${(a) => html`<select ...${a} name="visibility" value=${v.visibility} onChange=${set("visibility")}>
      <option value="public">${t("rooms.public_long")}</option>
      <option value="private">${t("rooms.private_long")}</option>
      <option value="sealed">${t("sealed.kind_long")}</option>
    </select>`}</${Field}>
    <${Field} label=${t("rooms.key")} hint=${t("rooms.key_hint")} error=${fields.key} hidden=${v.visibility !== "private"}>${(a) => html`<input ...${a}
      name="key" type="password" autocomplete="new-password" value=${v.key} onInput=${set("key")} />`}</${Field}>
    ${sealed ? html`<div class="sealed-create">
      <p class="hint sealed-note"><${Icon} name="shield" /> ${t("sealed.create_detail")}</p>
      <${Field} label=${t("sealed.passphrase")} hint=${t("sealed.passphrase_hint")} error=${fields.passphrase || fields["seal.proof"]}>${(a) => html`<input ...${a}
        name="passphrase" type=${shown ? "text" : "password"} autocomplete="new-password" minlength="12" required value=${v.passphrase} onInput=${set("passphrase")} />`}</${Field}>
      <div class="row-buttons">
        <button type="button" onClick=${() => { setV({ ...v, passphrase: suggestPassphrase() }); setShown(true); }}>${t("sealed.suggest")}</button>
        <label class="check"><input type="checkbox" checked=${shown} onChange=${(e) => setShown(e.currentTarget.checked)} /> ${t("sealed.show")}</label>
      </div>
    </div>` : null}
    <${Field} label=${t("rooms.history")} error=${fields.history}>${(a) => html`<select ...${a} name="history" value=${v.history} onChange=${set("history")}>
      <option value="shared">${t("rooms.history_shared")}</option>
      <option value="joined">${t("rooms.history_joined")}</option>
    </select>`}</${Field}>`}
  </${Modal}>`;
}

export function JoinRoom({ close, name: preset = "" }) {
  const { state, t } = useApp();
  const [name, setName] = useState(preset);
  const [key, setKey] = useState("");
  const [needsKey, setNeedsKey] = useState(false);
  // The room's seal once looked up: undefined (not yet), null (not sealed), or the seal.
  const [seal, setSeal] = useState(undefined);
  const keyInput = useRef(null);
  useEffect(() => {
    if (needsKey || seal) keyInput.current?.focus();
  }, [needsKey, seal]);
  return html`<${Modal} title=${t("rooms.join_title")} close=${close} submitLabel=${t("rooms.join_action")} onSubmit=${async () => {
    // A sealed room is asked about first: its passphrase must never be sent as a key.
    let known = seal;
    if (known === undefined) {
      known = await state.seals.sealOf(name);
      setSeal(known);
      if (known) return false;
    }
    if (known) {
      try {
        state.addRoom(await state.seals.join(name, known, key));
        return true;
      } catch (err) {
        if (err.status === 403) throw Object.assign(err, { shownFields: { key: t("sealed.wrong") } });
        throw err;
      }
    }
    try {
      const { room } = await api("POST", "/rooms/join", { name, key: needsKey ? key : undefined });
      state.addRoom(room);
      return true;
    } catch (err) {
      // A private room: the first answer says it needs a key, and the field appears.
      if (err.status === 403 && !needsKey && /key/.test(err.message)) {
        setNeedsKey(true);
        return false;
      }
      if (err.status === 403 && needsKey) throw Object.assign(err, { shownFields: { key: t("rooms.wrong_key") } });
      throw err;
    }
  }}>${({ fields }) => html`
    <${Field} label=${t("rooms.room_name")} error=${fields.name}>${(a) => html`<input ...${a} name="name" required autocomplete="off"
      value=${name} onInput=${(e) => { setName(e.currentTarget.value); setSeal(undefined); setNeedsKey(false); }} autofocus=${!preset} dir="auto" />`}</${Field}>
    ${seal ? html`<p class="hint sealed-note"><${Icon} name="shield" /> ${t("sealed.join_detail")}</p>` : null}
    <${Field} label=${seal ? t("sealed.passphrase") : t("rooms.key")} hint=${seal ? null : t("rooms.key_needed")} error=${fields.key || fields.proof}
      hidden=${!needsKey && !seal}>${(a) => html`<input ...${a}
      ref=${keyInput} name="key" type="password" autocomplete="off" value=${key} onInput=${(e) => setKey(e.currentTarget.value)} />`}</${Field}>`}
  </${Modal}>`;
}

/** A searchable list in a dialog (public rooms, people). */
function Picker({ close, title, label, load, row, footer = null }) {
  const { i18n, t } = useApp();
  const [query, setQuery] = useState("");
  const [found, setFound] = useState(null);
  const [error, setError] = useState("");
  const fail = (err) => setError(errorText(i18n, err));
  useDebounced(() => {
    setError("");
    load(query).then(setFound, fail);
  }, 200, [query]);
  return html`<${Modal} title=${title} close=${close} wide=${true}>
    <input type="search" aria-label=${label} placeholder=${label} value=${query} autofocus dir="auto"
      onInput=${(e) => setQuery(e.currentTarget.value)} />
    <p class="form-error" role="alert">${error}</p>
    <ul class="pick-list" aria-busy=${found === null ? "true" : "false"}>
      ${found?.map((item) => row(item, fail))}
      ${found && !found.length ? html`<li class="hint">${t("picker.nothing")}</li>` : null}
    </ul>
    ${footer ? footer(fail) : null}
  </${Modal}>`;
}

export function BrowseRooms({ close }) {
  const { state, t } = useApp();
  const join = async (room) => {
    const { room: joined } = await api("POST", "/rooms/join", { name: room.name });
    close();
    state.addRoom(joined);
  };
  return html`<${Picker} close=${close} title=${t("rooms.public_title")} label=${t("rooms.search")}
    load=${(q) => api("GET", `/rooms/public?q=${encodeURIComponent(q)}`).then((a) => a.rooms)}
    row=${(room, fail) => html`<li key=${room.id}>
      <div><strong dir="auto">${room.name}</strong>${room.topic ? html`<p class="hint" dir="auto">${room.topic}</p>` : null}</div>
      ${state.rooms.has(room.id)
        ? html`<button type="button" onClick=${() => { close(); state.open(room.id); }}>${t("rooms.open")}</button>`
        : html`<button type="button" class="primary" onClick=${() => join(room).catch(fail)}>${t("rooms.join_action")}</button>`}
    </li>`} />`;
}

/** A direct message to one person, or a group conversation of up to nine: "Add" people, then
 * start it. */
export function NewDirect({ close }) {
  const { state, t, i18n } = useApp();
  const [group, setGroup] = useState([]);
  const toggle = (user) => setGroup((g) => (g.some((u) => u.id === user.id) ? g.filter((u) => u.id !== user.id) : [...g, user].slice(0, 8)));
  const start = (fail) => async () => {
    try {
      const { room } = await api("POST", "/dms", { user_ids: group.map((u) => u.id) });
      state.addRoom(room);
      close();
    } catch (err) {
      fail(err);
    }
  };
  return html`<${Picker} close=${close} title=${t("direct.new")} label=${t("direct.search")}
    load=${(q) => api("GET", `/users?q=${encodeURIComponent(q)}`).then((a) => a.users.filter((u) => u.id !== state.me.id))}
    row=${(user, fail) => html`<li key=${user.id}>
      <div class="who"><${Avatar} user=${user} /><span><span dir="auto">${user.display_name}</span> <span class="username">@${user.username}</span></span></div>
      <div class="buttons">
        <button type="button" aria-pressed=${String(group.some((u) => u.id === user.id))} onClick=${() => toggle(user)}>${t("direct.add_to_group")}</button>
        <button type="button" class="primary" onClick=${() => state.messageUser(user).then(() => close(), fail)}>${t("direct.message")}</button>
      </div>
    </li>`}
    footer=${(fail) => (group.length ? html`<div class="group-pick">
      <p>${t("direct.group_with", { names: i18n.list(group.map((u) => u.display_name)) })}</p>
      <button type="button" class="primary" disabled=${group.length < 2} onClick=${start(fail)}>${t("direct.start_group")}</button>
      ${group.length < 2 ? html`<p class="hint">${t("direct.group_hint")}</p>` : null}
    </div>` : null)} />`;
}

