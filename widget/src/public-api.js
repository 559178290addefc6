// window.CRMWidget: the page's public API (open, hit, mount) and the state every loader on the page shares.
// Several <script> tags may each load the widget; the first one creates this object and the others join it, so
// two loaders never mount one element, count one view twice, or send one outbox item at once.
// The short property names (`w`, `seen`, `views`, `busy`) are shared with any other copy of widget.js on the page
// (an older, cached one, say): keep them as they are.

export const shared = (window.CRMWidget ||= {
  w: [], // the loaders, in the order they started: { open(), hit(pkid, count), mount(el) }
  seen: new WeakSet(), // script tags and [data-crm-form] elements taken by a loader
  views: new WeakSet(), // [data-crm-pkid] elements already counted
  busy: new Set(), // ids of outbox items whose request is on the wire
  // `a && a.f()`, not `a?.f()`: for Chrome 90 esbuild spells `?.` out at length (it costs bytes).
  /** Open the first floating panel; true if there is one. */
  open: () => shared.w.some((w) => w.open()),
  /** Count a view of catalogue item `pkid` (count 1–100) with the first loader's key. */
  hit: (pkid, count) => shared.w[0] && shared.w[0].hit(pkid, count),
  /** Mount a [data-crm-form] element added after the page loaded. */
  mount: (el) => shared.w[0] && shared.w[0].mount(el),
});
