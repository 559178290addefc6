// View counts for catalogue items (README.md, "The widget"): data-crm-pkid on elements of the page (the loader finds them),
// or CRMWidget.hit().
// Sent as beacons, in batches the API accepts, and only when the site's config enables hits.
import { base, config } from "./settings.js";
import { beacon } from "./transport.js";

/** @attribute data-crm-pkid
 * @on any element
 * A catalogue item's id (an int32 > 0), or several separated by commas or spaces ("101, 102"): once per page
 * load each is counted as one view (POST widget/v1/hits, as beacons), when the site's hits feature is on.
 * Invalid ids are skipped. Elements added later are counted by CRMWidget.hit(pkid).
 */
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

/** Count a view of catalogue item(s) `pkid` ("101" or "101,102"), `count` times each (1–100), with the script's
 * key. The promise settles once the beacons are handed to the browser (or there was nothing to send). */
export function hit(pkid, count = 1) {
  const ids = pkids([pkid]);
  return config(base).then((cfg) => {
    if (!cfg.features.hits || !ids.length) return;
    for (const b of hitBodies(base.key, ids, count)) beacon(base.api + "widget/v1/hits", JSON.stringify(b));
  });
}
