// The widget's stylesheet (widget.css, inlined by the build as a string) in each shadow root: adopted as one
// constructable stylesheet, so a strict CSP (no 'unsafe-inline' styles) and the host page's CSS leave it alone.
import { h } from "./dom.js";
import { nonce } from "./settings.js";
import CSS from "./widget.css";

let sheet; // one constructable stylesheet, adopted by each shadow root of this copy of the widget

/** Style a shadow root with the widget's stylesheet; where constructable stylesheets are missing, a <style>
 * carrying the loading script's nonce (allowed by a CSP that allows the script). */
export function styled(root) {
  try {
    if (!sheet) (sheet = new CSSStyleSheet()).replaceSync(CSS);
    root.adoptedStyleSheets = [sheet];
  } catch {
    root.append(h("style", { nonce }, CSS));
  }
}
