// The widget's DOM events (crm:ready, crm:submitted, crm:queued, crm:error), mirrored to the page's dataLayer,
// so an integrator can follow every form from one listener on document or from a tag manager.
import { doc } from "./dom.js";

/** Fire `crm:<name>` on `target` (bubbling, so a listener on document hears every form), and push the same to
 * the page's dataLayer when it has one. Details carry ids and states, never what the visitor typed. */
export function emit(name, detail, target = doc) {
  target.dispatchEvent(new CustomEvent("crm:" + name, { bubbles: true, detail }));
  const dl = window.dataLayer;
  if (dl && dl.push) dl.push({ event: "crm:" + name, ...detail });
}
