// Unit tests of the widget's pure helpers (node's own test runner; no DOM). The DOM side is tested in a real
// browser by tests/widget/ (pytest + Playwright).
import assert from "node:assert/strict";
import { webcrypto } from "node:crypto";
import { test } from "node:test";
import {
  MAX_AGE,
  MAX_ITEMS,
  OUTBOX,
  apiBase,
  expired,
  hitBodies,
  newId,
  outbox,
  outcome,
  pageUrl,
  pickLang,
  pkids,
  splitErrors,
} from "../src/core.js";

const SRC = "https://api.example.com/static/crm_bridge/widget.js";

test("API base: /crm/ on the script's origin unless data-crm-api says otherwise", () => {
  assert.equal(apiBase(SRC), "https://api.example.com/crm/");
  assert.equal(apiBase(SRC, "https://other.example/x/crm"), "https://other.example/x/crm/");
  assert.equal(apiBase(SRC, "/bridge/"), "https://api.example.com/bridge/", "relative to the script, not the page");
  assert.equal(apiBase("http://127.0.0.1:8000/static/w.js", "http://127.0.0.1:8000/crm/"), "http://127.0.0.1:8000/crm/");
});

test("language: attribute first, then the browser's, matched by primary subtag, else the config's first", () => {
  const langs = ["zh-CN", "en"];
  assert.equal(pickLang(langs, ["en", "zh-CN"]), "en");
  assert.equal(pickLang(langs, [null, "en-GB", "zh"]), "en");
  assert.equal(pickLang(langs, [undefined, "zh-Hans-CN"]), "zh-CN");
  assert.equal(pickLang(langs, ["ZH-cn"]), "zh-CN");
  assert.equal(pickLang(langs, ["fr-FR", "de"]), "zh-CN");
  assert.equal(pickLang(langs, []), "zh-CN");
  assert.equal(pickLang(["en"], ["zh-CN"]), "en");
});

test("outcome: 2xx stored, network error / 429 / 5xx retried, other 4xx final", () => {
  for (const s of [200, 201, 202]) assert.equal(outcome(s), "ok");
  for (const s of [0, undefined, 429, 500, 502, 503, 504]) assert.equal(outcome(s), "retry");
  for (const s of [400, 403, 404, 413, 415, 422]) assert.equal(outcome(s), "fail");
});

test("field errors in DRF's shape go to their fields, the rest to the status line", () => {
  const [fields, other] = splitErrors(
    { tel: ["Enter a valid phone number."], name: ["This field is required.", "Too long."], page_url: ["Bad URL."] },
    ["name", "tel", "company"],
  );
  assert.deepEqual(fields, { tel: "Enter a valid phone number.", name: "This field is required. Too long." });
  assert.deepEqual(other, ["Bad URL."]);
  assert.deepEqual(splitErrors({ detail: "Unknown or disabled key." }, ["name"]), [{}, ["Unknown or disabled key."]]);
  assert.deepEqual(splitErrors({ hits: [{ pkid: ["x"] }] }, []), [{}, ['{"pkid":["x"]}']]);
  assert.deepEqual(splitErrors(null, ["a"]), [{}, []]);
  assert.deepEqual(splitErrors("Server Error", ["a"]), [{}, []]);
});

test("page_url is sent only when the API would accept it", () => {
  assert.equal(pageUrl("https://shop.example/p?q=1"), "https://shop.example/p?q=1");
  assert.equal(pageUrl("http://127.0.0.1:8001/"), "http://127.0.0.1:8001/");
  assert.equal(pageUrl("file:///tmp/x.html"), "");
  assert.equal(pageUrl("https://x.example/" + "a".repeat(2000)), "");
});

test("ids: 32 hex digits, random", () => {
  const a = newId(webcrypto);
  assert.match(a, /^[0-9a-f]{32}$/);
  assert.notEqual(a, newId(webcrypto));
});

function memoryStorage() {
  const m = new Map();
  return {
    m,
    getItem: (k) => (m.has(k) ? m.get(k) : null),
    setItem: (k, v) => m.set(k, String(v)),
    removeItem: (k) => m.delete(k),
  };
}

test("outbox: put, replace by id, drop; empties the key when empty", () => {
  const s = memoryStorage();
  const box = outbox(s);
  assert.deepEqual(box.all(), []);
  box.put({ id: "a", body: { n: 1 } });
  box.put({ id: "b", body: { n: 2 } });
  box.put({ id: "a", body: { n: 3 }, m: true });
  assert.deepEqual(
    box.all().map((i) => [i.id, i.body.n]),
    [
      ["b", 2],
      ["a", 3],
    ],
  );
  // Another page (a new outbox over the same storage) sees the same items.
  assert.equal(outbox(s).all().length, 2);
  box.drop("b");
  box.drop("a");
  assert.equal(s.m.has(OUTBOX), false);
});

test("outbox: bounded, oldest dropped first", () => {
  const box = outbox(memoryStorage());
  for (let i = 0; i < MAX_ITEMS + 5; i++) box.put({ id: "i" + i });
  const ids = box.all().map((i) => i.id);
  assert.equal(ids.length, MAX_ITEMS);
  assert.equal(ids[0], "i5");
});

test("outbox: works in memory when storage throws or holds junk", () => {
  const throwing = {
    getItem() {
      throw new Error("SecurityError");
    },
    setItem() {
      throw new Error("QuotaExceededError");
    },
    removeItem() {},
  };
  const box = outbox(throwing);
  box.put({ id: "x" });
  assert.deepEqual(box.all(), [{ id: "x" }]);
  const junk = memoryStorage();
  junk.setItem(OUTBOX, "{not json");
  assert.deepEqual(outbox(junk).all(), []);
  assert.deepEqual(outbox(null).all(), []);
});

test("expiry: only items that may have arrived, after MAX_AGE (below the server's 24 h idempotency window)", () => {
  const now = Date.now();
  assert.ok(MAX_AGE < 24 * 3600e3);
  assert.equal(expired({ t: now - MAX_AGE - 1, m: true }, now), true);
  assert.equal(expired({ t: now - MAX_AGE + 1000, m: true }, now), false);
  assert.equal(expired({ t: now - 10 * MAX_AGE }, now), false, "never reached the server: keep it");
});

test("pkids: distinct valid int32 ids from attribute values", () => {
  assert.deepEqual(pkids(["101", "102, 103", "101", " 104  105 ", "", null, "0", "-1", "x", "1.5", "2147483648"]), [
    101, 102, 103, 104, 105,
  ]);
});

test("hit bodies: one pkid plainly, several as a batch, at most 50 per request", () => {
  assert.deepEqual(hitBodies("pk", [7]), [{ key: "pk", pkid: 7, count: 1 }]);
  assert.deepEqual(hitBodies("pk", [7, 8], 2), [
    {
      key: "pk",
      hits: [
        { pkid: 7, count: 2 },
        { pkid: 8, count: 2 },
      ],
    },
  ]);
  const many = hitBodies(
    "pk",
    Array.from({ length: 120 }, (_, i) => i + 1),
  );
  assert.deepEqual(
    many.map((b) => b.hits.length),
    [50, 50, 20],
  );
});
