// The widget's DOM events (crm:ready, crm:submitted, crm:queued, crm:error), mirrored to the page's dataLayer,
// so an integrator can follow every form from one listener on document or from a tag manager.
import { doc } from "./dom.js";

/** @event crm:ready
 * @target document
 * @detail {key, lang, features}: the script's key, the language chosen, the site's enabled features
 * One per script tag, once the site's config is in and the widget has started.
 */
/** @event crm:submitted
 * @target the form's [data-crm-form] element, the floating panel's <crm-widget>, or document for a re-send
 * @detail {kind, id, status, resent?}: "lead" or "message", the submission's id and status (as
 *   GET widget/v1/submissions/{id} answers); resent: true when the outbox re-sent it from an earlier page
 * The server accepted a submission (202).
 */
/** @event crm:queued
 * @target the form's [data-crm-form] element or the floating panel's <crm-widget>
 * @detail {kind, id, status}: the outbox item's id (its Idempotency-Key), the HTTP status (0: no network)
 * The server could not be reached or answered 429/5xx: the submission is kept in localStorage and sent again
 * (now, when the browser is back online, and on the next page load); crm:submitted or crm:error follows.
 */
/** @event crm:error
 * @target the form's element, the panel's <crm-widget>, or document (config and re-sends)
 * @detail {kind, status, errors?} for a refused submission (errors: the 400 body, {field: [messages]});
 *   {reason: "config", status} when the site's config could not be loaded (an unknown key, an origin not
 *   allowed); {kind, id, reason: "expired"} when an outbox item was dropped unsent after 20 hours
 * Something failed for good (a form shows the visitor why).
 */
/** Fire `crm:<name>` on `target` (bubbling, so a listener on document hears every form), and push the same to
 * the page's dataLayer when it has one. Details carry ids and states, never what the visitor typed. */
export function emit(name, detail, target = doc) {
  target.dispatchEvent(new CustomEvent("crm:" + name, { bubbles: true, detail }));
  const dl = window.dataLayer;
  if (dl && dl.push) dl.push({ event: "crm:" + name, ...detail });
}
