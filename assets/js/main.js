// Start: signed in (a session cookie that /me accepts) goes to the chat, otherwise to the
// sign-in form.

import { api } from "./api.js";
import { renderAuth } from "./auth.js";
import { renderChat } from "./chat.js";
import { ChatState } from "./state.js";

const root = document.getElementById("app");
let state = null;

function signedIn(user) {
  const mine = new ChatState(user);
  state = mine;
  renderChat(root, state, signedOut);
  state.addEventListener("change", (e) => {
    // Only the session on screen can end it (not one already signed out of on purpose).
    if (e.detail.what === "signed-out" && state === mine) signedOut("Your session ended. Please sign in again.");
  });
  state.start();
}

function signedOut(notice) {
  state?.socket.stop();
  state?.forgetDrafts();
  state = null;
  document.title = "Natter";
  renderAuth(root, signedIn, notice);
}

/** Opened without a network (from the service worker's copy): say so, and start over once
 * the browser is back online. */
function offline() {
  root.replaceChildren();
  const note = document.createElement("p");
  note.className = "loading offline";
  note.textContent = "You are offline. Natter will connect when you are back.";
  root.append(note);
  window.addEventListener("online", () => location.reload(), { once: true });
}

// The readable CSRF cookie comes with a session: without it there is nobody to ask about.
if (document.cookie.includes("natter_csrf=")) {
  api("GET", "/me").then(
    (answer) => signedIn(answer.user),
    (err) => (err.code === "network" ? offline() : signedOut("")),
  );
} else {
  signedOut("");
}

// Installable, and opens offline into the state above (assets/sw.js).
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/sw.js").catch(() => {});
}
