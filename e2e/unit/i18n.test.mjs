// The message catalogues and the translation helper (assets/js/core/i18n.js): no language may
// miss a key, carry an extra one, use a placeholder English does not have, or lack a plural
// form its language needs; every error code the server documents has a text; every key the
// client asks for exists, and every English key is used somewhere.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";

import { LANGUAGES, catalogue, loadI18n, resolveLocale } from "../../assets/js/core/i18n.js";

const catalogues = Object.fromEntries(await Promise.all(Object.keys(LANGUAGES).map(async (code) => [code, await catalogue(code)])));
const en = catalogues.en;
const placeholders = (text) => new Set([...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]));
const forms = (entry) => (typeof entry === "object" ? Object.values(entry) : [entry]);

test("every catalogue has exactly the English keys", () => {
  for (const [code, messages] of Object.entries(catalogues)) {
    const missing = Object.keys(en).filter((k) => !(k in messages));
    const extra = Object.keys(messages).filter((k) => !(k in en));
    assert.deepEqual(missing, [], `${code} misses keys`);
    assert.deepEqual(extra, [], `${code} has keys English does not`);
  }
});

test("translations use only English's placeholders, and every plural form their language needs", () => {
  for (const [code, messages] of Object.entries(catalogues)) {
    const needed = new Intl.PluralRules(code).resolvedOptions().pluralCategories;
    for (const [key, entry] of Object.entries(messages)) {
      const allowed = new Set(forms(en[key]).flatMap((t) => [...placeholders(t)]));
      for (const text of forms(entry)) {
        assert.equal(typeof text, "string", `${code} ${key}`);
        for (const name of placeholders(text)) assert.ok(allowed.has(name), `${code} ${key}: {${name}}`);
      }
      assert.equal(typeof entry, typeof en[key], `${code} ${key}: plural in one, not the other`);
      if (typeof entry === "object") {
        for (const form of needed) assert.ok(form in entry, `${code} ${key} lacks the "${form}" form`);
      }
    }
  }
});

test("every error code the protocol documents has a text", async () => {
  const protocol = readFileSync(new URL("../../docs/protocol.md", import.meta.url), "utf8");
  const section = protocol.slice(protocol.indexOf("## 2. Errors"), protocol.indexOf("## 3."));
  const codes = [...section.matchAll(/^\| `([a-z_]+)`/gm)].map((m) => m[1]);
  assert.ok(codes.length >= 10, `found ${codes}`);
  for (const code of [...codes, "network"]) assert.ok(`error.${code}` in en, `no text for ${code}`);
  const i18n = await loadI18n("fr");
  assert.equal(i18n.error("rate_limited", "too many requests"), catalogues.fr["error.rate_limited"]);
  // A code newer than the catalogue falls back to the server's own message.
  assert.equal(i18n.error("some_new_code", "the server's words"), "the server's words");
});

test("counts pick plural forms and are written the language's way", async () => {
  assert.equal((await loadI18n("en")).t("sidebar.unread", { count: 1 }), "1 unread message");
  assert.equal((await loadI18n("en")).t("sidebar.unread", { count: 1200 }), "1,200 unread messages");
  assert.equal((await loadI18n("de")).t("sidebar.unread", { count: 1200 }), "1.200 ungelesene Nachrichten");
  assert.equal((await loadI18n("ar")).t("sidebar.unread", { count: 2 }), "رسالتان غير مقروءتين");
  assert.equal((await loadI18n("es")).t("composer.placeholder", { room: "General" }), "Mensaje para General");
});

// Keys the client builds at run time (presence.<status>, role.<role>, …): prefix and endings.
const DYNAMIC = {
  "presence.": ["online", "away", "offline"],
  "role.": ["owner", "admin", "moderator", "member"],
  "perm.": ["post", "react", "upload", "reply", "pin", "invite", "mention_room", "delete_others", "kick", "mute", "ban",
    "change_settings"],
  "connection.": ["connecting", "connected", "reconnecting", "offline"],
  "send.": ["connection_lost", "not_connected", "no_answer", "sealed_locked"],
  "sealed.": ["locked", "opening", "broken"],
  "emoji.group_": ["0", "1", "3", "4", "5", "6", "7", "8", "9"],
  "admin.": ["overview", "users", "rooms", "reports", "invites", "settings", "audit"],
  "admin.kind_": ["public", "private", "direct", "group"],
  "admin.invite_": ["good", "revoked", "expired", "used_up"],
  "reports.closed_": ["dismissed", "message_deleted", "banned", "deactivated"],
  "audit.": ["settings_changed", "invite_created", "invite_revoked", "user_deactivated", "user_reactivated",
    "user_signed_out", "admin_granted", "admin_revoked", "room_deleted", "room_read_by_admin", "report_resolved",
    "member_banned", "member_unbanned", "member_kicked", "member_muted", "member_unmuted", "role_changed",
    "room_settings_changed", "message_deleted", "message_pinned", "message_unpinned", "reset_link_created", "user_deleted"],
};

/** The client's sources (every .js under assets/js/ but the catalogues), as one text each. */
function clientSources() {
  const root = new URL("../../assets/js/", import.meta.url);
  return readdirSync(root, { recursive: true })
    .map((path) => path.replaceAll("\\", "/"))
    .filter((path) => path.endsWith(".js") && !path.startsWith("i18n/"))
    .map((path) => ({ path, text: readFileSync(new URL(path, root), "utf8") }));
}

test("every key the client uses exists", () => {
  const sources = clientSources();
  assert.ok(sources.length > 10, `found only ${sources.map((s) => s.path)}`);
  const used = new Map();
  const patterns = [/\bt\(\s*"([a-z_]+\.[a-z_.]+)"/g, /"(notice\.[a-z_]+)"/g, /label: "([a-z_]+\.[a-z_.]+)"/g];
  for (const { path, text } of sources) {
    for (const pattern of patterns) for (const [, key] of text.matchAll(pattern)) used.set(key, path);
  }
  const dynamic = Object.entries(DYNAMIC).flatMap(([prefix, names]) => names.map((name) => prefix + name));
  const missing = [...used].filter(([key]) => !(key in en)).map(([key, path]) => `${key} (${path})`);
  missing.push(...dynamic.filter((key) => !(key in en)));
  assert.deepEqual(missing, [], "keys the client uses but en.js lacks");

  // And the other way round: no dead text in the catalogues.
  const all = sources.map((s) => s.text).join("\n");
  const unused = Object.keys(en).filter(
    (key) => !all.includes(`"${key}"`) && !key.startsWith("error.") && !dynamic.includes(key),
  );
  assert.deepEqual(unused, [], `en.js keys nothing uses: ${unused.join(", ")}`);
});

test("the language is the profile's, else the browser's, else English", async () => {
  assert.equal(resolveLocale("fr", ["de-DE"]), "fr");
  assert.equal(resolveLocale("", ["pt-BR", "de-CH", "en"]), "de");
  assert.equal(resolveLocale(undefined, ["ja"]), "en");
  assert.equal((await loadI18n("ar")).dir, "rtl");
  assert.equal((await loadI18n("xx")).locale, "en");
});
