// The player's worker: decodes the avatar once, then turns each frame request (params, camera)
// into packed splats and the cut's region (engine.js), off the page's thread. Buffers travel
// both ways as transferables: the page hands the last frame's back to be filled again.

import { AvatarEngine } from "./engine.js";
import { readWebAvatar } from "./format.js";

export function startWorker(scope) {
  let engine = null;
  scope.onmessage = ({ data }) => {
    try {
      if (data.type === "load") {
        const avatar = readWebAvatar(data.buffer, data.name);
        engine = new AvatarEngine(avatar);
        scope.postMessage({ type: "loaded", summary: summary(avatar) });
      } else if (data.type === "frame") {
        const started = performance.now();
        const out = engine.frame(data.params, data.camera, data.reuse || {});
        const ms = { ...out.ms, total: performance.now() - started };
        const transfer = [out.words.buffer, out.order.buffer];
        if (out.region) transfer.push(out.region.buffer);
        scope.postMessage({ type: "frame", id: data.id, words: out.words, order: out.order, count: out.count,
          region: out.region, ms }, transfer);
      }
    } catch (error) {
      scope.postMessage({ type: "error", id: data.id, message: String(error && error.message ? error.message : error) });
    }
  };
}

/** What the page needs to know of the avatar (the arrays stay in the worker). */
function summary(avatar) {
  const { rig, gaussians } = avatar;
  return {
    rig: rig.name, numExpr: rig.numExpr, exprNames: rig.exprNames, numGaussians: gaussians.count,
    shDegree: gaussians.degree, background: avatar.background, hasCut: Boolean(avatar.headCut),
    expressionRange: avatar.expressionRange,
  };
}
