// Stand-ins the unit tests share: fetch, localStorage and an event recorder.

/** A fetch() stand-in: `answer(url, init)` returns {status, body} or throws; every call is recorded in `calls`. */
export function fakeFetch(answer) {
  const calls = [];
  globalThis.fetch = async (url, init = {}) => {
    calls.push({ url, init });
    const { status, body } = await answer(url, init);
    return { status, ok: status >= 200 && status < 300, json: async () => (body === undefined ? JSON.parse("") : body) };
  };
  return calls;
}

/** localStorage over a Map (`m`). */
export function memoryStorage() {
  const m = new Map();
  return {
    m,
    getItem: (k) => (m.has(k) ? m.get(k) : null),
    setItem: (k, v) => m.set(k, String(v)),
    removeItem: (k) => m.delete(k),
  };
}

/** Collect the `crm:<name>` events fired on document: returns the list, filled as they fire. */
export function recordEvents(...names) {
  const got = [];
  for (const n of names) document.addEventListener("crm:" + n, (e) => got.push([n, e.detail]));
  return got;
}
