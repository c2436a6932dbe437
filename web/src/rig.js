// One frame of the rig posed: HeadRig.forward (avatar/rig/head_rig.py, lbs.py) for a template
// that already holds the person's identity. shaped = template + sum_e expr_e exprdirs_e (sparse);
// joints regressed from the shaped vertices; linear blend skinning with the joint rotations
// [root = params.rotation, neck, jaw, eye_l, eye_r] chained down the rig's parents; + translation.

/** Rotation matrix [9] (row-major) of an axis-angle [3], as lbs.axis_angle_to_matrix (Rodrigues,
 * with its 1e-8 added to each component before the norm). */
export function axisAngleToMatrix(x, y, z) {
  const angle = Math.hypot(x + 1e-8, y + 1e-8, z + 1e-8);
  const ax = x / angle, ay = y / angle, az = z / angle;
  const s = Math.sin(angle), c1 = 1 - Math.cos(angle);
  // K = [[0, -az, ay], [az, 0, -ax], [-ay, ax, 0]]; R = I + s K + (1 - cos) K^2
  const k = [0, -az, ay, az, 0, -ax, -ay, ax, 0];
  const r = new Float64Array(9);
  for (let i = 0; i < 3; ++i) {
    for (let j = 0; j < 3; ++j) {
      let kk = 0;
      for (let m = 0; m < 3; ++m) kk += k[3 * i + m] * k[3 * m + j];
      r[3 * i + j] = (i === j ? 1 : 0) + s * k[3 * i + j] + c1 * kk;
    }
  }
  return r;
}

export class RigPoser {
  constructor(rig) {
    this.rig = rig;
    this.shaped = new Float64Array(rig.numVertices * 3);
    this.verts = new Float32Array(rig.numVertices * 3);
  }

  /** Posed vertices [V * 3] (Float32Array, reused) of params {expr [E], jaw, neck, rotation [3],
   * eyes [6], translation [3]}. */
  pose(params) {
    const rig = this.rig, shaped = this.shaped;
    const numJoints = rig.numJoints;
    for (let i = 0; i < shaped.length; ++i) shaped[i] = rig.template[i];
    for (let e = 0; e < rig.numExpr; ++e) {
      const weight = params.expr[e] || 0;
      if (weight === 0) continue;
      const w = weight * rig.exprScale[e];
      for (let r = rig.exprStart[e]; r < rig.exprStart[e + 1]; ++r) {
        const v = 3 * rig.exprVertex[r];
        shaped[v] += w * rig.exprDelta[3 * r];
        shaped[v + 1] += w * rig.exprDelta[3 * r + 1];
        shaped[v + 2] += w * rig.exprDelta[3 * r + 2];
      }
    }
    const joints = new Float64Array(numJoints * 3);
    for (let j = 0; j < numJoints; ++j) {
      for (let r = rig.jregStart[j]; r < rig.jregStart[j + 1]; ++r) {
        const v = 3 * rig.jregVertex[r], w = rig.jregWeight[r];
        joints[3 * j] += w * shaped[v];
        joints[3 * j + 1] += w * shaped[v + 1];
        joints[3 * j + 2] += w * shaped[v + 2];
      }
    }
    const pose = [params.rotation, params.neck, params.jaw, params.eyes.slice(0, 3), params.eyes.slice(3, 6)];
    const rotations = pose.map((aa) => axisAngleToMatrix(aa[0], aa[1], aa[2]));
    if (rig.posedirs) this.addPoseCorrectives(rotations);
    const skin = skinningTransforms(rotations, joints, rig.parents); // [J] of 12 (3x4 row-major)
    const t = params.translation;
    const weights = rig.lbsWeights, verts = this.verts;
    const m = new Float64Array(12);
    for (let v = 0; v < rig.numVertices; ++v) {
      m.fill(0);
      for (let j = 0; j < numJoints; ++j) {
        const w = weights[v * numJoints + j];
        if (w === 0) continue;
        const s = skin[j];
        for (let i = 0; i < 12; ++i) m[i] += w * s[i];
      }
      const x = shaped[3 * v], y = shaped[3 * v + 1], z = shaped[3 * v + 2];
      verts[3 * v] = m[0] * x + m[1] * y + m[2] * z + m[3] + t[0];
      verts[3 * v + 1] = m[4] * x + m[5] * y + m[6] * z + m[7] + t[1];
      verts[3 * v + 2] = m[8] * x + m[9] * y + m[10] * z + m[11] + t[2];
    }
    return verts;
  }

  /** shaped += posedirs . (R_j - I) over the non-root joints (FLAME's pose correctives). */
  addPoseCorrectives(rotations) {
    const rig = this.rig, p = rig.numPoseFeatures, shaped = this.shaped;
    const feature = new Float64Array(p);
    for (let j = 1; j < rotations.length; ++j) {
      for (let i = 0; i < 9; ++i) feature[9 * (j - 1) + i] = rotations[j][i] - (i % 4 === 0 ? 1 : 0);
    }
    for (let v = 0; v < rig.numVertices; ++v) {
      for (let k = 0; k < 3; ++k) {
        const row = (3 * v + k) * p;
        let sum = 0;
        for (let f = 0; f < p; ++f) sum += rig.posedirs[row + f] * feature[f];
        shaped[3 * v + k] += sum;
      }
    }
  }
}

/** lbs.rigid_transforms: per joint the 3x4 transform (row-major [12]) that takes a rest-pose
 * vertex to its posed place. */
function skinningTransforms(rotations, joints, parents) {
  const world = [];
  for (let j = 0; j < rotations.length; ++j) {
    const r = rotations[j];
    const p = parents[j];
    const rel = p < 0 ? [joints[3 * j], joints[3 * j + 1], joints[3 * j + 2]]
      : [joints[3 * j] - joints[3 * p], joints[3 * j + 1] - joints[3 * p + 1], joints[3 * j + 2] - joints[3 * p + 2]];
    const local = [r[0], r[1], r[2], rel[0], r[3], r[4], r[5], rel[1], r[6], r[7], r[8], rel[2]];
    world.push(p < 0 ? local : compose(world[p], local));
  }
  return world.map((w, j) => {
    const s = w.slice();
    for (let i = 0; i < 3; ++i) {
      s[4 * i + 3] = w[4 * i + 3] - (w[4 * i] * joints[3 * j] + w[4 * i + 1] * joints[3 * j + 1]
        + w[4 * i + 2] * joints[3 * j + 2]);
    }
    return s;
  });
}

/** a @ b for 3x4 affine transforms (row-major [12], implicit last row 0 0 0 1). */
function compose(a, b) {
  const out = new Array(12);
  for (let i = 0; i < 3; ++i) {
    for (let j = 0; j < 4; ++j) {
      out[4 * i + j] = a[4 * i] * b[j] + a[4 * i + 1] * b[4 + j] + a[4 * i + 2] * b[8 + j] + (j === 3 ? a[4 * i + 3] : 0);
    }
  }
  return out;
}
