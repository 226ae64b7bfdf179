// End-to-end tests of accounts and devices in headless Chromium: a sign-in elsewhere is
// announced with its device and address, and "Not you? Sign it out" ends that session; the
// Devices list says where each session signed in from; two-factor sign-in is set up from the
// profile (QR code, a code from the "app" — computed here as any authenticator would — and
// recovery codes), after which signing in asks for a code; blocking someone collapses their
// messages. Run by tests/it/browser.rs.

import { test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { axeViolations, describeViolations } from "./axe.mjs";
import { problems, person, register, dialogForm, createRoom, joinRoom, say, sees, PASSWORD, SHOTS } from "./lib.mjs";

let ana;
let laptop;

/** The six-digit TOTP (RFC 6238, SHA-1, 30 s) of a base32 secret at `unix` seconds. */
function totp(secret, unix) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of secret.replace(/=+$/, "")) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unix / 30)));
  const mac = createHmac("sha1", key).update(counter).digest();
  const at = mac[mac.length - 1] & 0xf;
  return String((mac.readUInt32BE(at) & 0x7fffffff) % 1e6).padStart(6, "0");
}

async function openProfile(user) {
  await user.page.getByRole("button", { name: "Your profile and settings" }).first().click();
  return dialogForm(user.page, "Your profile");
}

test("a sign-in elsewhere is announced and can be signed out from here", async () => {
  ana = await person("ana-s");
  await register(ana);
  laptop = await person("ana-s-laptop");
  await laptop.page.getByLabel("Username").fill(ana.name);
  await laptop.page.getByLabel("Password").fill(PASSWORD);
  await laptop.page.getByRole("button", { name: "Sign in" }).click();
  await laptop.page.locator(".connection[data-state=connected]").waitFor();
  const bar = ana.page.locator(".notice-bar", { hasText: "New sign-in on Chrome on Linux from 127.0.0.1." });
  await bar.waitFor();
  await bar.getByRole("button", { name: "Not you? Sign it out" }).click();
  await ana.page.locator(".notice-bar", { hasText: "Chrome on Linux is signed out." }).waitFor();
  await laptop.page.getByRole("tab", { name: "Sign in" }).waitFor();
});

test("the Devices list says where and when each session signed in", async () => {
  const dialog = await openProfile(ana);
  await dialog.getByText("Devices", { exact: true }).click();
  await dialog.locator(".devices li", { hasText: "Chrome on Linux" }).getByText("signed in from 127.0.0.1").waitFor();
  await dialog.getByLabel("One device at a time").waitFor();
  await dialog.getByRole("button", { name: "Cancel" }).click();
});

test("two-factor sign-in: set up with an app, then asked for at sign-in", async () => {
  const dialog = await openProfile(ana);
  await dialog.getByText("Two-factor sign-in", { exact: true }).click();
  const section = dialog.locator("details", { hasText: "Two-factor sign-in" });
  await section.getByLabel("Current password").fill(PASSWORD);
  await section.getByRole("button", { name: "Set up" }).click();
  await section.getByRole("img", { name: "QR code for your authenticator app" }).waitFor();
  const violations = await axeViolations(ana.page, { include: ["dialog[open]"] });
  assert.deepEqual(violations, [], describeViolations(violations));
  const secret = (await section.locator("code.secret").textContent()).trim();
  await section.getByLabel("Code from the app").fill(totp(secret, Date.now() / 1000));
  await section.getByRole("button", { name: "Turn on" }).click();
  const codes = section.locator(".recovery-codes li");
  await codes.first().waitFor();
  assert.equal(await codes.count(), 10);
  await ana.page.screenshot({ path: `${SHOTS}/two-factor.png` });
  await section.getByRole("button", { name: "I have saved them" }).click();
  await section.getByText("Two-factor sign-in is on. 10 recovery codes left.").waitFor();
  await dialog.getByRole("button", { name: "Cancel" }).click();

  // Signing in on another browser now takes the password, then a code.
  await laptop.page.getByLabel("Username").fill(ana.name);
  await laptop.page.getByLabel("Password").fill(PASSWORD);
  await laptop.page.getByRole("button", { name: "Sign in" }).click();
  const code = laptop.page.getByLabel("Code from your authenticator app");
  await code.waitFor();
  await code.fill("000000");
  await laptop.page.getByRole("button", { name: "Sign in" }).click();
  await laptop.page.locator(".field-error", { hasText: "That code is wrong or was used already." }).waitFor();
  // The next step's code (the one used to turn it on is spent).
  await code.fill(totp(secret, Date.now() / 1000 + 30));
  await laptop.page.getByRole("button", { name: "Sign in" }).click();
  await laptop.page.locator(".connection[data-state=connected]").waitFor();
  // The wrong code left a failed request in the console.
  const at = problems.findIndex((p) => p.startsWith("ana-s-laptop: console: Failed to load resource") && p.includes("401"));
  assert.ok(at >= 0, "the refused sign-ins were logged");
  for (let i; (i = problems.findIndex((p) => p.startsWith("ana-s-laptop: console: Failed to load resource") && p.includes("401"))) >= 0;) problems.splice(i, 1);
});

test("blocking someone collapses their messages, and unblocking brings them back", async () => {
  const bob = await person("bob-s");
  await register(bob);
  await createRoom(bob, "Blockers");
  await joinRoom(ana, "Blockers");
  await say(bob, "an annoying remark");
  await sees(ana, "an annoying remark");
  await ana.page.locator(".messages .message", { hasText: "an annoying remark" }).getByRole("button", { name: "bob-s" }).click();
  const card = await dialogForm(ana.page, "bob-s");
  await card.getByRole("button", { name: "Block", exact: true }).click();
  await card.getByRole("button", { name: "Unblock" }).waitFor();
  await card.getByRole("button", { name: "Close" }).first().click();
  const hidden = ana.page.locator(".messages .message.blocked", { hasText: "A message from someone you blocked." });
  await hidden.waitFor();
  await hidden.getByRole("button", { name: "Show" }).click();
  await sees(ana, "an annoying remark");
  // Unblocked from the settings.
  const dialog = await openProfile(ana);
  await dialog.getByText("Blocked people", { exact: true }).click();
  await dialog.locator("details", { hasText: "Blocked people" }).getByRole("button", { name: "Unblock" }).click();
  await dialog.locator("details", { hasText: "Blocked people" }).getByText("You block nobody.").waitFor();
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await say(bob, "a kinder remark");
  await sees(ana, "a kinder remark");
  assert.equal(await ana.page.locator(".messages .message.blocked").count(), 0);
});

test("a group conversation of three, started from the people picker", async () => {
  const cleo = await person("cleo-s");
  await register(cleo);
  await ana.page.getByRole("button", { name: "New direct message" }).click();
  const dialog = await dialogForm(ana.page, "New direct message");
  for (const name of ["bob-s", "cleo-s"]) {
    await dialog.getByLabel("Search people").fill(name);
    await dialog.locator(".pick-list li", { hasText: `@${name}` }).getByRole("button", { name: "Add to group" }).click();
  }
  await dialog.getByText("A group conversation with").waitFor();
  await dialog.getByRole("button", { name: "Start group conversation" }).click();
  await ana.page.locator(".room-title", { hasText: "ana-s, bob-s, cleo-s" }).waitFor();
  await say(ana, "hello you two");
  await cleo.page.locator(".room[data-kind=group]", { hasText: "ana-s, bob-s, cleo-s" }).click();
  await sees(cleo, "hello you two");
});

test("no console error, CSP violation or unexpected dialog", () => {
  assert.deepEqual(problems, []);
});
