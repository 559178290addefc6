// crm_bridge widget: one <script src=".../widget.js" data-crm-key="…" async> on any page (README.md, "The widget").
// Everything a visitor sees lives in a shadow root, styled by one constructable stylesheet (or a <style> with
// the loading script's nonce), so a strict CSP and the host page's CSS leave it alone. No eval, no inline
// handlers, no style attributes. Each <script> is its own loader with its own key, API and language; forms
// read their own data-crm-* attributes, falling back to the script's.
//
// This entry point only finds the script tag that loaded it and starts its loader once. The modules, by concern:
//   loader.js      starts everything once the config is in: panel, inline forms, view counts, re-sends
//   settings.js    the script's and each form's data-crm-* attributes, the config fetch
//   panel.js       the floating button and its dialog           form.js    fields, errors, honeypot, fill time
//   transport.js   submissions with Idempotency-Key, beacons     outbox.js  the localStorage outbox
//   hits.js        view counts (data-crm-pkid, CRMWidget.hit)    i18n.js    language choice and texts
//   public-api.js  window.CRMWidget, shared by all loaders       events.js  crm:* events and the dataLayer
//   dom.js         the element builder                           styles.js  the stylesheet in each shadow root
//   attribution.js the visit's first touch (landing, referrer, utm_*, click ids), sent as `source`
import { doc } from "./dom.js";
import { startLoader } from "./loader.js";
import { shared } from "./public-api.js";

const me = doc.currentScript || doc.querySelector("script[data-crm-key]");
if (me && !shared.seen.has(me)) {
  shared.seen.add(me);
  startLoader(me); // at once, even in <head>: the config request must not wait for the document
}
