// End-to-end tests of files in headless Chromium: an image pasted into the composer uploads
// with a progress bar, is sent, shows inline in its reserved box and opens the lightbox,
// whose arrow keys step through the room's images; a file dropped on the conversation
// becomes a download card; a slow upload shows its progress and can be cancelled; a voice
// message recorded from the (fake) microphone plays as audio; a member of another room cannot
// open the file's address. Run by tests/it/browser.rs.

import { test } from "node:test";
import assert from "node:assert/strict";
import { axeViolations, describeViolations } from "./axe.mjs";
import { SHOTS, problems, person, register, createRoom, dialogForm, apiIn, expectFailedRequests } from "./lib.mjs";

let ana;
let bob;
let eve;

/** A PNG of `w` x `h` pixels of one colour, drawn by the page's own canvas. */
function pngIn(user, w, h, colour) {
  return user.page.evaluate(async ([w, h, colour]) => {
    const canvas = new OffscreenCanvas(w, h);
    const g = canvas.getContext("2d");
    g.fillStyle = colour;
    g.fillRect(0, 0, w, h);
    const blob = await canvas.convertToBlob({ type: "image/png" });
    return Array.from(new Uint8Array(await blob.arrayBuffer()));
  }, [w, h, colour]);
}

/** Pastes files into the composer, as a clipboard with files in it would. */
async function paste(user, files) {
  await user.page.evaluate((files) => {
    const data = new DataTransfer();
    for (const f of files) data.items.add(new File([new Uint8Array(f.bytes)], f.name, { type: f.type }));
    const box = document.getElementById("composer-input");
    box.focus();
    box.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
  }, files);
}

/** Drops files on the conversation, as dragging them from the desktop would. */
async function drop(user, files) {
  await user.page.evaluate((files) => {
    const data = new DataTransfer();
    for (const f of files) data.items.add(new File([new Uint8Array(f.bytes)], f.name, { type: f.type }));
    const target = document.querySelector(".conversation .messages");
    for (const type of ["dragenter", "dragover", "drop"]) {
      target.dispatchEvent(new DragEvent(type, { dataTransfer: data, bubbles: true, cancelable: true }));
    }
  }, files);
}

test("set-up: two people in a room, a third outside it", async () => {
  ana = await person("ana-f");
  bob = await person("bob-f");
  eve = await person("eve-f");
  await register(ana);
  await register(bob);
  await register(eve);
  await createRoom(ana, "Photos", "s3cret-key");
  // Bob joins with the key (the dialog asks for it once it knows the room is private).
  await bob.page.getByRole("button", { name: "Join a room" }).click();
  const dialog = await dialogForm(bob.page, "Join a room");
  await dialog.getByLabel("Room name").fill("Photos");
  await dialog.getByRole("button", { name: "Join" }).click();
  await dialog.getByLabel("Key").fill("s3cret-key");
  await dialog.getByRole("button", { name: "Join" }).click();
  await bob.page.locator(".room-title", { hasText: "Photos" }).waitFor();
  expectFailedRequests("bob-f", 403, 1);
});

test("a pasted image uploads, is sent, shows inline and opens the lightbox", async () => {
  const box = ana.page.getByLabel("Message", { exact: true });
  await paste(ana, [
    { name: "red.png", type: "image/png", bytes: await pngIn(ana, 800, 400, "#c0392b") },
    { name: "blue.png", type: "image/png", bytes: await pngIn(ana, 300, 600, "#2e86de") },
  ]);
  const tray = ana.page.getByRole("list", { name: "Files to send" });
  await tray.getByText("red.png").waitFor();
  await tray.getByText("blue.png").waitFor();
  // Uploaded: the send button is enabled again.
  await ana.page.locator(".attaching.done").nth(1).waitFor();
  await box.fill("two colours");
  await box.press("Enter");
  await tray.waitFor({ state: "detached" });
  // Bob sees both inline, in boxes reserved from their measured sizes (no jump on load).
  const images = bob.page.locator(".message .attachment.image img");
  await images.nth(1).waitFor();
  assert.equal(await images.nth(0).getAttribute("width"), "320");
  assert.equal(await images.nth(0).getAttribute("height"), "160");
  assert.equal(await images.nth(1).getAttribute("width"), "120");
  assert.equal(await images.nth(1).getAttribute("height"), "240");
  await bob.page.waitForFunction(() => [...document.querySelectorAll(".attachment.image img")].every((i) => i.complete && i.naturalWidth > 0));
  await bob.page.screenshot({ path: `${SHOTS}/files-inline.png` });
  // The lightbox: the full image, ← and → step through the room's images, Escape closes.
  await bob.page.getByRole("button", { name: "Open image red.png" }).click();
  const lightbox = bob.page.locator("dialog.lightbox");
  await lightbox.waitFor();
  await lightbox.getByText("1 of 2").waitFor();
  const full = lightbox.locator(".lightbox-stage img");
  await bob.page.waitForFunction(() => document.querySelector("dialog.lightbox .lightbox-stage img")?.naturalWidth === 800);
  assert.match(await full.getAttribute("src"), /^\/api\/v1\/uploads\/[0-9a-f]{32}$/);
  await bob.page.screenshot({ path: `${SHOTS}/files-lightbox.png` });
  await bob.page.keyboard.press("ArrowRight");
  await lightbox.getByText("2 of 2").waitFor();
  await lightbox.locator(".name", { hasText: "blue.png" }).waitFor();
  await bob.page.keyboard.press("ArrowRight");
  await lightbox.getByText("1 of 2").waitFor();
  const violations = await axeViolations(bob.page, { include: ["dialog.lightbox"] });
  assert.deepEqual(violations, [], describeViolations(violations));
  await bob.page.keyboard.press("Escape");
  await lightbox.waitFor({ state: "detached" });
});

test("a dropped file becomes a card with its name, size and a download link", async () => {
  const text = Array.from(new TextEncoder().encode("minutes of the meeting\n".repeat(100)));
  await drop(bob, [{ name: "minutes.txt", type: "text/plain", bytes: text }]);
  await bob.page.locator(".attaching.done", { hasText: "minutes.txt" }).waitFor();
  await bob.page.getByLabel("Message", { exact: true }).press("Enter");
  const card = ana.page.locator(".attachment.file", { hasText: "minutes.txt" });
  await card.waitFor();
  assert.match(await card.textContent(), /2\.3\s?kB/);
  assert.equal(await card.getAttribute("download"), "minutes.txt");
  const download = ana.page.waitForEvent("download");
  await card.click();
  assert.equal((await download).suggestedFilename(), "minutes.txt");
});

test("a slow upload shows its progress and can be cancelled; nothing is sent", async () => {
  const cdp = await ana.context.newCDPSession(ana.page);
  await cdp.send("Network.enable");
  // About 200 KB/s up: a 2 MB file takes seconds.
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 20, downloadThroughput: -1, uploadThroughput: 200 * 1024 });
  const big = await ana.page.evaluate(() => Array.from(crypto.getRandomValues(new Uint8Array(60000))));
  const bytes = [];
  for (let i = 0; i < 35; i++) bytes.push(...big);
  await paste(ana, [{ name: "slow.bin", type: "application/octet-stream", bytes }]);
  const item = ana.page.locator(".attaching.uploading", { hasText: "slow.bin" });
  await item.waitFor();
  const progress = item.getByRole("progressbar", { name: "Uploading slow.bin" });
  await ana.page.waitForFunction(() => Number(document.querySelector(".attaching.uploading progress")?.value) > 0.05);
  // Not sendable while it uploads.
  assert.equal(await ana.page.locator("button.send").isDisabled(), true);
  assert.ok(await progress.count());
  await item.getByRole("button", { name: "Remove slow.bin" }).click();
  await item.waitFor({ state: "detached" });
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  const { messages } = await apiIn(ana, "GET", `/rooms/${await roomId(ana)}/messages`);
  assert.ok(!messages.some((m) => m.attachments.some((a) => a.filename === "slow.bin")));
});

test("a voice message is recorded, sent and played as audio", async () => {
  const record = bob.page.getByRole("button", { name: "Record a voice message" });
  await record.click();
  const stop = bob.page.getByRole("button", { name: "Stop recording" });
  await stop.waitFor();
  assert.equal(await stop.getAttribute("aria-pressed"), "true");
  await bob.page.waitForTimeout(1500);
  await stop.click();
  const item = bob.page.locator(".attaching.done", { hasText: "Voice message" });
  await item.waitFor();
  await bob.page.getByLabel("Message", { exact: true }).press("Enter");
  // Sound alone: an audio player (the server tells a voice WebM from a video by its streams).
  const audio = ana.page.locator(".attachment.audio audio");
  await audio.waitFor();
  assert.match(await audio.getAttribute("src"), /^\/api\/v1\/uploads\/[0-9a-f]{32}$/);
  await ana.page.waitForFunction(() => document.querySelector(".attachment.audio audio")?.readyState >= 1);
  const duration = await audio.evaluate((a) => a.duration);
  assert.ok(duration > 0.5, `duration ${duration}`);
});

async function roomId(user) {
  const { rooms } = await apiIn(user, "GET", "/rooms");
  return rooms.find((r) => r.name === "Photos").id;
}

test("someone outside the room cannot open a file's address", async () => {
  const { messages } = await apiIn(ana, "GET", `/rooms/${await roomId(ana)}/messages`);
  const url = messages.flatMap((m) => m.attachments).find((a) => a.filename === "red.png").url;
  const status = await eve.page.evaluate(async (url) => (await fetch(url)).status, url);
  assert.equal(status, 404);
  expectFailedRequests("eve-f", 404, 1);
  const ok = await bob.page.evaluate(async (url) => (await fetch(url)).status, url);
  assert.equal(ok, 200);
});

test("no console error, CSP violation or unexpected dialog", () => {
  assert.deepEqual(problems, []);
});
