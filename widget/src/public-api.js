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
  /** @method CRMWidget.open()
   * @returns true if there is a floating panel (false before the config is in: it opens once it arrives)
   * Open the floating message-board panel and focus its first field.
   */
  /** Open the first floating panel; true if there is one. */
  open: () => shared.w.some((w) => w.open()),
  /** @method CRMWidget.hit(pkid, count = 1)
   * @returns a promise, settled once the beacons are handed to the browser
   * Count `count` (1–100) views of catalogue item(s) `pkid` (a number, or "101,102"), with the first
   * script's key, when the site's hits feature is on. For views data-crm-pkid cannot mark (a SPA's routes).
   */
  /** Count a view of catalogue item `pkid` (count 1–100) with the first loader's key. */
  hit: (pkid, count) => shared.w[0] && shared.w[0].hit(pkid, count),
  /** @method CRMWidget.mount(element)
   * @returns undefined
   * Render the form of a [data-crm-form] element added after the page loaded (an element already mounted
   * is left alone).
   */
  /** Mount a [data-crm-form] element added after the page loaded. */
  mount: (el) => shared.w[0] && shared.w[0].mount(el),
});
