// A sealed room end to end in headless Chromium: made with a passphrase, joined with a wrong
// one (refused, said so) and then the right one, on another node of the cluster when there
// is one (NATTER_URL2); a message, its edit, a reply quoting it, a reaction, a file and an
// image, all carrying the canary (NATTER_CANARY), read on the other side; searched in the
// browser; still open after a reload; locked on a new device until its passphrase is given
// there. tests/it/sealed.rs starts the servers, runs this, then looks for the canary in
// everything the servers hold, logged, measured or kept in memory.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { SHOTS, PASSWORD, URL, problems, person, register, dialogForm, say, sees, expectFailedRequests } from "./lib.mjs";

const CANARY = process.env.NATTER_CANARY;
const URL2 = process.env.NATTER_URL2 || URL;
const ROOM = process.env.NATTER_ROOM || "Vault";
const PASSPHRASE = "violet-harbour-7-lantern";

let ana;
let bob;

const row = (user, text) => user.page.locator(".messages .message", { hasText: text }).last();

async function act(user, text, label) {
  const r = row(user, text);
  await r.hover();
  await r.getByRole("button", { name: label, exact: true }).click();
}

async function signIn(user, name) {
  await user.page.getByLabel("Username").fill(name);
  await user.page.getByLabel("Password").fill(PASSWORD);
  await user.page.getByRole("button", { name: "Sign in" }).click();
  await user.page.locator(".connection[data-state=connected]").waitFor();
}

test("a sealed room is made with a passphrase and shows that it is sealed", async () => {
  assert.ok(CANARY, "NATTER_CANARY names the text the servers must never see");
  ana = await person("ana-s");
  await register(ana);
  const { page } = ana;
  await page.getByRole("button", { name: "New room" }).click();
  const dialog = await dialogForm(page, "New room");
  await dialog.getByLabel("Name").fill(ROOM);
  await dialog.getByLabel("Visibility").selectOption("sealed");
  await dialog.locator(".sealed-note", { hasText: "never sees it" }).waitFor();
  // Too short first: said next to the field, nothing made.
  await dialog.getByLabel("Passphrase", { exact: true }).fill("short");
  await dialog.getByRole("button", { name: "Create" }).click();
  await dialog.getByText("Use at least 12 characters.").waitFor();
  await dialog.getByLabel("Passphrase", { exact: true }).fill(PASSPHRASE);
  await dialog.getByRole("button", { name: "Create" }).click();
  await page.locator(".room-title", { hasText: ROOM }).waitFor();
  await page.locator(".room-title .sealed-badge", { hasText: "Sealed" }).waitFor();
  await page.locator(`.room[data-room] .room-icon use[href$="#shield"]`).first().waitFor({ state: "attached" });
});

test("a message in a sealed room reaches a member who joined with the passphrase, and a wrong one is refused", async () => {
  await say(ana, `the ${CANARY} plan`);
  await sees(ana, `the ${CANARY} plan`);
  bob = await person("bob-s");
  await bob.page.goto(URL2);
  await register(bob);
  await bob.page.getByRole("button", { name: "Join a room" }).click();
  const dialog = await dialogForm(bob.page, "Join a room");
  await dialog.getByLabel("Room name").fill(ROOM);
  await dialog.getByRole("button", { name: "Join" }).click();
  await dialog.locator(".sealed-note", { hasText: "only a proof" }).waitFor();
  await dialog.getByLabel("Passphrase").fill("not the passphrase");
  await dialog.getByRole("button", { name: "Join" }).click();
  await dialog.getByText("That passphrase does not open this room.").waitFor();
  expectFailedRequests("bob-s", 403, 1);
  await dialog.getByLabel("Passphrase").fill(PASSPHRASE);
  await dialog.getByRole("button", { name: "Join" }).click();
  await bob.page.locator(".room-title", { hasText: ROOM }).waitFor();
  await sees(bob, `the ${CANARY} plan`);
});

test("edits, replies and reactions work sealed", async () => {
  await act(ana, `the ${CANARY} plan`, "Edit");
  const box = ana.page.getByLabel("Message", { exact: true });
  assert.equal(await box.inputValue(), `the ${CANARY} plan`);
  await box.fill(`the ${CANARY} plan, amended`);
  await box.press("Enter");
  await row(bob, `the ${CANARY} plan, amended`).locator(".edited").waitFor();
  await act(bob, "plan, amended", "Reply");
  await say(bob, `agreed on ${CANARY}`);
  await row(ana, `agreed on ${CANARY}`).locator(".quote", { hasText: `the ${CANARY} plan, amended` }).waitFor();
  await act(ana, `agreed on ${CANARY}`, "Add reaction");
  const picker = await dialogForm(ana.page, "Emoji");
  await picker.getByLabel("Search emoji").fill("thumbs up");
  await picker.locator(".emoji-grid button").first().waitFor();
  await picker.getByLabel("Search emoji").press("Enter");
  await row(bob, `agreed on ${CANARY}`).locator(".reaction:not(.add)", { hasText: "1" }).waitFor();
});

test("a file and an image are sealed before upload and opened for display", async () => {
  const png = await ana.page.evaluate(async () => {
    const canvas = new OffscreenCanvas(64, 48);
    const g = canvas.getContext("2d");
    g.fillStyle = "#4338ca";
    g.fillRect(0, 0, 64, 48);
    return Array.from(new Uint8Array(await (await canvas.convertToBlob({ type: "image/png" })).arrayBuffer()));
  });
  await ana.page.evaluate(([canary, png]) => {
    const data = new DataTransfer();
    data.items.add(new File([`notes about ${canary}\n`.repeat(200)], `${canary}-notes.txt`, { type: "text/plain" }));
    data.items.add(new File([new Uint8Array(png)], "square.png", { type: "image/png" }));
    const box = document.getElementById("composer-input");
    box.focus();
    box.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
  }, [CANARY, png]);
  await ana.page.locator(".attach-tray .attaching.done").nth(1).waitFor();
  await say(ana, `files for ${CANARY}`);
  const sent = row(bob, `files for ${CANARY}`);
  const file = sent.locator("a.attachment.file", { hasText: `${CANARY}-notes.txt` });
  await file.waitFor();
  const href = await file.getAttribute("href");
  assert.match(href, /^blob:/, "opened here, not served plain");
  // Downloading it saves what was sealed, under its own name.
  const [download] = await Promise.all([bob.page.waitForEvent("download"), file.click()]);
  assert.equal(download.suggestedFilename(), `${CANARY}-notes.txt`);
  const text = readFileSync(await download.path(), "utf8");
  assert.ok(text.startsWith(`notes about ${CANARY}`));
  const img = sent.locator(".attachment.image img");
  await img.waitFor();
  await bob.page.waitForFunction((el) => el.complete && el.naturalWidth === 64, await img.elementHandle());
  assert.equal(await img.getAttribute("width"), "64", "its box from the size measured before sealing");
});

test("search runs in the browser, and the room stays open after a reload", async () => {
  await bob.page.getByRole("button", { name: "Search this room" }).click();
  const search = await dialogForm(bob.page, "Search messages");
  await search.locator(".sealed-note", { hasText: "in your browser" }).waitFor();
  await search.getByLabel("Words to find").fill(`${CANARY} amended`);
  await search.locator(".result", { hasText: "plan, amended" }).locator("mark").first().waitFor();
  await search.getByLabel("Close", { exact: true }).click();
  await search.waitFor({ state: "detached" });
  await bob.page.reload();
  await sees(bob, `agreed on ${CANARY}`);
  await bob.page.locator(".room .preview", { hasText: CANARY }).first().waitFor();
  await bob.page.screenshot({ path: `${SHOTS}/sealed-room.png` });
});

test("a new device sees the room locked until its passphrase is given there", async () => {
  const laptop = await person("bob-s-laptop");
  await laptop.page.goto(URL2);
  await signIn(laptop, "bob-s");
  await laptop.page.locator(".room", { hasText: ROOM }).click();
  const panel = laptop.page.locator(".sealed-unlock");
  await panel.getByRole("heading", { name: "This room is sealed" }).waitFor();
  await laptop.page.locator(".room .preview", { hasText: "Sealed message" }).first().waitFor();
  await panel.getByLabel("Passphrase").fill("still not it");
  await panel.getByRole("button", { name: "Open the room" }).click();
  await panel.getByText("That passphrase does not open this room. Nothing was sent").waitFor();
  await laptop.page.screenshot({ path: `${SHOTS}/sealed-locked.png` });
  await panel.getByLabel("Passphrase").fill(PASSPHRASE);
  await panel.getByRole("button", { name: "Open the room" }).click();
  await sees(laptop, `the ${CANARY} plan, amended`);
  await laptop.context.close();
});

test("no console errors", async () => {
  for (const user of [ana, bob]) await user?.context.close();
  assert.deepEqual(problems, []);
});
