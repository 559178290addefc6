// Starting the widget for its <script> tag: the outbox's re-sends (now and whenever the browser is back online),
// the floating panel and the inline forms once the site's config is in, the page's view counts, crm:ready, and
// this loader's entry in window.CRMWidget.
// Bottom-up (helpers first, the panel last): esbuild lays the bundle out in this order.
import { doc, h } from "./dom.js";
import { styled } from "./styles.js";
import { emit } from "./events.js";
import { langFor, textsFor } from "./i18n.js";
import { base, config, crmAttr, optionsFor, readScript } from "./settings.js";
import { shared } from "./public-api.js";
import { deferStorage, flush, openOutbox } from "./transport.js";
import { storage } from "./outbox.js";
import { remember } from "./attribution.js";
import { hit, pkids } from "./hits.js";
import { buildForm } from "./form.js";
import { floatingPanel } from "./panel.js";

let openPanel; // the floating panel's open(), once the config is in
let wantOpen = false; // CRMWidget.open() was called before that

/** @attribute data-crm-form
 * @on any element that can host a shadow root (a <div>, a <section>; not a <form>)
 * "lead" (a contact-me form) or "message" (a message-board form): the widget renders that form inside the
 * element, once the site's config is in and the feature is on; until then the element's own content (a
 * no-JavaScript fallback, say) stays visible. Elements added later: CRMWidget.mount(element).
 */
/** A [data-crm-form="lead|message"] element: its own content (a no-JavaScript form, say) stays visible
 * through a <slot> until the config is in, then the widget's form replaces it. */
function mount(el) {
  const kind = crmAttr(el, "form");
  if (shared.seen.has(el) || el.shadowRoot || !kind) return;
  shared.seen.add(el);
  const o = optionsFor(el);
  let root;
  try {
    root = el.attachShadow({ mode: "open" });
  } catch {
    return; // an element that cannot host a shadow root (a <form>, an <input>): leave it to the page
  }
  root.append(h("slot"));
  config(o).then((cfg) => {
    if (!cfg.forms[kind]) return;
    // The host page's own language (nearest lang attribute) before the browser's.
    const lang = langFor(cfg, o.lang, (el.closest("[lang]") || {}).lang); // `|| {}`, not `?.`: see public-api.js
    const t = textsFor(cfg, lang);
    // Never shorter than the element was (the room the page reserved for it, or the no-JavaScript form it
    // held): the page below must not move up, and the card stretches to fill it (widget.css). Through CSSOM,
    // which a strict CSP allows, not a style attribute.
    el.style.minHeight = getComputedStyle(el).height;
    root.replaceChildren();
    styled(root);
    root.append(
      h(
        "div",
        { class: "w card", lang },
        h("h2", {}, kind == "lead" ? t.lead_title : t.message_title),
        buildForm(kind, cfg, lang, o, el),
      ),
    );
  }, () => {});
}

let here; // [location.href, document.referrer] as the script ran, until the visit's touch is taken from them
let opened; // the storage work has run
/** The visit's first touch into sessionStorage (attribution.js), once: by the storage work, or when the visitor
 * leaves the page before that ran (a click on a link while the config is on its way), so a landing page that was
 * left early still counts as the visit's first. */
const touchOnce = () => here && (remember(...here), (here = null));
/** The storage work, once per loader: the visit's first touch, the outbox from localStorage and its re-sends,
 * now and whenever the browser is back online. A fresh tab's first access to each storage is a synchronous trip
 * to the browser process (3-35 ms measured on the benchmark's machine, docs/benchmarks.md "Widget ready"): run
 * while the config may be arriving, it held up the button. So it runs after the button's first paint, or when a
 * form is submitted first (transport.js, deferStorage). */
const openStorage = () => {
  if (opened) return;
  opened = true;
  touchOnce();
  openOutbox(storage(window));
  addEventListener("online", flush);
  flush();
};
/** Run `f` once the frame that shows the button is painted (the task after the next animation frame), or after
 * half a second where no frame comes (a tab opened in the background); `f` runs once either way. */
const afterPaint = (f) => {
  requestAnimationFrame(() => setTimeout(f));
  setTimeout(f, 500);
};

/** @attribute data-crm-button
 * @on <script>
 * "off": no floating feedback button (the message board); CRMWidget.open() then has nothing to open. Any
 * other value, or none: the button is shown when the site's messages feature is on.
 */
/** Start the widget for `script`, the <script> element this copy was loaded by, as soon as it runs: the config
 * request first (or the page's own copy, or the snippet's preload); the panel, the forms and the view counts once
 * the config is in and the document has a body; the storage work once that is painted (openStorage). */
export function startLoader(script) {
  here = [location.href, doc.referrer]; // now: the page may change its URL (history.pushState) before the config is in
  deferStorage(openStorage);
  addEventListener("pagehide", touchOnce);
  readScript(script);
  const ready = config(base);
  shared.w.push({ open: () => (openPanel ? openPanel() : !(wantOpen = true)), hit, mount });
  const start = () =>
    ready
      .then(
        (cfg) => {
          const lang = langFor(cfg, base.lang, doc.documentElement.lang);
          if (cfg.forms.message && crmAttr(script, "button") != "off") openPanel = floatingPanel(cfg, lang);
          doc.querySelectorAll("[data-crm-form]").forEach(mount);
          const views = [...doc.querySelectorAll("[data-crm-pkid]")].filter((e) => !shared.views.has(e) && shared.views.add(e));
          const ids = pkids(views.map((e) => crmAttr(e, "pkid")));
          if (ids.length) hit(ids.join());
          emit("ready", { key: base.key, lang, features: cfg.features });
          if (wantOpen && openPanel) openPanel();
        },
        (status) => emit("error", { reason: "config", status }),
      )
      .finally(() => afterPaint(openStorage));
  // A script in <head> runs before there is a <body> to put the button in.
  if (doc.body) start();
  else addEventListener("DOMContentLoaded", start);
}
