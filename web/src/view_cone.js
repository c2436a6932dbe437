// Where the view-dependent colour is seen from: ViewCone.origin (avatar/splat/view_cone.py). The
// camera's centre while it lies inside the cone of directions the avatar's training saw the head
// from; outside, the point at the same distance from the head on the cone's edge nearest to it.

import { axisAngleToMatrix } from "./rig.js";

/** [3] the SH viewpoint for the head posed at params ({rotation [3], translation [3], ...}) seen
 * from `position` [3]; `cone` {axis [3], half_angle, centre [3]} or null (the position itself). */
export function viewOrigin(cone, params, position) {
  if (!cone) return position;
  const r = axisAngleToMatrix(params.rotation[0], params.rotation[1], params.rotation[2]);
  const c = cone.centre, t = params.translation;
  const centre = [0, 1, 2].map((i) => r[3 * i] * c[0] + r[3 * i + 1] * c[1] + r[3 * i + 2] * c[2] + t[i]);
  const offset = [0, 1, 2].map((i) => position[i] - centre[i]);
  const distance = Math.hypot(offset[0], offset[1], offset[2]);
  const u = offset.map((v) => v / Math.max(distance, 1e-12));
  const a = cone.axis;
  const cos = u[0] * a[0] + u[1] * a[1] + u[2] * a[2];
  if (cos >= Math.cos(cone.half_angle)) return position;
  let side = [0, 1, 2].map((i) => u[i] - cos * a[i]);
  if (Math.hypot(side[0], side[1], side[2]) < 1e-9) { // straight behind: any side will do
    side = cross(a, [0, 1, 0]);
    if (Math.hypot(side[0], side[1], side[2]) < 1e-9) side = cross(a, [1, 0, 0]);
  }
  const n = Math.hypot(side[0], side[1], side[2]);
  const ca = Math.cos(cone.half_angle), sa = Math.sin(cone.half_angle);
  return [0, 1, 2].map((i) => centre[i] + distance * (ca * a[i] + (sa * side[i]) / n));
}

function cross(a, b) { return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]; }
