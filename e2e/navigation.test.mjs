// Finding your way: the sidebar's sections and filter, the Ctrl+K switcher, Alt+↑/↓, profile
// cards with @username, read receipts, and the message list by keyboard.

import { test } from "node:test";
import assert from "node:assert/strict";
import { problems, person, register, dialogForm, createRoom, joinRoom, say, sees, apiIn } from "./lib.mjs";

let gil;
let hana;

test("the sidebar keeps rooms and direct messages apart, and its filter narrows both", async () => {
  gil = await person("gil");
  hana = await person("hana");
  await register(gil);
  await register(hana);
  await createRoom(gil, "Garden");
  await createRoom(gil, "Kitchen");
  const hanaId = (await apiIn(hana, "GET", "/me")).user.id;
  await apiIn(gil, "POST", "/dms", { user_id: hanaId });
  const { page } = gil;
  const rooms = page.locator("section", { has: page.getByRole("heading", { name: "Rooms" }) });
  const direct = page.locator("section", { has: page.getByRole("heading", { name: "Direct messages" }) });
  await direct.locator(".room", { hasText: "hana" }).waitFor();
  assert.deepEqual((await rooms.locator(".room-name").allTextContents()).sort(), ["Garden", "Kitchen"]);
  const filter = page.getByLabel("Filter rooms");
  await filter.fill("GARD");
  await rooms.locator(".room", { hasText: "Kitchen" }).waitFor({ state: "detached" });
  assert.equal(await rooms.locator(".room").count(), 1);
  assert.equal(await direct.locator(".room").count(), 0);
  // Enter opens the first match.
  await filter.press("Enter");
  await page.locator(".room-title", { hasText: "Garden" }).waitFor();
  await filter.fill("");
});

test("Ctrl+K finds a room or a person, and Alt+arrows step through the sidebar", async () => {
  const { page } = gil;
  await page.keyboard.press("Control+k");
  const dialog = await dialogForm(page, "Go to a room");
  await page.keyboard.type("kitch");
  await dialog.getByRole("option", { name: /Kitchen/ }).waitFor();
  await page.keyboard.press("Enter");
  await page.locator(".room-title", { hasText: "Kitchen" }).waitFor();
  assert.equal(await page.locator("dialog[open]").count(), 0);
  await page.getByRole("button", { name: "Find a room or person" }).click();
  await dialogForm(page, "Go to a room");
  await page.keyboard.type("han");
  await page.keyboard.press("Enter");
  await page.locator(".room-title", { hasText: "hana" }).waitFor();
  // Alt+↓ and Alt+↑ move through the sidebar's order (rooms, then direct messages), wrapping.
  const order = await page.locator(".sidebar .room-name").allTextContents();
  const at = order.indexOf("hana");
  await page.keyboard.press("Alt+ArrowDown");
  await page.locator(".room-title", { hasText: order[(at + 1) % order.length] }).waitFor();
  await page.keyboard.press("Alt+ArrowUp");
  await page.locator(".room-title", { hasText: "hana" }).waitFor();
});

test("a profile card shows who someone is, and messages them", async () => {
  // A display name that looks like someone else's: the card and the message say who it is.
  await apiIn(hana, "PATCH", "/me", { display_name: "Gil", status_emoji: "🌱", status_text: "planting" });
  const { page } = gil;
  await page.locator(".room", { hasText: "Garden" }).click();
  await joinRoom(hana, "Garden");
  await say(hana, "it is me, honestly");
  await sees(gil, "it is me, honestly");
  const row = page.locator(".message", { hasText: "it is me, honestly" });
  assert.equal(await row.locator(".username").textContent(), "@hana");
  await row.getByRole("button", { name: "Gil" }).click();
  const card = await dialogForm(page, "Gil");
  await card.locator(".username", { hasText: "@hana" }).waitFor();
  await card.getByText("🌱 planting").waitFor();
  await card.getByRole("button", { name: "Message" }).click();
  await page.locator(".room-title", { hasText: "Gil" }).waitFor();
  await page.locator(".room-topic", { hasText: "@hana" }).waitFor();
});

test("read receipts show who has seen a message", async () => {
  const { page } = gil;
  await page.locator(".room", { hasText: "Garden" }).click();
  await hana.page.locator(".room", { hasText: "Garden" }).click();
  await say(gil, "did you water the tomatoes?");
  await sees(hana, "did you water the tomatoes?");
  const mine = page.locator(".message", { hasText: "did you water the tomatoes?" });
  await mine.locator(".seen", { hasText: "Seen by Gil" }).waitFor();
  // Turning receipts off hides the marker from then on.
  await apiIn(hana, "PATCH", "/me", { send_receipts: false });
  await say(gil, "hello?");
  await sees(hana, "hello?");
  await page.waitForTimeout(500);
  assert.equal(await page.locator(".message", { hasText: "hello?" }).locator(".seen").count(), 0);
});

test("messages can be walked with the keyboard, and their toolbar is reachable", async () => {
  const { page } = gil;
  const rows = page.locator(".messages .message");
  // One row is in the tab order: the newest.
  assert.equal(await page.locator('.messages .message[tabindex="0"]').count(), 1);
  await rows.last().focus();
  await page.keyboard.press("ArrowUp");
  const focused = await page.evaluate(() => document.activeElement.textContent);
  assert.match(focused, /did you water the tomatoes\?/);
  await page.locator(".message:focus-within .toolbar").waitFor();
  await page.keyboard.press("End");
  assert.match(await page.evaluate(() => document.activeElement.textContent), /hello\?/);
});

test("sending while scrolled up brings the view down to the new message", async () => {
  const { page } = gil;
  const garden = (await apiIn(gil, "GET", "/rooms")).rooms.find((r) => r.name === "Garden");
  for (let i = 1; i <= 80; i++) {
    await apiIn(hana, "POST", `/rooms/${garden.id}/messages`, { client_id: `filler-${i}`, body: `filler ${i}` });
  }
  await page.locator(".message .body", { hasText: "filler 80" }).waitFor();
  // Scrolled to the top, again while a render that was already on its way (a late event)
  // may put the list back at the bottom: until "Jump to latest" shows.
  await page.waitForFunction(() => {
    document.querySelector(".messages").scrollTop = 0;
    return document.querySelector(".jump") !== null;
  }, null, { polling: 250, timeout: 30000 });
  await page.getByRole("button", { name: "Jump to latest" }).waitFor();
  // Scrolled up, hana's next message is not read yet: no receipt for it, and Garden stays unread.
  await apiIn(hana, "POST", `/rooms/${garden.id}/messages`, { client_id: "unseen", body: "are you there?" });
  await page.waitForTimeout(300);
  const gilReceipt = (await apiIn(gil, "GET", `/rooms/${garden.id}/receipts`)).receipts;
  const gilId = (await apiIn(gil, "GET", "/me")).user.id;
  const lastSeq = (await apiIn(gil, "GET", `/rooms/${garden.id}`)).room.last_seq;
  assert.ok(gilReceipt.find((r) => r.user_id === gilId).read_seq < lastSeq, "not read while scrolled up");
  await say(gil, "yes, scrolling");
  await page.locator(".message:not(.pending) .body", { hasText: "yes, scrolling" }).waitFor();
  const inView = await page.locator(".message .body", { hasText: "yes, scrolling" }).evaluate((el) => {
    const box = el.getBoundingClientRect();
    const list = el.closest(".messages").getBoundingClientRect();
    return box.top >= list.top && box.bottom <= list.bottom;
  });
  assert.ok(inView, "the view came down to it");
});

test("the composer completes @names and :shortcodes, and the picker adds emoji", async () => {
  const { page } = gil;
  await page.locator(".room", { hasText: "Garden" }).click();
  const box = page.getByLabel("Message", { exact: true });
  await box.fill("");
  await box.pressSequentially("hey @ha");
  const list = page.getByRole("listbox", { name: "Suggestions" });
  await list.getByRole("option", { name: /@hana/ }).waitFor();
  await box.press("Enter");
  assert.equal(await box.inputValue(), "hey @hana ");
  await box.pressSequentially("look :thumbsu");
  await list.getByRole("option", { name: /:thumbsup:/ }).waitFor();
  await box.press("Tab");
  assert.match(await box.inputValue(), /^hey @hana look 👍\uFE0F? $/u);
  await page.getByRole("button", { name: "Emoji", exact: true }).click();
  const picker = await dialogForm(page, "Choose an emoji");
  await picker.getByLabel("Search emoji").fill("pizza");
  await picker.getByRole("button", { name: "pizza" }).click();
  await page.locator("dialog[open]").waitFor({ state: "detached" });
  assert.match(await box.inputValue(), /🍕$/u);
  // Escape closes the list without leaving the composer.
  await box.pressSequentially(" @");
  await list.waitFor();
  await box.press("Escape");
  await list.waitFor({ state: "detached" });
  await box.press("Enter");
  await hana.page.locator(".message .body .mention", { hasText: "@hana" }).waitFor();
});

test("saving room settings keeps a retention the form cannot show exactly, and waits for the profile", async () => {
  const { page } = gil;
  const kitchen = (await apiIn(gil, "GET", "/rooms")).rooms.find((r) => r.name === "Kitchen");
  await apiIn(gil, "PATCH", `/rooms/${kitchen.id}`, { retention: { max_messages: null, max_age_secs: 3600 } });
  await page.locator(".room", { hasText: "Kitchen" }).click();
  await page.getByRole("button", { name: "Room settings" }).click();
  const settings = await dialogForm(page, "Settings of “Kitchen”");
  await settings.getByLabel("Topic").fill("pots and pans");
  await settings.getByRole("button", { name: "Save" }).click();
  await page.locator("dialog[open]").waitFor({ state: "detached" });
  const { room } = await apiIn(gil, "GET", `/rooms/${kitchen.id}`);
  assert.equal(room.topic, "pots and pans");
  assert.equal(room.retention.max_age_secs, 3600, "an hour is not rounded to 0 days");
  // The profile dialog saves every field, so it offers Save only once it knows them all.
  await page.route("**/api/v1/me", async (route) => {
    await new Promise((resolve) => setTimeout(resolve, 400));
    await route.continue();
  });
  await page.getByRole("button", { name: "Your profile and settings" }).click();
  const profile = await dialogForm(page, "Your profile");
  assert.ok(await profile.getByRole("button", { name: "Save" }).isDisabled(), "not before GET /me answered");
  await profile.getByRole("button", { name: "Save" }).and(page.locator(":enabled")).waitFor();
  await page.unroute("**/api/v1/me");
  await profile.getByRole("button", { name: "Cancel" }).click();
});

test("closing a dialog gives focus back to what opened it", async () => {
  const { page } = gil;
  const opener = page.getByRole("button", { name: "New room" });
  await opener.focus();
  await page.keyboard.press("Enter");
  const dialog = await dialogForm(page, "New room");
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await page.locator("dialog[open]").waitFor({ state: "detached" });
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute("aria-label")), "New room");
});

test("no console errors and no CSP violations", async () => {
  await gil.context.close();
  await hana.context.close();
  assert.deepEqual(problems, []);
});
