// Builds the web player into the Python package, where `avatar export --web` copies it from:
// src/main.js and everything it imports -> ../avatar/web/player/player.js (one script, no
// dependencies at run time), src/index.html beside it. `node build.mjs --check` builds into
// memory and fails when the committed files differ (the tests run it).

import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "avatar", "web", "player");
const check = process.argv.includes("--check");

const result = await build({
  absWorkingDir: here, // the paths in the bundle's comments do not depend on where it is built from
  entryPoints: [join(here, "src", "main.js")],
  bundle: true,
  format: "iife",
  target: "es2020",
  write: false,
  legalComments: "none",
  banner: { js: "// The avatar web player, built from web/src by `npm run build` (esbuild): edit the sources, not this file." },
});
const files = {
  "player.js": result.outputFiles[0].text,
  "index.html": readFileSync(join(here, "src", "index.html"), "utf8"),
};
let stale = [];
for (const [name, text] of Object.entries(files)) {
  const path = join(out, name);
  if (check) {
    let committed = null;
    try { committed = readFileSync(path, "utf8"); } catch { committed = null; }
    if (committed !== text) stale.push(path);
  } else {
    writeFileSync(path, text);
  }
}
if (stale.length) {
  console.error(`out of date (run \`npm run build\` in web/): ${stale.join(", ")}`);
  process.exit(1);
}
