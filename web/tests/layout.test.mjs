// The GPU layout (gpu/layout.js) holds the file's data as the shaders read it: each Gaussian's
// offsets, group by group in driver order, and the rig's expression rows by vertex.
import assert from "node:assert/strict";
import { test } from "node:test";

import { OFFSET_GROUPS } from "../src/format.js";
import { gpuLayout, readOffsets, VERTEX_TEXELS } from "../src/gpu/layout.js";

function randomAvatar(seed = 1) {
  let state = seed;
  const random = () => ((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648);
  const n = 300, drivers = 7, vertices = 6, numExpr = 4;
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
