// Unit tests of view counting (hits.js): which ids, in which batches, and how they are sent.
import "./globals.js";
import assert from "node:assert/strict";
import { test } from "node:test";
import { hit, hitBodies, pkids } from "../src/hits.js";
import { readScript } from "../src/settings.js";
import { fakeFetch } from "./helpers.js";

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

const script = { src: "https://api.example.com/static/w.js", getAttribute: (n) => (n == "data-crm-key" ? "pk" : null) };

/** Beacons sent while `run` runs: [url, type, JSON body]; `accept` is what sendBeacon answers. */
async function beacons(features, run, accept = true) {
  const sent = [];
  navigator.sendBeacon = (url, blob) => {
    sent.push([url, blob.type, blob]);
    return accept;
  };
  const calls = fakeFetch((url, init) => (init.method == "POST" ? { status: 202, body: {} } : { status: 200, body: { features } }));
  await run();
  const bodies = await Promise.all(sent.map(async ([url, type, blob]) => [url, type, JSON.parse(await blob.text())]));
  return [bodies, calls.filter((c) => c.init.method == "POST")];
}

test("hit: one beacon per batch of 50, text/plain, with the script's key", async () => {
  readScript(script);
  const ids = Array.from({ length: 51 }, (_, i) => i + 1).join(",");
  const [sent, posts] = await beacons({ hits: true }, () => hit(ids, 3));
  assert.deepEqual(
    sent.map(([url, type, b]) => [url, type, b.hits ? b.hits.length : b.pkid, b.key]),
    [
      ["https://api.example.com/crm/widget/v1/hits", "text/plain", 50, "pk"],
      ["https://api.example.com/crm/widget/v1/hits", "text/plain", 51, "pk"],
    ],
  );
  assert.equal(sent[1][2].count, 3);
  assert.equal(posts.length, 0, "no fetch when the beacon was accepted");
});

test("hit: nothing when the site has hits off, or no valid id", async () => {
  readScript({ ...script, getAttribute: (n) => (n == "data-crm-key" ? "pk-off" : null) });
  const [sent] = await beacons({ hits: false }, () => hit("7"));
  assert.equal(sent.length, 0);
  readScript(script);
  const [sent2, posts2] = await beacons({ hits: true }, () => hit("x, 0, -1"));
  assert.equal(sent2.length + posts2.length, 0);
});

test("hit: a refused beacon (or none at all) falls back to a keepalive fetch", async () => {
  readScript(script);
  const [, posts] = await beacons({ hits: true }, () => hit(9), false);
  assert.equal(posts.length, 1);
  assert.deepEqual(JSON.parse(posts[0].init.body), { key: "pk", pkid: 9, count: 1 });
  assert.equal(posts[0].init.keepalive, true);
  delete navigator.sendBeacon;
  const calls = fakeFetch(() => ({ status: 202, body: {} }));
  await hit(10);
  assert.deepEqual(calls.map((c) => [c.url, c.init.keepalive]), [["https://api.example.com/crm/widget/v1/hits", true]]);
});
