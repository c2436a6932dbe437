// What the CPU computes per frame for the GPU (gpu/avatar_gpu.js, gpu/cut_gpu.js), from the
// frame's ~60 parameters and the camera: the expression weights, the joints' skinning transforms
// (from the few vertices the joint regressor reads), the offsets' factors, the viewpoint of the
// colours, and the cut's lines as per-row spans. Microseconds, not milliseconds: every vertex and
// Gaussian is the GPU's.

import { offsetDrivers, offsetFactors } from "./blend.js";
import { cameraPosition } from "./camera.js";
import { CutLines, discHalfWidths, neckRadius } from "./cut.js";
import { RigPoser } from "./rig.js";
import { viewOrigin } from "./view_cone.js";

export class FrameInputs {
  /** avatar: the page's part of a decoded avatar (worker.js's pagePart). */
  constructor(avatar) {
    this.avatar = avatar;
    const cut = avatar.headCut;
    this.cutLines = cut ? new CutLines(cut, avatar.rig) : null;
    this.poser = new RigPoser(avatar.rig, this.cutLines ? this.cutLines.vertices : []);
    this.factors = null; // read by the GPU at once
    this.spans = []; // per slot: read when the frame is drawn, after the next one's inputs
  }

  /** {exprWeights, transforms, translation, feature (posing: rig.js), factors (blend.js), eye [3],
   * cut: null or {spans [4 H], hanging, radius, halfWidths}} of params seen by camera, for the
   * GPU's slot `slot` (gpu/avatar_gpu.js). */
  frame(params, camera, slot = 0) {
    const avatar = this.avatar;
    const posed = this.poser.pose(params);
    this.factors = offsetFactors(avatar.offsets, offsetDrivers(avatar.gaussians, params), this.factors);
    const eye = viewOrigin(avatar.viewCone, params, cameraPosition(camera));
    let cut = null;
    if (this.cutLines) {
      this.spans[slot] = this.cutLines.spans(posed.vertex, camera, this.spans[slot]);
      const hanging = Boolean(avatar.headCut.hanging_hair);
      const radius = neckRadius(avatar.headCut.neck_margin, camera.height, camera.width);
      cut = { spans: this.spans[slot], hanging, radius, halfWidths: hanging ? null : discHalfWidths(radius) };
    }
    return { exprWeights: posed.exprWeights, transforms: posed.transforms, translation: posed.translation,
      feature: posed.feature, factors: this.factors, eye, cut };
  }
}
