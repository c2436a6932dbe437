// The cut's per-row spans (src/cut.js's CutLines.spans) against the region a straight line leaves,
// pixel by pixel, where the lines are nearly horizontal or vertical: a rig symmetric in x seen from
// straight ahead projects its neck ring level to ~1e-19 rad, and a line that level crosses a row
// ~1e19 px away.
import assert from "node:assert/strict";
import { test } from "node:test";

import { CutLines } from "../src/cut.js";

const WIDTH = 200, HEIGHT = 160;
// A camera that maps vertex (x, y, 1) to pixel (x, y).
const CAMERA = {
  w2c: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1],
  K: [1, 0, 0, 0, 1, 0, 0, 0, 1],
  width: WIDTH,
  height: HEIGHT,
};

/** The spans of a cut whose ring and sides are the given pixels (the ring's first is its front:
 * all lie at one depth) and whose skull's top is at `top`. */
function spansOf(ring, sides, top) {
  const points = [...ring, ...sides, top];
  const ids = points.map((_, k) => k);
  const cut = { ring: ids.slice(0, ring.length), sides: ids.slice(ring.length, ring.length + 2), top: points.length - 1 };
  const lines = new CutLines(cut, { faces: new Uint32Array(0), numFaces: 0 });
  return lines.spans((v) => [points[v][0], points[v][1], 1], CAMERA);
}

/** [lo, hi] of the columns whose centres satisfy keep(x, y) in row v (it holds on one interval). */
function reference(keep, v) {
  const kept = [];
  for (let u = 0; u < WIDTH; ++u) if (keep(u + 0.5, v + 0.5)) kept.push(u);
  return kept.length ? [kept[0], kept[kept.length - 1]] : null;
}

function assertSpans(spans, keepRing, keepSides) {
  for (let v = 0; v < HEIGHT; ++v) {
    for (const [offset, keep, name] of [[0, keepRing, "the ring's line"], [2, keepSides, "the sides' line"]]) {
      const lo = spans[4 * v + offset], hi = spans[4 * v + offset + 1];
      const expected = reference(keep, v);
      if (expected) assert.deepEqual([lo, hi], expected, `row ${v}, ${name}`);
      else assert.ok(lo > hi, `row ${v}, ${name}: [${lo}, ${hi}] where no column is kept`);
    }
  }
}

for (const tilt of [0, 1e-13, -1e-13, 1e-9, -1e-9]) {
  test(`lines level to within ${tilt} px across the ring keep the rows above them whole, none below`, () => {
    // the ring's line through its front (30, 100.2), the sides' through (100, 60.3): rows whose
    // centres lie above them (the skull's side) are kept whole
    const ring = [[30, 100.2], [170, 100.2 + tilt], [100, 95.2 - tilt], [100, 105.2 + tilt]];
    const spans = spansOf(ring, [[40, 60.3], [160, 60.3 + tilt]], [100, 10]);
    assertSpans(spans, (x, y) => y < 100.2, (x, y) => y < 60.3);
  });
}

for (const tilt of [0, 1e-13, -1e-13]) {
  test(`lines upright to within ${tilt} px keep the columns on the skull's side`, () => {
    const ring = [[120.2, 20], [120.2 + tilt, 140], [115.2, 80], [125.2, 80]];
    const spans = spansOf(ring, [[60.7, 30], [60.7 - tilt, 130]], [190, 80]);
    assertSpans(spans, (x) => x > 120.2, (x) => x > 60.7);
  });
}

test("a tilted line keeps, row by row, the columns whose centres lie on the skull's side", () => {
  // the ring along a line of slope 0.3 through (20.1, 50.05), the sides' of slope -0.7 through (50, 100)
  const ring = [[20.1, 50.05], [180.1, 98.05], [100.1, 74.05], [96.1, 72.85]];
  const spans = spansOf(ring, [[0, 135], [100, 65]], [40, 10]);
  assertSpans(spans, (x, y) => y - 50.05 < 0.3 * (x - 20.1), (x, y) => y - 100 < -0.7 * (x - 50));
});
