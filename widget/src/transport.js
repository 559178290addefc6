// Getting data to the API: submissions through the outbox (one POST per item with its Idempotency-Key, kept
// for a re-send while the answer is "try again later"), and fire-and-forget beacons for view counts. Kept apart
// from the forms so that what is retried, and when, is decided in one place.
import { emit } from "./events.js";
import { expired, outbox } from "./outbox.js";
import { shared } from "./public-api.js";

let box; // this copy's outbox, from openOutbox()
let deferred; // the loader's storage work, which it runs after the button's first paint (loader.js, openStorage)

/** Hand over the storage work (the visit's first touch, openOutbox(), the first flush()), which the loader defers
 * past the button's first paint; a submission runs it first if it has not run yet (`f` must be idempotent). */
export const deferStorage = (f) => (deferred = f);
/** Before a submission is built: the deferred storage work, if any, so the outbox and the visit's first touch
 * are in place however soon a visitor submits. */
export const needStorage = () => deferred && deferred();
/** Outbox id → the callback of a form still showing that queued item, told when a re-send settles it. */
export const pending = {};

/** Keep the outbox in `storage` (localStorage); called once, before any submit() or flush(). */
export function openOutbox(storage) {
  box = outbox(storage);
}

/** What to do with an answer: "ok" (stored), "retry" (network error = 0, 429, 5xx: keep it and send it again
 * later), or "fail" (a definite refusal: 400 field errors, 403, 413, 415, 422). */
export function outcome(status) {
  return status >= 200 && status < 300 ? "ok" : !status || status == 429 || status >= 500 ? "retry" : "fail";
}

/** POST outbox `item` once; resolves to [outcome, status, body]. A "retry" keeps the item, anything else drops it.
 * While it is on the wire its id is in the page-wide `shared.busy`, so no other loader sends it too. */
async function send(item) {
  let status = 0;
  let body = {};
  shared.busy.add(item.id);
  try {
    const r = await fetch(item.url, {
      method: "POST",
      // Accept-Language: field errors come back in the language the form is shown in (CORS-safelisted).
      headers: { "Content-Type": "application/json", "Idempotency-Key": item.id, "Accept-Language": item.l },
      body: JSON.stringify(item.body),
    });
    status = r.status;
    body = await r.json().catch(() => ({}));
  } catch {
    // network error or CORS refusal: status 0, kept for later
  }
  shared.busy.delete(item.id);
  const o = outcome(status);
  if (o == "retry") {
    // Anything but a 429 may have been stored before the answer was lost: remember that (see expired()).
    item.m ||= status != 429;
    box.put(item);
  } else box.drop(item.id);
  return [o, status, body];
}

/** Send a new submission: into the outbox before the request, so a tab closed mid-request loses nothing (the
 * same key is sent next time). Resolves like send(). */
export const submit = (item) => (box.put(item), send(item));

/** Send what the outbox holds (from this or an earlier page), oldest first, each with its own key. */
export async function flush() {
  for (const item of box.all()) {
    if (shared.busy.has(item.id)) continue;
    if (expired(item, Date.now())) {
      box.drop(item.id);
      emit("error", { kind: item.k, id: item.id, reason: "expired" });
      continue;
    }
    const [o, status, body] = await send(item);
    if (o == "retry") break; // still unreachable: try again on the next load or `online`
    const done = pending[item.id];
    delete pending[item.id];
    if (done) done(o, status, body);
    else emit(o == "ok" ? "submitted" : "error", { kind: item.k, id: body.id, status, resent: true });
  }
}

/** POST `body` (a JSON string) to `url` without waiting for an answer, surviving the page's unload. text/plain:
 * the one type sendBeacon can send cross-origin without a preflight (the API accepts it). `a && a()`, not `?.()`:
 * see public-api.js. */
export function beacon(url, body) {
  if (!(navigator.sendBeacon && navigator.sendBeacon(url, new Blob([body], { type: "text/plain" }))))
    fetch(url, { method: "POST", body, keepalive: true }).catch(() => {});
}
