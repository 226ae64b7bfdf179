// Start: signed in (a session cookie that /me accepts) goes to the chat, otherwise to the
// sign-in form.

import { api } from "./api.js";
import { renderAuth } from "./auth.js";
import { renderChat } from "./chat.js";
import { ChatState } from "./state.js";

const root = document.getElementById("app");
let state = null;

function signedIn(user) {
  state = new ChatState(user);
  renderChat(root, state, signedOut);
  state.addEventListener("change", (e) => {
    if (e.detail.what === "signed-out") signedOut("Your session ended. Please sign in again.");
  });
  state.start();
}

function signedOut(notice) {
  state?.socket.stop();
  state = null;
  document.title = "Natter";
  renderAuth(root, signedIn, notice);
}

// The readable CSRF cookie comes with a session: without it there is nobody to ask about.
if (document.cookie.includes("natter_csrf=")) {
  api("GET", "/me").then((answer) => signedIn(answer.user), () => signedOut(""));
} else {
  signedOut("");
}
