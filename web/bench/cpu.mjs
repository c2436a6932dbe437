// node bench/cpu.mjs AVATAR.webavatar [--frames N] [--size S]
// What the player's CPU still does per frame, in Node (the GPU's passes cannot run here): the
// page's inputs (frame_inputs.js: expression weights, the joints' transforms, the offsets'
// factors, the viewpoint, the cut's lines) and the worker's depth sort (sort.js) of every
// Gaussian's depth, over N frames with changing expressions and an orbiting camera; plus the
// one-off decode and GPU layout. A table of medians.

import { readFileSync } from "node:fs";

import { framingDistance, orbit } from "../src/camera.js";
import { readWebAvatar } from "../src/format.js";
import { FrameInputs } from "../src/frame_inputs.js";
import { gpuLayout } from "../src/gpu/layout.js";
import { zeroParams } from "../src/params.js";
import { DepthSorter } from "../src/sort.js";

const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const frames = option("--frames", 30), size = option("--size", 512);
const bytes = readFileSync(args[0]);
let started = performance.now();
const avatar = readWebAvatar(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength), args[0]);
const decodeMs = performance.now() - started;
started = performance.now();
const layout = gpuLayout(avatar);
const layoutMs = performance.now() - started;
const inputs = new FrameInputs(avatar);
const sorter = new DepthSorter(layout.arrays.positions);
const order = new Uint32Array(avatar.gaussians.count);
// every place a depth (a head's range of depths; a few culled), as the GPU would read them back
const keys = new Uint32Array(layout.meta.places).fill(0xffffffff);
const depths = new Float32Array(1), bits = new Uint32Array(depths.buffer);
// framing of the template (the player's manifest carries the exact one)
const t = avatar.rig.template, lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity];
for (let i = 0; i < t.length; ++i) { lo[i % 3] = Math.min(lo[i % 3], t[i]); hi[i % 3] = Math.max(hi[i % 3], t[i]); }
const centre = lo.map((v, k) => (v + hi[k]) / 2), extent = Math.max(...hi.map((v, k) => v - lo[k]));
const samples = { inputs: [], sort: [] };
for (let f = 0; f < frames + 5; ++f) {
  const params = zeroParams(avatar.rig.numExpr);
  params.expr = params.expr.map((_, e) => 0.5 + 0.5 * Math.sin(0.3 * f + e));
  params.jaw = [0.1 + 0.1 * Math.sin(0.2 * f), 0, 0];
  const camera = orbit(20 * Math.sin(0.1 * f), 5, framingDistance(extent), centre, size, size);
  for (const place of layout.arrays.positions) {
    depths[0] = 0.6 + 0.2 * Math.random();
    keys[place] = Math.random() < 0.02 ? 0xffffffff : bits[0];
  }
  started = performance.now();
  inputs.frame(params, camera);
  const inputsMs = performance.now() - started;
  started = performance.now();
  sorter.drawOrder(keys, order);
  const sortMs = performance.now() - started;
  if (f < 5) continue; // the JIT warms up
  samples.inputs.push(inputsMs);
  samples.sort.push(sortMs);
}
const median = (v) => v.slice().sort((a, b) => a - b)[Math.floor(v.length / 2)];
console.log(`${args[0]}: ${avatar.gaussians.count} Gaussians, ${avatar.rig.numVertices} vertices; decoded in `
  + `${decodeMs.toFixed(0)} ms, laid out for the GPU in ${layoutMs.toFixed(0)} ms`);
console.log(`median ms per frame over ${frames} frames at ${size} px (Node ${process.version}):`);
console.log(`  page (inputs) ${median(samples.inputs).toFixed(3)}\n  worker (sort) ${median(samples.sort).toFixed(2)}`);
