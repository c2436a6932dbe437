// The avatar's Gaussians for one frame, in world space: avatar/gaussians/blend.py's reference.
// Local attributes = base + sum_d driver_d offset_d (the drivers: the weights of the expressions
// with offsets, the 3 jaw components, then, when the avatar has them, the head's 3 pose drivers:
// avatar/gaussians/pose_drivers.py); each Gaussian then lives in its posed triangle's
// frame (origin at the centroid, axes from the first edge and the normal, unit = mean edge).

import { LOCAL_SIZE } from "./format.js";
import { axisAngleToMatrix } from "./rig.js";

const SH_C0 = 0.28209479177387814;
const FRAME_SIZE = 17; // floats per posed triangle (triangleFrames)

export class Blender {
  constructor(avatar) {
    const n = avatar.gaussians.count;
    this.avatar = avatar;
    this.offsets = gaussianMajor(avatar.offsets, n);
    this.factors = new Float64Array(this.offsets.slots * 4); // per (driver, group) slot: weight x scale, 4 columns
    this.world = {
      count: n,
      means: new Float32Array(n * 3), // [N, 3] metres
      quats: new Float32Array(n * 4), // [N, 4] (w, x, y, z), unit
      scales: new Float32Array(n * 3), // [N, 3] standard deviations, metres
      opacities: new Float32Array(n), // [N]
      shDc: new Float32Array(n * 3), // [N, 3] DC coefficient with the colour offset
    };
    this.frames = null; // per triangle: triangleFrames
  }

  /** The drivers [D] of params: the weights of the expressions with offsets, the jaw's 3
   * components, then the head's pose drivers when the avatar has them (GaussianAvatar.drivers). */
  drivers(params) {
    const { blendExpr, pose } = this.avatar.gaussians;
    const count = blendExpr.length;
    const drivers = new Array(count + 3 + (pose ? 3 : 0));
    for (let k = 0; k < count; ++k) drivers[k] = params.expr[blendExpr[k]] || 0;
    drivers[count] = params.jaw[0];
    drivers[count + 1] = params.jaw[1];
    drivers[count + 2] = params.jaw[2];
    if (pose) headPoseDrivers(pose, params, drivers, count + 3);
    return drivers;
  }

  /** World Gaussians (this.world, reused) of the rig posed as verts [V * 3] at params: per
   * Gaussian, its offsets summed over its own entries (a sequential pass over them), its local
   * attributes, then its triangle's frame. */
  blend(verts, params) {
    const { gaussians: g, rig } = this.avatar;
    const drivers = this.drivers(params);
    const { start, slot, values, column, width, groups } = this.offsets;
    const factors = this.factors;
    for (let k = 0; k < this.offsets.slots; ++k) {
      const d = Math.floor(k / groups), group = this.avatar.offsets.groups[k % groups];
      for (let c = 0; c < 4; ++c) factors[4 * k + c] = c < group.width ? drivers[d] * group.scale[d * group.width + c] : 0;
    }
    this.frames = triangleFrames(verts, rig.faces, rig.numFaces, this.frames);
    const frames = this.frames, w = this.world;
    const { means, quats, scales, opacities, shDc } = w;
    const a = new Float64Array(LOCAL_SIZE + 3); // one Gaussian's offsets (+ room for a group's padding)
    for (let i = 0; i < g.count; ++i) {
      a.fill(0);
      for (let e = start[i]; e < start[i + 1]; ++e) {
        const k = slot[e], f = 4 * k, v = 4 * e, col = column[k];
        a[col] += factors[f] * values[v];
        a[col + 1] += factors[f + 1] * values[v + 1];
        a[col + 2] += factors[f + 2] * values[v + 2];
        a[col + 3] += factors[f + 3] * values[v + 3];
      }
      const t = FRAME_SIZE * g.parent[i], i3 = 3 * i, i4 = 4 * i;
      const unit = frames[t + 12];
      const x = g.xyz[i3] + a[0], y = g.xyz[i3 + 1] + a[1], z = g.xyz[i3 + 2] + a[2];
      means[i3] = frames[t] + unit * (frames[t + 3] * x + frames[t + 4] * y + frames[t + 5] * z);
      means[i3 + 1] = frames[t + 1] + unit * (frames[t + 6] * x + frames[t + 7] * y + frames[t + 8] * z);
      means[i3 + 2] = frames[t + 2] + unit * (frames[t + 9] * x + frames[t + 10] * y + frames[t + 11] * z);
      let qw = g.rot[i4] + a[3], qx = g.rot[i4 + 1] + a[4];
      let qy = g.rot[i4 + 2] + a[5], qz = g.rot[i4 + 3] + a[6];
      const norm = Math.max(Math.sqrt(qw * qw + qx * qx + qy * qy + qz * qz), 1e-12);
      qw /= norm; qx /= norm; qy /= norm; qz /= norm;
      const tw = frames[t + 13], tx = frames[t + 14], ty = frames[t + 15], tz = frames[t + 16];
      // the triangle's rotation, then the Gaussian's own: Hamilton product t * q
      quats[i4] = tw * qw - tx * qx - ty * qy - tz * qz;
      quats[i4 + 1] = tw * qx + tx * qw + ty * qz - tz * qy;
      quats[i4 + 2] = tw * qy - tx * qz + ty * qw + tz * qx;
      quats[i4 + 3] = tw * qz + tx * qy - ty * qx + tz * qw;
      scales[i3] = unit * Math.exp(g.logScale[i3] + a[7]);
      scales[i3 + 1] = unit * Math.exp(g.logScale[i3 + 1] + a[8]);
      scales[i3 + 2] = unit * Math.exp(g.logScale[i3 + 2] + a[9]);
      opacities[i] = 1 / (1 + Math.exp(-(g.opacityLogit[i] + a[10])));
      shDc[i3] = g.shDc[i3] + a[11] / SH_C0;
      shDc[i3 + 1] = g.shDc[i3 + 1] + a[12] / SH_C0;
      shDc[i3 + 2] = g.shDc[i3 + 2] + a[13] / SH_C0;
    }
    return w;
  }
}

/** The file's offsets (per group, per driver, the Gaussians it moves) turned Gaussian-major:
 * Gaussian i's entries are start[i] .. start[i + 1], each a slot (driver * groups + group), its
 * 4 values (int8, zero past the group's width) and the slot's first column. A frame then reads
 * them in one pass, Gaussian by Gaussian, instead of one pass over every Gaussian per driver and
 * group. */
export function gaussianMajor(offsets, count) {
  const groups = offsets.groups.length, slots = offsets.drivers * groups;
  const start = new Uint32Array(count + 1);
  for (const group of offsets.groups) for (const g of group.gaussian) start[g + 1] += 1;
  for (let i = 0; i < count; ++i) start[i + 1] += start[i];
  const entries = start[count];
  const slot = new Uint16Array(entries), values = new Int8Array(4 * entries), next = start.slice(0, count);
  const column = new Uint8Array(slots), width = new Uint8Array(slots);
  offsets.groups.forEach((group, j) => {
    for (let d = 0; d < offsets.drivers; ++d) {
      const k = d * groups + j;
      column[k] = group.column;
      width[k] = group.width;
      for (let r = group.start[d]; r < group.start[d + 1]; ++r) {
        const e = next[group.gaussian[r]]++;
        slot[e] = k;
        for (let c = 0; c < group.width; ++c) values[4 * e + c] = group.values[group.width * r + c];
      }
    }
  });
  return { start, slot, values, column, width, groups, slots };
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

/** Per triangle [F * FRAME_SIZE]: centroid [3], rotation [9] (row-major; columns: first edge
 * direction, in-plane perpendicular, normal), unit (mean edge length) [1] and the rotation as a
 * unit quaternion [4]: binding.triangle_frames. */
export function triangleFrames(verts, faces, numFaces, out) {
  const frames = out || new Float64Array(numFaces * FRAME_SIZE);
  for (let f = 0; f < numFaces; ++f) {
    const a = 3 * faces[3 * f], b = 3 * faces[3 * f + 1], c = 3 * faces[3 * f + 2];
    const ax = verts[a], ay = verts[a + 1], az = verts[a + 2];
    const bx = verts[b], by = verts[b + 1], bz = verts[b + 2];
    const cx = verts[c], cy = verts[c + 1], cz = verts[c + 2];
    const e0x = bx - ax, e0y = by - ay, e0z = bz - az; // v1 - v0
    const e1x = cx - bx, e1y = cy - by, e1z = cz - bz; // v2 - v1
    const e2x = cx - ax, e2y = cy - ay, e2z = cz - az; // v2 - v0
    const l0 = Math.sqrt(e0x * e0x + e0y * e0y + e0z * e0z);
    const l1 = Math.sqrt(e1x * e1x + e1y * e1y + e1z * e1z);
    const l2 = Math.sqrt(e2x * e2x + e2y * e2y + e2z * e2z);
    const inv0 = 1 / Math.max(l0, 1e-12);
    const xx = e0x * inv0, xy = e0y * inv0, xz = e0z * inv0;
    let nx = e0y * e2z - e0z * e2y, ny = e0z * e2x - e0x * e2z, nz = e0x * e2y - e0y * e2x;
    const invN = 1 / Math.max(Math.sqrt(nx * nx + ny * ny + nz * nz), 1e-12);
    nx *= invN; ny *= invN; nz *= invN;
    const yx = ny * xz - nz * xy, yy = nz * xx - nx * xz, yz = nx * xy - ny * xx; // normal x axis_x
    const o = FRAME_SIZE * f;
    frames[o] = (ax + bx + cx) / 3;
    frames[o + 1] = (ay + by + cy) / 3;
    frames[o + 2] = (az + bz + cz) / 3;
    frames[o + 3] = xx; frames[o + 4] = yx; frames[o + 5] = nx;
    frames[o + 6] = xy; frames[o + 7] = yy; frames[o + 8] = ny;
    frames[o + 9] = xz; frames[o + 10] = yz; frames[o + 11] = nz;
    frames[o + 12] = (l0 + l1 + l2) / 3;
    matrixToQuat(frames, o + 3, frames, o + 13);
  }
  return frames;
}

/** Unit quaternion (w, x, y, z), w >= 0, of the rotation matrix at m[o .. o + 9] (row-major),
 * written to out[at .. at + 4]: rotations.matrix_to_quat (the best conditioned of four candidates). */
export function matrixToQuat(m, o, out, at) {
  const m00 = m[o], m01 = m[o + 1], m02 = m[o + 2];
  const m10 = m[o + 3], m11 = m[o + 4], m12 = m[o + 5];
  const m20 = m[o + 6], m21 = m[o + 7], m22 = m[o + 8];
  const f0 = 1 + m00 + m11 + m22, f1 = 1 + m00 - m11 - m22, f2 = 1 - m00 + m11 - m22, f3 = 1 - m00 - m11 + m22;
  let w, x, y, z;
  if (f0 >= f1 && f0 >= f2 && f0 >= f3) { w = f0; x = m21 - m12; y = m02 - m20; z = m10 - m01; }
  else if (f1 >= f2 && f1 >= f3) { w = m21 - m12; x = f1; y = m10 + m01; z = m02 + m20; }
  else if (f2 >= f3) { w = m02 - m20; x = m10 + m01; y = f2; z = m21 + m12; }
  else { w = m10 - m01; x = m20 + m02; y = m21 + m12; z = f3; }
  // each candidate is 2 |q_i| q; dividing by its norm (with w's sign) gives q
  const norm = Math.max(Math.sqrt(w * w + x * x + y * y + z * z), 1e-12) * (w < 0 ? -1 : 1);
  out[at] = w / norm; out[at + 1] = x / norm; out[at + 2] = y / norm; out[at + 3] = z / norm;
}
