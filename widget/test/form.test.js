// Unit tests of the form's pure parts (form.js): where the server's errors are shown, and page_url. The form's
// DOM (fields, focus, status line, honeypot) is tested in Chromium by tests/widget/.
import "./globals.js";
import assert from "node:assert/strict";
import { test } from "node:test";
import { pageUrl, splitErrors } from "../src/form.js";

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
