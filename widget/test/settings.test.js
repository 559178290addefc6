// Unit tests of settings.js: the API base, a script's and a form's data-crm-* attributes, the config fetch.
import "./globals.js";
import assert from "node:assert/strict";
import { test } from "node:test";
import { apiBase, base, config, nonce, optionsFor, readScript } from "../src/settings.js";
import { fakeFetch } from "./helpers.js";

const SRC = "https://api.example.com/static/crm_bridge/widget.js";

/** An element with these data-crm-* attributes (and optionally src and nonce). */
const element = (attrs, extra = {}) => ({ getAttribute: (n) => attrs[n.replace("data-crm-", "")] ?? null, ...extra });

test("API base: /crm/ on the script's origin unless data-crm-api says otherwise", () => {
  assert.equal(apiBase(SRC), "https://api.example.com/crm/");
  assert.equal(apiBase(SRC, "https://other.example/x/crm"), "https://other.example/x/crm/");
  assert.equal(apiBase(SRC, "/bridge/"), "https://api.example.com/bridge/", "relative to the script, not the page");
  assert.equal(apiBase("http://127.0.0.1:8000/static/w.js", "http://127.0.0.1:8000/crm/"), "http://127.0.0.1:8000/crm/");
});

test("a form element's own attributes win; what it lacks comes from the script tag", () => {
  readScript(element({ key: "pk-script", lang: "zh-CN" }, { src: SRC, nonce: "n0nce" }));
  assert.deepEqual(base, { key: "pk-script", api: "https://api.example.com/crm/", lang: "zh-CN" });
  assert.equal(nonce, "n0nce");
  assert.deepEqual(optionsFor(element({})), base);
  assert.deepEqual(optionsFor(element({ key: "pk-form", api: "/other/", lang: "en" })), {
    key: "pk-form",
    api: "https://api.example.com/other/",
    lang: "en",
  });
  // A script without src (inline, say) resolves against the page.
  readScript(element({ key: "k", api: "crm" }));
  assert.equal(base.api, "https://shop.example/crm/");
  assert.equal(optionsFor(element({ api: "x" })).api, "https://shop.example/x/");
});

test("the config is fetched once per API base and key; a refusal rejects with the status", async () => {
  const calls = fakeFetch((url) => (url.includes("bad") ? { status: 403, body: {} } : { status: 200, body: { url } }));
  const o = { key: "k 1&", api: "https://api.example.com/crm/" };
  const [a, b2] = await Promise.all([config(o), config({ ...o })]);
  assert.equal(a, b2);
  assert.equal(a.url, "https://api.example.com/crm/widget/v1/config?key=k%201%26");
  await config({ key: "k 1&", api: "https://api.example.com/crm2/" });
  assert.equal(calls.length, 2);
  await assert.rejects(config({ key: "bad", api: o.api }), (status) => status === 403);
  await assert.rejects(config({ key: "bad", api: o.api }), (status) => status === 403);
  assert.equal(calls.length, 3, "a refusal is remembered too: one request per page");
});

test("a config the page carries (<script type=application/json id=crm-config-KEY>) is used without a request", async () => {
  const calls = fakeFetch(() => ({ status: 200, body: { from: "api" } }));
  const blocks = { "crm-config-pk-inline": { textContent: '{"from":"page"}' }, "crm-config-pk-junk": { textContent: "{" } };
  document.getElementById = (id) => blocks[id] || null;
  try {
    assert.deepEqual(await config({ key: "pk-inline", api: "https://api.example.com/crm/" }), { from: "page" });
    assert.equal(calls.length, 0);
    // Absent or unparsable: fetched as before.
    assert.deepEqual(await config({ key: "pk-junk", api: "https://api.example.com/crm/" }), { from: "api" });
    assert.deepEqual(await config({ key: "pk-none", api: "https://api.example.com/crm/" }), { from: "api" });
    assert.equal(calls.length, 2);
  } finally {
    delete document.getElementById;
  }
});
