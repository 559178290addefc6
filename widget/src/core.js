// Pure helpers of the widget: no DOM and no globals, so node's test runner covers them (widget/test/).

/** localStorage key of the outbox: submissions not yet answered by the server. */
export const OUTBOX = "crm_bridge:outbox";
/** An item that may already have reached the server is dropped after this long: the server keeps an
 * Idempotency-Key's first answer for 24 h (IDEMPOTENCY_TTL), and a re-send after that could store it twice. */
export const MAX_AGE = 20 * 3600e3;
/** At most this many items are kept (localStorage is small and shared with the page). */
export const MAX_ITEMS = 20;

/** The API base (ending in "/"): `attr` (data-crm-api) resolved against the script's own URL, else "/crm/" on
 * the script's origin, where the demo and the README mount crm_bridge.urls. */
export function apiBase(src, attr) {
  return new URL(attr || "/crm/", src).href.replace(/\/?$/, "/");
}

/** The first of `wanted` (language tags, best first) that `langs` offers, exactly or by primary subtag
 * ("zh-Hans-CN" → "zh-CN", "en-GB" → "en"); else the config's first language. */
export function pickLang(langs, wanted) {
  const low = langs.map((l) => l.toLowerCase());
  for (const w of wanted) {
    if (!w) continue;
    const x = w.toLowerCase();
    let i = low.indexOf(x);
    if (i < 0) i = low.findIndex((l) => l.split("-")[0] == x.split("-")[0]);
    if (i >= 0) return langs[i];
  }
  return langs[0];
}

/** What to do with an answer: "ok" (stored), "retry" (network error = 0, 429, 5xx: keep it and send it again
 * later), or "fail" (a definite refusal: 400 field errors, 403, 413, 415, 422). */
export function outcome(status) {
  return status >= 200 && status < 300 ? "ok" : !status || status == 429 || status >= 500 ? "retry" : "fail";
}

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

/** 32 random hex digits (an Idempotency-Key). getRandomValues, unlike randomUUID, works on plain http pages. */
export function newId(crypto) {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => (b | 256).toString(16).slice(1)).join("");
}

/** True when an outbox item must not be sent again: it may have reached the server (`m`) and the server has
 * forgotten its Idempotency-Key by now. An item that surely never arrived is kept until it is sent. */
export function expired(item, now) {
  return !!item.m && now - item.t > MAX_AGE;
}

/** The outbox over `storage` (localStorage), falling back to memory when storage is unusable (disabled,
 * full, or a private mode that throws). Items: {id, url, body, k: kind, l: language, t: created ms, m: maybe
 * delivered}. */
export function outbox(storage) {
  let mem = [];
  const read = () => {
    try {
      return JSON.parse(storage.getItem(OUTBOX)) || [];
    } catch {
      return mem;
    }
  };
  const write = (items) => {
    mem = items;
    try {
      if (items.length) storage.setItem(OUTBOX, JSON.stringify(items));
      else storage.removeItem(OUTBOX);
    } catch {
      // memory only: the item is still sent now and on the `online` event, just not after a reload
    }
  };
  return {
    all: read,
    put: (item) => write([...read().filter((i) => i.id != item.id), item].slice(-MAX_ITEMS)),
    drop: (id) => write(read().filter((i) => i.id != id)),
  };
}

/** Catalogue ids from data-crm-pkid values ("101" or "101, 102"): distinct, valid int32 > 0, in order. */
export function pkids(values) {
  const out = [];
  for (const v of values) {
    for (const s of String(v || "").split(/[\s,]+/)) {
      const n = +s;
      if (Number.isInteger(n) && n > 0 && n < 2 ** 31 && !out.includes(n)) out.push(n);
    }
  }
  return out;
}

/** Bodies for POST widget/v1/hits: one view per pkid, at most 50 per request (the API's limit). */
export function hitBodies(key, ids, count = 1) {
  const out = [];
  for (let i = 0; i < ids.length; i += 50) {
    const part = ids.slice(i, i + 50);
    out.push(part.length == 1 ? { key, pkid: part[0], count } : { key, hits: part.map((pkid) => ({ pkid, count })) });
  }
  return out;
}
