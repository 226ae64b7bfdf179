// End-to-end tests of the web client's everyday flows in headless Chromium, against a real
// server whose address is in NATTER_URL. Run by tests/it/browser.rs: `node --test e2e/`.

import { test } from "node:test";
import assert from "node:assert/strict";
import {
  SHOTS, PASSWORD, problems, person, expectFailedRequests, register, dialogForm, createRoom, say,
  messageBodies, sees, apiIn, forgetOfflineNoise,
} from "./lib.mjs";

let ana;
let bob;

test("two people register, meet in a room and chat live", async () => {
  ana = await person("ana");
  bob = await person("bob");
  await register(ana);
  await register(bob);
  await createRoom(ana, "Lobby");

  await bob.page.getByRole("button", { name: "Join a room" }).click();
  const dialog = await dialogForm(bob.page, "Join a room");
  await dialog.getByLabel("Room name").fill("lobby");
  await dialog.getByRole("button", { name: "Join" }).click();
  await bob.page.locator(".room-title", { hasText: "Lobby" }).waitFor();

  await say(ana, "hello from ana");
  await sees(bob, "hello from ana");
  await say(bob, "hi ana, bob here");
  await sees(ana, "hi ana, bob here");
  await ana.page.locator(".message.mine .body", { hasText: "hello from ana" }).waitFor();
  await ana.page.locator(".message:not(.pending) .body", { hasText: "hello from ana" }).waitFor();
  // Shift+Enter makes a new line instead of sending.
  const box = ana.page.getByLabel("Message", { exact: true });
  await box.fill("line one");
  await box.press("Shift+Enter");
  await box.type("line two");
  assert.equal(await box.inputValue(), "line one\nline two");
  await box.press("Enter");
  await sees(bob, "line two");
  // Typing shows in the other's page and ends with the message.
  await bob.page.getByLabel("Message", { exact: true }).fill("I am typ");
  await ana.page.locator(".typing", { hasText: "bob is typing…" }).waitFor();
  await say(bob, "I am typing no more");
  await sees(ana, "I am typing no more");
  await ana.page.locator(".typing", { hasText: "bob is typing" }).waitFor({ state: "detached" }).catch(() => {});
  assert.equal(await ana.page.locator(".typing").textContent(), "");
  // Both are online in the member list.
  await ana.page.getByRole("button", { name: "Members", exact: true }).click();
  await ana.page.locator(".member.online", { hasText: "bob" }).waitFor();
  await ana.page.screenshot({ path: `${SHOTS}/desktop.png` });
  await ana.page.getByRole("button", { name: "Members", exact: true }).click();
});

test("user text is shown as text, links are safe", async () => {
  await say(ana, "<img src=x onerror=alert(1)> see https://example.com/page");
  await sees(bob, "<img src=x onerror=alert(1)>");
  assert.equal(await bob.page.locator(".messages img:not(.avatar)").count(), 0, "no image element from a message");
  const link = bob.page.locator(".messages a", { hasText: "https://example.com/page" });
  assert.equal(await link.getAttribute("rel"), "noopener noreferrer");
  await say(ana, "(the manual: https://en.wikipedia.org/wiki/Rust_(programming_language)) or www.rust-lang.org.");
  await sees(bob, "or www.rust-lang.org.");
  const hrefs = await bob.page.locator(".messages .message").last().locator("a").evaluateAll((as) => as.map((a) => a.href));
  assert.deepEqual(hrefs, ["https://en.wikipedia.org/wiki/Rust_(programming_language)", "https://www.rust-lang.org/"]);
});

test("bodies are formatted (CommonMark), and 100+ hostile bodies run nothing and make no element outside the allow-list", async () => {
  await say(ana, "**bold** _italic_ ~~struck~~ `code` [docs](https://example.com/docs)\n\n```\nfn main() {}\n```\n> quoted");
  const row = bob.page.locator(".message", { hasText: "fn main() {}" });
  await row.waitFor();
  assert.deepEqual(await row.locator(".body").evaluate((b) => [...b.querySelectorAll("*")].map((e) => e.localName)),
    ["p", "strong", "em", "del", "code", "a", "pre", "code", "blockquote", "p"]);
  // A corpus of script-injection attempts, each alone and inside formatting.
  const vectors = [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<svg onload=alert(1)>", "<iframe src=javascript:alert(1)>",
    "<a href=javascript:alert(1)>x</a>", "[x](javascript:alert(1))", "[x](JaVaScRiPt:alert(1))", "[x](data:text/html,<script>alert(1)</script>)",
    "![x](javascript:alert(1))", "![x](x onerror=alert(1))", "<details open ontoggle=alert(1)>", "<body onload=alert(1)>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>", "<input autofocus onfocus=alert(1)>",
    "<object data=javascript:alert(1)>", "<embed src=javascript:alert(1)>", "<form action=javascript:alert(1)><button>x",
    "<video><source onerror=alert(1)>", "<style>@import 'javascript:alert(1)'</style>", "<link rel=stylesheet href=javascript:alert(1)>",
    "<meta http-equiv=refresh content=0;url=javascript:alert(1)>", "[x](vbscript:msgbox(1))", "<a href=\"&#106;avascript:alert(1)\">x</a>",
    "[x](&#106;avascript:alert(1))", "<<script>script>alert(1)<</script>/script>",
  ];
  const wrappers = [(v) => v, (v) => `**${v}**`, (v) => `> ${v}`, (v) => `- ${v}`, (v) => "`" + v + "`"];
  const payloads = vectors.flatMap((v) => wrappers.map((w) => w(v)));
  assert.ok(payloads.length >= 100, `${payloads.length} payloads`);
  const { rooms } = await apiIn(ana, "GET", "/rooms");
  const lobby = rooms.find((r) => r.name === "Lobby");
  for (const [i, body] of payloads.entries()) {
    await apiIn(ana, "POST", `/rooms/${lobby.id}/messages`, { client_id: `xss-${i}`, body: `${body} #${i}` });
  }
  await bob.page.locator(".message .body", { hasText: `#${payloads.length - 1}` }).waitFor();
  const found = await bob.page.locator(".messages").evaluate((list) => {
    const allowed = new Set(["p", "strong", "em", "del", "code", "pre", "blockquote", "ul", "ol", "li", "a", "br", "hr", "span"]);
    const bad = [];
    for (const el of list.querySelectorAll(".body *")) {
      if (!allowed.has(el.localName)) bad.push(el.outerHTML.slice(0, 80));
      for (const attr of el.attributes) {
        if (/^on/i.test(attr.name) || (attr.name === "href" && !/^(https?:|mailto:)/i.test(attr.value))) bad.push(el.outerHTML.slice(0, 80));
      }
    }
    return bad;
  });
  assert.deepEqual(found, []);
  // Any alert would have been recorded as a dialog (see person()); the last test checks none came.
});

test("a private room needs its key", async () => {
  await createRoom(ana, "Secret", "sesame12");
  await bob.page.getByRole("button", { name: "Join a room" }).click();
  const dialog = await dialogForm(bob.page, "Join a room");
  await dialog.getByLabel("Room name").fill("Secret");
  await dialog.getByRole("button", { name: "Join" }).click();
  await dialog.getByLabel("Key").fill("wrong key");
  await dialog.getByRole("button", { name: "Join" }).click();
  await dialog.locator(".field-error", { hasText: "That key is wrong." }).waitFor();
  await dialog.getByLabel("Key").fill("sesame12");
  await dialog.getByRole("button", { name: "Join" }).click();
  await bob.page.locator(".room-title", { hasText: "Secret" }).waitFor();
  expectFailedRequests("bob", 403, 2); // "this room needs a key", then "wrong key"
  await say(bob, "in the vault");
  // An unsent draft survives switching rooms.
  await ana.page.locator(".room", { hasText: "Lobby" }).click();
  await ana.page.getByLabel("Message", { exact: true }).fill("half a thought");
  await ana.page.locator(".room", { hasText: "Secret" }).click();
  await sees(ana, "in the vault");
  assert.equal(await ana.page.getByLabel("Message", { exact: true }).inputValue(), "");
  await ana.page.locator(".room", { hasText: "Lobby" }).click();
  assert.equal(await ana.page.getByLabel("Message", { exact: true }).inputValue(), "half a thought");
  await ana.page.getByLabel("Message", { exact: true }).fill("");
});

test("a direct message raises an unread badge and the tab title", async () => {
  await ana.page.locator(".room", { hasText: "Lobby" }).click();
  await bob.page.getByRole("button", { name: "New direct message" }).click();
  const dialog = await dialogForm(bob.page, "New direct message");
  await dialog.getByLabel("Search people").fill("ana");
  await dialog.getByRole("button", { name: "Message" }).first().click();
  await bob.page.locator(".room-title", { hasText: "ana" }).waitFor();
  await say(bob, "psst, private");
  const badge = ana.page.locator(".room[data-kind=direct]", { hasText: "bob" }).locator(".badge");
  await badge.waitFor();
  assert.equal(await badge.textContent(), "1");
  await ana.page.waitForFunction(() => document.title === "(1) Natter");
  await ana.page.locator(".room[data-kind=direct]", { hasText: "bob" }).click();
  await sees(ana, "psst, private");
  await badge.waitFor({ state: "detached" });
});

test("reload keeps history and scrolling up loads older pages in place", async () => {
  const { rooms } = await apiIn(ana, "GET", "/rooms");
  const lobby = rooms.find((r) => r.name === "Lobby");
  for (let i = 1; i <= 120; i++) {
    await apiIn(ana, "POST", `/rooms/${lobby.id}/messages`, { client_id: `seed-${i}`, body: `seed message ${i}` });
  }
  await ana.page.reload();
  await ana.page.locator(".room", { hasText: "Lobby" }).click();
  await sees(ana, "seed message 120");
  const before = (await messageBodies(ana)).length;
  assert.ok(before <= 60, `one page at first (${before})`);
  const firstShown = (await messageBodies(ana))[0];
  await ana.page.locator(".messages").evaluate((el) => { el.scrollTop = 0; });
  await ana.page.waitForFunction((n) => document.querySelectorAll(".messages .message").length > n, before);
  const anchor = ana.page.locator(".messages .message .body", { hasText: firstShown }).first();
  assert.ok(await anchor.isVisible(), "the message that was on top stays in view");
  for (let i = 0; i < 5 && !(await ana.page.locator(".history-start").count()); i++) {
    await ana.page.locator(".messages").evaluate((el) => { el.scrollTop = 0; });
    await ana.page.waitForTimeout(300);
  }
  await ana.page.locator(".history-start").waitFor();
  const all = await messageBodies(ana);
  const seeds = all.filter((t) => t.startsWith("seed message "));
  assert.equal(seeds.length, 120, "every message once");
  assert.equal(new Set(all).size, all.length, "no duplicates");
});

test("going offline and back fills the gap without duplicates", async () => {
  await bob.page.locator(".room", { hasText: "Lobby" }).click();
  await sees(bob, "seed message 120");
  await bob.context.setOffline(true);
  await bob.page.locator(".connection[data-state=offline]").waitFor();
  for (const text of ["while away 1", "while away 2", "while away 3"]) await say(ana, text);
  await sees(ana, "while away 3");
  await bob.context.setOffline(false);
  // Loads the browser refused while it was offline (an avatar image, say) are the test's doing.
  forgetOfflineNoise("bob");
  await bob.page.locator(".connection[data-state=connected]").waitFor();
  await sees(bob, "while away 3");
  const bodies = await messageBodies(bob);
  for (const text of ["while away 1", "while away 2", "while away 3"]) {
    assert.equal(bodies.filter((b) => b === text).length, 1, `${text} exactly once`);
  }
});

test("a ban moves the banned user out while the page is open", async () => {
  await ana.page.locator(".room", { hasText: "Lobby" }).click();
  await ana.page.getByRole("button", { name: "Room settings" }).click();
  const dialog = await dialogForm(ana.page, "Settings of “Lobby”");
  await dialog.locator(".pick-list li", { hasText: "bob" }).getByRole("button", { name: "Ban" }).click();
  // A ban asks first, with a reason.
  const confirm = ana.page.locator("dialog[open]").last();
  await confirm.getByRole("heading", { name: "Ban bob?" }).waitFor();
  await confirm.getByLabel("Reason").fill("testing bans");
  await confirm.getByRole("button", { name: "Ban" }).click();
  await bob.page.locator(".notice-bar", { hasText: "You were banned from “Lobby”" }).waitFor();
  await bob.page.locator(".room", { hasText: "Lobby" }).waitFor({ state: "detached" });
  await dialog.getByRole("button", { name: "Cancel" }).click();
});

test("a phone-sized screen is usable", async () => {
  const carol = await person("carol", { width: 360, height: 740 });
  await register(carol);
  const sidebar = carol.page.locator("#sidebar");
  assert.ok(!(await sidebar.evaluate((el) => el.classList.contains("open"))));
  // The room list opens behind ☰ and closes by its button, Escape, or a tap outside it.
  const menuButton = carol.page.getByRole("button", { name: /^Show rooms/ });
  await menuButton.click();
  await carol.page.locator("#sidebar.open").waitFor();
  await carol.page.getByRole("button", { name: "Close rooms" }).click();
  await carol.page.locator("#sidebar.open").waitFor({ state: "detached" });
  await menuButton.click();
  await carol.page.keyboard.press("Escape");
  await carol.page.locator("#sidebar.open").waitFor({ state: "detached" });
  await menuButton.click();
  await carol.page.mouse.click(340, 400);
  await carol.page.locator("#sidebar.open").waitFor({ state: "detached" });
  await menuButton.click();
  await carol.page.getByRole("button", { name: "Browse public rooms" }).click();
  const dialog = await dialogForm(carol.page, "Public rooms");
  await dialog.locator("li", { hasText: "Lobby" }).getByRole("button", { name: "Join" }).click();
  await carol.page.locator(".room-title", { hasText: "Lobby" }).waitFor();
  await say(carol, "hello from a phone");
  await sees(ana, "hello from a phone");
  // A message in another room marks ☰, which hides the room list.
  const menu = carol.page.getByRole("button", { name: /^Show rooms/ });
  assert.equal(await menu.getAttribute("data-unread"), "false");
  const carolId = (await apiIn(carol, "GET", "/me")).user.id;
  const { room: dm } = await apiIn(ana, "POST", "/dms", { user_id: carolId });
  await apiIn(ana, "POST", `/rooms/${dm.id}/messages`, { client_id: "dm-1", body: "psst, carol" });
  await carol.page.locator(".menu-button[data-unread=true]").waitFor();
  assert.equal(await menu.getAttribute("aria-label"), "Show rooms (1 unread)");
  // The members panel covers the conversation on a phone: it closes by its button and Escape.
  const panel = carol.page.locator("aside.members");
  await carol.page.getByRole("button", { name: "Members", exact: true }).click();
  await panel.waitFor();
  await carol.page.getByRole("button", { name: "Close members" }).click();
  await panel.waitFor({ state: "hidden" });
  await carol.page.getByRole("button", { name: "Members", exact: true }).click();
  await panel.waitFor();
  await carol.page.keyboard.press("Escape");
  await panel.waitFor({ state: "hidden" });
  const width = await carol.page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 360, `nothing wider than the screen (${width})`);
  await carol.context.close();
});

test("signing out says so (not that the session ended), and switching forms keeps what was typed", async () => {
  const erin = await person("erin");
  await erin.page.getByRole("tab", { name: "Create account" }).click();
  await erin.page.getByLabel("Username").fill("erin");
  await erin.page.getByRole("tab", { name: "Sign in" }).click();
  assert.equal(await erin.page.getByLabel("Username").inputValue(), "erin");
  await register(erin);
  await erin.page.getByRole("button", { name: "Your profile and settings" }).click();
  await erin.page.locator("dialog[open]").getByRole("button", { name: "Sign out", exact: true }).click();
  await erin.page.locator(".auth .notice", { hasText: "You are signed out." }).waitFor();
  // The server closes the socket as it ends the session; that must not replace the notice.
  await erin.page.waitForTimeout(1000);
  assert.equal(await erin.page.locator(".auth .notice").textContent(), "You are signed out.");
  await erin.context.close();
});

test("the Devices list signs out other devices", async () => {
  const elsewhere = await person("ana-laptop");
  await elsewhere.page.getByLabel("Username").fill("ana");
  await elsewhere.page.getByLabel("Password").fill(PASSWORD);
  await elsewhere.page.getByRole("button", { name: "Sign in" }).click();
  await elsewhere.page.locator(".connection[data-state=connected]").waitFor();
  await ana.page.getByRole("button", { name: "Your profile and settings" }).click();
  const dialog = await dialogForm(ana.page, "Your profile");
  await dialog.getByText("Devices", { exact: true }).click();
  await dialog.locator(".devices li").nth(1).waitFor();
  assert.equal(await dialog.locator(".devices li", { hasText: "this device" }).count(), 1);
  await dialog.getByRole("button", { name: "Sign out all other devices" }).click();
  await elsewhere.page.locator(".auth .notice", { hasText: "Your session ended" }).waitFor();
  await dialog.locator(".devices li").nth(1).waitFor({ state: "detached" });
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await elsewhere.context.close();
});

test("a profile save the server refuses changes nothing, not even the avatar", async () => {
  const fay = await person("fay");
  await register(fay);
  await fay.page.getByRole("button", { name: "Your profile and settings" }).click();
  const dialog = await dialogForm(fay.page, "Your profile");
  // A 1 x 1 PNG.
  const png = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==", "base64");
  await dialog.getByLabel(/^Avatar/).setInputFiles({ name: "me.png", mimeType: "image/png", buffer: png });
  await dialog.getByLabel("Display name").fill("\u202eevil");
  await dialog.getByRole("button", { name: "Save" }).click();
  await dialog.locator(".field-error", { hasText: /invisible|direction/ }).waitFor();
  expectFailedRequests("fay", 400, 1);
  const me = await apiIn(fay, "GET", "/me");
  assert.equal(me.user.display_name, "fay");
  assert.match(me.user.avatar_url, /\/avatars\/default\//, "the avatar was not changed either");
  await fay.context.close();
});

test("the composer grows, refuses too long a text with a counter, and keeps drafts over a reload", async () => {
  const { page } = ana;
  await page.locator(".room", { hasText: "Lobby" }).click();
  const box = page.getByLabel("Message", { exact: true });
  const oneLine = await box.evaluate((el) => el.offsetHeight);
  await box.fill("line\n".repeat(6));
  assert.ok((await box.evaluate((el) => el.offsetHeight)) > oneLine * 2, "it grows with its text");
  await box.fill("x".repeat(4001));
  await page.locator(".composer .counter.over", { hasText: "1 character too many" }).waitFor();
  assert.ok(await page.getByRole("button", { name: "Send" }).isDisabled());
  await box.press("Enter");
  assert.equal((await box.inputValue()).length, 4001, "nothing was cut or sent");
  await box.fill("a draft to keep");
  await page.reload();
  await page.locator(".connection[data-state=connected]").waitFor();
  await page.locator(".room-title", { hasText: "Lobby" }).waitFor();
  assert.equal(await page.getByLabel("Message", { exact: true }).inputValue(), "a draft to keep");
  await page.getByLabel("Message", { exact: true }).fill("");
});

test("each room has an address: Back returns to the last room, reload reopens it", async () => {
  const { page } = ana;
  await page.locator(".room", { hasText: "Lobby" }).click();
  await page.locator(".room-title", { hasText: "Lobby" }).waitFor();
  await page.waitForURL(/\/r\/[0-9a-f]+$/);
  const lobby = page.url();
  await createRoom(ana, "Elsewhere");
  await page.waitForURL((url) => url.toString() !== lobby);
  await page.goBack();
  await page.locator(".room-title", { hasText: "Lobby" }).waitFor();
  assert.equal(page.url(), lobby);
  await page.reload();
  await page.locator(".connection[data-state=connected]").waitFor();
  await page.locator(".room-title", { hasText: "Lobby" }).waitFor();
  assert.equal(page.url(), lobby);
  await page.goForward();
  await page.locator(".room-title", { hasText: "Elsewhere" }).waitFor();
});

test("installable, and opens offline into its own offline state", async () => {
  const dave = await person("dave");
  await register(dave);
  const manifest = await dave.page.evaluate(async () => {
    const res = await fetch(document.querySelector("link[rel=manifest]").href);
    return { type: res.headers.get("content-type"), body: await res.json() };
  });
  assert.equal(manifest.type, "application/manifest+json");
  assert.equal(manifest.body.start_url, "/");
  assert.equal(manifest.body.display, "standalone");
  // The service worker takes over, and the next load leaves it a copy of the shell.
  await dave.page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
  await dave.page.reload();
  await dave.page.locator(".connection[data-state=connected]").waitFor();
  assert.ok(await dave.page.evaluate(() => Boolean(navigator.serviceWorker.controller)));
  await dave.context.setOffline(true);
  await dave.page.reload();
  await dave.page.locator(".offline", { hasText: "You are offline" }).waitFor();
  await dave.context.setOffline(false);
  await dave.page.locator(".connection[data-state=connected]").waitFor();
  forgetOfflineNoise("dave");
  await dave.context.close();
});

test("no console errors and no CSP violations", () => {
  assert.deepEqual(problems, []);
});
