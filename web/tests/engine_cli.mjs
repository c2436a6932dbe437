// node tests/engine_cli.mjs AVATAR.webavatar FRAMES.json OUT_DIR
// Runs the player's engine (src/engine.js) on each {params, camera} of FRAMES.json and writes
// what it computed as raw little-endian arrays OUT_DIR/<frame>_<name>.bin plus OUT_DIR/index.json
// (names, dtypes, lengths, the per-stage ms): tests/test_web_player.py compares them with the
// Python engine.

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { AvatarEngine } from "../src/engine.js";
import { readWebAvatar } from "../src/format.js";

const [avatarPath, framesPath, outDir] = process.argv.slice(2);
const bytes = readFileSync(avatarPath);
const avatar = readWebAvatar(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength), avatarPath);
const engine = new AvatarEngine(avatar);
const frames = JSON.parse(readFileSync(framesPath, "utf8"));
const index = [];
frames.forEach(({ params, camera }, f) => {
  const out = engine.frame(params, camera);
  const arrays = {
    verts: out.verts, means: out.world.means, quats: out.world.quats, scales: out.world.scales,
    opacities: out.world.opacities, colours: out.colours, words: out.words, order: out.order,
  };
  if (out.region) arrays.region = out.region;
  const entry = { count: out.count, ms: out.ms, arrays: {} };
  for (const [name, array] of Object.entries(arrays)) {
    const file = `${f}_${name}.bin`;
    writeFileSync(join(outDir, file), Buffer.from(array.buffer, array.byteOffset, array.byteLength));
    entry.arrays[name] = { file, dtype: array.constructor.name, length: array.length };
  }
  index.push(entry);
});
writeFileSync(join(outDir, "index.json"), JSON.stringify(index));
