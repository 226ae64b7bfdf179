// What every browser test file shares: one headless Chromium (Debian's), people in their own
// browser contexts with console errors and CSP violations recorded, and the common steps.
// The server under test is at NATTER_URL (tests/it/browser.rs starts it).

import { before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

export const URL = process.env.NATTER_URL;
export const SHOTS = process.env.NATTER_SCREENSHOTS || "e2e/screenshots";
export const PASSWORD = "correct horse battery";
let browser;
export const problems = [];

before(async () => {
  assert.ok(URL, "NATTER_URL must name the server under test");
  mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    // A fake microphone (a beep) that needs no permission prompt, for the voice messages.
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
      "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await browser?.close();
});

/** A user in their own browser context, with console errors and dialogs recorded. */
export async function person(name, viewport = { width: 1280, height: 800 }, options = {}) {
  const context = await browser.newContext({ viewport, ...options });
  const page = await context.newPage();
  page.on("console", (msg) => { if (msg.type() === "error") problems.push(`${name}: console: ${msg.text()}`); });
  page.on("pageerror", (err) => problems.push(`${name}: page error: ${err.message}`));
  page.on("dialog", async (dialog) => {
    problems.push(`${name}: a ${dialog.type()} dialog opened: ${dialog.message()}`);
    await dialog.dismiss();
  });
  await page.goto(URL);
  return { name, context, page };
}

/** Takes out of the record the console lines a deliberate failed request leaves. */
export function expectFailedRequests(name, status, count) {
  for (let i = 0; i < count; i++) {
    const at = problems.findIndex((p) => p.startsWith(`${name}: console: Failed to load resource`) && p.includes(`status of ${status}`));
    assert.ok(at >= 0, `${name} should have had a ${status} answer`);
    problems.splice(at, 1);
  }
}

export async function register(user) {
  const { page } = user;
  await page.getByRole("tab", { name: "Create account" }).click();
  await page.getByLabel("Username").fill(user.name);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.locator(".connection[data-state=connected]").waitFor();
}

export async function dialogForm(page, title) {
  const dialog = page.locator("dialog[open]");
  await dialog.getByRole("heading", { name: title }).waitFor();
  return dialog;
}

export async function createRoom(user, name, key = null) {
  const { page } = user;
  await page.getByRole("button", { name: "New room" }).click();
  const dialog = await dialogForm(page, "New room");
  await dialog.getByLabel("Name").fill(name);
  if (key) {
    await dialog.getByLabel("Visibility").selectOption("private");
    await dialog.getByLabel("Key").fill(key);
  }
  await dialog.getByRole("button", { name: "Create" }).click();
  await page.locator(".room-title", { hasText: name }).waitFor();
}

/** Joins a public room by name through the "Join a room" dialog, and waits until it is open. */
export async function joinRoom(user, name) {
  const { page } = user;
  await page.getByRole("button", { name: "Join a room" }).click();
  const dialog = await dialogForm(page, "Join a room");
  await dialog.getByLabel("Room name").fill(name);
  await dialog.getByRole("button", { name: "Join" }).click();
  await page.locator(".room-title", { hasText: name }).waitFor();
}

export async function say(user, text) {
  const box = user.page.getByLabel("Message", { exact: true });
  await box.fill(text);
  await box.press("Enter");
}

export function messageBodies(user) {
  return user.page.locator(".messages .message .body").allTextContents();
}

export async function sees(user, text) {
  await user.page.locator(".messages .message .body", { hasText: text }).first().waitFor();
}

/** Calls the API from inside the page, with its cookie and CSRF token. */
export function apiIn(user, method, path, body) {
  return user.page.evaluate(async ([method, path, body]) => {
    const csrf = document.cookie.match(/natter_csrf=([^;]+)/)?.[1] || "";
    const res = await fetch(`/api/v1${path}`, {
      method, headers: { "content-type": "application/json", "x-csrf-token": csrf }, body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return text ? JSON.parse(text) : null;
  }, [method, path, body]);
}

/** Takes out of the record the console lines a deliberate offline spell leaves. */
export function forgetOfflineNoise(name) {
  for (let at; (at = problems.findIndex((p) => p.startsWith(`${name}: console:`) && p.includes("ERR_INTERNET_DISCONNECTED"))) >= 0;) {
    problems.splice(at, 1);
  }
}
