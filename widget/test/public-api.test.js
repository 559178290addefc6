// Unit tests of window.CRMWidget (public-api.js): one object for every copy of the widget on the page.
import "./globals.js";
import assert from "node:assert/strict";
import { test } from "node:test";
import { shared } from "../src/public-api.js";

test("open/hit/mount: the first loader's, or nothing before any loader started", async () => {
  assert.equal(window.CRMWidget, shared);
  assert.equal(shared.open(), false);
  assert.equal(shared.hit(1), undefined);
  assert.equal(shared.mount({}), undefined);
  const calls = [];
  shared.w.push(
    { open: () => false, hit: (...a) => calls.push(["hit", ...a]), mount: (el) => calls.push(["mount", el]) },
    { open: () => calls.push(["open 2"]) > 0, hit: () => calls.push(["hit 2"]), mount: () => calls.push(["mount 2"]) },
  );
  assert.equal(shared.open(), true, "the first loader that has a panel opens it");
  shared.hit(7, 2);
  shared.mount("el");
  assert.deepEqual(calls, [["open 2"], ["hit", 7, 2], ["mount", "el"]]);
  shared.w.length = 0;
});

test("a second copy of widget.js on the page joins the same object", async () => {
  const again = await import("../src/public-api.js?copy=2");
  assert.equal(again.shared, shared);
  assert.equal(window.CRMWidget, shared);
});
