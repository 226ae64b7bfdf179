// Each language's smoke test: the page follows the browser's language (then the profile's
// choice), sets `lang` and `dir` on <html>, and shows every text, errors included, from that
// language's catalogue. Arabic runs right to left. Screenshot: docs/screenshots/rtl.png.

import { test } from "node:test";
import assert from "node:assert/strict";
import { LANGUAGES, loadI18n } from "../assets/js/core/i18n.js";
import { SHOTS, PASSWORD, problems, person, expectFailedRequests, dialogForm, apiIn } from "./lib.mjs";

for (const code of ["es", "de", "fr", "ar"]) {
  test(`${LANGUAGES[code].name}: sign in, open a room, an error`, async () => {
    const i18n = await loadI18n(code);
    const t = (key, params) => i18n.t(key, params);
    const name = `lang-${code}`;
    const user = await person(name, { width: 1280, height: 800 }, { locale: code });
    const { page } = user;
    await page.getByRole("tab", { name: t("auth.sign_in") }).waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.lang), code);
    assert.equal(await page.evaluate(() => document.documentElement.dir), LANGUAGES[code].dir);
    // Create the account, sign out, and sign in with a wrong password first: its error too.
    await page.getByRole("tab", { name: t("auth.create_account") }).click();
    await page.getByLabel(t("auth.username"), { exact: true }).fill(name);
    await page.getByLabel(t("auth.password"), { exact: true }).fill(PASSWORD);
    await page.locator(".auth-form button[type=submit]").click();
    await page.locator(".connection[data-state=connected]", { hasText: t("connection.connected") }).waitFor();
    await apiIn(user, "POST", "/auth/logout");
    await page.reload();
    await page.getByRole("tab", { name: t("auth.sign_in") }).waitFor();
    await page.getByLabel(t("auth.username"), { exact: true }).fill(name);
    await page.getByLabel(t("auth.password"), { exact: true }).fill("not the password");
    await page.locator(".auth-form button[type=submit]").click();
    await page.locator(".form-error", { hasText: t("auth.wrong_password") }).waitFor();
    expectFailedRequests(name, 401, 1);
    await page.getByLabel(t("auth.password"), { exact: true }).fill(PASSWORD);
    await page.locator(".auth-form button[type=submit]").click();
    await page.locator(".connection[data-state=connected]").waitFor();
    // A room: its composer and sidebar speak the language.
    await page.getByRole("button", { name: t("rooms.new") }).click();
    const create = await dialogForm(page, t("rooms.new"));
    await create.getByLabel(t("rooms.name"), { exact: true }).fill(`Sala ${code}`);
    await create.locator("button[type=submit]").click();
    await page.locator(".room-title", { hasText: `Sala ${code}` }).waitFor();
    assert.equal(await page.locator("#composer-input").getAttribute("placeholder"), t("composer.placeholder", { room: `Sala ${code}` }));
    await page.getByRole("heading", { name: t("sidebar.direct") }).waitFor();
    // A server error in the language: joining a room that does not exist.
    await page.getByRole("button", { name: t("rooms.join") }).first().click();
    const join = await dialogForm(page, t("rooms.join_title"));
    await join.getByLabel(t("rooms.room_name"), { exact: true }).fill("no such room anywhere");
    await join.locator("button[type=submit]").click();
    await join.locator(".form-error", { hasText: t("error.not_found") }).waitFor();
    expectFailedRequests(name, 404, 1);
    await join.getByRole("button", { name: t("action.cancel") }).click();
    if (code === "ar") {
      await apiIn(user, "POST", `/rooms/${(await apiIn(user, "GET", "/rooms")).rooms[0].id}/messages`,
        { client_id: "rtl-1", body: "مرحبا بالجميع! أهلاً وسهلاً في الغرفة." });
      await apiIn(user, "POST", `/rooms/${(await apiIn(user, "GET", "/rooms")).rooms[0].id}/messages`,
        { client_id: "rtl-2", body: "Mixed text: English inside, https://example.com" });
      await page.locator(".message .body", { hasText: "Mixed text" }).waitFor();
      // The sidebar sits on the right, the composer's send button on the left.
      const sidebar = await page.locator("#sidebar").boundingBox();
      assert.ok(sidebar.x > 600, `the sidebar is on the right (${sidebar.x})`);
      await page.screenshot({ path: `${SHOTS}/rtl.png` });
    }
    await user.context.close();
  });
}

test("the profile's language wins over the browser's, and follows the account", async () => {
  const user = await person("polyglot", { width: 1280, height: 800 }, { locale: "en-GB" });
  const { page } = user;
  await page.getByRole("tab", { name: "Create account" }).click();
  await page.getByLabel("Username").fill("polyglot");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.locator(".connection[data-state=connected]").waitFor();
  await page.getByRole("button", { name: "Your profile and settings" }).click();
  const dialog = await dialogForm(page, "Your profile");
  await dialog.getByLabel("Language").selectOption("de");
  await dialog.getByRole("button", { name: "Save" }).click();
  await page.locator(".connection", { hasText: "Verbunden" }).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.lang), "de");
  // Another browser, in English: the account's choice comes with the sign-in.
  const other = await person("polyglot-2", { width: 1280, height: 800 }, { locale: "en-US" });
  await other.page.getByLabel("Username").fill("polyglot");
  await other.page.getByLabel("Password").fill(PASSWORD);
  await other.page.getByRole("button", { name: "Sign in" }).click();
  await other.page.locator(".connection", { hasText: "Verbunden" }).waitFor();
  assert.equal(await other.page.evaluate(() => document.documentElement.lang), "de");
  await user.context.close();
  await other.context.close();
});

test("no console errors and no CSP violations", () => {
  assert.deepEqual(problems, []);
});
