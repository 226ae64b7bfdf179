// End-to-end tests of room levels in headless Chromium: the owner makes a room an
// announcement room from its settings (the permission table), a member's composer then says
// only moderators post while reactions still work; the owner makes someone a moderator, and
// removes (kicks) a member, who is told and may join again; an invite link made in the room's
// settings brings a newcomer straight into the room. Run by tests/it/browser.rs.

import { test } from "node:test";
import assert from "node:assert/strict";
import { axeViolations, describeViolations } from "./axe.mjs";
import { problems, person, register, createRoom, joinRoom, say, sees, dialogForm } from "./lib.mjs";

let ana;
let bob;
let cleo;

test("set-up: an owner and two members", async () => {
  ana = await person("ana-m");
  bob = await person("bob-m");
  cleo = await person("cleo-m");
  for (const p of [ana, bob, cleo]) await register(p);
  await createRoom(ana, "News");
  await joinRoom(bob, "News");
  await joinRoom(cleo, "News");
  await say(bob, "first!");
  await sees(ana, "first!");
});

test("an announcement room: only moderators and up post", async () => {
  await ana.page.getByRole("button", { name: "Room settings" }).click();
  const dialog = await dialogForm(ana.page, "Settings of “News”");
  const violations = await axeViolations(ana.page, { include: ["dialog[open]"] });
  assert.deepEqual(violations, [], describeViolations(violations));
  await dialog.getByLabel("Send messages").selectOption("moderator");
  // Moderation is never offered to plain members.
  const kickChoices = await dialog.getByLabel("Remove members").locator("option").allTextContents();
  assert.ok(!kickChoices.includes("member and up"), kickChoices.join());
  // Bob becomes a moderator.
  await dialog.getByLabel("Role of bob-m").selectOption("moderator");
  await dialog.getByRole("button", { name: "Save" }).click();
  await dialog.waitFor({ state: "detached" });
  await cleo.page.locator(".composer.read-only", { hasText: "Your role may not post in this room." }).waitFor();
  // Cleo's toolbar offers reacting, not replying or editing.
  const row = cleo.page.locator(".messages .message", { has: cleo.page.locator(".body", { hasText: "first!" }) });
  await row.hover();
  await row.getByRole("button", { name: "Add reaction", exact: true }).waitFor();
  assert.equal(await row.getByRole("button", { name: "Reply", exact: true }).count(), 0);
  await bob.page.getByLabel("Message", { exact: true }).waitFor();
  await say(bob, "the news");
  await sees(cleo, "the news");
});

test("the owner removes a member, who is told and may come back", async () => {
  await ana.page.getByRole("button", { name: "Room settings" }).click();
  const dialog = await dialogForm(ana.page, "Settings of “News”");
  await dialog.locator(".pick-list li", { hasText: "cleo-m" }).getByRole("button", { name: "Remove" }).click();
  await cleo.page.locator(".notice-bar", { hasText: "You were removed from “News”" }).waitFor();
  await cleo.page.locator(".room", { hasText: "News" }).waitFor({ state: "detached" });
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await joinRoom(cleo, "News");
});

test("an invite link brings a newcomer straight into the room", async () => {
  await ana.page.getByRole("button", { name: "Room settings" }).click();
  const dialog = await dialogForm(ana.page, "Settings of “News”");
  await dialog.getByRole("button", { name: "Create invite link" }).click();
  const link = await dialog.getByLabel("Invite link").inputValue();
  assert.match(link, /\/\?join=[0-9a-f]{32}$/);
  await dialog.getByRole("button", { name: "Cancel" }).click();
  const dora = await person("dora-m");
  await dora.page.goto(link);
  await dora.page.locator(".notice", { hasText: "to join the room you were invited to" }).waitFor();
  await register(dora);
  await dora.page.locator(".room-title", { hasText: "News" }).waitFor();
  await sees(dora, "the news");
});

test("no console error, CSP violation or unexpected dialog", () => {
  assert.deepEqual(problems, []);
});
