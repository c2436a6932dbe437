// node tests/layout_cli.mjs AVATAR.webavatar
// Reads a .webavatar file as the player's worker does (src/format.js) and lays it out for the GPU
// (src/gpu/layout.js); prints the layout's sizes as JSON, or the reader's error (exit 1):
// tests/test_web_player.py checks the errors.

import { readFileSync } from "node:fs";

import { readWebAvatar } from "../src/format.js";
import { gpuLayout } from "../src/gpu/layout.js";

const [path] = process.argv.slice(2);
const bytes = readFileSync(path);
const avatar = readWebAvatar(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength), path);
const { arrays, meta } = gpuLayout(avatar);
console.log(JSON.stringify({ meta: { ...meta, shLow: undefined, shStep: undefined },
  bytes: Object.fromEntries(Object.entries(arrays).map(([name, a]) => [name, a.byteLength])) }));
