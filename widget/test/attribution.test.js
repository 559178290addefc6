// Unit tests of attribution.js: what a landing tells, first touch wins per tab, bounds, and storage that fails.
import "./globals.js";
import assert from "node:assert/strict";
import { test } from "node:test";
import { KEY, clean, firstTouch, remember, source, touch } from "../src/attribution.js";
import { memoryStorage } from "./helpers.js";

const LANDING = "https://shop.example/?utm_source=baidu&utm_campaign=%E6%98%A5%E5%AD%A3&bd_vid=123&x=1";

test("a landing keeps its URL, referrer, utm_* and click ids; other parameters stay in the URL only", () => {
  assert.deepEqual(touch(LANDING, "https://www.baidu.com/"), {
    landing: LANDING,
    referrer: "https://www.baidu.com/",
    utm_source: "baidu",
    utm_campaign: "春季",
    bd_vid: "123",
  });
  assert.deepEqual(touch("https://shop.example/?qhclickid=q1&clickid=c1&utm_term=&utm_medium=cpc", ""), {
    landing: "https://shop.example/?qhclickid=q1&clickid=c1&utm_term=&utm_medium=cpc",
    utm_medium: "cpc",
    qhclickid: "q1",
    clickid: "c1",
  });
});

test("first touch wins: a later page in the same tab gets the landing's record, a new tab starts afresh", () => {
  const tab = memoryStorage();
  const first = firstTouch(tab, LANDING, "https://www.baidu.com/");
  assert.equal(first.utm_source, "baidu");
  const later = firstTouch(tab, "https://shop.example/contact?utm_source=other", "https://shop.example/");
  assert.deepEqual(later, first);
  assert.deepEqual(JSON.parse(tab.getItem(KEY)), first);
  // A landing without any tags is a touch too: a later tagged page does not overwrite it.
  const plain = memoryStorage();
  assert.deepEqual(firstTouch(plain, "https://shop.example/", ""), { landing: "https://shop.example/" });
  assert.deepEqual(firstTouch(plain, "https://shop.example/?utm_source=x", ""), { landing: "https://shop.example/" });
  assert.equal(firstTouch(memoryStorage(), "https://shop.example/?utm_source=x", "").utm_source, "x");
});

test("storage that throws or holds garbage never stops it", () => {
  const broken = {
    getItem() {
      throw new Error("SecurityError");
    },
    setItem() {
      throw new Error("QuotaExceededError");
    },
  };
  assert.equal(firstTouch(broken, LANDING, "").bd_vid, "123");
  assert.equal(firstTouch(null, LANDING, "").bd_vid, "123");
  const junk = memoryStorage();
  junk.setItem(KEY, "{not json");
  assert.equal(firstTouch(junk, LANDING, "").utm_source, "baidu");
  // Another script's object under the key: only known keys with string values survive, bounded again.
  junk.setItem(KEY, JSON.stringify({ utm_source: 7, bd_vid: "v", evil: "x", landing: "javascript:alert(1)" }));
  assert.deepEqual(firstTouch(junk, LANDING, ""), { bd_vid: "v" });
});

test("bounds: URLs at most 2000, values at most 200, no control characters, no half surrogate pair", () => {
  const long = "https://shop.example/?utm_source=" + "a".repeat(3000);
  const s = touch(long, "ftp://files.example/");
  assert.equal(s.landing.length, 2000);
  assert.equal(s.utm_source.length, 200);
  assert.equal(s.referrer, undefined); // not http(s): left out, not sent for the API to refuse
  assert.equal(touch("https://x.example/?utm_source=%00a%1Fb%7F", "").utm_source, "ab");
  const emoji = touch("https://x.example/?utm_content=" + "a".repeat(199) + "%F0%9F%98%80", "").utm_content;
  assert.equal(emoji, "a".repeat(199));
  assert.deepEqual(clean(null), {});
  assert.deepEqual(touch("not a url", "also not"), {});
});

test("source(): nothing until the loader calls remember(), then this page's touch, a copy each time", () => {
  assert.equal(source(), undefined, "no storage touched at module load: the config request goes first");
  remember(); // node has no sessionStorage: reading it throws, so this page's touch stays in memory
  const a = source();
  assert.deepEqual(a, { landing: "https://shop.example/page" });
  a.landing = "changed";
  assert.equal(source().landing, "https://shop.example/page");
});
