// The floating button and its panel (the message board), in a <crm-widget> element at the end of <body>: a
// non-modal dialog that the button, the close button or Esc toggles, returning focus to the button on close.
// The message form inside is built on first open, so a page whose visitor never opens it builds none.
import { doc, h } from "./dom.js";
import { buildForm } from "./form.js";
import { textsFor } from "./i18n.js";
import { base } from "./settings.js";
import { styled } from "./styles.js";

/** Add the floating button for config `cfg` in `lang`, posting with the script's key; returns `open()`, which
 * opens the panel, focuses its first field and returns true. */
export function floatingPanel(cfg, lang) {
  const t = textsFor(cfg, lang);
  const host = h("crm-widget");
  const root = host.attachShadow({ mode: "open" });
  styled(root);
  let panel;
  let form;
  const button = h("button", { type: "button", class: "open", "aria-expanded": "false" }, t.button);
  const close = () => {
    panel.hidden = true;
    button.setAttribute("aria-expanded", "false");
    button.focus();
  };
  const open = () => {
    if (!panel) {
      form = buildForm("message", cfg, lang, base, host);
      panel = h(
        "div",
        {
          class: "panel",
          id: "crm-panel",
          role: "dialog",
          "aria-labelledby": "crm-title",
        },
        h(
          "div",
          { class: "head" },
          h("h2", { id: "crm-title" }, t.message_title),
          // Named by its label; the glyph is decoration, hidden from assistive tech (the name contains all the
          // visible text that assistive tech sees: WCAG 2.5.3, axe's label-content-name-mismatch).
          h(
            "button",
            { type: "button", class: "x", "aria-label": t.close, onclick: close },
            h("span", { "aria-hidden": "true" }, "×"),
          ),
        ),
        form,
      );
      button.before(panel);
      button.setAttribute("aria-controls", "crm-panel");
    }
    panel.hidden = false;
    button.setAttribute("aria-expanded", "true");
    form.elements[0].focus();
    return true;
  };
  button.addEventListener("click", () => (panel && !panel.hidden ? close() : open()));
  // Esc anywhere in the widget (a field, the × or the button itself) closes the open panel.
  const esc = (e) => e.key == "Escape" && panel && !panel.hidden && (e.stopPropagation(), close());
  root.append(h("div", { class: "w fab", lang, onkeydown: esc }, button));
  doc.body.append(host);
  return open;
}
