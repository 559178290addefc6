// What this copy of the widget was asked to do: the loading <script>'s data-crm-* attributes (key, API base,
// language, button) and nonce, each form element's own attributes falling back to them, and the site's config
// (the page's own copy, else fetched once per API base and key). Every <script> tag runs its own copy of
// widget.js, so the module-level state here belongs to one tag: it is set once, by readScript(), before anything
// else runs.
import { doc } from "./dom.js";

// The attributes read here and in loader.js and hits.js are documented in the blocks below; tools/docgen.py renders
// them into docs/reference/widget.md, and tests/test_docs.py fails when a data-crm-* attribute the code reads has
// none. (The build drops every comment: widget.js does not change.)

/** @attribute data-crm-key
 * @on <script>, [data-crm-form]
 * The site's public key (shown in the admin, printed by `manage.py crm_bridge_site add`). Required on the
 * script tag; a [data-crm-form] element with its own key submits to that site instead. Not a secret: it
 * only works from the site's allowed origins.
 */
/** @attribute data-crm-api
 * @on <script>, [data-crm-form]
 * Where crm_bridge.urls is mounted, resolved against the script's own URL (a trailing "/" is added).
 * Default: "/crm/" on the script's origin.
 */
/** @attribute data-crm-lang
 * @on <script>, [data-crm-form]
 * The language to show ("zh-CN", "en", or any the site's config offers; matched by primary subtag too).
 * Default: the nearest `lang` attribute of the page, then the browser's languages, then the site's first.
 */
/** The element's data-crm-`name` attribute (null when absent). */
export const crmAttr = (el, name) => el.getAttribute("data-crm-" + name);

/** The API base (ending in "/"): `attr` (data-crm-api) resolved against the script's own URL, else "/crm/" on
 * the script's origin, where the demo and the README mount crm_bridge.urls. */
export function apiBase(src, attr) {
  return new URL(attr || "/crm/", src).href.replace(/\/?$/, "/");
}

let src; // the script's URL: data-crm-api attributes are relative to it
/** The script tag's {key, api, lang}; what a form element does not set itself. */
export let base;
/** The script tag's CSP nonce, for the <style> fallback of styled(). */
export let nonce;
const configs = {}; // api + key → promise of the config

/** Read the settings of `script`, the <script> element this copy was loaded by. */
export function readScript(script) {
  src = script.src || location.href;
  base = { key: crmAttr(script, "key"), api: apiBase(src, crmAttr(script, "api")), lang: crmAttr(script, "lang") };
  nonce = script.nonce;
}

/** Key, API base and language of a form element: its own data-crm-* attributes, else the script's. */
export const optionsFor = (el) => ({
  key: crmAttr(el, "key") || base.key,
  api: crmAttr(el, "api") ? apiBase(src, crmAttr(el, "api")) : base.api,
  lang: crmAttr(el, "lang") || base.lang,
});

/** The config the page itself carries for `key`: `{% crm_widget %}` renders it as
 * <script type="application/json" id="crm-config-KEY"> (data, never executed: nothing a strict CSP blocks), so
 * a Django-rendered page needs no request; undefined when there is none or it does not parse. */
function carried(key) {
  try {
    return JSON.parse(doc.getElementById("crm-config-" + key).textContent);
  } catch {}
}

/** The site's config for `o` ({key, api}): a promise, the page's own copy or fetched once, rejected with the
 * HTTP status. The loader asks for it first thing, so the request starts as the script runs. */
export const config = (o, c) =>
  (configs[o.api + o.key] ||=
    (c = carried(o.key))
      ? Promise.resolve(c)
      : fetch(o.api + "widget/v1/config?key=" + encodeURIComponent(o.key)).then((r) =>
          r.ok ? r.json() : Promise.reject(r.status),
        ));
