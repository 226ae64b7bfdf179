// The vendored Preact and htm (assets/vendor/) load as the page loads them, as plain ES
// modules with relative imports, and work together: htm templates become Preact elements.

import { test } from "node:test";
import assert from "node:assert/strict";

import { h } from "../../assets/vendor/preact/preact.module.js";
import { useState } from "../../assets/vendor/preact/hooks.module.js";
import htm from "../../assets/vendor/htm/htm.module.js";

test("htm templates become Preact elements", () => {
  const html = htm.bind(h);
  const name = "<b>not markup</b>";
  const tree = html`<p class="greeting" dir="auto">Hello ${name}</p>`;
  assert.equal(tree.type, "p");
  assert.equal(tree.props.class, "greeting");
  assert.deepEqual(tree.props.children, ["Hello ", name]);
  assert.equal(typeof useState, "function");
});
