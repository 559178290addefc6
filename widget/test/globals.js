// Just enough of a browser for the widget's modules to load under node (imported first by the tests that need
// it): `window` is the global object, `document` an EventTarget that records nothing by itself, `navigator`
// a plain object each test can fill in. The DOM itself is tested in a real browser by tests/widget/.
globalThis.window = globalThis;
globalThis.document = new EventTarget();
// Node 21+ defines a read-only `navigator`: replace it, so tests can set languages and sendBeacon.
Object.defineProperty(globalThis, "navigator", { value: { languages: [] }, configurable: true, writable: true });
globalThis.location = { href: "https://shop.example/page" };
