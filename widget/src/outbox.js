// The outbox: every submission is written to localStorage before its request and removed once the server has
// answered for good, so a tab closed mid-request, an offline visitor or a 5xx loses nothing. Each item keeps the
// Idempotency-Key it was first sent with, so a re-send (from this page or a later one) is never stored twice.
// No DOM and no globals: node's test runner covers it (widget/test/outbox.test.js).

/** localStorage key of the outbox: submissions not yet answered by the server. */
export const OUTBOX = "crm_bridge:outbox";
/** An item that may already have reached the server is dropped after this long: the server keeps an
 * Idempotency-Key's first answer for 24 h (IDEMPOTENCY_TTL), and a re-send after that could store it twice. */
export const MAX_AGE = 20 * 3600e3;
/** At most this many items are kept (localStorage is small and shared with the page). */
export const MAX_ITEMS = 20;

/** 32 random hex digits (an Idempotency-Key). getRandomValues, unlike randomUUID, works on plain http pages. */
export function newId(crypto) {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => (b | 256).toString(16).slice(1)).join("");
}

/** True when an outbox item must not be sent again: it may have reached the server (`m`) and the server has
 * forgotten its Idempotency-Key by now. An item that surely never arrived is kept until it is sent. */
export function expired(item, now) {
  return !!item.m && now - item.t > MAX_AGE;
}

/** `w.localStorage`, or undefined where merely reading it throws (storage blocked for the site, a sandboxed
 * frame): the outbox then keeps items in memory, instead of the whole widget failing to start. */
export function storage(w) {
  try {
    return w.localStorage;
  } catch {}
}

/** The outbox over `storage` (localStorage), falling back to memory when storage is unusable (disabled,
 * full, or a private mode that throws). Items: {id, url, body, k: kind, l: language, t: created ms, m: maybe
 * delivered}; these short names are stored, and read back by later versions of the widget: keep them. */
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
