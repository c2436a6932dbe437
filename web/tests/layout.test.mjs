// The GPU layout (gpu/layout.js) holds the file's data as the shaders read it: each Gaussian's
// offsets, group by group in driver order, and the rig's expression rows by vertex.
import assert from "node:assert/strict";
import { test } from "node:test";

import { OFFSET_GROUPS } from "../src/format.js";
import { gpuLayout, placeCount, readOffsets, TEXTURE_WIDTH, VERTEX_TEXELS } from "../src/gpu/layout.js";

function randomAvatar(seed = 1, n = 300) {
  let state = seed;
  const random = () => ((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648);
  const drivers = 7, vertices = 6, numExpr = 4;
  const groups = OFFSET_GROUPS.map(([, width, column]) => {
    const start = new Uint32Array(drivers + 1), gaussian = [];
    for (let d = 0; d < drivers; ++d) {
      for (let g = 0; g < n; ++g) if (random() < 0.4) gaussian.push(g);
      start[d + 1] = gaussian.length;
    }
    const values = Int8Array.from({ length: gaussian.length * width }, () => Math.floor(256 * random()) - 128);
    return { width, column, start, gaussian: Uint32Array.from(gaussian), values, scale: new Float32Array(drivers * width) };
  });
  const exprVertex = Uint32Array.from([0, 3, 5, 1, 3, 2, 4, 3]);
  const rig = {
    numVertices: vertices, numFaces: 2, numExpr, numJoints: 5, faces: Uint32Array.from([0, 1, 2, 3, 4, 5]),
    template: Float32Array.from({ length: 3 * vertices }, () => random()), exprStart: Uint32Array.from([0, 3, 5, 5, 8]),
    exprVertex, exprDelta: Int8Array.from({ length: 3 * exprVertex.length }, (_, i) => i - 12),
    lbsWeightBits: new Uint16Array(5 * vertices), posedirs: null,
  };
  const floats = (k) => Float32Array.from({ length: k * n }, () => random());
  const gaussians = { count: n, degree: 1, parent: Uint32Array.from({ length: n }, (_, i) => i % 2), xyz: floats(3),
    rot: floats(4), logScale: floats(3), opacityLogit: floats(1), shDc: floats(3),
    shCodes: Uint8Array.from({ length: 9 * n }, (_, i) => i % 251), shLow: new Array(9).fill(0), shStep: new Array(9).fill(1) };
  return { rig, gaussians, offsets: { drivers, groups } };
}

test("each Gaussian's offsets read back from the layout as the file holds them", () => {
  const avatar = randomAvatar();
  const { arrays, meta } = gpuLayout(avatar);
  for (let i = 0; i < avatar.gaussians.count; ++i) {
    const got = readOffsets(arrays, meta, i);
    avatar.offsets.groups.forEach((group, k) => {
      const expected = [];
      for (let d = 0; d < avatar.offsets.drivers; ++d) {
        for (let r = group.start[d]; r < group.start[d + 1]; ++r) {
          if (group.gaussian[r] === i) expected.push([d, ...group.values.subarray(group.width * r, group.width * (r + 1))]);
        }
      }
      assert.deepEqual(got[k], expected, `Gaussian ${i}, group ${k}`);
    });
  }
});

test("the rig's expression rows are listed by vertex, each with its expression and delta", () => {
  const avatar = randomAvatar(), rig = avatar.rig;
  const { arrays } = gpuLayout(avatar);
  for (let v = 0; v < rig.numVertices; ++v) {
    const packed = arrays.vertices[4 * VERTEX_TEXELS * v + 3], start = packed & 0xffffff, count = packed >>> 24;
    const got = Array.from(arrays.exprs.subarray(start, start + count), (w) => [w & 255, (w << 16) >> 24, (w << 8) >> 24, w >> 24]);
    const expected = [];
    for (let e = 0; e < rig.numExpr; ++e) {
      for (let r = rig.exprStart[e]; r < rig.exprStart[e + 1]; ++r) {
        if (rig.exprVertex[r] === v) expected.push([e, ...rig.exprDelta.subarray(3 * r, 3 * r + 3)]);
      }
    }
    assert.deepEqual(got, expected, `vertex ${v}`);
  }
});

test("a level of detail's Gaussians (the file's first) have the first places: its rows alone hold them", () => {
  const n = 10000, coarse = 4500;
  const avatar = { ...randomAvatar(2, n), levels: [{ count: n }, { count: coarse }] };
  const { arrays, meta } = gpuLayout(avatar);
  assert.deepEqual(meta.levels, [{ count: n, rows: placeCount(n) / TEXTURE_WIDTH }, { count: coarse, rows: 4 }]);
  const inRows = (i) => arrays.positions[i] < meta.levels[1].rows * TEXTURE_WIDTH;
  for (let i = 0; i < coarse; ++i) assert.ok(inRows(i), `Gaussian ${i} of the coarse level lies outside its rows`);
  const outside = Array.from({ length: n - coarse }, (_, k) => coarse + k).filter((i) => !inRows(i)).length;
  assert.ok(outside >= n - 4 * TEXTURE_WIDTH, `${outside} of the finer level's Gaussians beyond the coarse rows`);
  assert.equal(new Set(arrays.positions).size, n);
  for (const i of [0, coarse - 1, coarse, n - 1]) { // the offsets still where each Gaussian's place says
    const got = readOffsets(arrays, meta, i), groups = avatar.offsets.groups;
    groups.forEach((group, k) => {
      let rows = 0;
      for (let r = 0; r < group.gaussian.length; ++r) rows += group.gaussian[r] === i ? 1 : 0;
      assert.equal(got[k].length, rows, `Gaussian ${i}, group ${k}`);
    });
  }
});
