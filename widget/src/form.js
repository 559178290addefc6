// One form (a lead or a message) built from the site's config: its fields and labels, required-field checks
// and the server's field errors shown beside each field, a status line read out by screen readers, the
// honeypot field and the fill time the API checks against bots, and the site's privacy notice next to the submit
// button with, where the site requires consent, an unticked checkbox that must be ticked to send (PIPL; the
// consent and the notice version go with the body). Sending is transport.js's business.
import { h } from "./dom.js";
import { emit } from "./events.js";
import { textsFor } from "./i18n.js";
import { source } from "./attribution.js";
import { newId } from "./outbox.js";
import { needStorage, pending, submit as send } from "./transport.js";

/** The autocomplete token for the config's field names (others: "off"), so browsers can fill in contacts. */
const AUTOCOMPLETE = { name: "name", tel: "tel", email: "email", company: "organization" };

/** Split a 400 body in DRF's shape ({field: [messages]}) into [{field: text} for `names`, [other texts]]. */
export function splitErrors(body, names) {
  const fields = {};
  const other = [];
  for (const [k, v] of Object.entries(body && typeof body == "object" ? body : {})) {
    const text = [].concat(v).map((m) => (typeof m == "string" ? m : JSON.stringify(m))).join(" ");
    if (names.includes(k)) fields[k] = text;
    else other.push(text);
  }
  return [fields, other];
}

/** The page's URL as the API accepts it (http(s), at most 2000 characters), else "" rather than a 400 the
 * visitor could not fix. */
export function pageUrl(href) {
  return /^https?:\/\//.test(href) && href.length <= 2000 ? href : "";
}

/** A <form> for `kind` ("lead" or "message") from the config `cfg`, in `lang`, posting with key and API base
 * `o`; `host` receives its crm:submitted, crm:queued and crm:error events. */
export function buildForm(kind, cfg, lang, o, host) {
  const t = textsFor(cfg, lang);
  const fields = cfg.forms[kind];
  const pv = cfg.privacy || { notice: {}, required: {} }; // an older server: no notice, no consent
  const ask = pv.required[kind];
  const names = [...fields.map((f) => f.name), "consent", "version"];
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
    const area = f.type == "textarea";
    const input = (inputs[f.name] = h(area ? "textarea" : "input", {
      id,
      name: f.name,
      type: area ? null : f.type,
      maxlength: f.max_length,
      required: f.required,
      autocomplete: AUTOCOMPLETE[f.name] || "off",
      rows: area ? 3 : null,
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
  // The honeypot: off-screen, out of the tab order and hidden from assistive tech, so only a bot fills it.
  const trap = h("input", { name: cfg.honeypot, tabindex: -1, autocomplete: "off" });
  const go = h("button", { type: "submit", class: "go" }, t.submit);
  // The notice, then (if required) a real checkbox with its label; never pre-ticked. Its error is read out by
  // the status line (aria-live) and focus moves to the box.
  const note = h("p", { class: "pn", id: "crm-" + kind + "-pn" }, pv.notice[lang] || "");
  const box = (inputs.consent = inputs.version =
    ask && h("input", { type: "checkbox", id: "crm-consent", name: "consent", "aria-describedby": note.id }));
  /** Show `text` as field `name`'s error (none: clear it); the consent box's goes to the status line. */
  const mark = (name, text) => {
    if (errs[name]) errs[name].textContent = text || "";
    else if (text) say(text, "bad");
    if (inputs[name]) inputs[name][text ? "setAttribute" : "removeAttribute"]("aria-invalid", "true");
  };
  // aria-disabled, not disabled: disabling the focused button would drop keyboard focus to <body>.
  const wait = (on) => go.setAttribute("aria-disabled", (busy = on));
  /** Show an answer: stored, queued for a re-send (then the outbox calls back when it settles), or refused. */
  const finish = (oc, status, body, id) => {
    wait(false);
    if (oc == "ok") {
      el.reset();
      started = Date.now();
      say(t.success, "ok");
      emit("submitted", { kind, id: body.id, status: body.status }, host);
      return;
    }
    if (oc == "retry") {
      el.reset();
      started = Date.now();
      say(t.offline, "q");
      pending[id] = finish;
      emit("queued", { kind, id, status }, host);
      return;
    }
    const [byField, other] = splitErrors(status == 400 ? body : {}, names);
    let first;
    say(other.join(" ") || (Object.keys(byField).length ? "" : t.error), "bad");
    for (const n in byField) {
      mark(n, byField[n]);
      first ||= inputs[n];
    }
    if (first) first.focus();
    emit("error", { kind, status, errors: status == 400 ? body : undefined }, host);
  };
  async function submit(ev) {
    ev.preventDefault();
    if (busy) return;
    needStorage(); // source() and the outbox below (the loader runs it after the first paint, unless this is sooner)
    const body = { key: o.key };
    let first;
    for (const { name: n, required } of fields) {
      mark(n);
      body[n] = inputs[n].value;
      if (required && !body[n].trim()) {
        mark(n, t.required);
        first ||= inputs[n];
      }
    }
    if (box) {
      mark("consent");
      if (!box.checked && !first) {
        mark("consent", t.consent_error);
        return box.focus();
      }
      Object.assign(body, { consent: true, version: pv.version });
    }
    if (first) {
      say();
      return first.focus();
    }
    // fill_ms: the API refuses a form filled faster than a person could (MIN_FILL_SECONDS).
    // source: the visit's first touch (attribution.js), the same for every write of this tab's visit.
    Object.assign(body, { page_url: pageUrl(location.href), fill_ms: Date.now() - started, source: source() });
    if (trap.value) body[cfg.honeypot] = trap.value;
    const item = { id: newId(crypto), url: o.api + "widget/v1/" + kind + "s", body, k: kind, l: lang, t: Date.now() };
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
    note,
    box ? h("div", { class: "cb" }, box, h("label", { for: box.id }, t.consent)) : "",
    go,
    status,
  );
  return el;
}
