// node bench/engine.mjs AVATAR.webavatar [--frames N] [--size S]
// Milliseconds per stage of the player's engine (what its worker does per frame) in Node, over
// N frames with changing expressions and an orbiting camera: a table of medians.

import { readFileSync } from "node:fs";

import { framingDistance, orbit } from "../src/camera.js";
import { AvatarEngine } from "../src/engine.js";
import { readWebAvatar } from "../src/format.js";
import { zeroParams } from "../src/params.js";

const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const frames = option("--frames", 30), size = option("--size", 512);
const bytes = readFileSync(args[0]);
let started = performance.now();
const avatar = readWebAvatar(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength), args[0]);
const decodeMs = performance.now() - started;
const engine = new AvatarEngine(avatar);
// framing of the template (the player's manifest carries the exact one)
const t = avatar.rig.template, lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity];
for (let i = 0; i < t.length; ++i) { lo[i % 3] = Math.min(lo[i % 3], t[i]); hi[i % 3] = Math.max(hi[i % 3], t[i]); }
const centre = lo.map((v, k) => (v + hi[k]) / 2), extent = Math.max(...hi.map((v, k) => v - lo[k]));
const samples = {};
let reuse = {};
for (let f = 0; f < frames + 5; ++f) {
  const params = zeroParams(avatar.rig.numExpr);
  params.expr = params.expr.map((_, e) => 0.5 + 0.5 * Math.sin(0.3 * f + e));
  params.jaw = [0.1 + 0.1 * Math.sin(0.2 * f), 0, 0];
  const camera = orbit(20 * Math.sin(0.1 * f), 5, framingDistance(extent), centre, size, size);
  started = performance.now();
  const out = engine.frame(params, camera, reuse);
  const total = performance.now() - started;
  reuse = { words: out.words, order: out.order, region: out.region };
  if (f < 5) continue; // the JIT warms up
  for (const [stage, ms] of Object.entries({ ...out.ms, total })) (samples[stage] ||= []).push(ms);
}
const median = (v) => v.slice().sort((a, b) => a - b)[Math.floor(v.length / 2)];
console.log(`${args[0]}: ${avatar.gaussians.count} Gaussians, ${avatar.rig.numVertices} vertices, decoded in ${decodeMs.toFixed(0)} ms`);
console.log(`median ms over ${frames} frames at ${size} px (Node ${process.version}):`);
console.log(Object.entries(samples).map(([stage, v]) => `${stage.padStart(7)} ${median(v).toFixed(2)}`).join("\n"));
