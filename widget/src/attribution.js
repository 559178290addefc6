// Where the visit came from (docs/attribution.md): the first page of the visit that ran the widget
// (its URL, document.referrer, utm_* and paid-search click ids) is kept in sessionStorage, so the pages the
// visitor goes on to do not overwrite it (first touch wins, per tab), and sent with every write as `source`.
// The page's URL and referrer are taken as soon as the widget's script runs on a page; storage is touched later.
/** sessionStorage key of the visit's first touch. */
export const KEY = "crm_bridge.source";
/** Query parameters kept: campaign tags, then click ids (Baidu, 360, Ocean Engine) that conversion tracking
 * sends back. The API accepts exactly these keys plus landing and referrer. */
export const PARAMS = [
  "utm_source",
  "utm_medium",
  "utm_campaign",
  "utm_term",
  "utm_content",
  "bd_vid",
  "qhclickid",
  "clickid",
];

/** `v` as the API accepts it: a string without control characters, at most `max` UTF-16 units (so at most
 * `max` characters) and not ending in half a surrogate pair; anything else "". Bounded here rather than
 * refused there: a lead must never fail over where it came from. */
const bounded = (v, max) =>
  typeof v == "string"
    ? v
        .replace(/[\0-\x1f\x7f]/g, "")
        .trim()
        .slice(0, max)
        .replace(/[\ud800-\udbff]$/, "")
    : "";

/** The known keys of `o` with usable values (landing and referrer only as http(s) URLs), the rest left out. */
export function clean(o) {
  const s = {};
  if (!o || typeof o != "object") return s;
  for (const k of ["landing", "referrer"]) {
    const u = bounded(o[k], 2000);
    if (/^https?:\/\//i.test(u)) s[k] = u;
  }
  for (const k of PARAMS) {
    const v = bounded(o[k], 200);
    if (v) s[k] = v;
  }
  return s;
}

/** What landing on `href` from `referrer` tells: {landing, referrer, utm_*, click ids}, present keys only. */
export function touch(href, referrer) {
  let q = {};
  try {
    q = Object.fromEntries(new URL(href).searchParams);
  } catch {
    // not a URL we can read: no parameters
  }
  return clean({ ...q, landing: href, referrer });
}

/** The visit's first touch: the one `storage` (sessionStorage) already holds for this tab, else this page's,
 * stored. Any storage failure (blocked, full, absent) leaves this page's touch in memory, never an error. */
export function firstTouch(storage, href, referrer) {
  try {
    const kept = storage.getItem(KEY);
    if (kept) return clean(JSON.parse(kept));
  } catch {
    // unreadable or not JSON: start afresh
  }
  const s = touch(href, referrer);
  try {
    storage.setItem(KEY, JSON.stringify(s));
  } catch {
    // memory only: this page's submissions still carry it
  }
  return s;
}

let visit = {};
/** Record this page's touch (`href` and `referrer` as the loader saw them when the script ran), or read the
 * tab's first one; called by the loader once the widget is up, not at module load: a fresh tab's first
 * sessionStorage access is a synchronous trip to the browser process (3-30 ms measured), which would hold up
 * the config request or the button (loader.js, openStorage). */
export function remember(href = location.href, referrer = document.referrer) {
  try {
    // Reading window.sessionStorage itself throws where storage is blocked: inside the try.
    visit = firstTouch(window.sessionStorage, href, referrer);
  } catch {
    visit = touch(href, referrer);
  }
}

/** The `source` object for a write (a copy), or undefined when there is nothing to tell. */
export const source = () => (Object.keys(visit).length ? { ...visit } : undefined);
