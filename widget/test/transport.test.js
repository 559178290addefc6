// Unit tests of transport.js: a submission goes into the outbox before its request, carries its Idempotency-Key,
// is kept for a re-send on "retry" answers, and flush() re-sends what is kept, oldest first, telling the form
// that is still showing it (or the document).
import "./globals.js";
import assert from "node:assert/strict";
import { test } from "node:test";
import { MAX_AGE, OUTBOX } from "../src/outbox.js";
import { shared } from "../src/public-api.js";
import { flush, openOutbox, outcome, pending, submit } from "../src/transport.js";
import { fakeFetch, memoryStorage, recordEvents } from "./helpers.js";

const stored = (storage) => JSON.parse(storage.getItem(OUTBOX) || "[]");
const item = (id, extra = {}) => ({
  id,
  url: "https://api.example.com/crm/widget/v1/leads",
  body: { key: "pk", name: id },
  k: "lead",
  l: "en",
  t: Date.now(),
  ...extra,
});

test("outcome: 2xx stored, network error / 429 / 5xx retried, other 4xx final", () => {
  for (const s of [200, 201, 202]) assert.equal(outcome(s), "ok");
  for (const s of [0, undefined, 429, 500, 502, 503, 504]) assert.equal(outcome(s), "retry");
  for (const s of [400, 403, 404, 413, 415, 422]) assert.equal(outcome(s), "fail");
});

test("submit: in the outbox before the request, with its key and language; dropped once stored", async () => {
  const storage = memoryStorage();
  openOutbox(storage);
  let seenDuringRequest;
  const calls = fakeFetch(() => {
    seenDuringRequest = [stored(storage).map((i) => i.id), [...shared.busy]];
    return { status: 202, body: { id: "s1", status: "queued" } };
  });
  assert.deepEqual(await submit(item("a")), ["ok", 202, { id: "s1", status: "queued" }]);
  assert.deepEqual(seenDuringRequest, [["a"], ["a"]], "stored, and marked busy for the other loaders");
  assert.equal(calls.length, 1);
  assert.equal(calls[0].url, "https://api.example.com/crm/widget/v1/leads");
  assert.deepEqual(calls[0].init.headers, {
    "Content-Type": "application/json",
    "Idempotency-Key": "a",
    "Accept-Language": "en",
  });
  assert.deepEqual(JSON.parse(calls[0].init.body), { key: "pk", name: "a" });
  assert.equal(storage.m.has(OUTBOX), false);
  assert.equal(shared.busy.size, 0);
});

test("submit: kept on a network error or 5xx (maybe stored), on a 429 (surely not); dropped on a refusal", async () => {
  const storage = memoryStorage();
  openOutbox(storage);
  fakeFetch(() => Promise.reject(new TypeError("Failed to fetch")));
  assert.deepEqual(await submit(item("net")), ["retry", 0, {}]);
  fakeFetch(() => ({ status: 429, body: { detail: "slow down" } }));
  assert.deepEqual((await submit(item("busy")))[0], "retry");
  fakeFetch(() => ({ status: 502 })); // a proxy's HTML page: no JSON body
  assert.deepEqual(await submit(item("5xx")), ["retry", 502, {}]);
  assert.deepEqual(
    stored(storage).map((i) => [i.id, i.m]),
    [
      ["net", true],
      ["busy", false],
      ["5xx", true],
    ],
  );
  fakeFetch(() => ({ status: 400, body: { tel: ["Enter a valid phone number."] } }));
  assert.deepEqual(await submit(item("bad")), ["fail", 400, { tel: ["Enter a valid phone number."] }]);
  assert.equal(stored(storage).length, 3);
});

test("flush: oldest first, same key; tells the waiting form or the document; stops at the first retry", async () => {
  const storage = memoryStorage();
  storage.setItem(
    OUTBOX,
    JSON.stringify([
      item("old", { m: true, t: Date.now() - MAX_AGE - 1 }), // may have arrived, and the server forgot its key
      item("one"),
      item("two"),
      item("inflight"),
      item("three"),
      item("four"),
    ]),
  );
  openOutbox(storage);
  const events = recordEvents("submitted", "error");
  const told = [];
  pending.two = (...answer) => told.push(answer);
  shared.busy.add("inflight"); // another loader is sending it right now
  const calls = fakeFetch((url, init) => {
    const key = init.headers["Idempotency-Key"];
    if (key == "one") return { status: 201, body: { id: "s-one" } };
    if (key == "two") return { status: 403, body: { detail: "Unknown or disabled key." } };
    return { status: 503, body: {} };
  });
  await flush();
  assert.deepEqual(
    calls.map((c) => c.init.headers["Idempotency-Key"]),
    ["one", "two", "three"],
  );
  assert.deepEqual(told, [["fail", 403, { detail: "Unknown or disabled key." }]]);
  assert.equal(pending.two, undefined);
  assert.deepEqual(events, [
    ["error", { kind: "lead", id: "old", reason: "expired" }],
    ["submitted", { kind: "lead", id: "s-one", status: 201, resent: true }],
  ]);
  assert.deepEqual(
    stored(storage).map((i) => [i.id, !!i.m]),
    [
      ["inflight", false],
      ["four", false],
      ["three", true],
    ],
    "three is kept (now maybe delivered) and moved to the end; four waits for the next flush",
  );
  shared.busy.clear();
});
