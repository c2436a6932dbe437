// The avatar's arrays laid out as the GPU passes read them (built once, in the worker, then handed
// to the page): integer textures TEXTURE_WIDTH texels wide, float values as their float32 bits.
//
//   vertices   RGBA32UI, 2 texels a rig vertex: (template x, y, z, first expression entry |
//              entry count << 24), (LBS weights as float16 pairs, joint 2k in the low half)
//   exprs      R32UI, per vertex its expression rows: e | dx << 8 | dy << 16 | dz << 24 (int8 bytes)
//   posedirs   R32UI, per vertex [3, P] float16 pairs (only for rigs with pose correctives)
//   faces      RGBA32UI, a texel a face: its 3 vertices
//   gaussians  RGBA32UI, 5 texels a Gaussian: (xyz, opacity logit), (rotation w x y z),
//              (log scale, parent triangle), (sh_dc, first offsets texel), (texel counts of its
//              5 offset groups, a byte each: xyz, rot, log_scale, opacity, colour; then the
//              colour group's; 1: a Gaussian is there), at the Gaussian's place (below)
//   offsets    RGBA32UI, per Gaussian per group its offsets: 4 a texel as d | value bytes << 8
//              (xyz, log_scale, colour: 3 bytes; opacity: 1), the rotation's 2 a texel as (d,
//              4 value bytes); d = the driver, D (a zero factor) in the padding
//   shRest     RGBA32UI, ceil(3 (K - 1) / 16) texels a Gaussian: its uint8 SH codes, packed
//   positions  (not a texture) per Gaussian its place: the texel of its splat in the GPU's
//              per-Gaussian targets, and of its data above
//
// The places: Gaussians sorted by their level of detail (the coarsest level's first, then each
// finer level's own: a level's places are the first ones, its rows the first rows, so a coarser
// level's passes run over fewer rows of the same textures), then by their offsets' texel counts
// (colour, xyz, rot, log_scale, opacity), then by index, four by four into 2x2 blocks of texels:
// the GPU shades a 2x2 block of fragments together, and each of its loops over offsets runs as
// long as the block's longest (a third fewer iterations than the file's order gives on a trained
// avatar).
//
// Offsets of driver d, group g, column c are factor[g][d][c] * value, factor = the driver's
// weight times the file's scale (uploaded per frame, gpu/avatar_gpu.js).

import { OFFSET_GROUPS } from "../format.js";

export const TEXTURE_WIDTH = 2048; // WebGL2 guarantees textures 2048 wide
const HALF_WIDTH = TEXTURE_WIDTH / 2;
export const GAUSSIAN_TEXELS = 5;
export const VERTEX_TEXELS = 2;
const PER_TEXEL = [4, 2, 4, 4, 4]; // offsets a texel, by group (OFFSET_GROUPS' order)
const MAX_JOINTS = 8; // the LBS weights' 4 float16 pairs

export class LayoutError extends Error {}

/** The GPU layout of a decoded avatar (format.js): {arrays: {name: typed array}, meta}. */
export function gpuLayout(avatar) {
  const { rig, gaussians: g, offsets } = avatar;
  const drivers = offsets.drivers;
  if (drivers + 1 > 204) throw new LayoutError(`${drivers} offset drivers: the player takes at most 203`);
  if (rig.numExpr > 255) throw new LayoutError(`${rig.numExpr} expressions: the player takes at most 255`);
  if (rig.numJoints > MAX_JOINTS) throw new LayoutError(`${rig.numJoints} joints: the player takes at most ${MAX_JOINTS}`);
  const arrays = {
    vertices: vertexTexels(rig),
    exprs: expressionRows(rig),
    faces: faceTexels(rig.faces, rig.numFaces),
    ...gaussianTexels(g, offsets, avatar.levels || [{ count: g.count }]),
  };
  arrays.shRest = shTexels(avatar.gaussians.shCodes, g.count, g.degree, arrays.positions);
  if (rig.posedirs) arrays.posedirs = posedirTexels(rig.posedirBits);
  const meta = {
    numVertices: rig.numVertices, numFaces: rig.numFaces, numJoints: rig.numJoints, numExpr: rig.numExpr,
    numPoseFeatures: rig.posedirs ? rig.numPoseFeatures : 0, count: g.count, places: placeCount(g.count),
    degree: g.degree, drivers,
    shTexels: shTexelCount(g.degree), shLow: g.shLow, shStep: g.shStep,
    // per level of detail, finest first: its Gaussians (the file's first count) and the rows of
    // the per-Gaussian targets their places span
    levels: (avatar.levels || [{ count: g.count }]).map(({ count }) => ({ count, rows: placeCount(count) / TEXTURE_WIDTH })),
  };
  return { arrays, meta };
}

/** The texel of the Gaussian of rank r (2x2 blocks of 4 ranks, a row of blocks TEXTURE_WIDTH wide). */
export function placeOfRank(r) {
  const block = r >> 2, k = r & 3;
  return (2 * Math.floor(block / HALF_WIDTH) + (k >> 1)) * TEXTURE_WIDTH + 2 * (block % HALF_WIDTH) + (k & 1);
}

/** Texels the places of `count` Gaussians span: whole pairs of rows. */
export function placeCount(count) {
  return 2 * TEXTURE_WIDTH * Math.max(1, Math.ceil(Math.ceil(count / 4) / HALF_WIDTH));
}

/** Texels a Gaussian's SH codes take: 3 (K - 1) bytes, 16 a texel. */
export function shTexelCount(degree) {
  return Math.ceil((3 * ((degree + 1) ** 2 - 1)) / 16);
}

/** A Uint32Array of `texels` RGBA texels, whole rows of TEXTURE_WIDTH. */
function rgbaRows(texels) {
  return new Uint32Array(4 * TEXTURE_WIDTH * Math.max(1, Math.ceil(texels / TEXTURE_WIDTH)));
}

function rRows(values) {
  return new Uint32Array(TEXTURE_WIDTH * Math.max(1, Math.ceil(values / TEXTURE_WIDTH)));
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
function bits(x) { f32[0] = x; return u32[0]; }

function vertexTexels(rig) {
  const v = rig.numVertices, joints = rig.numJoints;
  const out = rgbaRows(VERTEX_TEXELS * v);
  const counts = new Uint32Array(v);
  for (let r = 0; r < rig.exprVertex.length; ++r) counts[rig.exprVertex[r]] += 1;
  let start = 0;
  for (let i = 0; i < v; ++i) {
    if (counts[i] > 255 || start >= 1 << 24) throw new LayoutError("the rig's expression rows do not fit the player");
    const o = 4 * VERTEX_TEXELS * i;
    out[o] = bits(rig.template[3 * i]);
    out[o + 1] = bits(rig.template[3 * i + 1]);
    out[o + 2] = bits(rig.template[3 * i + 2]);
    out[o + 3] = (start | (counts[i] << 24)) >>> 0;
    start += counts[i];
    for (let j = 0; j < joints; ++j) {
      const half = rig.lbsWeightBits[i * joints + j];
      out[o + 4 + (j >> 1)] |= j & 1 ? half << 16 : half;
    }
  }
  return out;
}

/** Vertex-major expression rows (the file's are expression-major), in the file's order within a vertex. */
function expressionRows(rig) {
  const v = rig.numVertices, rows = rig.exprVertex.length;
  const next = new Uint32Array(v + 1);
  for (let r = 0; r < rows; ++r) next[rig.exprVertex[r] + 1] += 1;
  for (let i = 0; i < v; ++i) next[i + 1] += next[i];
  const out = rRows(rows);
  const delta = new Uint8Array(rig.exprDelta.buffer, rig.exprDelta.byteOffset, rig.exprDelta.length);
  for (let e = 0; e < rig.numExpr; ++e) {
    for (let r = rig.exprStart[e]; r < rig.exprStart[e + 1]; ++r) {
      out[next[rig.exprVertex[r]]++] = (e | (delta[3 * r] << 8) | (delta[3 * r + 1] << 16) | (delta[3 * r + 2] << 24)) >>> 0;
    }
  }
  return out;
}

function posedirTexels(posedirBits) {
  const out = rRows(posedirBits.length / 2);
  for (let k = 0; k < posedirBits.length; k += 2) out[k >> 1] = (posedirBits[k] | (posedirBits[k + 1] << 16)) >>> 0;
  return out;
}

function faceTexels(faces, numFaces) {
  const out = rgbaRows(numFaces);
  for (let f = 0; f < numFaces; ++f) out.set(faces.subarray(3 * f, 3 * f + 3), 4 * f);
  return out;
}

/** The Gaussians' texels and their offsets, group by group within each Gaussian; levels: the
 * levels of detail, finest first ({count}: the file's first count Gaussians). */
function gaussianTexels(g, offsets, levels) {
  const n = g.count, groups = offsets.groups, padDriver = offsets.drivers;
  // per group, Gaussian-major rows: count[g] and the file's rows of each Gaussian in driver order
  const perGroup = groups.map((group) => {
    const start = new Uint32Array(n + 1);
    for (const i of group.gaussian) start[i + 1] += 1;
    for (let i = 0; i < n; ++i) start[i + 1] += start[i];
    const next = start.slice(0, n), row = new Uint32Array(group.gaussian.length), driver = new Uint16Array(row.length);
    for (let d = 0; d < offsets.drivers; ++d) {
      for (let r = group.start[d]; r < group.start[d + 1]; ++r) {
        const e = next[group.gaussian[r]]++;
        row[e] = r;
        driver[e] = d;
      }
    }
    return { start, row, driver };
  });
  let texels = 0;
  const counts = new Uint8Array(5 * n);
  const signature = new Float64Array(n); // the counts, colour's first: the sort key of the places
  for (let i = 0; i < n; ++i) {
    for (let k = 0; k < 5; ++k) {
      const c = Math.ceil((perGroup[k].start[i + 1] - perGroup[k].start[i]) / PER_TEXEL[k]);
      if (c > 255) throw new LayoutError("a Gaussian has more offsets than the player takes");
      counts[5 * i + k] = c;
      texels += c;
    }
    signature[i] = (((counts[5 * i + 4] * 256 + counts[5 * i]) * 256 + counts[5 * i + 1]) * 256
      + counts[5 * i + 2]) * 256 + counts[5 * i + 3];
  }
  // the level a Gaussian first belongs to, coarsest 0: [0, counts of the coarsest) 0, then 1, ...
  const coarsestFirst = levels.map(({ count }) => count).reverse();
  const tier = (i) => { let k = 0; while (i >= coarsestFirst[k]) ++k; return k; };
  const tiers = Uint8Array.from({ length: n }, (_, i) => tier(i));
  const ranked = Uint32Array.from({ length: n }, (_, i) => i)
    .sort((a, b) => tiers[a] - tiers[b] || signature[a] - signature[b] || a - b);
  const positions = new Uint32Array(n);
  ranked.forEach((i, r) => { positions[i] = placeOfRank(r); });
  const gaussians = rgbaRows(GAUSSIAN_TEXELS * placeCount(n));
  const entries = rgbaRows(texels);
  let at = 0; // texel
  for (const i of ranked) {
    const o = 4 * GAUSSIAN_TEXELS * positions[i], i3 = 3 * i, i4 = 4 * i;
    gaussians[o] = bits(g.xyz[i3]); gaussians[o + 1] = bits(g.xyz[i3 + 1]); gaussians[o + 2] = bits(g.xyz[i3 + 2]);
    gaussians[o + 3] = bits(g.opacityLogit[i]);
    for (let k = 0; k < 4; ++k) gaussians[o + 4 + k] = bits(g.rot[i4 + k]);
    for (let k = 0; k < 3; ++k) gaussians[o + 8 + k] = bits(g.logScale[i3 + k]);
    gaussians[o + 11] = g.parent[i];
    for (let k = 0; k < 3; ++k) gaussians[o + 12 + k] = bits(g.shDc[i3 + k]);
    gaussians[o + 15] = at;
    gaussians[o + 16] = counts[5 * i] | (counts[5 * i + 1] << 8) | (counts[5 * i + 2] << 16) | (counts[5 * i + 3] << 24);
    gaussians[o + 17] = counts[5 * i + 4];
    gaussians[o + 18] = 1;
    for (let k = 0; k < 5; ++k) {
      const { start, row, driver } = perGroup[k], group = groups[k], width = group.width;
      const values = new Uint8Array(group.values.buffer, group.values.byteOffset, group.values.length);
      const slots = counts[5 * i + k] * 4; // uint32 slots
      let w = 4 * at;
      const end = w + slots;
      for (let e = start[i]; e < start[i + 1]; ++e) {
        const r = row[e];
        let packed = 0;
        for (let c = 0; c < width; ++c) packed |= values[width * r + c] << (8 * c);
        if (width === 4) {
          entries[w++] = driver[e];
          entries[w++] = packed >>> 0;
        } else {
          entries[w++] = (driver[e] | (packed << 8)) >>> 0;
        }
      }
      for (; w < end; ++w) entries[w] = width === 4 && w % 2 === 1 ? 0 : padDriver; // zero factor, zero values
      at += counts[5 * i + k];
    }
  }
  if (at >= 2 ** 32) throw new LayoutError("too many offsets");
  return { gaussians, offsets: entries, positions };
}

function shTexels(codes, n, degree, positions) {
  const per = shTexelCount(degree);
  const out = rgbaRows(per * placeCount(n));
  if (!per) return out;
  const width = 3 * ((degree + 1) ** 2 - 1);
  const bytes = new Uint8Array(out.buffer);
  for (let i = 0; i < n; ++i) bytes.set(codes.subarray(width * i, width * (i + 1)), 16 * per * positions[i]);
  return out;
}

/** Offsets of each group packed as gaussianTexels stores them, for the layout's tests: per
 * Gaussian per group [[driver, values...], ...] read back from the texels. */
export function readOffsets(arrays, meta, i) {
  const { gaussians, offsets } = arrays;
  const o = 4 * GAUSSIAN_TEXELS * arrays.positions[i];
  let at = gaussians[o + 15];
  const counts = [0, 8, 16, 24].map((s) => (gaussians[o + 16] >>> s) & 255).concat([gaussians[o + 17]]);
  return OFFSET_GROUPS.map(([, width], k) => {
    const out = [];
    for (let t = 0; t < counts[k]; ++t, ++at) {
      const words = offsets.subarray(4 * at, 4 * at + 4);
      const items = width === 4 ? [[words[0], words[1]], [words[2], words[3]]] : Array.from(words, (w) => [w & 255, w >>> 8]);
      for (const [d, packed] of items) {
        if (d === meta.drivers) continue;
        const values = [];
        for (let c = 0; c < width; ++c) values.push(((packed >>> (8 * c)) << 24) >> 24);
        out.push([d, ...values]);
      }
    }
    return out;
  });
}
