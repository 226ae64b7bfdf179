// Sign in and create an account. Errors from the server appear next to the field they
// concern (the `fields` of an invalid_input answer), others above the button.

import { api } from "./api.js";
import { clear, h } from "./dom.js";

export function renderAuth(root, onSignedIn, notice = "") {
  let mode = "login";
  const errors = {};
  const inputs = {};
  const general = h("p", { class: "form-error", role: "alert" });

  function field(name, label, type, autocomplete, hint) {
    const id = `auth-${name}`;
    const error = h("p", { class: "field-error", id: `${id}-error` });
    errors[name] = error;
    const input = h("input", {
      id, name, type, autocomplete, required: name !== "display_name",
      "aria-describedby": `${id}-error`,
    });
    inputs[name] = input;
    return h("div", { class: "field" }, h("label", { for: id }, label), input, hint ? h("p", { class: "hint" }, hint) : null, error);
  }

  const form = h("form", { class: "auth-form", novalidate: true });
  const title = h("h1", {}, "Natter");
  const tabs = h("div", { class: "tabs", role: "tablist" });
  const submit = h("button", { type: "submit", class: "primary" });

  function show() {
    clear(tabs,
      h("button", { type: "button", role: "tab", "aria-selected": String(mode === "login"), onclick: () => switchTo("login") }, "Sign in"),
      h("button", { type: "button", role: "tab", "aria-selected": String(mode === "register"), onclick: () => switchTo("register") }, "Create account"));
    clear(form,
      field("username", "Username", "text", "username", mode === "register" ? "3–32 letters, digits, . _ or -" : ""),
      mode === "register" ? field("display_name", "Display name (optional)", "text", "nickname") : null,
      field("password", "Password", "password", mode === "register" ? "new-password" : "current-password",
        mode === "register" ? "At least 8 characters, not a common password" : ""),
      general, submit);
    submit.textContent = mode === "login" ? "Sign in" : "Create account";
    inputs.username.focus();
  }

  function switchTo(next) {
    // What was typed survives the switch: the fields are rebuilt for the other form.
    const typed = Object.fromEntries(Object.entries(inputs).map(([name, input]) => [name, input.value]));
    mode = next;
    show();
    for (const [name, value] of Object.entries(typed)) if (inputs[name]) inputs[name].value = value;
  }

  function validate() {
    let ok = true;
    const set = (name, text) => {
      errors[name].textContent = text;
      inputs[name].setAttribute("aria-invalid", text ? "true" : "false");
      if (text) ok = false;
    };
    const username = inputs.username.value.trim();
    set("username", !username ? "Enter your username." :
      mode === "register" && !/^[A-Za-z0-9._-]{3,32}$/.test(username) ? "Use 3–32 letters, digits, . _ or -." : "");
    const password = inputs.password.value;
    set("password", !password ? "Enter your password." :
      mode === "register" && [...password].length < 8 ? "Use at least 8 characters." : "");
    return ok;
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    general.textContent = "";
    if (!validate()) return;
    const body = { username: inputs.username.value.trim(), password: inputs.password.value };
    if (mode === "register" && inputs.display_name.value.trim()) body.display_name = inputs.display_name.value.trim();
    submit.disabled = true;
    try {
      const answer = await api("POST", mode === "login" ? "/auth/login" : "/auth/register", body);
      onSignedIn(answer.user);
    } catch (err) {
      let placed = false;
      for (const [name, why] of Object.entries(err.fields || {})) {
        if (errors[name]) {
          errors[name].textContent = `${why[0].toUpperCase()}${why.slice(1)}.`;
          inputs[name].setAttribute("aria-invalid", "true");
          placed = true;
        }
      }
      if (!placed && err.code === "conflict" && mode === "register") {
        errors.username.textContent = "That username is taken.";
        placed = true;
      }
      if (!placed) general.textContent = err.message;
    } finally {
      submit.disabled = false;
    }
  });

  clear(root, h("main", { class: "auth" },
    h("div", { class: "auth-card" }, title, notice ? h("p", { class: "notice", role: "status" }, notice) : null, tabs, form)));
  show();
}
