// Which language a form speaks, and its texts. The config lists the site's languages and carries every text
// (labels, buttons, messages) per language; the widget ships none of its own, so the site's admin owns them.

/** The first of `wanted` (language tags, best first) that `langs` offers, exactly or by primary subtag
 * ("zh-Hans-CN" → "zh-CN", "en-GB" → "en"); else the config's first language. */
export function pickLang(langs, wanted) {
  const low = langs.map((l) => l.toLowerCase());
  for (const w of wanted) {
    if (!w) continue;
    const x = w.toLowerCase();
    let i = low.indexOf(x);
    if (i < 0) i = low.findIndex((l) => l.split("-")[0] == x.split("-")[0]);
    if (i >= 0) return langs[i];
  }
  return langs[0];
}

/** The config's language for `attr` (a data-crm-lang attribute), else `page` (the host page's own lang), else the
 * browser's: a Chinese page gets a Chinese form even in an English browser. */
export const langFor = (cfg, attr, page) => pickLang(cfg.languages, [attr, page, ...navigator.languages]);

/** The config's texts in `lang` ({} when it has none: the widget then shows what it can). */
export const textsFor = (cfg, lang) => cfg.texts[lang] || {};
