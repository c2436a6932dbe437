// float16 packing (splats.js) against the decoder (format.js), over every bit pattern and at
// rounding midpoints; the draw order of the packer.
import assert from "node:assert/strict";
import { test } from "node:test";

import { halfToFloat } from "../src/format.js";
import { floatToHalf, SplatPacker } from "../src/splats.js";

test("every float16 value packs back to its own bits", () => {
  const all = new Uint16Array(65536).map((_, i) => i);
  const values = halfToFloat(all);
  for (let h = 0; h < 65536; ++h) {
    if (Number.isNaN(values[h])) continue;
    assert.equal(floatToHalf(values[h]), h, `bits ${h} (${values[h]})`);
  }
});

test("values between two float16s round to the nearer, ties to even", () => {
  const halves = halfToFloat(new Uint16Array([0x3c00, 0x3c01, 0x3c02, 0x0001, 0x0002]));
  assert.equal(floatToHalf(halves[0] + 0.25 * (halves[1] - halves[0])), 0x3c00);
  assert.equal(floatToHalf(halves[0] + 0.75 * (halves[1] - halves[0])), 0x3c01);
  assert.equal(floatToHalf(0.5 * (halves[0] + halves[1])), 0x3c00); // tie: even
  assert.equal(floatToHalf(0.5 * (halves[1] + halves[2])), 0x3c02);
  assert.equal(floatToHalf(0.5 * (halves[3] + halves[4])), 0x0002); // subnormal tie: even
  assert.equal(floatToHalf(1e6), 0x7c00);
  assert.equal(floatToHalf(-1e-9), 0x8000);
});

test("the packer sorts visible Gaussians front to back, ties by index, and culls", () => {
  const world = { count: 5, means: new Float32Array([0, 0, 3, 0, 0, 1, 0, 0, 2, 0, 0, 1, 0, 0, -1]),
    opacities: new Float32Array([0.5, 0.5, 0.001, 0.5, 0.5]) };
  const camera = { w2c: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1], near: 0.01, far: 100 };
  const sorted = new SplatPacker(5).sorted(world, camera);
  assert.deepEqual(Array.from(sorted), [1, 3, 0]); // 2: below 1/255 opacity; 4: behind the camera
});

test("packed words hold each Gaussian's mean, colour and float16 rotation, scale and opacity", () => {
  const n = 300;
  const values = (k) => Float32Array.from({ length: k * n }, (_, i) => [0, 1e-9, 7e-5, 0.3, -0.7, 2.5, 70000][i % 7]
    * (1 + (i % 13) / 7));
  const world = { count: n, means: values(3), quats: values(4), scales: values(3), opacities: values(1) };
  const colours = Float32Array.from({ length: 3 * n }, (_, i) => (i % 11) / 5); // 0 .. 2, some above 2
  const words = new SplatPacker(n).pack(world, colours, new Uint32Array(8 * n));
  const floats = new Float32Array(words.buffer), halves = new Uint16Array(words.buffer);
  for (let i = 0; i < n; ++i) {
    for (let k = 0; k < 3; ++k) assert.equal(floats[8 * i + k], world.means[3 * i + k]);
    const c = words[8 * i + 3];
    [c & 1023, (c >>> 10) & 1023, (c >>> 20) & 1023].forEach((q, k) => {
      assert.equal(q, Math.min(1023, Math.round(colours[3 * i + k] * 511.5)));
    });
    const expected = [...world.quats.subarray(4 * i, 4 * i + 4), ...Array.from(world.scales.subarray(3 * i, 3 * i + 3),
      (s) => 1000 * s), world.opacities[i]].map(floatToHalf);
    assert.deepEqual(Array.from(halves.subarray(16 * i + 8, 16 * i + 16)), expected, `Gaussian ${i}`);
  }
});
