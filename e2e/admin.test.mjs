// End-to-end tests of server administration in headless Chromium: the setup link from the
// server's log makes the first admin; a member reports a message, which the admin sees at once
// and closes from the admin panel by deleting it; the admin deactivates the sender (whose page
// is signed out), makes registration invite-only and lets a newcomer in with an invite link,
// gives someone a password reset link, and finds all of it in the audit log. Run last by tests/it/browser.rs, which passes the setup
// token it read from the server's database as NATTER_SETUP_TOKEN.

import { test } from "node:test";
import assert from "node:assert/strict";
import { axeViolations, describeViolations } from "./axe.mjs";
import { problems, person, register, createRoom, joinRoom, say, sees, dialogForm, URL, SHOTS, PASSWORD, apiIn } from "./lib.mjs";

let root;
let ana;
let bob;

test("the setup link makes the first admin", async () => {
  const token = process.env.NATTER_SETUP_TOKEN;
  assert.ok(token, "NATTER_SETUP_TOKEN names the server's setup token");
  root = await person("root-a");
  await root.page.goto(`${URL}/?setup=${token}`);
  await root.page.locator(".notice", { hasText: "first admin account" }).waitFor();
  // The sign-up form is open already; the link's token leaves the address bar once used.
  await root.page.getByLabel("Username").fill(root.name);
  await root.page.getByLabel("Password").fill(PASSWORD);
  await root.page.getByRole("button", { name: "Create account" }).click();
  await root.page.locator(".connection[data-state=connected]").waitFor();
  assert.equal(new globalThis.URL(root.page.url()).search, "");
  await root.page.getByRole("button", { name: "Server administration" }).waitFor();

  ana = await person("ana-a");
  bob = await person("bob-a");
  await register(ana);
  await register(bob);
  assert.equal(await ana.page.getByRole("button", { name: "Server administration" }).count(), 0);
  await createRoom(ana, "Reported");
  await joinRoom(bob, "Reported");
  await say(bob, "buy cheap pills now");
  await sees(ana, "buy cheap pills now");
});

test("a member reports a message and the admin is told", async () => {
  const row = ana.page.locator(".messages .message", { has: ana.page.locator(".body", { hasText: "buy cheap pills" }) });
  await row.hover();
  await row.getByRole("button", { name: "Report", exact: true }).click();
  const dialog = await dialogForm(ana.page, "Report a message from bob-a");
  const violations = await axeViolations(ana.page, { include: ["dialog[open]"] });
  assert.deepEqual(violations, [], describeViolations(violations));
  await dialog.getByLabel("Why are you reporting it?").fill("spam");
  await dialog.getByRole("button", { name: "Report" }).click();
  await ana.page.locator(".notice-bar", { hasText: "The moderators have been told" }).waitFor();
  await root.page.locator(".notice-bar", { hasText: "A message in “Reported” was reported: spam" }).waitFor();
});

test("the admin panel: overview, and closing the report by deleting the message", async () => {
  const { page } = root;
  await page.getByRole("button", { name: "Server administration" }).click();
  const panel = page.locator("dialog.admin[open]");
  await panel.getByRole("heading", { name: "Server administration" }).waitFor();
  await panel.locator(".stat-cards li", { hasText: "Open reports" }).locator(".stat-value", { hasText: "1" }).waitFor();
  const violations = await axeViolations(page, { include: ["dialog[open]"] });
  assert.deepEqual(violations, [], describeViolations(violations));
  await page.screenshot({ path: `${SHOTS}/admin-overview.png` });
  await panel.getByRole("tab", { name: "Reports" }).click();
  const report = panel.locator(".report-list li", { hasText: "buy cheap pills now" });
  await report.getByText("ana-a reported a message in “Reported”").waitFor();
  await report.getByRole("button", { name: "Delete message" }).click();
  await panel.locator(".report-list .hint", { hasText: "No reports." }).waitFor();
  await ana.page.locator(".messages .message.deleted").first().waitFor();
});

test("the admin deactivates an account, whose page is signed out at once", async () => {
  const { page } = root;
  const panel = page.locator("dialog.admin[open]");
  await panel.getByRole("tab", { name: "Users" }).click();
  await panel.getByLabel("Find accounts").fill("bob-a");
  const row = panel.locator("tbody tr", { hasText: "@bob-a" });
  await row.waitFor();
  await row.getByRole("button", { name: "Deactivate" }).click();
  const confirm = page.locator("dialog[open]", { has: page.getByRole("heading", { name: "Deactivate bob-a?" }) });
  await confirm.getByRole("button", { name: "Deactivate" }).click();
  await row.locator(".badge", { hasText: "deactivated" }).waitFor();
  await bob.page.getByRole("tab", { name: "Sign in" }).waitFor();
  // Signing in again says why it fails.
  await bob.page.getByLabel("Username").fill(bob.name);
  await bob.page.getByLabel("Password").fill(PASSWORD);
  await bob.page.getByRole("button", { name: "Sign in" }).click();
  await bob.page.locator(".form-error", { hasText: "deactivated by an admin" }).waitFor();
  problems.splice(0, problems.length, ...problems.filter((p) => !(p.startsWith("bob-a: console: Failed to load resource") && p.includes("403"))));
});

test("invite-only registration lets a newcomer in with a link", async () => {
  const { page } = root;
  const panel = page.locator("dialog.admin[open]");
  await panel.getByRole("tab", { name: "Settings" }).click();
  await panel.getByLabel("Who may create an account").selectOption("invite");
  await panel.getByLabel("Welcome text").fill("Welcome to the test server.");
  await panel.getByRole("button", { name: "Save" }).click();
  await panel.locator(".form-status", { hasText: "Saved" }).waitFor();
  await panel.getByRole("tab", { name: "Invites" }).click();
  await panel.getByRole("button", { name: "Create invite link" }).click();
  const link = await panel.getByLabel("Invite link").inputValue();
  assert.match(link, /\/\?invite=[0-9a-f]{32}$/);

  // Without a code, the sign-up asks for one.
  const stranger = await person("stranger-a");
  await stranger.page.getByRole("tab", { name: "Create account" }).click();
  await stranger.page.getByLabel("Invite code").waitFor();
  await stranger.page.locator(".welcome", { hasText: "Welcome to the test server." }).waitFor();
  // With the link, it is filled in.
  const cleo = await person("cleo-a");
  await cleo.page.goto(link);
  assert.equal(await cleo.page.getByLabel("Invite code").inputValue(), link.split("=")[1]);
  await cleo.page.getByLabel("Username").fill(cleo.name);
  await cleo.page.getByLabel("Password").fill(PASSWORD);
  await cleo.page.getByRole("button", { name: "Create account" }).click();
  await cleo.page.locator(".connection[data-state=connected]").waitFor();
  const invites = panel.locator("tbody tr", { hasText: "1 / 1" });
  await panel.getByRole("tab", { name: "Settings" }).click();
  await panel.getByRole("tab", { name: "Invites" }).click();
  await invites.getByText("Used up").waitFor();
});

test("an admin's reset link lets someone choose a new password", async () => {
  const { page } = root;
  const panel = page.locator("dialog.admin[open]");
  await panel.getByRole("tab", { name: "Users" }).click();
  await panel.getByLabel("Find accounts").fill("cleo-a");
  const row = panel.locator("tbody tr", { hasText: "@cleo-a" });
  await row.getByRole("button", { name: "Details" }).click();
  await panel.getByRole("button", { name: "Password reset link" }).click();
  const link = await panel.getByLabel("Reset link").inputValue();
  assert.match(link, /\/\?reset=[0-9a-f]{64}$/);
  const cleo = await person("cleo-a-again");
  await cleo.page.goto(link);
  await cleo.page.getByRole("heading", { name: "Choose a new password" }).waitFor();
  await cleo.page.getByLabel("New password").fill("a brand new phrase");
  await cleo.page.getByRole("button", { name: "Set password" }).click();
  await cleo.page.locator(".notice", { hasText: "Your password is changed" }).waitFor();
  await cleo.page.getByLabel("Username").fill("cleo-a");
  await cleo.page.getByLabel("Password").fill("a brand new phrase");
  await cleo.page.getByRole("button", { name: "Sign in" }).click();
  await cleo.page.locator(".connection[data-state=connected]").waitFor();
});

test("the audit log shows what was done, and downloads", async () => {
  const { page } = root;
  const panel = page.locator("dialog.admin[open]");
  await panel.getByRole("tab", { name: "Audit log" }).click();
  for (const action of ["Account deactivated", "Report closed", "Message deleted", "Server setting changed", "Invite created",
    "Password reset link made"]) {
    await panel.locator(".audit-table td", { hasText: action }).first().waitFor();
  }
  await panel.getByLabel("Action").selectOption("user_deactivated");
  await panel.locator(".audit-table tbody tr").filter({ hasText: "Server setting changed" }).first().waitFor({ state: "detached" });
  const href = await panel.getByRole("link", { name: "Download CSV" }).getAttribute("href");
  assert.match(href, /format=csv/);
  assert.match(href, /action=user_deactivated/);
  await page.screenshot({ path: `${SHOTS}/admin-audit.png` });
  // Registration back to open for whatever runs next.
  const back = await apiIn(root, "PATCH", "/admin/settings", { registration: "open", welcome_text: "" });
  assert.equal(back.registration, "open");
  await panel.getByRole("button", { name: "Close" }).first().click();
});

test("no console error, CSP violation or unexpected dialog", () => {
  assert.deepEqual(problems, []);
});
