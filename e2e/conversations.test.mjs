// End-to-end tests of conversations in headless Chromium: edits (toolbar and Arrow-Up),
// reactions, replies that jump to their original, pins, deletion with a confirmation, search
// from the header and the quick switcher, and 100+ hostile texts through edits, replies,
// reactions and search results that run nothing. Run by tests/it/browser.rs.

import { test } from "node:test";
import assert from "node:assert/strict";
import { axeViolations, describeViolations } from "./axe.mjs";
import { SHOTS, problems, person, register, createRoom, joinRoom, say, sees, apiIn, dialogForm, expectFailedRequests } from "./lib.mjs";

let ana;
let bob;
let roomId;

/** The row of the message whose body holds `text`, in `user`'s page. */
const row = (user, text) => user.page.locator(".messages .message", { has: user.page.locator(".body", { hasText: text }) }).last();

/** Goes back down to the newest messages when the view was scrolled away from them. */
async function toLatest(user) {
  const jump = user.page.locator(".jump");
  if (await jump.count()) await jump.click();
}

/** Clicks a toolbar action of a row (the toolbar shows on hover). */
async function act(user, text, label) {
  const r = row(user, text);
  await r.hover();
  await r.getByRole("button", { name: label, exact: true }).click();
}

test("set-up: two people in one room", async () => {
  ana = await person("ana-c");
  bob = await person("bob-c");
  await register(ana);
  await register(bob);
  await createRoom(ana, "Talk");
  await joinRoom(bob, "Talk");
  const { rooms } = await apiIn(ana, "GET", "/rooms");
  roomId = rooms.find((r) => r.name === "Talk").id;
});

test("edit from the toolbar and with Arrow-Up; Escape cancels and the draft comes back", async () => {
  await say(bob, "helo wrld");
  await sees(ana, "helo wrld");
  await act(bob, "helo wrld", "Edit");
  const box = bob.page.getByLabel("Message", { exact: true });
  await bob.page.locator(".composing", { hasText: "Editing your message" }).waitFor();
  assert.equal(await box.inputValue(), "helo wrld");
  await box.fill("hello world");
  await box.press("Enter");
  await row(ana, "hello world").locator(".edited", { hasText: "(edited)" }).waitFor();
  assert.equal(await ana.page.locator(".body", { hasText: "helo wrld" }).count(), 0);
  // Arrow-Up in an empty composer edits the last message; Escape leaves the draft as it was.
  await box.fill("");
  await box.press("ArrowUp");
  await bob.page.locator(".composing", { hasText: "Editing" }).waitFor();
  assert.equal(await box.inputValue(), "hello world");
  await box.press("Escape");
  await bob.page.locator(".composing").waitFor({ state: "detached" });
  assert.equal(await box.inputValue(), "");
});

test("reactions toggle, count and name who reacted", async () => {
  await act(ana, "hello world", "Add reaction");
  const picker = await dialogForm(ana.page, "Emoji");
  await picker.getByLabel("Search emoji").fill("thumbs up");
  await picker.locator(".emoji-grid button").first().waitFor();
  await picker.getByLabel("Search emoji").press("Enter");
  const reaction = row(bob, "hello world").locator(".reaction:not(.add)");
  await reaction.filter({ hasText: "1" }).waitFor();
  assert.equal(await reaction.getAttribute("aria-pressed"), "false");
  assert.match(await reaction.getAttribute("title"), /ana-c/);
  await reaction.click();
  await row(ana, "hello world").locator(".reaction:not(.add)", { hasText: "2" }).waitFor();
  await row(bob, "hello world").locator(".reaction[aria-pressed=true]", { hasText: "2" }).waitFor();
  await reaction.click();
  await row(ana, "hello world").locator(".reaction:not(.add)", { hasText: "1" }).waitFor();
});

test("a reply quotes its original, and choosing the quote shows the original in context", async () => {
  await act(ana, "hello world", "Reply");
  await ana.page.locator(".composing", { hasText: "Replying to bob-c" }).waitFor();
  await say(ana, "agreed");
  await row(bob, "agreed").locator(".quote", { hasText: "hello world" }).waitFor();
  // Bury the original under a hundred messages, then come back to the room afresh.
  const { messages } = await apiIn(ana, "GET", `/rooms/${roomId}/messages?limit=1`);
  for (let i = 0; i < 100; i++) await apiIn(ana, "POST", `/rooms/${roomId}/messages`, { client_id: `fill-${i}`, body: `filler ${i}` });
  const original = (await apiIn(ana, "GET", `/rooms/${roomId}/messages?limit=200`)).messages.find((m) => m.body === "hello world");
  await apiIn(ana, "POST", `/rooms/${roomId}/messages`, { client_id: "late-reply", body: "about that", reply_to: original.seq });
  assert.ok(messages.length);
  await bob.page.reload();
  await sees(bob, "about that");
  assert.equal(await bob.page.locator(`.message[data-seq="${original.seq}"]`).count(), 0, "not loaded yet");
  await row(bob, "about that").locator(".quote").click();
  const target = bob.page.locator(`.message[data-seq="${original.seq}"]`);
  await target.waitFor();
  await bob.page.waitForFunction((seq) => {
    const el = document.querySelector(`.message[data-seq="${seq}"]`);
    const list = document.querySelector(".messages").getBoundingClientRect();
    const box = el?.getBoundingClientRect();
    return box && box.top >= list.top && box.bottom <= list.bottom && document.activeElement === el;
  }, original.seq);
  assert.match(await target.getAttribute("class"), /flash/);
});

test("pins: moderators pin, everyone sees the mark and the list", async () => {
  await act(ana, "hello world", "Pin");
  await row(bob, "hello world").locator(".pinned-mark").waitFor();
  await bob.page.getByRole("button", { name: "Pinned messages" }).click();
  const pins = await dialogForm(bob.page, "Pinned messages");
  await pins.locator(".result", { hasText: "hello world" }).waitFor();
  await pins.getByLabel("Close", { exact: true }).click();
  await pins.waitFor({ state: "detached" });
  // A member's toolbar offers no pin.
  await toLatest(bob);
  await row(bob, "filler 99").hover();
  assert.equal(await row(bob, "filler 99").getByRole("button", { name: "Pin", exact: true }).count(), 0);
});

test("deleting asks first, then leaves a tombstone everywhere", async () => {
  await toLatest(ana);
  await toLatest(bob);
  await say(bob, "oops wrong room");
  await sees(ana, "oops wrong room");
  await act(bob, "oops wrong room", "Delete");
  const confirm = await dialogForm(bob.page, "Delete this message?");
  await confirm.getByRole("button", { name: "Delete" }).click();
  await ana.page.locator(".message.deleted .tombstone", { hasText: "This message was deleted." }).last().waitFor();
  assert.equal(await ana.page.locator(".body", { hasText: "oops wrong room" }).count(), 0);
  await ana.page.locator(".room .preview", { hasText: "This message was deleted." }).waitFor();
  await ana.page.screenshot({ path: `${SHOTS}/conversation.png` });
});

test("search from the header and from the quick switcher jumps to the message", async () => {
  await ana.page.getByRole("button", { name: "Search this room" }).click();
  const dialog = await dialogForm(ana.page, "Search messages");
  await dialog.getByLabel("Words to find").fill("hell");
  const result = dialog.locator(".result", { hasText: "hello world" });
  await result.waitFor();
  assert.equal(await result.locator("mark").first().textContent(), "hello");
  await result.click();
  await ana.page.locator(".message.flash", { hasText: "hello world" }).waitFor();
  // The switcher's last choice searches.
  await ana.page.keyboard.press("Control+k");
  const switcher = await dialogForm(ana.page, "Go to a room");
  await switcher.getByLabel("Room or person").fill("filler 42");
  await switcher.getByLabel("Room or person").press("ArrowUp");
  await switcher.getByLabel("Room or person").press("Enter");
  const search = await dialogForm(ana.page, "Search messages");
  await search.locator(".result", { hasText: "filler 42" }).first().waitFor();
  await search.getByLabel("Close", { exact: true }).click();
  await search.waitFor({ state: "detached" });
});

test("100+ hostile texts through edits, replies, reactions and search run nothing", async () => {
  const vectors = [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<svg onload=alert(1)>", "<iframe src=javascript:alert(1)>",
    "[x](javascript:alert(1))", "<a href=javascript:alert(1)>x</a>", "<details open ontoggle=alert(1)>", "\"><img src=x onerror=alert(1)>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>", "<input autofocus onfocus=alert(1)>", "javascript:alert(1)",
    "<a href=\"&#106;avascript:alert(1)\">x</a>", "<<script>script>alert(1)<</script>/script>",
  ];
  const payloads = vectors.flatMap((v) => [v, `**${v}**`, `> ${v}`]);
  let count = 0;
  const mine = [];
  for (const [i, text] of payloads.entries()) {
    // A message, then edited to the payload (through the edit path).
    const { message } = await apiIn(ana, "POST", `/rooms/${roomId}/messages`, { client_id: `h-${i}`, body: `plain ${i}` });
    await apiIn(ana, "PATCH", `/rooms/${roomId}/messages/${message.seq}`, { body: `${text} xedit${i}` });
    // A reply to it (its quote carries the payload).
    await apiIn(bob, "POST", `/rooms/${roomId}/messages`, { client_id: `r-${i}`, body: `re ${i}`, reply_to: message.seq });
    // The payload as a reaction is refused; a real emoji is taken.
    const refused = await apiIn(bob, "PUT", `/rooms/${roomId}/messages/${message.seq}/reactions/${encodeURIComponent(text)}`);
    assert.equal(refused?.error?.code, "invalid_input", text);
    mine.push(message.seq);
    count += 3;
  }
  expectFailedRequests("bob-c", 400, payloads.length);
  assert.ok(count >= 100, `${count} hostile texts`);
  await apiIn(bob, "PUT", `/rooms/${roomId}/messages/${mine[0]}/reactions/${encodeURIComponent("🎉")}`);
  await toLatest(bob);
  await bob.page.locator(".message .body", { hasText: `xedit${payloads.length - 1}` }).waitFor();
  await bob.page.locator(".message .quote", { hasText: `xedit${payloads.length - 1}` }).waitFor();
  // Search results show the payloads as text too.
  await bob.page.keyboard.press("Control+k");
  const switcher = await dialogForm(bob.page, "Go to a room");
  await switcher.getByLabel("Room or person").fill("alert");
  await switcher.getByLabel("Room or person").press("ArrowUp");
  await switcher.getByLabel("Room or person").press("Enter");
  const search = await dialogForm(bob.page, "Search messages");
  await search.locator(".result mark").first().waitFor();
  const bad = await bob.page.evaluate(() => {
    // What each part may hold: the formatter's elements in bodies; plain parts elsewhere.
    const parts = {
      ".messages .body": ["p", "strong", "em", "del", "code", "pre", "blockquote", "ul", "ol", "li", "a", "br", "hr", "span"],
      ".messages .quote": ["svg", "use", "strong", "span"],
      ".messages .reactions": ["button", "span", "svg", "use"],
      ".search-results .text": ["mark"],
    };
    const found = [];
    for (const [part, names] of Object.entries(parts)) {
      const allowed = new Set(names);
      for (const el of document.querySelectorAll(`${part} *`)) {
        if (!allowed.has(el.localName)) found.push(el.outerHTML.slice(0, 80));
        for (const attr of el.attributes) {
          if (/^on/i.test(attr.name) || (attr.name === "href" && !/^(https?:|mailto:|\/assets\/)/i.test(attr.value))) found.push(el.outerHTML.slice(0, 80));
        }
      }
    }
    return found;
  });
  assert.deepEqual(bad, []);
  await search.getByLabel("Close", { exact: true }).click();
});

test("axe finds nothing in a room with replies, reactions, pins and a reply being written, nor in search", async () => {
  const { page } = bob;
  await toLatest(bob);
  await act(bob, "re 0", "Reply");
  await page.locator(".composing").waitFor();
  let violations = await axeViolations(page);
  assert.deepEqual(violations, [], describeViolations(violations));
  await page.getByLabel("Message", { exact: true }).press("Escape");
  await page.getByRole("button", { name: "Search this room" }).click();
  const search = await dialogForm(page, "Search messages");
  await search.getByLabel("Words to find").fill("filler");
  await search.locator(".result").first().waitFor();
  violations = await axeViolations(page);
  assert.deepEqual(violations, [], describeViolations(violations));
  await search.getByLabel("Close", { exact: true }).click();
});

test("no console errors, dialogs or CSP violations", () => {
  assert.deepEqual(problems, []);
});
