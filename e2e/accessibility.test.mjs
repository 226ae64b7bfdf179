// WCAG 2.2 AA: axe-core (injected by the test, never served) finds nothing on the sign-in
// page, the chat screen and every dialog, in the light and the dark theme, at desktop and
// phone widths. Also: the skip link, and focus rings and input borders at ≥ 3:1 against
// what they sit on (axe does not measure those).

import { test } from "node:test";
import assert from "node:assert/strict";
import { axeViolations, describeViolations } from "./axe.mjs";
import { SHOTS, problems, person, register, dialogForm, createRoom, joinRoom, say, apiIn } from "./lib.mjs";

async function clean(page, what) {
  const violations = await axeViolations(page);
  assert.deepEqual(violations.map((v) => v.id), [], `${what}: ${describeViolations(violations)}`);
}

/** Opens a dialog with `open`, checks it, closes it with Escape. */
async function checkDialog(page, title, open, what) {
  await open();
  await dialogForm(page, title);
  await page.waitForTimeout(150); // answers the dialog loads as it opens (lists) are in
  await clean(page, `${what}: ${title}`);
  await page.keyboard.press("Escape");
  await page.locator("dialog[open]").waitFor({ state: "detached" });
}

let ivy;
let jon;

for (const scheme of ["light", "dark"]) {
  test(`nothing for axe to find, ${scheme}`, async () => {
    if (!ivy) {
      ivy = await person("ivy");
      jon = await person("jon");
      await register(jon);
      await register(ivy);
      await createRoom(ivy, "Atelier");
      await joinRoom(jon, "Atelier");
      await say(jon, "hello @ivy, see https://example.com");
      await say(ivy, "hi jon");
    }
    const { page } = ivy;
    await page.emulateMedia({ colorScheme: scheme });
    await page.locator(".message", { hasText: "hi jon" }).waitFor();
    await page.getByRole("button", { name: "Members", exact: true }).click();
    await page.locator(".member", { hasText: "jon" }).waitFor();
    await clean(page, `chat screen, ${scheme}`);
    await page.locator(".message", { hasText: "hello @ivy" }).hover();
    await clean(page, `message toolbar, ${scheme}`);
    await page.getByRole("button", { name: "Members", exact: true }).click();

    await checkDialog(page, "New room", () => page.getByRole("button", { name: "New room" }).click(), scheme);
    await checkDialog(page, "Join a room", () => page.getByRole("button", { name: "Join a room" }).click(), scheme);
    await checkDialog(page, "Public rooms", () => page.getByRole("button", { name: "Browse public rooms" }).click(), scheme);
    await checkDialog(page, "New direct message", () => page.getByRole("button", { name: "New direct message" }).click(), scheme);
    await checkDialog(page, "Go to a room", () => page.keyboard.press("Control+k"), scheme);
    await checkDialog(page, "Choose an emoji", () => page.getByRole("button", { name: "Emoji", exact: true }).click(), scheme);
    await checkDialog(page, "jon", () => page.locator(".message", { hasText: "hello @ivy" }).getByRole("button", { name: "jon" }).click(), scheme);
    await checkDialog(page, "Settings of “Atelier”", () => page.getByRole("button", { name: "Room settings" }).click(), scheme);
    await checkDialog(page, "Your profile", async () => {
      await page.getByRole("button", { name: "Your profile and settings" }).click();
      const dialog = await dialogForm(page, "Your profile");
      await dialog.getByText("Password", { exact: true }).click();
      await dialog.getByText("Devices", { exact: true }).click();
      await dialog.locator(".devices li").first().waitFor();
    }, scheme);
    // A confirmation over a dialog: ban, with its reason field.
    await page.getByRole("button", { name: "Room settings" }).click();
    const settings = await dialogForm(page, "Settings of “Atelier”");
    await settings.locator(".pick-list li", { hasText: "jon" }).getByRole("button", { name: "Ban" }).click();
    await page.locator("dialog[open]").last().getByRole("heading", { name: "Ban jon?" }).waitFor();
    await clean(page, `ban confirmation, ${scheme}`);
    await page.keyboard.press("Escape");
    await page.keyboard.press("Escape");
    await page.locator("dialog[open]").waitFor({ state: "detached" });
    // And jon's view: the leave confirmation.
    await jon.page.emulateMedia({ colorScheme: scheme });
    await checkDialog(jon.page, "Leave “Atelier”?", () => jon.page.getByRole("button", { name: "Leave room" }).click(), scheme);
  });

  test(`the sign-in page and the phone layout, ${scheme}`, async () => {
    const visitor = await person(`visitor-${scheme}`, { width: 360, height: 740 }, { colorScheme: scheme });
    await clean(visitor.page, `sign-in page, ${scheme}`);
    await visitor.page.getByRole("tab", { name: "Create account" }).click();
    await visitor.page.getByRole("button", { name: "Create account" }).click(); // empty: errors shown
    await visitor.page.locator(".field-error", { hasText: "Enter your username." }).waitFor();
    await clean(visitor.page, `sign-in errors, ${scheme}`);
    await register(visitor);
    await clean(visitor.page, `phone chat screen, ${scheme}`);
    await visitor.page.getByRole("button", { name: /^Show rooms/ }).click();
    await visitor.page.locator("#sidebar.open").waitFor();
    await clean(visitor.page, `phone sidebar, ${scheme}`);
    if (scheme === "dark") {
      await apiIn(visitor, "POST", "/rooms/join", { name: "Atelier" });
      await visitor.page.locator(".room", { hasText: "Atelier" }).click();
      await visitor.page.locator(".message", { hasText: "hi jon" }).waitFor();
      await visitor.page.screenshot({ path: `${SHOTS}/phone-dark.png` });
    }
    await visitor.context.close();
  });
}

test("a skip link leads to the message box", async () => {
  const { page } = ivy;
  await page.reload();
  await page.locator(".connection[data-state=connected]").waitFor();
  await page.keyboard.press("Tab");
  const first = await page.evaluate(() => document.activeElement.textContent);
  assert.equal(first, "Skip to the message box");
  await page.keyboard.press("Enter");
  assert.equal(await page.evaluate(() => document.activeElement.id), "composer-input");
});

test("focus rings and input borders stand out at 3:1 or more, light and dark", async () => {
  const { page } = ivy;
  for (const scheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme: scheme });
    const ratios = await page.evaluate(() => {
      const rgb = (css) => css.match(/[\d.]+/g).slice(0, 3).map(Number);
      const lum = ([r, g, b]) => {
        const c = [r, g, b].map((v) => v / 255).map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
      };
      const ratio = (a, b) => {
        const [x, y] = [lum(rgb(a)), lum(rgb(b))].sort((p, q) => q - p);
        return (x + 0.05) / (y + 0.05);
      };
      const css = getComputedStyle(document.documentElement);
      const probe = document.createElement("span");
      document.body.append(probe);
      const color = (name) => {
        probe.style.color = css.getPropertyValue(name);
        return getComputedStyle(probe).color;
      };
      const out = {};
      for (const surface of ["--bg", "--sidebar", "--raised"]) {
        out[`focus ring on ${surface}`] = ratio(color("--accent"), color(surface));
        out[`input border on ${surface}`] = ratio(color("--field"), color(surface));
      }
      probe.remove();
      return out;
    });
    for (const [what, value] of Object.entries(ratios)) assert.ok(value >= 3, `${scheme}: ${what} is ${value.toFixed(2)}:1`);
  }
  await page.emulateMedia({ colorScheme: "light" });
});

test("no console errors and no CSP violations", async () => {
  await ivy.context.close();
  await jon.context.close();
  assert.deepEqual(problems, []);
});
