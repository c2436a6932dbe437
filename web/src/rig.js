// One frame of the rig posed: HeadRig.forward (avatar/rig/head_rig.py, lbs.py) for a template
// that already holds the person's identity. shaped = template + sum_e expr_e exprdirs_e (sparse);
// joints regressed from the shaped vertices; linear blend skinning with the joint rotations
// [root = params.rotation, neck, jaw, eye_l, eye_r] chained down the rig's parents; + translation.
// The CPU computes the joints' transforms and the few vertices the cut needs; the GPU poses every
// vertex with them (gpu/pose_shaders.js).

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
  /** Poses the rig's joints and the listed `vertices` (the cut's) on the CPU; the GPU poses all
   * of them from the same inputs (gpu/pose_shaders.js). */
  constructor(rig, vertices = []) {
    this.rig = rig;
    const jreg = Array.from(rig.jregVertex);
    this.vertices = Uint32Array.from(new Set([...vertices, ...jreg])); // the ones the CPU needs shaped
    this.slot = new Map(Array.from(this.vertices, (v, k) => [v, k]));
    // each listed vertex's expression rows (the file's are per expression)
    const rows = Array.from(this.vertices, () => []);
    for (let e = 0; e < rig.numExpr; ++e) {
      for (let r = rig.exprStart[e]; r < rig.exprStart[e + 1]; ++r) {
        const k = this.slot.get(rig.exprVertex[r]);
        if (k !== undefined) rows[k].push(e, r);
      }
    }
    this.rows = rows;
    this.shaped = new Float64Array(this.vertices.length * 3);
    this.exprWeights = new Float32Array(rig.numExpr);
    this.transforms = new Float32Array(rig.numJoints * 12);
    this.feature = rig.posedirs ? new Float32Array(rig.numPoseFeatures) : null;
  }

  /** One frame's posing of params {expr [E], jaw, neck, rotation [3], eyes [6], translation [3]}:
   * {exprWeights [E] (weight x the file's scale), transforms [J * 12] (per joint the 3x4
   * row-major skinning transform), feature [P] (pose correctives' input, or null),
   * translation [3], vertex(v): the posed vertex v [3] of the listed ones}. */
  pose(params) {
    const rig = this.rig, shaped = this.shaped, numJoints = rig.numJoints;
    for (let e = 0; e < rig.numExpr; ++e) this.exprWeights[e] = (params.expr[e] || 0) * rig.exprScale[e];
    this.vertices.forEach((v, k) => {
      let x = rig.template[3 * v], y = rig.template[3 * v + 1], z = rig.template[3 * v + 2];
      const rows = this.rows[k];
      for (let i = 0; i < rows.length; i += 2) {
        const weight = params.expr[rows[i]] || 0;
        if (weight === 0) continue;
        const w = weight * rig.exprScale[rows[i]], r = rows[i + 1];
        x += w * rig.exprDelta[3 * r];
        y += w * rig.exprDelta[3 * r + 1];
        z += w * rig.exprDelta[3 * r + 2];
      }
      shaped[3 * k] = x; shaped[3 * k + 1] = y; shaped[3 * k + 2] = z;
    });
    const joints = new Float64Array(numJoints * 3);
    for (let j = 0; j < numJoints; ++j) {
      for (let r = rig.jregStart[j]; r < rig.jregStart[j + 1]; ++r) {
        const k = 3 * this.slot.get(rig.jregVertex[r]), w = rig.jregWeight[r];
        joints[3 * j] += w * shaped[k];
        joints[3 * j + 1] += w * shaped[k + 1];
        joints[3 * j + 2] += w * shaped[k + 2];
      }
    }
    const pose = [params.rotation, params.neck, params.jaw, params.eyes.slice(0, 3), params.eyes.slice(3, 6)];
    const rotations = pose.map((aa) => axisAngleToMatrix(aa[0], aa[1], aa[2]));
    const feature = rig.posedirs ? poseFeature(rotations, rig.numPoseFeatures) : null;
    if (feature) this.feature.set(feature);
    const skin = skinningTransforms(rotations, joints, rig.parents); // [J] of 12 (3x4 row-major)
    skin.forEach((s, j) => this.transforms.set(s, 12 * j));
    const t = params.translation;
    const vertex = (v) => {
      const k = this.slot.get(v);
      if (k === undefined) throw new Error(`vertex ${v} is not one the CPU poses`);
      let x = shaped[3 * k], y = shaped[3 * k + 1], z = shaped[3 * k + 2];
      if (feature) [x, y, z] = [x, y, z].map((c, i) => c + correctives(rig, v, i, feature));
      const m = new Float64Array(12);
      for (let j = 0; j < numJoints; ++j) {
        const w = rig.lbsWeights[v * numJoints + j];
        if (w === 0) continue;
        for (let i = 0; i < 12; ++i) m[i] += w * skin[j][i];
      }
      return [m[0] * x + m[1] * y + m[2] * z + m[3] + t[0], m[4] * x + m[5] * y + m[6] * z + m[7] + t[1],
        m[8] * x + m[9] * y + m[10] * z + m[11] + t[2]];
    };
    return { exprWeights: this.exprWeights, transforms: this.transforms, feature: this.feature, translation: t, vertex };
  }
}

/** The pose correctives' input: (R_j - I) of the non-root joints, row-major, concatenated. */
function poseFeature(rotations, count) {
  const feature = new Float64Array(count);
  for (let j = 1; j < rotations.length; ++j) {
    for (let i = 0; i < 9; ++i) feature[9 * (j - 1) + i] = rotations[j][i] - (i % 4 === 0 ? 1 : 0);
  }
  return feature;
}

/** posedirs[v, k] . feature (FLAME's pose correctives of vertex v's coordinate k). */
function correctives(rig, v, k, feature) {
  const p = rig.numPoseFeatures, row = (3 * v + k) * p;
  let sum = 0;
  for (let f = 0; f < p; ++f) sum += rig.posedirs[row + f] * feature[f];
  return sum;
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
