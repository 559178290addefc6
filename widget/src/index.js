// crm_bridge widget: one <script src=".../widget.js" data-crm-key="…" async> on any page (README.md, "The widget").
// Everything a visitor sees lives in a shadow root, styled by one constructable stylesheet (or a <style> with
// the loading script's nonce), so a strict CSP and the host page's CSS leave it alone. No eval, no inline
// handlers, no style attributes. Each <script> is its own loader with its own key, API and language; forms
// read their own data-crm-* attributes, falling back to the script's.
import CSS from "./widget.css";
import { apiBase, expired, hitBodies, newId, outbox, outcome, pageUrl, pickLang, pkids, splitErrors } from "./core.js";

const doc = document;
const AUTOCOMPLETE = { name: "name", tel: "tel", email: "email", company: "organization" };

/** Create an element: attributes (null/false skipped, true → ""), "on…" keys as listeners, then children. */
function h(tag, attrs, ...kids) {
  const e = doc.createElement(tag);
  for (const k in attrs) {
    const v = attrs[k];
    if (v == null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  e.append(...kids);
  return e;
}

/** Fire `crm:<name>` on `target` (bubbling, so a listener on document hears every form), and push the same
 * to the page's dataLayer when it has one. Details carry ids and states, never what the visitor typed. */
function emit(target, name, detail) {
  target.dispatchEvent(new CustomEvent("crm:" + name, { bubbles: true, detail }));
  const dl = window.dataLayer;
  if (dl && dl.push) dl.push({ event: "crm:" + name, ...detail });
}

// Shared by every loader on the page (several script tags): what was mounted or counted, and which outbox
// items are on the wire, so two loaders never mount one element, count one view twice, or send one item at once.
const G = (window.CRMWidget ||= {
  w: [],
  seen: new WeakSet(), // script tags and [data-crm-form] elements taken by a loader
  views: new WeakSet(), // [data-crm-pkid] elements already counted
  busy: new Set(),
  /** Open the first floating panel; true if there is one. */
  open: () => G.w.some((w) => w.open()),
  /** Count a view of catalogue item `pkid` (count 1–100) with the first loader's key. */
  hit: (pkid, count) => G.w[0]?.hit(pkid, count),
  /** Mount a [data-crm-form] element added after the page loaded. */
  mount: (el) => G.w[0]?.mount(el),
});

function loader(script) {
  const attr = (el, name) => el.getAttribute("data-crm-" + name);
  const src = script.src || location.href;
  const base = { key: attr(script, "key"), api: apiBase(src, attr(script, "api")), lang: attr(script, "lang") };
  const nonce = script.nonce;
  const box = outbox(window.localStorage);
  const pending = {}; // outbox id → callback of the form that is still showing it
  const configs = {};
  let sheet;
  let panel; // the floating panel's open(), once the config is in
  let wantOpen = false;

  const opts = (el) => ({
    key: attr(el, "key") || base.key,
    api: attr(el, "api") ? apiBase(src, attr(el, "api")) : base.api,
    lang: attr(el, "lang") || base.lang,
  });
  const config = (o) =>
    (configs[o.api + o.key] ||= fetch(o.api + "widget/v1/config?key=" + encodeURIComponent(o.key)).then((r) =>
      r.ok ? r.json() : Promise.reject(r.status),
    ));

  function styled(root) {
    try {
      if (!sheet) (sheet = new CSSStyleSheet()).replaceSync(CSS);
      root.adoptedStyleSheets = [sheet];
    } catch {
      root.append(h("style", { nonce }, CSS)); // older browsers: allowed by a CSP that allows the script's nonce
    }
  }

  async function send(item) {
    let status = 0;
    let body = {};
    G.busy.add(item.id);
    try {
      const r = await fetch(item.url, {
        method: "POST",
        // Accept-Language: field errors come back in the language the form is shown in (CORS-safelisted).
        headers: { "Content-Type": "application/json", "Idempotency-Key": item.id, "Accept-Language": item.l },
        body: JSON.stringify(item.body),
      });
      status = r.status;
      body = await r.json().catch(() => ({}));
    } catch {
      // network error or CORS refusal: status 0, kept for later
    }
    G.busy.delete(item.id);
    const o = outcome(status);
    if (o == "retry") {
      // Anything but a 429 may have been stored before the answer was lost: remember that (see expired()).
      item.m ||= status != 429;
      box.put(item);
    } else box.drop(item.id);
    return [o, status, body];
  }

  /** Send what the outbox holds (from this or an earlier page), oldest first, each with its own key. */
  async function flush() {
    for (const item of box.all()) {
      if (G.busy.has(item.id)) continue;
      if (expired(item, Date.now())) {
        box.drop(item.id);
        emit(doc, "error", { kind: item.k, id: item.id, reason: "expired" });
        continue;
      }
      const [o, status, body] = await send(item);
      if (o == "retry") break; // still unreachable: try again on the next load or `online`
      const done = pending[item.id];
      delete pending[item.id];
      if (done) done(o, status, body);
      else emit(doc, o == "ok" ? "submitted" : "error", { kind: item.k, id: body.id, status, resent: true });
    }
  }

  /** A form for `kind` ("lead" or "message") from the config; `host` receives its events. */
  function form(kind, cfg, lang, o, host) {
    const t = cfg.texts[lang] || {};
    const fields = cfg.forms[kind];
    const names = fields.map((f) => f.name);
    const inputs = {};
    const errs = {};
    let started = Date.now();
    let busy = false;
    const status = h("p", { class: "st", role: "status", "aria-live": "polite" });
    const say = (text, cls) => {
      status.textContent = text || "";
      status.className = "st " + (cls || "");
    };
    const rows = fields.map((f) => {
      const id = "crm-" + f.name;
      const input = (inputs[f.name] = h(f.type == "textarea" ? "textarea" : "input", {
        id,
        name: f.name,
        type: f.type == "textarea" ? null : f.type,
        maxlength: f.max_length,
        required: f.required,
        autocomplete: AUTOCOMPLETE[f.name] || "off",
        rows: f.type == "textarea" ? 3 : null,
        "aria-describedby": id + "-e",
      }));
      errs[f.name] = h("p", { class: "err", id: id + "-e" });
      return h(
        "div",
        { class: "row" },
        h("label", { for: id }, f.label[lang] || f.name, f.required ? h("b", { "aria-hidden": "true" }, " *") : ""),
        input,
        errs[f.name],
      );
    });
    const trap = h("input", { name: cfg.honeypot, tabindex: -1, autocomplete: "off" });
    const go = h("button", { type: "submit", class: "go" }, t.submit);
    const mark = (name, text) => {
      errs[name].textContent = text || "";
      inputs[name][text ? "setAttribute" : "removeAttribute"]("aria-invalid", "true");
    };
    // aria-disabled, not disabled: disabling the focused button would drop keyboard focus to <body>.
    const wait = (on) => go.setAttribute("aria-disabled", (busy = on));
    const finish = (o, status, body, id) => {
      wait(false);
      if (o == "ok") {
        el.reset();
        started = Date.now();
        say(t.success, "ok");
        emit(host, "submitted", { kind, id: body.id, status: body.status });
        return;
      }
      if (o == "retry") {
        el.reset();
        started = Date.now();
        say(t.offline, "q");
        pending[id] = finish;
        emit(host, "queued", { kind, id, status });
        return;
      }
      const [byField, other] = splitErrors(status == 400 ? body : {}, names);
      let first;
      for (const n in byField) {
        mark(n, byField[n]);
        first ||= inputs[n];
      }
      say(other.join(" ") || (first ? "" : t.error), "bad");
      if (first) first.focus();
      emit(host, "error", { kind, status, errors: status == 400 ? body : undefined });
    };
    async function submit(ev) {
      ev.preventDefault();
      if (busy) return;
      const body = { key: o.key };
      let first;
      for (const n of names) {
        mark(n);
        body[n] = inputs[n].value;
        if (fields[names.indexOf(n)].required && !body[n].trim()) {
          mark(n, t.required);
          first ||= inputs[n];
        }
      }
      if (first) {
        say("");
        return first.focus();
      }
      Object.assign(body, { page_url: pageUrl(location.href), fill_ms: Date.now() - started });
      if (trap.value) body[cfg.honeypot] = trap.value;
      // Into the outbox before the request: a tab closed mid-request loses nothing (same key next time).
      const item = { id: newId(crypto), url: o.api + "widget/v1/" + kind + "s", body, k: kind, l: lang, t: Date.now() };
      box.put(item);
      wait(true);
      say(t.sending);
      const [oc, status, answer] = await send(item);
      finish(oc, status, answer, item.id);
    }
    const el = h(
      "form",
      { novalidate: true, onsubmit: submit },
      ...rows,
      h("div", { class: "hp", "aria-hidden": "true" }, trap),
      go,
      status,
    );
    return el;
  }

  /** The floating button and its panel (the message board), in a <crm-widget> at the end of <body>. */
  function fab(cfg, lang, o) {
    const t = cfg.texts[lang] || {};
    const host = h("crm-widget");
    const root = host.attachShadow({ mode: "open" });
    styled(root);
    let box2;
    let f;
    const button = h("button", { type: "button", class: "open", "aria-expanded": "false" }, t.button);
    const close = () => {
      box2.hidden = true;
      button.setAttribute("aria-expanded", "false");
      button.focus();
    };
    const open = () => {
      if (!box2) {
        f = form("message", cfg, lang, o, host);
        box2 = h(
          "div",
          {
            class: "panel",
            id: "crm-panel",
            role: "dialog",
            "aria-labelledby": "crm-title",
          },
          h(
            "div",
            { class: "head" },
            h("h2", { id: "crm-title" }, t.message_title),
            h("button", { type: "button", class: "x", "aria-label": t.close, onclick: close }, "×"),
          ),
          f,
        );
        button.before(box2);
        button.setAttribute("aria-controls", "crm-panel");
      }
      box2.hidden = false;
      button.setAttribute("aria-expanded", "true");
      f.elements[0].focus();
      return true;
    };
    button.addEventListener("click", () => (box2 && !box2.hidden ? close() : open()));
    // Esc anywhere in the widget (a field, the × or the button itself) closes the open panel.
    const esc = (e) => e.key == "Escape" && box2 && !box2.hidden && (e.stopPropagation(), close());
    root.append(h("div", { class: "w fab", lang, onkeydown: esc }, button));
    doc.body.append(host);
    return open;
  }

  /** A [data-crm-form="lead|message"] element: its own content (a no-JavaScript form, say) stays visible
   * through a <slot> until the config is in, then the widget's form replaces it. */
  function mount(el) {
    const kind = attr(el, "form");
    if (G.seen.has(el) || el.shadowRoot || !kind) return;
    G.seen.add(el);
    const o = opts(el);
    let root;
    try {
      root = el.attachShadow({ mode: "open" });
    } catch {
      return; // an element that cannot host a shadow root (a <form>, an <input>): leave it to the page
    }
    root.append(h("slot"));
    config(o).then((cfg) => {
      if (!cfg.forms[kind]) return;
      // The host page's own language (nearest lang attribute) before the browser's: a Chinese page gets a
      // Chinese form even in an English browser.
      const lang = pickLang(cfg.languages, [o.lang, el.closest("[lang]")?.lang, ...navigator.languages]);
      const t = cfg.texts[lang] || {};
      root.replaceChildren();
      styled(root);
      root.append(
        h(
          "div",
          { class: "w card", lang },
          h("h2", {}, kind == "lead" ? t.lead_title : t.message_title),
          form(kind, cfg, lang, o, el),
        ),
      );
    }, () => {});
  }

  function hit(pkid, count = 1) {
    const ids = pkids([pkid]);
    return config(base).then((cfg) => {
      if (!cfg.features.hits || !ids.length) return;
      for (const b of hitBodies(base.key, ids, count)) {
        const url = base.api + "widget/v1/hits";
        const body = JSON.stringify(b);
        // text/plain: the one type sendBeacon can send cross-origin without a preflight (the API accepts it)
        if (!navigator.sendBeacon?.(url, new Blob([body], { type: "text/plain" })))
          fetch(url, { method: "POST", body, keepalive: true }).catch(() => {});
      }
    });
  }

  const self = { open: () => (panel ? panel() : !(wantOpen = true)), hit, mount };
  G.w.push(self);
  addEventListener("online", flush);
  flush();
  config(base).then(
    (cfg) => {
      const lang = pickLang(cfg.languages, [base.lang, doc.documentElement.lang, ...navigator.languages]);
      if (cfg.forms.message && attr(script, "button") != "off") panel = fab(cfg, lang, base);
      doc.querySelectorAll("[data-crm-form]").forEach(mount);
      const views = [...doc.querySelectorAll("[data-crm-pkid]")].filter((e) => !G.views.has(e) && G.views.add(e));
      const ids = pkids(views.map((e) => attr(e, "pkid")));
      if (ids.length) hit(ids.join());
      emit(doc, "ready", { key: base.key, lang, features: cfg.features });
      if (wantOpen && panel) panel();
    },
    (status) => emit(doc, "error", { reason: "config", status }),
  );
}

const me = doc.currentScript || doc.querySelector("script[data-crm-key]");
if (me && !G.seen.has(me)) {
  G.seen.add(me);
  if (doc.body) loader(me);
  else addEventListener("DOMContentLoaded", () => loader(me));
}
