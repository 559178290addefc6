// Building elements without HTML strings: nothing a strict CSP blocks, and hostile texts (labels from the config,
// server messages) stay text.

/** The page's document (one short name for the minifier to keep short). */
export const doc = document;

/** Create an element: attributes (null/false skipped, true → ""), "on…" keys as listeners, then children. */
export function h(tag, attrs, ...kids) {
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
