// Build the widget: widget/src → crm_bridge/static/crm_bridge/widget.js (committed, so pip users need no Node).
// `node build.mjs [outfile]`. Reproducible: esbuild is pinned in package-lock.json and given no timestamps or
// paths, so the same sources give the same bytes (tests/widget/test_build.py checks the committed file).
import { build, transform } from "esbuild";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const outfile = process.argv[2] || here("../crm_bridge/static/crm_bridge/widget.js");

// The stylesheet, minified, becomes a string constant (the widget adopts it in each shadow root).
const cssText = {
  name: "css-text",
  setup(b) {
    b.onLoad({ filter: /\.css$/ }, async (args) => {
      const { code } = await transform(await readFile(args.path, "utf8"), { loader: "css", minify: true });
      return { contents: `export default ${JSON.stringify(code.trim())};`, loader: "js" };
    });
  },
};

await build({
  entryPoints: [here("src/index.js")],
  outfile,
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020", "chrome90", "firefox90", "safari15"],
  legalComments: "none",
  banner: { js: "/*! crm_bridge widget | MIT */" },
  plugins: [cssText],
  logLevel: "warning",
});
