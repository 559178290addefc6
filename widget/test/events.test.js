// Unit tests of events.js: crm:* events on their target (the document by default) and the dataLayer.
import "./globals.js";
import assert from "node:assert/strict";
import { test } from "node:test";
import { emit } from "../src/events.js";

test("emit: a bubbling crm:<name> event with the detail, mirrored to dataLayer", () => {
  const got = [];
  document.addEventListener("crm:ready", (e) => got.push(["doc", e.bubbles, e.detail]));
  const form = new EventTarget();
  form.addEventListener("crm:submitted", (e) => got.push(["form", e.bubbles, e.detail]));
  emit("ready", { key: "pk" });
  assert.deepEqual(got, [["doc", true, { key: "pk" }]]);
  window.dataLayer = [];
  emit("submitted", { kind: "lead", id: "x" }, form);
  assert.deepEqual(got[1], ["form", true, { kind: "lead", id: "x" }]);
  assert.deepEqual(window.dataLayer, [{ event: "crm:submitted", kind: "lead", id: "x" }]);
  window.dataLayer = { push: undefined }; // a page's own object of that name: left alone
  emit("ready", { key: "pk" });
  delete window.dataLayer;
});
