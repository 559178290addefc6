// Unit tests of the outbox (localStorage, bounded, expiry) with node's own test runner; no DOM.
import assert from "node:assert/strict";
import { webcrypto } from "node:crypto";
import { test } from "node:test";
import { MAX_AGE, MAX_ITEMS, OUTBOX, expired, newId, outbox, storage } from "../src/outbox.js";
import { memoryStorage } from "./helpers.js";

test("ids: 32 hex digits, random", () => {
  const a = newId(webcrypto);
  assert.match(a, /^[0-9a-f]{32}$/);
  assert.notEqual(a, newId(webcrypto));
});

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

test("a window whose localStorage getter throws gives no storage, and the outbox works in memory", () => {
  const blocked = Object.defineProperty({}, "localStorage", {
    get() {
      throw new DOMException("The operation is insecure.", "SecurityError");
    },
  });
  assert.equal(storage(blocked), undefined);
  const fine = { localStorage: { getItem: () => null } };
  assert.equal(storage(fine), fine.localStorage);
  const box = outbox(storage(blocked));
  box.put({ id: "a", t: 1 });
  assert.deepEqual(box.all(), [{ id: "a", t: 1 }]);
  box.drop("a");
  assert.deepEqual(box.all(), []);
});
