// What the CPU computes of the Gaussians' blend per frame (avatar/gaussians/blend.py's reference;
// the GPU does the rest, gpu/gaussian_shaders.js): the drivers of the offsets (the weights of the
// expressions with offsets, the 3 jaw components, then, when the avatar has them, the head's 3 pose
// drivers: avatar/gaussians/pose_drivers.py) and each driver's factors.

import { axisAngleToMatrix } from "./rig.js";

/** The drivers [D] of params: the weights of the expressions with offsets, the jaw's 3
 * components, then the head's pose drivers when the avatar has them (GaussianAvatar.drivers). */
export function offsetDrivers(gaussians, params) {
  const { blendExpr, pose } = gaussians;
  const count = blendExpr.length;
  const drivers = new Array(count + 3 + (pose ? 3 : 0));
  for (let k = 0; k < count; ++k) drivers[k] = params.expr[blendExpr[k]] || 0;
  drivers[count] = params.jaw[0];
  drivers[count + 1] = params.jaw[1];
  drivers[count + 2] = params.jaw[2];
  if (pose) headPoseDrivers(pose, params, drivers, count + 3);
  return drivers;
}

/** The offsets' factors for the GPU [5 (D + 1) * 4]: group g's driver d at vec4 g (D + 1) + d,
 * its columns the driver times the file's scale (zero past the group's width; d = D: zeros, the
 * layout's padding). Gaussian i's offset = sum over its entries of factor * value (gpu/layout.js). */
export function offsetFactors(offsets, drivers, out) {
  const count = offsets.drivers;
  const factors = out || new Float32Array(offsets.groups.length * (count + 1) * 4);
  offsets.groups.forEach((group, g) => {
    for (let d = 0; d < count; ++d) {
      const at = 4 * (g * (count + 1) + d);
      for (let c = 0; c < 4; ++c) factors[at + c] = c < group.width ? drivers[d] * group.scale[d * group.width + c] : 0;
    }
  });
  return factors;
}

const POSE_DRIVERS_PER_RADIAN = 3; // avatar/gaussians/pose_drivers.py's DRIVERS_PER_RADIAN

/** HeadPoseDrivers.coefficients: the rotation vector of mean^T R (R = the root's rotation times
 * the neck's, row-major 3x3), each component clamped to [low, high], times
 * POSE_DRIVERS_PER_RADIAN, written to out[at .. at + 3]. */
function headPoseDrivers(pose, params, out, at) {
  const root = axisAngleToMatrix(params.rotation[0], params.rotation[1], params.rotation[2]);
  const neck = axisAngleToMatrix(params.neck[0], params.neck[1], params.neck[2]);
  const m = new Float64Array(9); // mean^T root neck
  for (let i = 0; i < 3; ++i) {
    for (let j = 0; j < 3; ++j) {
      let sum = 0;
      for (let k = 0; k < 3; ++k) {
        let head = 0;
        for (let l = 0; l < 3; ++l) head += root[3 * k + l] * neck[3 * l + j];
        sum += pose.mean[3 * k + i] * head;
      }
      m[3 * i + j] = sum;
    }
  }
  // rotation_vector: sin(a) axis from the antisymmetric part, a = atan2(sin, cos)
  const v = [(m[7] - m[5]) / 2, (m[2] - m[6]) / 2, (m[3] - m[1]) / 2];
  const sin = Math.hypot(v[0], v[1], v[2]), cos = (m[0] + m[4] + m[8] - 1) / 2;
  const factor = sin > 1e-7 ? Math.atan2(sin, cos) / sin : 1;
  for (let i = 0; i < 3; ++i) {
    out[at + i] = Math.min(Math.max(v[i] * factor, pose.low[i]), pose.high[i]) * POSE_DRIVERS_PER_RADIAN;
  }
}
