// Unit tests of language choice and texts (i18n.js).
import "./globals.js";
import assert from "node:assert/strict";
import { test } from "node:test";
import { langFor, pickLang, textsFor } from "../src/i18n.js";

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

test("langFor: the attribute, then the page's lang, then the browser's languages", () => {
  const cfg = { languages: ["zh-CN", "en"] };
  navigator.languages = ["en-US", "zh-CN"];
  assert.equal(langFor(cfg, null, undefined), "en", "nothing asked: the browser's first");
  assert.equal(langFor(cfg, null, "zh"), "zh-CN", "the host page's lang before the browser's");
  assert.equal(langFor(cfg, "en", "zh-CN"), "en", "data-crm-lang before the page's");
  navigator.languages = ["fr"];
  assert.equal(langFor(cfg, null, "de"), "zh-CN", "nothing offered: the config's first");
});

test("textsFor: the language's texts, else an empty object (never undefined)", () => {
  const cfg = { texts: { en: { submit: "Send" } } };
  assert.deepEqual(textsFor(cfg, "en"), { submit: "Send" });
  assert.deepEqual(textsFor(cfg, "zh-CN"), {});
});
