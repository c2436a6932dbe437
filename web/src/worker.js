// The player's worker: decodes the avatar once and lays it out for the GPU (gpu/layout.js), then
// sorts each frame's splats by the depths the GPU read back (sort.js), off the page's thread: the
// Gaussians of the frame's level of detail (its first `count`; the keys of its rows only).
// Buffers travel both ways as transferables: the page hands the last ones back to be filled again.

import { readWebAvatar } from "./format.js";
import { gpuLayout } from "./gpu/layout.js";
import { DepthSorter } from "./sort.js";

export function startWorker(scope) {
  let sorter = null, count = 0;
  scope.onmessage = ({ data }) => {
    try {
      if (data.type === "load") {
        const avatar = readWebAvatar(data.buffer, data.name);
        const layout = gpuLayout(avatar);
        count = avatar.gaussians.count;
        sorter = new DepthSorter(layout.arrays.positions.slice());
        scope.postMessage({ type: "loaded", summary: summary(avatar), avatar: pagePart(avatar), layout },
          Object.values(layout.arrays).map((a) => a.buffer));
      } else if (data.type === "sort") {
        const started = performance.now();
        const keys = data.stride === 1 ? data.keys : strided(data.keys, data.stride, data.keys.length / data.stride);
        const out = data.order && data.order.length === count ? data.order : new Uint32Array(count);
        const order = sorter.drawOrder(keys, out, data.gaussians || count);
        const ms = performance.now() - started;
        scope.postMessage({ type: "sorted", id: data.id, order: out, count: order.length, keys: data.keys, ms },
          [out.buffer, data.keys.buffer]);
      }
    } catch (error) {
      scope.postMessage({ type: "error", id: data.id, message: String(error && error.message ? error.message : error) });
    }
  };
}

/** Every stride-th value of keys, `count` of them. */
function strided(keys, stride, count) {
  const out = new Uint32Array(count);
  for (let i = 0; i < count; ++i) out[i] = keys[stride * i];
  return out;
}

/** What the page needs to know of the avatar (the arrays stay in the worker). */
function summary(avatar) {
  const { rig, gaussians } = avatar;
  return {
    rig: rig.name, numExpr: rig.numExpr, exprNames: rig.exprNames, numGaussians: gaussians.count, levels: avatar.levels,
    shDegree: gaussians.degree, background: avatar.background, hasCut: Boolean(avatar.headCut),
    expressionRange: avatar.expressionRange,
  };
}

/** The part of the avatar the page's per-frame inputs read (frame_inputs.js): the rig without
 * the per-Gaussian arrays, the offsets' drivers and scales, the cut and the view cone. */
function pagePart(avatar) {
  const { rig, gaussians, offsets } = avatar;
  return {
    rig: { ...rig, lbsWeightBits: null, posedirBits: null },
    gaussians: { count: gaussians.count, blendExpr: gaussians.blendExpr, pose: gaussians.pose },
    offsets: { drivers: offsets.drivers, groups: offsets.groups.map(({ width, scale }) => ({ width, scale })) },
    headCut: avatar.headCut, viewCone: avatar.viewCone, background: avatar.background,
  };
}
