// The avatar web player, built from web/src by `npm run build` (esbuild): edit the sources, not this file.
(() => {
  // src/camera.js
  var FRAMING_FOV_Y_DEG = 20;
  var FRAMING = 1.15;
  function intrinsics(width, height, fovYDeg) {
    const f = 0.5 * height / Math.tan(fovYDeg * Math.PI / 360);
    return [f, 0, width / 2, 0, f, height / 2, 0, 0, 1];
  }
  function lookAt(eye, target, width, height, fovYDeg = FRAMING_FOV_Y_DEG, up = [0, 1, 0]) {
    const z = unit(sub(target, eye));
    const x = unit(cross(z, up));
    const y = cross(z, x);
    const w2c = [x[0], x[1], x[2], -dot(x, eye), y[0], y[1], y[2], -dot(y, eye), z[0], z[1], z[2], -dot(z, eye), 0, 0, 0, 1];
    return { K: intrinsics(width, height, fovYDeg), w2c, width, height, near: 0.01, far: 100 };
  }
  function orbit(angleDeg, elevationDeg, distance, target, width, height, fovYDeg = FRAMING_FOV_Y_DEG) {
    const a = angleDeg * Math.PI / 180, e = elevationDeg * Math.PI / 180;
    const eye = [
      target[0] + distance * Math.sin(a) * Math.cos(e),
      target[1] + distance * Math.sin(e),
      target[2] + distance * Math.cos(a) * Math.cos(e)
    ];
    return lookAt(eye, target, width, height, fovYDeg);
  }
  function framingDistance(extent, fovYDeg = FRAMING_FOV_Y_DEG) {
    return FRAMING * extent / (2 * Math.tan(fovYDeg * Math.PI / 360));
  }
  function cameraPosition(camera) {
    const m = camera.w2c;
    return [0, 1, 2].map((c) => -(m[c] * m[3] + m[4 + c] * m[7] + m[8 + c] * m[11]));
  }
  function sub(a, b) {
    return [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
  }
  function dot(a, b) {
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
  }
  function cross(a, b) {
    return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
  }
  function unit(v) {
    const n = Math.hypot(v[0], v[1], v[2]);
    return [v[0] / n, v[1] / n, v[2] / n];
  }

  // src/rig.js
  function axisAngleToMatrix(x, y, z) {
    const angle = Math.hypot(x + 1e-8, y + 1e-8, z + 1e-8);
    const ax = x / angle, ay = y / angle, az = z / angle;
    const s = Math.sin(angle), c1 = 1 - Math.cos(angle);
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
  var RigPoser = class {
    /** Poses the rig's joints and the listed `vertices` (the cut's) on the CPU; the GPU poses all
     * of them from the same inputs (gpu/pose_shaders.js). */
    constructor(rig, vertices = []) {
      this.rig = rig;
      const jreg = Array.from(rig.jregVertex);
      this.vertices = Uint32Array.from(/* @__PURE__ */ new Set([...vertices, ...jreg]));
      this.slot = new Map(Array.from(this.vertices, (v, k) => [v, k]));
      const rows = Array.from(this.vertices, () => []);
      for (let e = 0; e < rig.numExpr; ++e) {
        for (let r = rig.exprStart[e]; r < rig.exprStart[e + 1]; ++r) {
          const k = this.slot.get(rig.exprVertex[r]);
          if (k !== void 0) rows[k].push(e, r);
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
        shaped[3 * k] = x;
        shaped[3 * k + 1] = y;
        shaped[3 * k + 2] = z;
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
      const skin = skinningTransforms(rotations, joints, rig.parents);
      skin.forEach((s, j) => this.transforms.set(s, 12 * j));
      const t = params.translation;
      const vertex = (v) => {
        const k = this.slot.get(v);
        if (k === void 0) throw new Error(`vertex ${v} is not one the CPU poses`);
        let x = shaped[3 * k], y = shaped[3 * k + 1], z = shaped[3 * k + 2];
        if (feature) [x, y, z] = [x, y, z].map((c, i) => c + correctives(rig, v, i, feature));
        const m = new Float64Array(12);
        for (let j = 0; j < numJoints; ++j) {
          const w = rig.lbsWeights[v * numJoints + j];
          if (w === 0) continue;
          for (let i = 0; i < 12; ++i) m[i] += w * skin[j][i];
        }
        return [
          m[0] * x + m[1] * y + m[2] * z + m[3] + t[0],
          m[4] * x + m[5] * y + m[6] * z + m[7] + t[1],
          m[8] * x + m[9] * y + m[10] * z + m[11] + t[2]
        ];
      };
      return { exprWeights: this.exprWeights, transforms: this.transforms, feature: this.feature, translation: t, vertex };
    }
  };
  function poseFeature(rotations, count) {
    const feature = new Float64Array(count);
    for (let j = 1; j < rotations.length; ++j) {
      for (let i = 0; i < 9; ++i) feature[9 * (j - 1) + i] = rotations[j][i] - (i % 4 === 0 ? 1 : 0);
    }
    return feature;
  }
  function correctives(rig, v, k, feature) {
    const p = rig.numPoseFeatures, row2 = (3 * v + k) * p;
    let sum = 0;
    for (let f = 0; f < p; ++f) sum += rig.posedirs[row2 + f] * feature[f];
    return sum;
  }
  function skinningTransforms(rotations, joints, parents) {
    const world = [];
    for (let j = 0; j < rotations.length; ++j) {
      const r = rotations[j];
      const p = parents[j];
      const rel = p < 0 ? [joints[3 * j], joints[3 * j + 1], joints[3 * j + 2]] : [joints[3 * j] - joints[3 * p], joints[3 * j + 1] - joints[3 * p + 1], joints[3 * j + 2] - joints[3 * p + 2]];
      const local = [r[0], r[1], r[2], rel[0], r[3], r[4], r[5], rel[1], r[6], r[7], r[8], rel[2]];
      world.push(p < 0 ? local : compose(world[p], local));
    }
    return world.map((w, j) => {
      const s = w.slice();
      for (let i = 0; i < 3; ++i) {
        s[4 * i + 3] = w[4 * i + 3] - (w[4 * i] * joints[3 * j] + w[4 * i + 1] * joints[3 * j + 1] + w[4 * i + 2] * joints[3 * j + 2]);
      }
      return s;
    });
  }
  function compose(a, b) {
    const out = new Array(12);
    for (let i = 0; i < 3; ++i) {
      for (let j = 0; j < 4; ++j) {
        out[4 * i + j] = a[4 * i] * b[j] + a[4 * i + 1] * b[4 + j] + a[4 * i + 2] * b[8 + j] + (j === 3 ? a[4 * i + 3] : 0);
      }
    }
    return out;
  }

  // src/blend.js
  function offsetDrivers(gaussians, params) {
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
  function offsetFactors(offsets, drivers, out) {
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
  var POSE_DRIVERS_PER_RADIAN = 3;
  function headPoseDrivers(pose, params, out, at) {
    const root = axisAngleToMatrix(params.rotation[0], params.rotation[1], params.rotation[2]);
    const neck = axisAngleToMatrix(params.neck[0], params.neck[1], params.neck[2]);
    const m = new Float64Array(9);
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
    const v = [(m[7] - m[5]) / 2, (m[2] - m[6]) / 2, (m[3] - m[1]) / 2];
    const sin = Math.hypot(v[0], v[1], v[2]), cos = (m[0] + m[4] + m[8] - 1) / 2;
    const factor = sin > 1e-7 ? Math.atan2(sin, cos) / sin : 1;
    for (let i = 0; i < 3; ++i) {
      out[at + i] = Math.min(Math.max(v[i] * factor, pose.low[i]), pose.high[i]) * POSE_DRIVERS_PER_RADIAN;
    }
  }

  // src/cut.js
  var CutLines = class {
    constructor(cut, rig) {
      this.cut = cut;
      this.vertices = Array.from(/* @__PURE__ */ new Set([...cut.ring, ...cut.sides, cut.top]));
      const index = new Map(this.vertices.map((v, k) => [v, k]));
      this.ring = cut.ring.map((v) => index.get(v));
      this.sides = cut.sides.map((v) => index.get(v));
      this.top = index.get(cut.top);
      this.faces = coverageFaces(cut, rig);
      this.xy = new Float64Array(2 * this.vertices.length);
      this.depth = new Float64Array(this.vertices.length);
      this.verts = new Float64Array(3 * this.vertices.length);
    }
    /** spans [4 H] (Int32Array, reused when it has that size): per image row from the top, the
     * columns [lo, hi] on the head's side of the neck ring's line, then of the sides' line (lo > hi:
     * none), for the rig posed by `vertex(v)` (RigPoser.pose's) seen by camera. */
    spans(vertex, camera, out) {
      this.vertices.forEach((v, k) => this.verts.set(vertex(v), 3 * k));
      projectVertices(this.verts, camera, this.xy, this.depth);
      const [ringLine, sidesLine] = cutLines(this.xy, this.depth, this.ring, this.sides, this.top);
      const { width, height } = camera;
      const spans = out && out.length === 4 * height ? out : new Int32Array(4 * height);
      for (let v = 0; v < height; ++v) {
        spans.set(columnsOnHeadSide(ringLine, v + 0.5, width), 4 * v);
        spans.set(columnsOnHeadSide(sidesLine, v + 0.5, width), 4 * v + 2);
      }
      return spans;
    }
  };
  function coverageFaces(cut, rig) {
    const shoulders = cut.shoulders || [];
    if (shoulders.length === 0) return rig.faces;
    const left = new Uint8Array(rig.numFaces);
    let leftOut = 0;
    for (const f of shoulders) {
      if (!Number.isInteger(f) || f < 0 || f >= rig.numFaces) {
        throw new Error(`head_cut.shoulders: face ${f} is not one of the rig's ${rig.numFaces}`);
      }
      if (!left[f]) {
        left[f] = 1;
        ++leftOut;
      }
    }
    const faces = new Uint32Array(3 * (rig.numFaces - leftOut));
    let n = 0;
    for (let f = 0; f < rig.numFaces; ++f) {
      if (left[f]) continue;
      faces.set(rig.faces.subarray(3 * f, 3 * f + 3), 3 * n++);
    }
    return faces;
  }
  function discHalfWidths(radius) {
    const half = new Int32Array(radius + 1);
    for (let dy = 0; dy <= radius; ++dy) half[dy] = discHalfWidth(dy, radius);
    return half;
  }
  function projectVertices(verts, camera, xy, depth) {
    const m = camera.w2c, k = camera.K;
    for (let v = 0; v < depth.length; ++v) {
      const px = verts[3 * v], py = verts[3 * v + 1], pz = verts[3 * v + 2];
      const c0 = m[0] * px + m[1] * py + m[2] * pz + m[3];
      const c1 = m[4] * px + m[5] * py + m[6] * pz + m[7];
      const c2 = m[8] * px + m[9] * py + m[10] * pz + m[11];
      const hx = k[0] * c0 + k[1] * c1 + k[2] * c2, hy = k[3] * c0 + k[4] * c1 + k[5] * c2;
      const hz = Math.max(k[6] * c0 + k[7] * c1 + k[8] * c2, 1e-9);
      xy[2 * v] = hx / hz;
      xy[2 * v + 1] = hy / hz;
      depth[v] = c2;
    }
  }
  function lineTowards(px, py, dx, dy, headX, headY) {
    const line = { px, py, nx: -dy, ny: dx };
    if ((headX - px) * line.nx + (headY - py) * line.ny < 0) {
      line.nx = -line.nx;
      line.ny = -line.ny;
    }
    return line;
  }
  function signedDistance(line, x, y) {
    return (x - line.px) * line.nx + (y - line.py) * line.ny;
  }
  function cutLines(xy, depth, ring, sides, top) {
    let front = ring[0];
    let mx = 0, my = 0;
    for (const r of ring) {
      if (depth[r] < depth[front]) front = r;
      mx += xy[2 * r];
      my += xy[2 * r + 1];
    }
    mx /= ring.length;
    my /= ring.length;
    let sxx = 0, sxy = 0, syy = 0;
    for (const r of ring) {
      const x = xy[2 * r] - mx, y = xy[2 * r + 1] - my;
      sxx += x * x;
      sxy += x * y;
      syy += y * y;
    }
    const angle = 0.5 * Math.atan2(2 * sxy, sxx - syy);
    const headX = xy[2 * top], headY = xy[2 * top + 1];
    const ringLine = lineTowards(xy[2 * front], xy[2 * front + 1], Math.cos(angle), Math.sin(angle), headX, headY);
    const ax = xy[2 * sides[0]], ay = xy[2 * sides[0] + 1], bx = xy[2 * sides[1]], by = xy[2 * sides[1] + 1];
    const length = Math.max(Math.hypot(bx - ax, by - ay), 1e-6);
    const sidesLine = lineTowards(0.5 * (ax + bx), 0.5 * (ay + by), (bx - ax) / length, (by - ay) / length, headX, headY);
    return [ringLine, sidesLine];
  }
  function neckRadius(margin, height, width) {
    const scaled = margin * Math.max(height, width);
    let whole = Math.floor(scaled);
    const rest = scaled - whole;
    if (rest > 0.5 || rest === 0.5 && whole % 2 !== 0) whole += 1;
    return Math.max(1, whole);
  }
  function discHalfWidth(dy, radius) {
    const t = dy / radius;
    return Math.floor(radius * Math.sqrt(Math.max(1 - t * t, 0)) + 0.5);
  }
  function columnsOnHeadSide(line, py, width) {
    const inside = (u) => signedDistance(line, u + 0.5, py) >= 0;
    let loX = -2, hiX = width + 1;
    if (line.nx !== 0) {
      const root = Math.min(Math.max(line.px - (py - line.py) * line.ny / line.nx, -2), width + 1);
      if (line.nx > 0) loX = root;
      else hiX = root;
    } else if (!inside(0)) {
      hiX = loX - 1;
    }
    let lo = Math.max(0, Math.ceil(loX - 0.5));
    let hi = Math.min(width - 1, Math.floor(hiX - 0.5));
    if (lo > hi) return [lo, hi];
    while (lo > 0 && inside(lo - 1)) --lo;
    while (lo <= hi && !inside(lo)) ++lo;
    while (hi < width - 1 && inside(hi + 1)) ++hi;
    while (hi >= lo && !inside(hi)) --hi;
    return [lo, hi];
  }

  // src/view_cone.js
  function viewOrigin(cone, params, position) {
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
    if (Math.hypot(side[0], side[1], side[2]) < 1e-9) {
      side = cross2(a, [0, 1, 0]);
      if (Math.hypot(side[0], side[1], side[2]) < 1e-9) side = cross2(a, [1, 0, 0]);
    }
    const n = Math.hypot(side[0], side[1], side[2]);
    const ca = Math.cos(cone.half_angle), sa = Math.sin(cone.half_angle);
    return [0, 1, 2].map((i) => centre[i] + distance * (ca * a[i] + sa * side[i] / n));
  }
  function cross2(a, b) {
    return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
  }

  // src/frame_inputs.js
  var FrameInputs = class {
    /** avatar: the page's part of a decoded avatar (worker.js's pagePart). */
    constructor(avatar) {
      this.avatar = avatar;
      const cut = avatar.headCut;
      this.cutLines = cut ? new CutLines(cut, avatar.rig) : null;
      this.poser = new RigPoser(avatar.rig, this.cutLines ? this.cutLines.vertices : []);
      this.factors = null;
      this.spans = [];
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
      return {
        exprWeights: posed.exprWeights,
        transforms: posed.transforms,
        translation: posed.translation,
        feature: posed.feature,
        factors: this.factors,
        eye,
        cut
      };
    }
  };

  // src/format.js
  var MAGIC = [65, 86, 87, 69, 66, 0, 0, 0];
  var VERSION = 1;
  var ALIGN = 16;
  var TYPES = {
    uint8: Uint8Array,
    int8: Int8Array,
    uint16: Uint16Array,
    uint32: Uint32Array,
    float16: Uint16Array,
    float32: Float32Array
  };
  var OFFSET_GROUPS = [
    ["d_xyz", 3, 0],
    ["d_rot", 4, 3],
    ["d_log_scale", 3, 7],
    ["d_opacity", 1, 10],
    ["d_color", 3, 11]
  ];
  var WebAvatarError = class extends Error {
  };
  var halfTable = null;
  function halfToFloatTable() {
    if (halfTable) return halfTable;
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; ++h) {
      const sign = h & 32768 ? -1 : 1;
      const exponent = h >> 10 & 31;
      const mantissa = h & 1023;
      let value;
      if (exponent === 0) value = mantissa * 2 ** -24;
      else if (exponent === 31) value = mantissa ? NaN : Infinity;
      else value = (1 + mantissa / 1024) * 2 ** (exponent - 15);
      halfTable[h] = sign * value;
    }
    return halfTable;
  }
  function halfToFloat(bits2) {
    const table = halfToFloatTable();
    const out = new Float32Array(bits2.length);
    for (let i = 0; i < bits2.length; ++i) out[i] = table[bits2[i]];
    return out;
  }
  function unpack(buffer, name = "avatar.webavatar") {
    const bytes = new Uint8Array(buffer);
    const fail = (what) => {
      throw new WebAvatarError(`${name}: not a readable .webavatar file: ${what}`);
    };
    if (bytes.length < 16 || MAGIC.some((b, i) => bytes[i] !== b)) fail("no .webavatar magic");
    const view = new DataView(buffer);
    const version = view.getUint32(8, true);
    const length = view.getUint32(12, true);
    if (version !== VERSION) fail(`version ${version} is not supported (want ${VERSION})`);
    if (16 + length > bytes.length) fail("the header runs past the end of the file");
    const meta = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + length)));
    if (meta.format !== "avatar-web") fail(`format tag ${JSON.stringify(meta.format)}`);
    const blocks = {}, halves = {};
    for (const [block, entry] of Object.entries(meta.blocks)) {
      const Type = TYPES[entry.dtype];
      if (!Type) fail(`block ${block} has dtype ${entry.dtype}`);
      const count = entry.shape.reduce((a, b) => a * b, 1);
      if (entry.offset % ALIGN || entry.offset < 16 + length || entry.offset + entry.length > bytes.length) {
        fail(`block ${block} lies outside the file or is not aligned`);
      }
      if (count * Type.BYTES_PER_ELEMENT !== entry.length) fail(`block ${block}: shape and length disagree`);
      const raw = new Type(buffer, entry.offset, count);
      blocks[block] = entry.dtype === "float16" ? halfToFloat(raw) : raw;
      if (entry.dtype === "float16") halves[block] = raw;
    }
    return { meta, blocks, halves };
  }
  function readWebAvatar(buffer, name) {
    const { meta, blocks, halves } = unpack(buffer, name);
    const rig = readRig(meta.rig, blocks, halves);
    const gaussians = readGaussians(meta.gaussians, blocks, rig, name);
    const offsets = readOffsets(meta.offsets, blocks, gaussians.count);
    const drivers = gaussians.blendExpr.length + 3 + (gaussians.pose ? 3 : 0);
    if (offsets.drivers !== drivers) {
      throw new WebAvatarError(`${offsets.drivers} offset drivers, the Gaussians have ${drivers}`);
    }
    return {
      rig,
      gaussians,
      offsets,
      levels: readLevels(meta.levels, gaussians.count),
      background: meta.background || [1, 1, 1],
      headCut: meta.head_cut || null,
      viewCone: meta.view_cone || null,
      expressionRange: meta.expression_range || null
    };
  }
  function readLevels(levels, count) {
    if (levels === void 0 || levels === null) return [{ count, psnrDb: null, psnrMinDb: null }];
    const counts = Array.isArray(levels) ? levels.map((level) => level && level.count) : [];
    if (!counts.length || counts[0] !== count || counts.some((c, k) => !Number.isInteger(c) || c < 1 || k && c >= counts[k - 1])) {
      throw new WebAvatarError(`levels of detail of ${JSON.stringify(counts)} Gaussians: not ${count}, then fewer each`);
    }
    return levels.map(({ count: c, psnr_db: psnrDb = null, psnr_min_db: psnrMinDb = null }) => ({ count: c, psnrDb, psnrMinDb }));
  }
  function readRig(header, blocks, halves) {
    const numExpr = header.num_expr;
    const rig = {
      name: header.name,
      numVertices: header.num_vertices,
      numExpr,
      exprNames: header.expr_names,
      parents: header.parents,
      template: blocks["rig.v_template"],
      // [V * 3], identity folded in
      faces: Uint32Array.from(blocks["rig.faces"]),
      // [F * 3]
      numFaces: header.num_faces,
      exprStart: blocks["rig.expr_start"],
      // [E + 1]
      exprVertex: Uint32Array.from(blocks["rig.expr_vertex"]),
      // [R]
      exprDelta: blocks["rig.expr_delta"],
      // int8 [R * 3]
      exprScale: blocks["rig.expr_scale"],
      // [E]
      jregStart: blocks["rig.jreg_start"],
      // [J + 1]
      jregVertex: blocks["rig.jreg_vertex"],
      jregWeight: blocks["rig.jreg_weight"],
      lbsWeights: blocks["rig.lbs_weights"],
      // [V * J]
      lbsWeightBits: halves["rig.lbs_weights"],
      // the same as float16 bits (the GPU's copy)
      numJoints: header.parents.length,
      posedirs: header.has_posedirs ? blocks["rig.posedirs"] : null,
      // [V * 3 * P]
      posedirBits: header.has_posedirs ? halves["rig.posedirs"] : null,
      numPoseFeatures: header.num_pose_features || 36
    };
    if (rig.exprStart.length !== numExpr + 1) throw new WebAvatarError("rig.expr_start does not fit num_expr");
    return rig;
  }
  function readGaussians(header, blocks, rig, name) {
    const count = header.count;
    const degree = header.sh_degree;
    const width = ((degree + 1) ** 2 - 1) * 3;
    const shCodes = width ? blocks["g.sh_rest"] : new Uint8Array(0);
    const shLow = width ? header.sh_rest_low : [], shStep = width ? header.sh_rest_step : [];
    if (shCodes.length !== count * width || shLow.length !== width || shStep.length !== width) {
      throw new WebAvatarError("g.sh_rest does not fit the Gaussians' SH degree");
    }
    const parent = Uint32Array.from(blocks["g.parent"]);
    for (let g = 0; g < count; ++g) {
      if (parent[g] >= rig.numFaces) throw new WebAvatarError("g.parent names a triangle the rig does not have");
    }
    return {
      count,
      degree,
      parent,
      blendExpr: blendExpressions(header, rig.numExpr, name),
      pose: headPose(blocks),
      xyz: blocks["g.xyz"],
      rot: blocks["g.rot"],
      logScale: blocks["g.log_scale"],
      opacityLogit: blocks["g.opacity_logit"],
      shDc: blocks["g.sh_dc"],
      shCodes,
      shLow,
      shStep
    };
  }
  function blendExpressions(header, numExpr, name = "avatar.webavatar") {
    const selected = header.blend_expr;
    if (selected === null || selected === void 0) {
      throw new WebAvatarError(`${name}: its offsets are driven by a PCA of the training expressions: it was trained with the expr_pca_variance option, which has been removed; train it again`);
    }
    if (!Array.isArray(selected) || selected.some((e) => !Number.isInteger(e) || e < 0 || e >= numExpr)) {
      throw new WebAvatarError("gaussians.blend_expr names expressions the rig does not have");
    }
    return Uint32Array.from(selected);
  }
  function headPose(blocks) {
    const names = ["g.pose_mean", "g.pose_low", "g.pose_high"];
    const present = names.filter((name) => blocks[name]);
    if (!present.length) return null;
    if (present.length !== names.length) {
      throw new WebAvatarError(`${present.join(", ")} without the rest of the g.pose_* blocks`);
    }
    const [mean, low, high] = names.map((name) => blocks[name]);
    if (mean.length !== 9 || low.length !== 3 || high.length !== 3) {
      throw new WebAvatarError("g.pose_* blocks are not [3, 3] / [3] / [3]");
    }
    return { mean, low, high };
  }
  function readOffsets(header, blocks, count) {
    const groups = OFFSET_GROUPS.map(([name, width, column]) => {
      const mask = blocks[`${name}.mask`];
      const start = blocks[`${name}.start`];
      const values = blocks[`${name}.values`];
      const scale = blocks[`${name}.scale`];
      const drivers = header.count;
      const stride = Math.ceil(count / 8);
      const gaussian = new Uint32Array(values.length / width);
      let row2 = 0;
      for (let d = 0; d < drivers; ++d) {
        if (start[d] !== row2) throw new WebAvatarError(`${name}.start disagrees with its mask`);
        for (let g = 0; g < count; ++g) {
          if (mask[d * stride + (g >> 3)] & 1 << (g & 7)) gaussian[row2++] = g;
        }
      }
      if (row2 !== gaussian.length) throw new WebAvatarError(`${name}.mask disagrees with its values`);
      return { name, width, column, start, gaussian, values, scale };
    });
    return { drivers: header.count, groups };
  }

  // src/gpu/layout.js
  var TEXTURE_WIDTH = 2048;
  var HALF_WIDTH = TEXTURE_WIDTH / 2;
  var GAUSSIAN_TEXELS = 5;
  var VERTEX_TEXELS = 2;
  var PER_TEXEL = [4, 2, 4, 4, 4];
  var MAX_JOINTS = 8;
  var LayoutError = class extends Error {
  };
  function gpuLayout(avatar) {
    const { rig, gaussians: g, offsets } = avatar;
    const drivers = offsets.drivers;
    if (drivers + 1 > 204) throw new LayoutError(`${drivers} offset drivers: the player takes at most 203`);
    if (rig.numExpr > 255) throw new LayoutError(`${rig.numExpr} expressions: the player takes at most 255`);
    if (rig.numJoints > MAX_JOINTS) throw new LayoutError(`${rig.numJoints} joints: the player takes at most ${MAX_JOINTS}`);
    const arrays = {
      vertices: vertexTexels(rig),
      exprs: expressionRows(rig),
      faces: faceTexels(rig.faces, rig.numFaces),
      ...gaussianTexels(g, offsets, avatar.levels || [{ count: g.count }])
    };
    arrays.shRest = shTexels(avatar.gaussians.shCodes, g.count, g.degree, arrays.positions);
    if (rig.posedirs) arrays.posedirs = posedirTexels(rig.posedirBits);
    const meta = {
      numVertices: rig.numVertices,
      numFaces: rig.numFaces,
      numJoints: rig.numJoints,
      numExpr: rig.numExpr,
      numPoseFeatures: rig.posedirs ? rig.numPoseFeatures : 0,
      count: g.count,
      places: placeCount(g.count),
      degree: g.degree,
      drivers,
      shTexels: shTexelCount(g.degree),
      shLow: g.shLow,
      shStep: g.shStep,
      // per level of detail, finest first: its Gaussians (the file's first count) and the rows of
      // the per-Gaussian targets their places span
      levels: (avatar.levels || [{ count: g.count }]).map(({ count }) => ({ count, rows: placeCount(count) / TEXTURE_WIDTH }))
    };
    return { arrays, meta };
  }
  function placeOfRank(r) {
    const block = r >> 2, k = r & 3;
    return (2 * Math.floor(block / HALF_WIDTH) + (k >> 1)) * TEXTURE_WIDTH + 2 * (block % HALF_WIDTH) + (k & 1);
  }
  function placeCount(count) {
    return 2 * TEXTURE_WIDTH * Math.max(1, Math.ceil(Math.ceil(count / 4) / HALF_WIDTH));
  }
  function shTexelCount(degree) {
    return Math.ceil(3 * ((degree + 1) ** 2 - 1) / 16);
  }
  function rgbaRows(texels) {
    return new Uint32Array(4 * TEXTURE_WIDTH * Math.max(1, Math.ceil(texels / TEXTURE_WIDTH)));
  }
  function rRows(values) {
    return new Uint32Array(TEXTURE_WIDTH * Math.max(1, Math.ceil(values / TEXTURE_WIDTH)));
  }
  var f32 = new Float32Array(1);
  var u32 = new Uint32Array(f32.buffer);
  function bits(x) {
    f32[0] = x;
    return u32[0];
  }
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
      out[o + 3] = (start | counts[i] << 24) >>> 0;
      start += counts[i];
      for (let j = 0; j < joints; ++j) {
        const half = rig.lbsWeightBits[i * joints + j];
        out[o + 4 + (j >> 1)] |= j & 1 ? half << 16 : half;
      }
    }
    return out;
  }
  function expressionRows(rig) {
    const v = rig.numVertices, rows = rig.exprVertex.length;
    const next = new Uint32Array(v + 1);
    for (let r = 0; r < rows; ++r) next[rig.exprVertex[r] + 1] += 1;
    for (let i = 0; i < v; ++i) next[i + 1] += next[i];
    const out = rRows(rows);
    const delta = new Uint8Array(rig.exprDelta.buffer, rig.exprDelta.byteOffset, rig.exprDelta.length);
    for (let e = 0; e < rig.numExpr; ++e) {
      for (let r = rig.exprStart[e]; r < rig.exprStart[e + 1]; ++r) {
        out[next[rig.exprVertex[r]]++] = (e | delta[3 * r] << 8 | delta[3 * r + 1] << 16 | delta[3 * r + 2] << 24) >>> 0;
      }
    }
    return out;
  }
  function posedirTexels(posedirBits) {
    const out = rRows(posedirBits.length / 2);
    for (let k = 0; k < posedirBits.length; k += 2) out[k >> 1] = (posedirBits[k] | posedirBits[k + 1] << 16) >>> 0;
    return out;
  }
  function faceTexels(faces, numFaces) {
    const out = rgbaRows(numFaces);
    for (let f = 0; f < numFaces; ++f) out.set(faces.subarray(3 * f, 3 * f + 3), 4 * f);
    return out;
  }
  function gaussianTexels(g, offsets, levels) {
    const n = g.count, groups = offsets.groups, padDriver = offsets.drivers;
    const perGroup = groups.map((group) => {
      const start = new Uint32Array(n + 1);
      for (const i of group.gaussian) start[i + 1] += 1;
      for (let i = 0; i < n; ++i) start[i + 1] += start[i];
      const next = start.slice(0, n), row2 = new Uint32Array(group.gaussian.length), driver = new Uint16Array(row2.length);
      for (let d = 0; d < offsets.drivers; ++d) {
        for (let r = group.start[d]; r < group.start[d + 1]; ++r) {
          const e = next[group.gaussian[r]]++;
          row2[e] = r;
          driver[e] = d;
        }
      }
      return { start, row: row2, driver };
    });
    let texels = 0;
    const counts = new Uint8Array(5 * n);
    const signature = new Float64Array(n);
    for (let i = 0; i < n; ++i) {
      for (let k = 0; k < 5; ++k) {
        const c = Math.ceil((perGroup[k].start[i + 1] - perGroup[k].start[i]) / PER_TEXEL[k]);
        if (c > 255) throw new LayoutError("a Gaussian has more offsets than the player takes");
        counts[5 * i + k] = c;
        texels += c;
      }
      signature[i] = (((counts[5 * i + 4] * 256 + counts[5 * i]) * 256 + counts[5 * i + 1]) * 256 + counts[5 * i + 2]) * 256 + counts[5 * i + 3];
    }
    const coarsestFirst = levels.map(({ count }) => count).reverse();
    const tier = (i) => {
      let k = 0;
      while (i >= coarsestFirst[k]) ++k;
      return k;
    };
    const tiers = Uint8Array.from({ length: n }, (_, i) => tier(i));
    const ranked = Uint32Array.from({ length: n }, (_, i) => i).sort((a, b) => tiers[a] - tiers[b] || signature[a] - signature[b] || a - b);
    const positions = new Uint32Array(n);
    ranked.forEach((i, r) => {
      positions[i] = placeOfRank(r);
    });
    const gaussians = rgbaRows(GAUSSIAN_TEXELS * placeCount(n));
    const entries = rgbaRows(texels);
    let at = 0;
    for (const i of ranked) {
      const o = 4 * GAUSSIAN_TEXELS * positions[i], i3 = 3 * i, i4 = 4 * i;
      gaussians[o] = bits(g.xyz[i3]);
      gaussians[o + 1] = bits(g.xyz[i3 + 1]);
      gaussians[o + 2] = bits(g.xyz[i3 + 2]);
      gaussians[o + 3] = bits(g.opacityLogit[i]);
      for (let k = 0; k < 4; ++k) gaussians[o + 4 + k] = bits(g.rot[i4 + k]);
      for (let k = 0; k < 3; ++k) gaussians[o + 8 + k] = bits(g.logScale[i3 + k]);
      gaussians[o + 11] = g.parent[i];
      for (let k = 0; k < 3; ++k) gaussians[o + 12 + k] = bits(g.shDc[i3 + k]);
      gaussians[o + 15] = at;
      gaussians[o + 16] = counts[5 * i] | counts[5 * i + 1] << 8 | counts[5 * i + 2] << 16 | counts[5 * i + 3] << 24;
      gaussians[o + 17] = counts[5 * i + 4];
      gaussians[o + 18] = 1;
      for (let k = 0; k < 5; ++k) {
        const { start, row: row2, driver } = perGroup[k], group = groups[k], width = group.width;
        const values = new Uint8Array(group.values.buffer, group.values.byteOffset, group.values.length);
        const slots = counts[5 * i + k] * 4;
        let w = 4 * at;
        const end = w + slots;
        for (let e = start[i]; e < start[i + 1]; ++e) {
          const r = row2[e];
          let packed = 0;
          for (let c = 0; c < width; ++c) packed |= values[width * r + c] << 8 * c;
          if (width === 4) {
            entries[w++] = driver[e];
            entries[w++] = packed >>> 0;
          } else {
            entries[w++] = (driver[e] | packed << 8) >>> 0;
          }
        }
        for (; w < end; ++w) entries[w] = width === 4 && w % 2 === 1 ? 0 : padDriver;
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

  // src/gpu/gl_util.js
  function program(gl, vertexSource, fragmentSource) {
    const p = gl.createProgram();
    for (const [type, source] of [[gl.VERTEX_SHADER, vertexSource], [gl.FRAGMENT_SHADER, fragmentSource]]) {
      const s = gl.createShader(type);
      gl.shaderSource(s, source);
      gl.compileShader(s);
      if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(`shader: ${gl.getShaderInfoLog(s)}`);
      gl.attachShader(p, s);
    }
    gl.linkProgram(p);
    if (!gl.getProgramParameter(p, gl.LINK_STATUS)) throw new Error(`program: ${gl.getProgramInfoLog(p)}`);
    const locations = /* @__PURE__ */ new Map();
    p.uniform = (name) => {
      if (!locations.has(name)) locations.set(name, gl.getUniformLocation(p, name));
      return locations.get(name);
    };
    return p;
  }
  function nearest(gl) {
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.NEAREST);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.NEAREST);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
  }
  function rowsFor(gl, count, what) {
    const rows = Math.max(1, Math.ceil(count / TEXTURE_WIDTH));
    if (rows > gl.getParameter(gl.MAX_TEXTURE_SIZE)) {
      throw new Error(`${what}: ${count} texels do not fit this GPU's textures (${gl.getParameter(gl.MAX_TEXTURE_SIZE)} px)`);
    }
    return rows;
  }
  var FORMATS = { RGBA32UI: ["RGBA_INTEGER", "UNSIGNED_INT", 4], R32UI: ["RED_INTEGER", "UNSIGNED_INT", 1] };
  function dataTexture(gl, internal, data, what) {
    const [format, type, channels] = FORMATS[internal];
    const rows = rowsFor(gl, data.length / channels, what);
    const texture = gl.createTexture();
    gl.bindTexture(gl.TEXTURE_2D, texture);
    gl.texStorage2D(gl.TEXTURE_2D, 1, gl[internal], TEXTURE_WIDTH, rows);
    nearest(gl);
    gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, TEXTURE_WIDTH, rows, gl[format], gl[type], data);
    return texture;
  }
  function renderTarget(gl, internals, width, rows) {
    const framebuffer = gl.createFramebuffer();
    gl.bindFramebuffer(gl.FRAMEBUFFER, framebuffer);
    const textures = internals.map((internal, k) => {
      const texture = gl.createTexture();
      gl.bindTexture(gl.TEXTURE_2D, texture);
      gl.texStorage2D(gl.TEXTURE_2D, 1, gl[internal], width, rows);
      nearest(gl);
      gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0 + k, gl.TEXTURE_2D, texture, 0);
      return texture;
    });
    gl.drawBuffers(internals.map((_, k) => gl.COLOR_ATTACHMENT0 + k));
    const status = gl.checkFramebufferStatus(gl.FRAMEBUFFER);
    gl.bindFramebuffer(gl.FRAMEBUFFER, null);
    if (status !== gl.FRAMEBUFFER_COMPLETE) throw new Error(`this GPU cannot render into ${internals.join(" + ")} (${status})`);
    return { framebuffer, textures, width, rows, internals };
  }
  function bindTextures(gl, p, named) {
    Object.entries(named).forEach(([name, texture], unit2) => {
      gl.activeTexture(gl.TEXTURE0 + unit2);
      gl.bindTexture(gl.TEXTURE_2D, texture);
      gl.uniform1i(p.uniform(name), unit2);
    });
  }
  function runPass(gl, target, rows = target.rows) {
    gl.bindFramebuffer(gl.FRAMEBUFFER, target.framebuffer);
    gl.viewport(0, 0, target.width, rows);
    gl.disable(gl.BLEND);
    gl.drawArrays(gl.TRIANGLES, 0, 3);
  }
  function readTarget(gl, target, k = 0, rows = target.rows) {
    gl.bindFramebuffer(gl.READ_FRAMEBUFFER, target.framebuffer);
    gl.readBuffer(gl.COLOR_ATTACHMENT0 + k);
    const [format, type, channels] = FORMATS[target.internals[k]];
    const out = new Uint32Array(target.width * rows * 4);
    const narrow = channels === 1 && gl.getParameter(gl.IMPLEMENTATION_COLOR_READ_FORMAT) === gl[format] && gl.getParameter(gl.IMPLEMENTATION_COLOR_READ_TYPE) === gl[type];
    gl.readPixels(0, 0, target.width, rows, narrow ? gl[format] : gl.RGBA_INTEGER, gl.UNSIGNED_INT, out);
    gl.bindFramebuffer(gl.READ_FRAMEBUFFER, null);
    if (channels === 4 || narrow) return narrow ? out.subarray(0, target.width * rows) : out;
    return out.filter((_, i) => i % 4 === 0);
  }

  // src/gl/shaders.js
  var SPLAT_VERTEX = `#version 300 es
precision highp float;
precision highp int;
precision highp usampler2D;

uniform usampler2D u_a;        // the splats (gpu/gaussian_shaders.js), a texel each, 2048 a row:
uniform usampler2D u_b;        // centre, conic, opacity, colour
uniform usampler2D u_order;    // R32UI: the splats to draw, back to front, 2048 a row
uniform vec2 u_size;           // width, height (pixels)

flat out vec3 v_colour;
flat out float v_opacity;
flat out vec3 v_conic;
flat out vec2 v_centre;

const float ALPHA_MIN = 1.0 / 255.0;
const vec2 QUAD_MARGIN = vec2(1.001, 0.05);  // scale, pixels: the rounding of the sizes and corners

void main() {
  // Four vertices a splat, drawn through a fixed index buffer (two triangles each): vertex k is
  // corner k & 3 of the splat in draw slot k / 4. (Instanced quads cost 4-5 times as much under
  // SwiftShader.)
  int slot = gl_VertexID >> 2;
  vec2 corner = vec2(float(gl_VertexID & 1), float((gl_VertexID >> 1) & 1)) * 2.0 - 1.0;
  int splat = int(texelFetch(u_order, ivec2(slot & 2047, slot >> 11), 0).r);
  ivec2 at = ivec2(splat & 2047, splat >> 11);
  vec4 a = uintBitsToFloat(texelFetch(u_a, at, 0));
  uvec4 b = texelFetch(u_b, at, 0);
  v_centre = a.xy;
  v_conic = vec3(a.zw, uintBitsToFloat(b.x));
  v_opacity = uintBitsToFloat(b.y);
  v_colour = vec3(unpackHalf2x16(b.z), unpackHalf2x16(b.w).x);
  // The quad: the ellipse where alpha reaches 1/255 (d^T conic d <= extent; every pixel outside
  // it is discarded), along its own axes (the covariance's eigenvectors: the conic's), widened
  // by QUAD_MARGIN; a thin splat then costs what it covers.
  float extent = 2.0 * log(max(v_opacity, ALPHA_MIN) / ALPHA_MIN);
  float det = 1.0 / (v_conic.x * v_conic.z - v_conic.y * v_conic.y);
  float cxx = v_conic.z * det, cxy = -v_conic.y * det, cyy = v_conic.x * det;  // the covariance
  float mid = 0.5 * (cxx + cyy);
  float spread = sqrt(max(mid * mid - det, 0.0));
  float major = mid + spread, minor = max(mid - spread, 0.0);
  vec2 axis = abs(cxy) > 1e-9 * major ? normalize(vec2(cxy, major - cxx)) : (cxx >= cyy ? vec2(1.0, 0.0) : vec2(0.0, 1.0));
  vec2 half_size = QUAD_MARGIN.x * sqrt(extent * vec2(major, minor)) + QUAD_MARGIN.y;
  vec2 pixel = v_centre + (corner.x * half_size.x) * axis + (corner.y * half_size.y) * vec2(-axis.y, axis.x);
  gl_Position = vec4(2.0 * pixel.x / u_size.x - 1.0, 1.0 - 2.0 * pixel.y / u_size.y, 0.0, 1.0);
}
`;
  var SPLAT_FRAGMENT = `#version 300 es
precision highp float;

uniform vec2 u_size;

flat in vec3 v_colour;
flat in float v_opacity;
flat in vec3 v_conic;
flat in vec2 v_centre;

out vec4 o_colour;

void main() {
  vec2 d = vec2(gl_FragCoord.x, u_size.y - gl_FragCoord.y) - v_centre;  // pixel centre, rows from the top
  float power = -0.5 * (v_conic.x * d.x * d.x + v_conic.z * d.y * d.y) - v_conic.y * d.x * d.y;
  if (power > 0.0) discard;
  float alpha = min(0.99, v_opacity * exp(power));
  if (alpha < 1.0 / 255.0) discard;
  o_colour = vec4(v_colour * alpha, alpha);
}
`;
  var COMPOSITE_VERTEX = `#version 300 es
in vec2 a_corner;
void main() { gl_Position = vec4(a_corner, 0.0, 1.0); }
`;
  var COMPOSITE_FRAGMENT = `#version 300 es
precision highp float;

precision highp isampler2D;
precision highp usampler2D;

uniform sampler2D u_accumulated;
uniform isampler2D u_spans;    // RGBA32I [H], rows from the top: the columns on the head's side of
                               // the neck ring's line, then of the sides' line (gpu/cut_gpu.js)
uniform usampler2D u_grown;    // R8UI, GL rows: the rig's pixels grown by the neck margin
uniform int u_cut;             // 0: none, 1: the neck line alone (hanging hair), 2: lines and pixels
uniform bool u_cut_only;       // the splats are already over the background (8-bit canvas): only cut
uniform bool u_show_region;    // the tests: white where the cut keeps the pixel, black elsewhere
uniform vec3 u_background;
uniform bool u_transparent;    // no background: premultiplied colour and coverage, 0 where the cut removes
uniform vec2 u_size;

out vec4 o_colour;

bool kept(ivec2 pixel) {
  if (u_cut == 0) return true;
  ivec4 span = texelFetch(u_spans, ivec2(int(u_size.y) - 1 - pixel.y, 0), 0);
  if (pixel.x < span.x || pixel.x > span.y) return false;
  return u_cut == 1 || (pixel.x >= span.z && pixel.x <= span.w) || texelFetch(u_grown, pixel, 0).r != 0u;
}

void main() {
  ivec2 pixel = ivec2(gl_FragCoord.xy);
  bool removed = !kept(pixel);
  if (u_show_region) {
    o_colour = removed ? vec4(0.0, 0.0, 0.0, 1.0) : vec4(1.0);
    return;
  }
  if (u_cut_only) {
    if (!removed) discard;
    o_colour = u_transparent ? vec4(0.0) : vec4(u_background, 1.0);
    return;
  }
  vec4 sum = texelFetch(u_accumulated, pixel, 0);
  if (u_transparent) {
    float a = removed ? 0.0 : clamp(sum.a, 0.0, 1.0);
    o_colour = vec4(clamp(sum.rgb, 0.0, a), a);
    return;
  }
  vec3 rgb = removed ? u_background : sum.rgb + (1.0 - sum.a) * u_background;
  o_colour = vec4(clamp(rgb, 0.0, 1.0), 1.0);
}
`;

  // src/gl/renderer.js
  var TIMED_EVERY = 8;
  var SplatRenderer = class {
    /** target: "auto" (the most precise the browser blends into), or "rgba16f" / "rgba8" to
     * force a lesser one (as on browsers without float blending). transparent: no background, the
     * canvas holds premultiplied colour and the avatar's coverage (0 outside it and below the cut). */
    constructor(canvas, target = "auto", transparent = false) {
      const gl = canvas.getContext("webgl2", {
        antialias: false,
        alpha: transparent,
        depth: false,
        stencil: false,
        premultipliedAlpha: transparent,
        preserveDrawingBuffer: false,
        powerPreference: "high-performance"
      });
      this.transparent = transparent;
      if (!gl) throw new Error("this browser has no WebGL2");
      this.gl = gl;
      this.canvas = canvas;
      this.splatProgram = program(gl, SPLAT_VERTEX, SPLAT_FRAGMENT);
      this.compositeProgram = program(gl, COMPOSITE_VERTEX, COMPOSITE_FRAGMENT);
      this.target = chooseTarget(gl, target);
      this.quad = gl.createBuffer();
      gl.bindBuffer(gl.ARRAY_BUFFER, this.quad);
      gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1, -1, 1, -1, -1, 1, 1, 1]), gl.STATIC_DRAW);
      this.orderTexture = null;
      this.orderRows = 0;
      this.orderCount = 0;
      this.framebuffer = null;
      this.size = [0, 0];
      this.timer = gl.getExtension("EXT_disjoint_timer_query_webgl2");
      this.queries = [];
      this.open = null;
      this.frameMs = /* @__PURE__ */ new Map();
      this.gpuMs = null;
    }
    /** Starts timing a span of frame `frame`'s GPU work (ended by endSpan; last: the frame's last);
     * one frame in TIMED_EVERY is timed (each query costs the page's thread some time). */
    beginSpan(frame) {
      if (!this.timer || frame % TIMED_EVERY) return;
      this.collectTimings();
      if (this.queries.length >= 8) return;
      this.open = { frame, query: this.gl.createQuery() };
      this.gl.beginQuery(this.timer.TIME_ELAPSED_EXT, this.open.query);
      if (!this.frameMs.has(frame)) this.frameMs.set(frame, { ms: 0, closed: false, lost: false });
    }
    endSpan(last = false) {
      if (!this.open) return;
      this.gl.endQuery(this.timer.TIME_ELAPSED_EXT);
      this.queries.push(this.open);
      if (last) this.frameMs.get(this.open.frame).closed = true;
      this.open = null;
    }
    /** The draw order (indices back to front, Uint32Array) the next draws use. */
    setOrder(order) {
      this.orderTexture = this.upload(this.orderTexture, order);
      this.orderCount = order.length;
    }
    /** Draws the splats (textures [a, b] of gaussian_shaders.js) in the last setOrder's order
     * seen by camera over background [3], with the cut (cut_gpu.js's region, or null). */
    draw(splats, cut, camera, background) {
      const count = this.orderCount;
      const gl = this.gl;
      const { width, height } = camera;
      if (this.canvas.width !== width || this.canvas.height !== height) {
        this.canvas.width = width;
        this.canvas.height = height;
      }
      this.prepareTargets(width, height);
      const direct = this.framebuffer === null;
      gl.bindFramebuffer(gl.FRAMEBUFFER, this.framebuffer);
      gl.viewport(0, 0, width, height);
      if (direct && !this.transparent) gl.clearColor(background[0], background[1], background[2], 1);
      else gl.clearColor(0, 0, 0, 0);
      gl.clear(gl.COLOR_BUFFER_BIT);
      gl.enable(gl.BLEND);
      gl.blendFunc(gl.ONE, gl.ONE_MINUS_SRC_ALPHA);
      const p = this.splatProgram;
      gl.useProgram(p);
      gl.uniform2f(gl.getUniformLocation(p, "u_size"), width, height);
      [...splats, this.orderTexture].forEach((texture, unit2) => {
        gl.activeTexture(gl.TEXTURE0 + unit2);
        gl.bindTexture(gl.TEXTURE_2D, texture);
        gl.uniform1i(gl.getUniformLocation(p, ["u_a", "u_b", "u_order"][unit2]), unit2);
      });
      if (count) {
        this.bindQuadIndices(count);
        gl.drawElements(gl.TRIANGLES, 6 * count, gl.UNSIGNED_INT, 0);
      }
      gl.bindFramebuffer(gl.FRAMEBUFFER, null);
      gl.disable(gl.BLEND);
      if (!direct || cut) this.composite(direct, cut, width, height, background);
    }
    /** For the tests: the cut's region drawn into the canvas (white where kept, black where cut). */
    drawRegion(cut, camera) {
      const gl = this.gl;
      this.canvas.width = camera.width;
      this.canvas.height = camera.height;
      gl.bindFramebuffer(gl.FRAMEBUFFER, null);
      gl.viewport(0, 0, camera.width, camera.height);
      gl.disable(gl.BLEND);
      this.composite(false, cut, camera.width, camera.height, [0, 0, 0], true);
    }
    /** The GPU times of earlier frames that are ready (this.gpuMs: the newest whole frame's). */
    collectTimings() {
      const gl = this.gl;
      while (this.queries.length && gl.getQueryParameter(this.queries[0].query, gl.QUERY_RESULT_AVAILABLE)) {
        const { frame, query } = this.queries.shift();
        const entry = this.frameMs.get(frame);
        if (gl.getParameter(this.timer.GPU_DISJOINT_EXT)) entry.lost = true;
        else entry.ms += gl.getQueryParameter(query, gl.QUERY_RESULT) / 1e6;
        gl.deleteQuery(query);
      }
      for (const [frame, entry] of this.frameMs) {
        if (!entry.closed || this.queries.some((q) => q.frame === frame)) continue;
        if (!entry.lost) this.gpuMs = entry.ms;
        this.frameMs.delete(frame);
      }
    }
    /** The accumulated splats over the background, with the cut (direct: only the cut; showRegion:
     * the cut's region itself). */
    composite(direct, cut, width, height, background, showRegion = false) {
      const gl = this.gl;
      const c = this.compositeProgram;
      gl.useProgram(c);
      gl.uniform1i(gl.getUniformLocation(c, "u_cut_only"), direct ? 1 : 0);
      gl.uniform1i(gl.getUniformLocation(c, "u_show_region"), showRegion ? 1 : 0);
      gl.uniform2f(gl.getUniformLocation(c, "u_size"), width, height);
      [direct ? null : this.accumulated, cut && cut.spans, cut && cut.grown].forEach((texture, unit2) => {
        gl.activeTexture(gl.TEXTURE0 + unit2);
        gl.bindTexture(gl.TEXTURE_2D, texture);
        gl.uniform1i(gl.getUniformLocation(c, ["u_accumulated", "u_spans", "u_grown"][unit2]), unit2);
      });
      gl.uniform1i(gl.getUniformLocation(c, "u_cut"), !cut ? 0 : cut.hanging ? 1 : 2);
      gl.uniform3fv(gl.getUniformLocation(c, "u_background"), background);
      gl.uniform1i(gl.getUniformLocation(c, "u_transparent"), this.transparent ? 1 : 0);
      bindCorners(gl, c, this.quad);
      gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
    }
    /** The canvas's pixels [H * W * 4] (RGBA, rows from the top) as last drawn (call in the same
     * task as draw: the canvas keeps no copy). */
    readPixels() {
      const gl = this.gl, { width, height } = this.canvas;
      const bottomUp = new Uint8Array(width * height * 4);
      gl.readPixels(0, 0, width, height, gl.RGBA, gl.UNSIGNED_BYTE, bottomUp);
      const out = new Uint8Array(bottomUp.length);
      const row2 = width * 4;
      for (let y = 0; y < height; ++y) out.set(bottomUp.subarray((height - 1 - y) * row2, (height - y) * row2), y * row2);
      return out;
    }
    prepareTargets(width, height) {
      const gl = this.gl;
      if (this.size[0] === width && this.size[1] === height) return;
      this.size = [width, height];
      if (this.target.internal === null) return;
      if (!this.framebuffer) {
        this.framebuffer = gl.createFramebuffer();
        this.accumulated = gl.createTexture();
      }
      gl.bindTexture(gl.TEXTURE_2D, this.accumulated);
      gl.texImage2D(gl.TEXTURE_2D, 0, this.target.internal, width, height, 0, gl.RGBA, this.target.type, null);
      nearest(gl);
      gl.bindFramebuffer(gl.FRAMEBUFFER, this.framebuffer);
      gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, this.accumulated, 0);
      gl.bindFramebuffer(gl.FRAMEBUFFER, null);
    }
    /** The draw order into an R32UI texture TEXTURE_WIDTH wide, made anew where it has too few
     * rows; returns the texture. */
    upload(texture, data) {
      const gl = this.gl;
      const rows = Math.max(1, Math.ceil(data.length / TEXTURE_WIDTH));
      if (!texture || rows > this.orderRows) {
        if (texture) gl.deleteTexture(texture);
        texture = gl.createTexture();
        this.orderRows = rows;
        gl.bindTexture(gl.TEXTURE_2D, texture);
        gl.texStorage2D(gl.TEXTURE_2D, 1, gl.R32UI, TEXTURE_WIDTH, rows);
        nearest(gl);
      }
      if (data.length === 0) return texture;
      gl.bindTexture(gl.TEXTURE_2D, texture);
      const full = Math.floor(data.length / TEXTURE_WIDTH);
      if (full) gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, TEXTURE_WIDTH, full, gl.RED_INTEGER, gl.UNSIGNED_INT, data, 0);
      const rest = data.length - full * TEXTURE_WIDTH;
      if (rest) {
        gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, full, rest, 1, gl.RED_INTEGER, gl.UNSIGNED_INT, data, full * TEXTURE_WIDTH);
      }
      return texture;
    }
    /** The index buffer of `count` quads (0 1 2, 2 1 3 for each four vertices), grown as needed. */
    bindQuadIndices(count) {
      const gl = this.gl;
      if (!this.indices || this.indexCapacity < count) {
        this.indexCapacity = Math.max(count, 2 * (this.indexCapacity || 0));
        const data = new Uint32Array(6 * this.indexCapacity);
        for (let i = 0; i < this.indexCapacity; ++i) data.set([4 * i, 4 * i + 1, 4 * i + 2, 4 * i + 2, 4 * i + 1, 4 * i + 3], 6 * i);
        this.indices = this.indices || gl.createBuffer();
        gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, this.indices);
        gl.bufferData(gl.ELEMENT_ARRAY_BUFFER, data, gl.STATIC_DRAW);
      }
      gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, this.indices);
    }
  };
  function chooseTarget(gl, wanted) {
    const floatBuffer = gl.getExtension("EXT_color_buffer_float");
    if (wanted === "auto" && floatBuffer && gl.getExtension("EXT_float_blend")) {
      return { internal: gl.RGBA32F, type: gl.FLOAT, name: "rgba32f" };
    }
    if (wanted !== "rgba8" && (floatBuffer || gl.getExtension("EXT_color_buffer_half_float"))) {
      return { internal: gl.RGBA16F, type: gl.HALF_FLOAT, name: "rgba16f" };
    }
    return { internal: null, type: null, name: "rgba8 (canvas)" };
  }
  function bindCorners(gl, p, buffer) {
    const location2 = gl.getAttribLocation(p, "a_corner");
    gl.bindBuffer(gl.ARRAY_BUFFER, buffer);
    gl.enableVertexAttribArray(location2);
    gl.vertexAttribPointer(location2, 2, gl.FLOAT, false, 0, 0);
  }

  // src/gpu/pose_shaders.js
  var TEXEL_OF = `
const int ROW_SHIFT = ${Math.log2(TEXTURE_WIDTH)};
ivec2 at(int i) { return ivec2(i & ${TEXTURE_WIDTH - 1}, i >> ROW_SHIFT); }
`;
  var COMMON = `${TEXEL_OF}
int item() { return (int(gl_FragCoord.y) << ROW_SHIFT) + int(gl_FragCoord.x); }
`;
  var FULL_VIEWPORT_VERTEX = `#version 300 es
void main() {
  vec2 p = vec2(float((gl_VertexID & 1) << 2), float((gl_VertexID & 2) << 1)) - 1.0;
  gl_Position = vec4(p, 0.0, 1.0);
}
`;
  function poseFragment(numExpr, numJoints, numPoseFeatures) {
    return `#version 300 es
precision highp float;
precision highp int;
precision highp usampler2D;
${COMMON}
uniform usampler2D u_vertices;  // 2 texels a vertex (gpu/layout.js)
uniform usampler2D u_exprs;     // R32UI: e | int8 delta bytes << 8
uniform int u_count;
uniform float u_expr[${numExpr}];           // weight x the file's scale, per expression
uniform vec4 u_skin[${3 * numJoints}];      // each joint's 3x4 transform, row by row
uniform vec3 u_translation;
${numPoseFeatures ? `uniform usampler2D u_posedirs;  // R32UI: [V, 3, P] float16 pairs
uniform float u_feature[${numPoseFeatures}];` : ""}

out uvec4 o_vertex;

void main() {
  int v = item();
  if (v >= u_count) discard;
  uvec4 t0 = texelFetch(u_vertices, at(2 * v), 0), t1 = texelFetch(u_vertices, at(2 * v + 1), 0);
  vec3 x = uintBitsToFloat(t0.xyz);
  int start = int(t0.w & 0xffffffu), end = start + int(t0.w >> 24);
  for (int r = start; r < end; ++r) {
    uint e = texelFetch(u_exprs, at(r), 0).r;
    x += u_expr[int(e & 255u)] * vec3(ivec3(int(e << 16) >> 24, int(e << 8) >> 24, int(e) >> 24));
  }
${numPoseFeatures ? `  int base = v * ${3 * numPoseFeatures / 2};
  for (int k = 0; k < 3; ++k) {
    float sum = 0.0;
    for (int f = 0; f < ${numPoseFeatures}; f += 2) {
      vec2 p = unpackHalf2x16(texelFetch(u_posedirs, at(base + (k * ${numPoseFeatures} + f) / 2), 0).r);
      sum += p.x * u_feature[f] + p.y * u_feature[f + 1];
    }
    x[k] += sum;
  }` : ""}
  vec4 r0 = vec4(0.0), r1 = vec4(0.0), r2 = vec4(0.0);
${Array.from({ length: numJoints }, (_, j) => `  { float w = unpackHalf2x16(t1.${"xyzw"[j >> 1]}).${"xy"[j & 1]};
    r0 += w * u_skin[${3 * j}]; r1 += w * u_skin[${3 * j + 1}]; r2 += w * u_skin[${3 * j + 2}]; }`).join("\n")}
  vec4 h = vec4(x, 1.0);
  o_vertex = uvec4(floatBitsToUint(vec3(dot(r0, h), dot(r1, h), dot(r2, h)) + u_translation), 0u);
}
`;
  }
  var FRAMES_FRAGMENT = `#version 300 es
precision highp float;
precision highp int;
precision highp usampler2D;
${COMMON}
uniform usampler2D u_faces;   // a texel a face: its 3 vertices
uniform usampler2D u_posed;   // the posed vertices (float bits)
uniform int u_count;

layout(location = 0) out uvec4 o_origin;  // centroid, unit
layout(location = 1) out uvec4 o_xaxis;   // first edge direction
layout(location = 2) out uvec4 o_normal;  // normal
layout(location = 3) out uvec4 o_quat;    // (w, x, y, z)

vec3 vertex(uint v) { return uintBitsToFloat(texelFetch(u_posed, at(int(v)), 0).xyz); }

void main() {
  int f = item();
  if (f >= u_count) discard;
  uvec3 face = texelFetch(u_faces, at(f), 0).xyz;
  vec3 a = vertex(face.x), b = vertex(face.y), c = vertex(face.z);
  vec3 e0 = b - a, e1 = c - b, e2 = c - a;
  float l0 = length(e0), l1 = length(e1), l2 = length(e2);
  vec3 x = e0 / max(l0, 1e-12);
  vec3 n = cross(e0, e2);
  n /= max(length(n), 1e-12);
  vec3 y = cross(n, x);
  // rows of the rotation whose columns are x, y, n
  float m00 = x.x, m01 = y.x, m02 = n.x, m10 = x.y, m11 = y.y, m12 = n.y, m20 = x.z, m21 = y.z, m22 = n.z;
  float f0 = 1.0 + m00 + m11 + m22, f1 = 1.0 + m00 - m11 - m22, f2 = 1.0 - m00 + m11 - m22, f3 = 1.0 - m00 - m11 + m22;
  vec4 q;
  if (f0 >= f1 && f0 >= f2 && f0 >= f3) q = vec4(f0, m21 - m12, m02 - m20, m10 - m01);
  else if (f1 >= f2 && f1 >= f3) q = vec4(m21 - m12, f1, m10 + m01, m02 + m20);
  else if (f2 >= f3) q = vec4(m02 - m20, m10 + m01, f2, m21 + m12);
  else q = vec4(m10 - m01, m20 + m02, m21 + m12, f3);
  q /= max(length(q), 1e-12) * (q.x < 0.0 ? -1.0 : 1.0);  // each candidate is 2 |q_i| q
  o_origin = floatBitsToUint(vec4((a + b + c) / 3.0, (l0 + l1 + l2) / 3.0));
  o_xaxis = uvec4(floatBitsToUint(x), 0u);
  o_normal = uvec4(floatBitsToUint(n), 0u);
  o_quat = floatBitsToUint(q);
}
`;

  // src/gpu/gaussian_shaders.js
  var SH_C0 = 0.28209479177387814;
  var C1 = 0.4886025119029199;
  var C2 = [1.0925484305920792, -1.0925484305920792, 0.31539156525252005, -1.0925484305920792, 0.5462742152960396];
  var C3 = [
    -0.5900435899266435,
    2.890611442640554,
    -0.4570457994644658,
    0.3731763325901154,
    -0.4570457994644658,
    1.445305721320277,
    -0.5900435899266435
  ];
  function literal(x) {
    const s = Math.fround(x).toPrecision(9);
    return /[.e]/.test(s) ? s : `${s}.0`;
  }
  function shRestCode(degree, low, step, shTexels2) {
    if (degree < 1) return "";
    const basis = [null, "-C1 * d.y", "C1 * d.z", "-C1 * d.x"];
    if (degree >= 2) {
      basis.push(
        `${literal(C2[0])} * d.x * d.y`,
        `${literal(C2[1])} * d.y * d.z`,
        `${literal(C2[2])} * (2.0 * zz - xx - yy)`,
        `${literal(C2[3])} * d.x * d.z`,
        `${literal(C2[4])} * (xx - yy)`
      );
    }
    if (degree >= 3) {
      basis.push(
        `${literal(C3[0])} * d.y * (3.0 * xx - yy)`,
        `${literal(C3[1])} * d.x * d.y * d.z`,
        `${literal(C3[2])} * d.y * (4.0 * zz - xx - yy)`,
        `${literal(C3[3])} * d.z * (2.0 * zz - 3.0 * xx - 3.0 * yy)`,
        `${literal(C3[4])} * d.x * (4.0 * zz - xx - yy)`,
        `${literal(C3[5])} * d.z * (xx - yy)`,
        `${literal(C3[6])} * d.x * (xx - 3.0 * yy)`
      );
    }
    const lines = [`  const float C1 = ${literal(C1)};`, "  float xx = d.x * d.x, yy = d.y * d.y, zz = d.z * d.z;"];
    for (let t = 0; t < shTexels2; ++t) lines.push(`  uvec4 s${t} = texelFetch(u_sh, at(${shTexels2} * i + ${t}), 0);`);
    const code = (b) => `float((s${b >> 4}.${"xyzw"[b >> 2 & 3]} >> ${8 * (b & 3)}u) & 255u)`;
    const value = (b) => `(${literal(low[b])} + ${literal(step[b])} * ${code(b)})`;
    for (let j = 1; j < basis.length; ++j) {
      const b = 3 * (j - 1);
      lines.push(`  col += (${basis[j]}) * vec3(${value(b)}, ${value(b + 1)}, ${value(b + 2)});`);
    }
    return lines.join("\n");
  }
  function gaussianFragment(meta, world = false) {
    const s = meta.drivers + 1;
    const factor = (group) => `u_factors[${group * s} + int(w & 255u)]`;
    const three = "vec3(ivec3(int(w << 16) >> 24, int(w << 8) >> 24, int(w) >> 24))";
    const four = "vec4(ivec4(int(p << 24) >> 24, int(p << 16) >> 24, int(p << 8) >> 24, int(p) >> 24))";
    const loop = (count, body) => `  end = t + int(${count});
  for (; t < end; ++t) {
    uvec4 e = texelFetch(u_offsets, at(t), 0);
${body}
  }`;
    const threeWide = (acc, group, swizzle = ".xyz") => ["x", "y", "z", "w"].map((c) => `    { uint w = e.${c}; ${acc} += ${factor(group)}${swizzle} * ${swizzle === ".x" ? `float(int(w << 16) >> 24)` : three}; }`).join("\n");
    const rot = ["xy", "zw"].map(([a, b]) => `    { uint w = e.${a}, p = e.${b}; dr += ${factor(1)} * ${four}; }`).join("\n");
    return `#version 300 es
precision highp float;
precision highp int;
precision highp usampler2D;
${COMMON}
uniform usampler2D u_gaussians;  // ${GAUSSIAN_TEXELS} texels a Gaussian (gpu/layout.js)
uniform usampler2D u_offsets;
uniform usampler2D u_sh;
uniform usampler2D u_origin;     // the triangles' frames (pose_shaders.js)
uniform usampler2D u_xaxis;
uniform usampler2D u_normal;
uniform usampler2D u_quat;
layout(std140) uniform Factors { vec4 u_factors[${5 * s}]; };
uniform vec3 u_eye;              // where the colours are seen from (view_cone.js)
uniform vec4 u_view[3];          // rows of the world-to-camera transform
uniform vec4 u_intrinsics;       // fx, fy, cx, cy (pixels)
uniform vec4 u_limits;           // the Jacobian's clamp on x / z and y / z: -x, +x, -y, +y
uniform vec2 u_depths;           // near, far

const float SH_C0 = ${literal(SH_C0)};
const float LOW_PASS = 0.3;
const float ALPHA_MIN = 1.0 / 255.0;

${world ? `layout(location = 0) out uvec4 o_mean;     // mean, opacity
layout(location = 1) out uvec4 o_quat;     // world rotation (w, x, y, z)
layout(location = 2) out uvec4 o_scale;    // standard deviations (m)
layout(location = 3) out uvec4 o_colour;   // colour` : `layout(location = 0) out uvec4 o_a;    // centre x, y (pixels), conic xx, xy
layout(location = 1) out uvec4 o_b;    // conic yy, opacity, colour (float16: r g, b 0)
layout(location = 2) out uint o_depth; // sort key: depth's float bits, ~0 when not drawn`}

uvec4 g(int i, int k) { return texelFetch(u_gaussians, at(${GAUSSIAN_TEXELS} * i + k), 0); }

void main() {
  int i = item();  // the place: of the Gaussian's data and its splat (gpu/layout.js)
  uvec4 t4 = g(i, 4);
  if (t4.z == 0u) discard;  // no Gaussian here
  uvec4 t0 = g(i, 0), t1 = g(i, 1), t2 = g(i, 2), t3 = g(i, 3);
  // offsets: per group, sum over the Gaussian's entries of factor x value
  vec3 dx = vec3(0.0), ds = vec3(0.0), dc = vec3(0.0);
  vec4 dr = vec4(0.0);
  float dop = 0.0;
  int t = int(t3.w), end;
${loop("t4.x & 255u", threeWide("dx", 0))}
${loop("(t4.x >> 8) & 255u", rot)}
${loop("(t4.x >> 16) & 255u", threeWide("ds", 2))}
${loop("t4.x >> 24", threeWide("dop", 3, ".x"))}
${loop("t4.y", threeWide("dc", 4))}
  // the posed triangle's frame
  ivec2 parent = at(int(t2.w));
  vec4 origin = uintBitsToFloat(texelFetch(u_origin, parent, 0));
  vec3 ax = uintBitsToFloat(texelFetch(u_xaxis, parent, 0).xyz);
  vec3 an = uintBitsToFloat(texelFetch(u_normal, parent, 0).xyz);
  vec3 ay = cross(an, ax);
  vec4 tq = uintBitsToFloat(texelFetch(u_quat, parent, 0));
  float unit = origin.w;
  vec3 x = uintBitsToFloat(t0.xyz) + dx;
  vec3 mean = origin.xyz + unit * (x.x * ax + x.y * ay + x.z * an);
  vec4 q = uintBitsToFloat(t1) + dr;
  q /= max(length(q), 1e-12);
  // the triangle's rotation, then the Gaussian's own: Hamilton product tq q, (w, x, y, z)
  vec4 r = vec4(tq.x * q.x - tq.y * q.y - tq.z * q.z - tq.w * q.w, tq.x * q.y + tq.y * q.x + tq.z * q.w - tq.w * q.z,
                tq.x * q.z - tq.y * q.w + tq.z * q.x + tq.w * q.y, tq.x * q.w + tq.y * q.z - tq.z * q.y + tq.w * q.x);
  vec3 scale = unit * exp(uintBitsToFloat(t2.xyz) + ds);
  float opacity = 1.0 / (1.0 + exp(-(uintBitsToFloat(t0.w) + dop)));
  // colour: max(sum_k basis_k(d) sh_k + 0.5, 0), d from the viewpoint to the mean
  vec3 d = mean - u_eye;
  d /= max(length(d), 1e-12);
  vec3 col = SH_C0 * (uintBitsToFloat(t3.xyz) + dc / SH_C0);
${shRestCode(meta.degree, meta.shLow, meta.shStep, meta.shTexels)}
  col = max(col + 0.5, 0.0);
${world ? `  o_mean = floatBitsToUint(vec4(mean, opacity));
  o_quat = floatBitsToUint(r);
  o_scale = uvec4(floatBitsToUint(scale), 0u);
  o_colour = uvec4(floatBitsToUint(col), 0u);
}` : `  vec3 c = vec3(dot(u_view[0].xyz, mean) + u_view[0].w, dot(u_view[1].xyz, mean) + u_view[1].w,
                dot(u_view[2].xyz, mean) + u_view[2].w);
  float z = c.z;
  o_depth = z > u_depths.x && z <= u_depths.y && opacity >= ALPHA_MIN ? floatBitsToUint(z) : 0xffffffffu;
  r /= length(r);
  float w = r.x, qx = r.y, qy = r.z, qz = r.w;
  // columns of R S (R of the quaternion, as quat_to_rotmat)
  vec3 c0 = vec3(1.0 - 2.0 * (qy * qy + qz * qz), 2.0 * (qx * qy + w * qz), 2.0 * (qx * qz - w * qy)) * scale.x;
  vec3 c1 = vec3(2.0 * (qx * qy - w * qz), 1.0 - 2.0 * (qx * qx + qz * qz), 2.0 * (qy * qz + w * qx)) * scale.y;
  vec3 c2 = vec3(2.0 * (qx * qz + w * qy), 2.0 * (qy * qz - w * qx), 1.0 - 2.0 * (qx * qx + qy * qy)) * scale.z;
  // W R S, row by row
  vec3 r0 = vec3(dot(u_view[0].xyz, c0), dot(u_view[0].xyz, c1), dot(u_view[0].xyz, c2));
  vec3 r1 = vec3(dot(u_view[1].xyz, c0), dot(u_view[1].xyz, c1), dot(u_view[1].xyz, c2));
  vec3 r2 = vec3(dot(u_view[2].xyz, c0), dot(u_view[2].xyz, c1), dot(u_view[2].xyz, c2));
  float fx = u_intrinsics.x, fy = u_intrinsics.y;
  float tx = z * clamp(c.x / z, -u_limits.x, u_limits.y);
  float ty = z * clamp(c.y / z, -u_limits.z, u_limits.w);
  vec3 a0 = (fx / z) * r0 - (fx * tx / (z * z)) * r2;
  vec3 a1 = (fy / z) * r1 - (fy * ty / (z * z)) * r2;
  float cxx = dot(a0, a0) + LOW_PASS, cxy = dot(a0, a1), cyy = dot(a1, a1) + LOW_PASS;
  float det = cxx * cyy - cxy * cxy;
  vec2 centre = vec2(fx * c.x / z + u_intrinsics.z, fy * c.y / z + u_intrinsics.w);
  o_a = floatBitsToUint(vec4(centre, cyy / det, -cxy / det));
  o_b = uvec4(floatBitsToUint(vec2(cxx / det, opacity)), packHalf2x16(col.rg), packHalf2x16(vec2(col.b, 0.0)));
}`}
`;
  }

  // src/gpu/avatar_gpu.js
  var FRUSTUM_MARGIN = 0.3;
  var FACTORS_BINDING = 0;
  var DEPTH_ATTACHMENT = 2;
  var SLOTS = 1;
  var AvatarGpu = class {
    constructor(gl, layout) {
      const { arrays, meta } = layout;
      this.gl = gl;
      this.meta = meta;
      this.count = meta.count;
      const t = (internal, name, what) => dataTexture(gl, internal, arrays[name], what);
      this.data = {
        vertices: t("RGBA32UI", "vertices", "the rig's vertices"),
        exprs: t("R32UI", "exprs", "the rig's expressions"),
        faces: t("RGBA32UI", "faces", "the rig's faces"),
        gaussians: t("RGBA32UI", "gaussians", "the Gaussians"),
        offsets: t("RGBA32UI", "offsets", "the Gaussians' offsets"),
        sh: t("RGBA32UI", "shRest", "the Gaussians' SH")
      };
      if (arrays.posedirs) this.data.posedirs = t("R32UI", "posedirs", "the rig's pose correctives");
      this.poseProgram = program(gl, FULL_VIEWPORT_VERTEX, poseFragment(meta.numExpr, meta.numJoints, meta.numPoseFeatures));
      this.framesProgram = program(gl, FULL_VIEWPORT_VERTEX, FRAMES_FRAGMENT);
      this.splatProgram = program(gl, FULL_VIEWPORT_VERTEX, gaussianFragment(meta));
      this.worldProgram = null;
      const vertexRows = rowsFor(gl, meta.numVertices, "the rig's vertices");
      this.posed = Array.from({ length: SLOTS }, () => renderTarget(gl, ["RGBA32UI"], TEXTURE_WIDTH, vertexRows));
      this.frames = renderTarget(
        gl,
        ["RGBA32UI", "RGBA32UI", "RGBA32UI", "RGBA32UI"],
        TEXTURE_WIDTH,
        rowsFor(gl, meta.numFaces, "the rig's faces")
      );
      this.positions = layout.arrays.positions;
      const rows = rowsFor(gl, meta.places, "the Gaussians");
      this.splats = Array.from({ length: SLOTS }, () => {
        const target = renderTarget(gl, ["RGBA32UI", "RGBA32UI", "R32UI"], TEXTURE_WIDTH, rows);
        gl.bindFramebuffer(gl.FRAMEBUFFER, target.framebuffer);
        gl.clearBufferuiv(gl.COLOR, DEPTH_ATTACHMENT, [4294967295, 0, 0, 0]);
        gl.bindFramebuffer(gl.FRAMEBUFFER, null);
        return target;
      });
      this.factors = gl.createBuffer();
      gl.bindBuffer(gl.UNIFORM_BUFFER, this.factors);
      gl.bufferData(gl.UNIFORM_BUFFER, 4 * 4 * 5 * (meta.drivers + 1), gl.DYNAMIC_DRAW);
      gl.bindBuffer(gl.UNIFORM_BUFFER, null);
      this.keyBuffers = Array.from({ length: SLOTS }, () => null);
      this.keyFences = Array.from({ length: SLOTS }, () => null);
      this.keyRows = Array.from({ length: SLOTS }, () => 0);
    }
    /** Slot `slot`'s splats, the textures the renderer draws from: [a, b] (gaussian_shaders.js's o_a, o_b). */
    splatTextures(slot) {
      return this.splats[slot].textures.slice(0, 2);
    }
    /** Slot `slot`'s posed vertices (float bits, a texel a vertex): the cut's coverage reads them. */
    posedTexture(slot) {
      return this.posed[slot].textures[0];
    }
    /** Poses the rig and its triangles' frames for the frame's inputs (frame_inputs.js) into slot `slot`. */
    pose(inputs, slot) {
      const gl = this.gl, meta = this.meta;
      let p = this.poseProgram;
      gl.useProgram(p);
      const textures = { u_vertices: this.data.vertices, u_exprs: this.data.exprs };
      if (meta.numPoseFeatures) {
        textures.u_posedirs = this.data.posedirs;
        gl.uniform1fv(p.uniform("u_feature"), inputs.feature);
      }
      bindTextures(gl, p, textures);
      gl.uniform1i(p.uniform("u_count"), meta.numVertices);
      gl.uniform1fv(p.uniform("u_expr"), inputs.exprWeights);
      gl.uniform4fv(p.uniform("u_skin"), inputs.transforms);
      gl.uniform3fv(p.uniform("u_translation"), inputs.translation);
      runPass(gl, this.posed[slot]);
      p = this.framesProgram;
      gl.useProgram(p);
      bindTextures(gl, p, { u_faces: this.data.faces, u_posed: this.posedTexture(slot) });
      gl.uniform1i(p.uniform("u_count"), meta.numFaces);
      runPass(gl, this.frames);
    }
    /** Blends, colours and projects every Gaussian of level of detail `level` (0: all) for the
     * frame's inputs seen by camera into slot `slot` (after pose). */
    project(inputs, camera, slot, level = 0) {
      this.runGaussians(this.splatProgram, this.splats[slot], inputs, camera, this.meta.levels[level].rows);
    }
    runGaussians(p, target, inputs, camera, rows = target.rows) {
      const gl = this.gl;
      gl.useProgram(p);
      gl.bindBuffer(gl.UNIFORM_BUFFER, this.factors);
      gl.bufferSubData(gl.UNIFORM_BUFFER, 0, inputs.factors);
      gl.bindBuffer(gl.UNIFORM_BUFFER, null);
      gl.uniformBlockBinding(p, gl.getUniformBlockIndex(p, "Factors"), FACTORS_BINDING);
      gl.bindBufferBase(gl.UNIFORM_BUFFER, FACTORS_BINDING, this.factors);
      const [origin, xaxis, normal, quat] = this.frames.textures;
      bindTextures(gl, p, {
        u_gaussians: this.data.gaussians,
        u_offsets: this.data.offsets,
        u_sh: this.data.sh,
        u_origin: origin,
        u_xaxis: xaxis,
        u_normal: normal,
        u_quat: quat
      });
      gl.uniform3fv(p.uniform("u_eye"), inputs.eye);
      const m = camera.w2c, k = camera.K, { width, height } = camera;
      gl.uniform4fv(p.uniform("u_view"), [m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8], m[9], m[10], m[11]]);
      const fx = k[0], fy = k[4], cx = k[2], cy = k[5];
      gl.uniform4f(p.uniform("u_intrinsics"), fx, fy, cx, cy);
      const tanX = 0.5 * width / fx, tanY = 0.5 * height / fy;
      gl.uniform4f(
        p.uniform("u_limits"),
        cx / fx + FRUSTUM_MARGIN * tanX,
        (width - cx) / fx + FRUSTUM_MARGIN * tanX,
        cy / fy + FRUSTUM_MARGIN * tanY,
        (height - cy) / fy + FRUSTUM_MARGIN * tanY
      );
      gl.uniform2f(p.uniform("u_depths"), camera.near, camera.far);
      runPass(gl, target, rows);
      gl.bindFramebuffer(gl.FRAMEBUFFER, null);
    }
    /** The depth keys of slot `slot`'s last project() of level `level` now (waits for the GPU):
     * Uint32Array, a key a place of the level's rows. */
    readDepthKeys(slot, level = 0) {
      return readTarget(this.gl, this.splats[slot], DEPTH_ATTACHMENT, this.meta.levels[level].rows);
    }
    /** Starts reading slot `slot`'s depth keys of level `level` back without waiting: a pixel-pack
     * buffer filled by the GPU, and a fence polled by takeDepthKeys. */
    startDepthKeys(slot, level = 0) {
      const gl = this.gl, target = this.splats[slot];
      const width = target.width, rows = this.meta.levels[level].rows;
      gl.bindFramebuffer(gl.READ_FRAMEBUFFER, target.framebuffer);
      gl.readBuffer(gl.COLOR_ATTACHMENT0 + DEPTH_ATTACHMENT);
      if (!this.keyFormat) {
        this.keyFormat = gl.getParameter(gl.IMPLEMENTATION_COLOR_READ_FORMAT) === gl.RED_INTEGER && gl.getParameter(gl.IMPLEMENTATION_COLOR_READ_TYPE) === gl.UNSIGNED_INT ? gl.RED_INTEGER : gl.RGBA_INTEGER;
        this.keyStride = this.keyFormat === gl.RED_INTEGER ? 1 : 4;
      }
      if (!this.keyBuffers[slot]) {
        this.keyBuffers[slot] = gl.createBuffer();
        gl.bindBuffer(gl.PIXEL_PACK_BUFFER, this.keyBuffers[slot]);
        gl.bufferData(gl.PIXEL_PACK_BUFFER, 4 * this.keyStride * width * target.rows, gl.STREAM_READ);
      }
      gl.bindBuffer(gl.PIXEL_PACK_BUFFER, this.keyBuffers[slot]);
      gl.readPixels(0, 0, width, rows, this.keyFormat, gl.UNSIGNED_INT, 0);
      gl.bindBuffer(gl.PIXEL_PACK_BUFFER, null);
      gl.bindFramebuffer(gl.READ_FRAMEBUFFER, null);
      this.keyFences[slot] = gl.fenceSync(gl.SYNC_GPU_COMMANDS_COMPLETE, 0);
      this.keyRows[slot] = rows;
      gl.flush();
    }
    /** Slot `slot`'s keys that startDepthKeys asked for, once the GPU has them: {keys (into `out`
     * when it has their length), stride (values a place: 1, or 4 where the browser reads RGBA)},
     * else null. */
    takeDepthKeys(slot, out) {
      const gl = this.gl, fence = this.keyFences[slot];
      if (!fence || gl.getSyncParameter(fence, gl.SYNC_STATUS) !== gl.SIGNALED) return null;
      gl.deleteSync(fence);
      this.keyFences[slot] = null;
      const length = this.keyStride * this.splats[slot].width * this.keyRows[slot];
      const keys = out && out.length === length ? out : new Uint32Array(length);
      gl.bindBuffer(gl.PIXEL_PACK_BUFFER, this.keyBuffers[slot]);
      gl.getBufferSubData(gl.PIXEL_PACK_BUFFER, 0, keys);
      gl.bindBuffer(gl.PIXEL_PACK_BUFFER, null);
      return { keys, stride: this.keyStride };
    }
    /** For the tests (slot 0): the posed vertices [V * 3] and the world Gaussians {means [N * 3],
     * opacities [N], quats [N * 4], scales [N * 3], colours [N * 3]} of the frame's inputs seen by
     * camera, read back from the GPU (the same shaders, the Gaussians' pass writing them instead of
     * splats). */
    readWorld(inputs, camera) {
      const gl = this.gl, n = this.count, v = this.meta.numVertices;
      if (!this.worldProgram) {
        this.worldProgram = program(gl, FULL_VIEWPORT_VERTEX, gaussianFragment(this.meta, true));
        this.world = renderTarget(gl, ["RGBA32UI", "RGBA32UI", "RGBA32UI", "RGBA32UI"], TEXTURE_WIDTH, this.splats[0].rows);
      }
      this.pose(inputs, 0);
      const posed = new Float32Array(readTarget(gl, this.posed[0], 0).buffer);
      this.runGaussians(this.worldProgram, this.world, inputs, camera);
      const [mean, quat, scale, colour] = [0, 1, 2, 3].map((k) => new Float32Array(readTarget(gl, this.world, k).buffer));
      const places = this.positions;
      const pick = (texels, channels) => {
        const out = new Float32Array(n * channels);
        for (let i = 0; i < n; ++i) for (let c = 0; c < channels; ++c) out[channels * i + c] = texels[4 * places[i] + c];
        return out;
      };
      const verts = new Float32Array(3 * v);
      for (let i = 0; i < v; ++i) verts.set(posed.subarray(4 * i, 4 * i + 3), 3 * i);
      const opacities = new Float32Array(n);
      for (let i = 0; i < n; ++i) opacities[i] = mean[4 * places[i] + 3];
      return { verts, means: pick(mean, 3), opacities, quats: pick(quat, 4), scales: pick(scale, 3), colours: pick(colour, 3) };
    }
  };

  // src/gpu/cut_shaders.js
  var COVERAGE_VERTEX = `#version 300 es
precision highp float;
precision highp int;
precision highp usampler2D;
${TEXEL_OF}
uniform usampler2D u_faces;   // a texel a face: its 3 vertices
uniform usampler2D u_posed;   // the posed vertices (float bits)
uniform vec4 u_view[3];       // rows of the world-to-camera transform
uniform vec3 u_k[3];          // rows of the intrinsics
uniform vec3 u_frame;         // width, height, near

flat out vec4 v_ab;           // the face's corners in pixels (x right, y down, centres at + 0.5)
flat out vec2 v_c;

vec3 camera(uint v) {
  vec3 p = uintBitsToFloat(texelFetch(u_posed, at(int(v)), 0).xyz);
  return vec3(dot(u_view[0].xyz, p) + u_view[0].w, dot(u_view[1].xyz, p) + u_view[1].w, dot(u_view[2].xyz, p) + u_view[2].w);
}

vec2 pixel(vec3 p) {
  vec3 h = vec3(dot(u_k[0], p), dot(u_k[1], p), max(dot(u_k[2], p), 1e-9));
  return h.xy / h.z;
}

float edge(vec2 a, vec2 b, vec2 p) { return (a.x - p.x) * (b.y - p.y) - (a.y - p.y) * (b.x - p.x); }

void main() {
  uvec3 face = texelFetch(u_faces, at(gl_VertexID / 6), 0).xyz;
  vec3 a = camera(face.x), b = camera(face.y), c = camera(face.z);
  v_ab = vec4(pixel(a), pixel(b));
  v_c = pixel(c);
  float area = edge(v_ab.zw, v_c, v_ab.xy);
  int corner = gl_VertexID % 6;  // two triangles: 0 1 2, 2 1 3 of the box's corners
  corner = corner < 3 ? corner : (corner == 3 ? 2 : (corner == 4 ? 1 : 3));
  vec2 lo = min(min(v_ab.xy, v_ab.zw), v_c) - 1.0, hi = max(max(v_ab.xy, v_ab.zw), v_c) + 1.0;
  vec2 p = vec2((corner & 1) == 0 ? lo.x : hi.x, (corner & 2) == 0 ? lo.y : hi.y);
  bool skipped = min(a.z, min(b.z, c.z)) < u_frame.z || !(abs(area) > 1e-12) || isinf(area);
  gl_Position = skipped ? vec4(2.0, 2.0, 2.0, 1.0) : vec4(2.0 * p.x / u_frame.x - 1.0, 1.0 - 2.0 * p.y / u_frame.y, 0.0, 1.0);
}
`;
  var COVERAGE_FRAGMENT = `#version 300 es
precision highp float;
uniform vec3 u_frame;   // width, height, near
flat in vec4 v_ab;
flat in vec2 v_c;
out uint o_covered;

float edge(vec2 a, vec2 b, vec2 p) { return (a.x - p.x) * (b.y - p.y) - (a.y - p.y) * (b.x - p.x); }

void main() {
  vec2 p = vec2(gl_FragCoord.x, u_frame.y - gl_FragCoord.y);  // the pixel's centre, rows from the top
  float e0 = edge(v_ab.xy, v_ab.zw, p), e1 = edge(v_ab.zw, v_c, p), e2 = edge(v_c, v_ab.xy, p);
  if (!((e0 >= 0.0 && e1 >= 0.0 && e2 >= 0.0) || (e0 <= 0.0 && e1 <= 0.0 && e2 <= 0.0))) discard;
  o_covered = 1u;
}
`;
  var ROW_DISTANCE_FRAGMENT = `#version 300 es
precision highp float;
precision highp int;
precision highp usampler2D;
uniform usampler2D u_covered;
uniform int u_radius;
uniform ivec2 u_size;
out uint o_distance;
void main() {
  ivec2 p = ivec2(gl_FragCoord.xy);
  int best = u_radius + 1;
  for (int dx = -u_radius; dx <= u_radius; ++dx) {
    int x = p.x + dx;
    if (x >= 0 && x < u_size.x && abs(dx) < best && texelFetch(u_covered, ivec2(x, p.y), 0).r != 0u) best = abs(dx);
  }
  o_distance = uint(best);
}
`;
  var GROW_FRAGMENT = `#version 300 es
precision highp float;
precision highp int;
precision highp usampler2D;
precision highp isampler2D;
uniform usampler2D u_distance;
uniform isampler2D u_half;   // R32I [radius + 1]
uniform int u_radius;
uniform ivec2 u_size;
out uint o_grown;
void main() {
  ivec2 p = ivec2(gl_FragCoord.xy);
  uint grown = 0u;
  for (int dy = -u_radius; dy <= u_radius; ++dy) {
    int y = p.y + dy;
    if (y >= 0 && y < u_size.y && int(texelFetch(u_distance, ivec2(p.x, y), 0).r) <= texelFetch(u_half, ivec2(abs(dy), 0), 0).r) {
      grown = 1u;
      break;
    }
  }
  o_grown = grown;
}
`;

  // src/gpu/cut_gpu.js
  var CutGpu = class {
    /** faces: the coverage faces [F' * 3] (cut.js's coverageFaces); hanging: the neck line alone. */
    constructor(gl, faces, hanging) {
      this.gl = gl;
      this.hanging = hanging;
      this.spanTexture = gl.createTexture();
      this.halfTexture = gl.createTexture();
      this.size = [0, 0];
      this.radius = -1;
      if (hanging) return;
      this.faceCount = faces.length / 3;
      const texels = new Uint32Array(4 * 2048 * Math.max(1, Math.ceil(this.faceCount / 2048)));
      for (let f = 0; f < this.faceCount; ++f) texels.set(faces.subarray(3 * f, 3 * f + 3), 4 * f);
      this.faces = dataTexture(gl, "RGBA32UI", texels, "the cut's faces");
      this.coverageProgram = program(gl, COVERAGE_VERTEX, COVERAGE_FRAGMENT);
      this.distanceProgram = program(gl, FULL_VIEWPORT_VERTEX, ROW_DISTANCE_FRAGMENT);
      this.growProgram = program(gl, FULL_VIEWPORT_VERTEX, GROW_FRAGMENT);
    }
    /** The frame's cut (frame_inputs.js's `cut`) for the rig posed in `posed` seen by camera:
     * {spans (RGBA32I [H]), grown (R8UI [H, W], GL rows) or null, hanging} for the composite. */
    region(cut, posed, camera) {
      const gl = this.gl, { width, height } = camera;
      gl.bindTexture(gl.TEXTURE_2D, this.spanTexture);
      gl.pixelStorei(gl.UNPACK_ALIGNMENT, 4);
      gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA32I, height, 1, 0, gl.RGBA_INTEGER, gl.INT, cut.spans);
      nearest(gl);
      if (this.hanging) return { spans: this.spanTexture, grown: null, hanging: true };
      if (this.size[0] !== width || this.size[1] !== height) {
        this.size = [width, height];
        this.covered = renderTarget(gl, ["R8UI"], width, height);
        this.distance = renderTarget(gl, ["R8UI"], width, height);
        this.grown = renderTarget(gl, ["R8UI"], width, height);
      }
      if (cut.radius !== this.radius) {
        this.radius = cut.radius;
        gl.bindTexture(gl.TEXTURE_2D, this.halfTexture);
        gl.texImage2D(gl.TEXTURE_2D, 0, gl.R32I, cut.radius + 1, 1, 0, gl.RED_INTEGER, gl.INT, cut.halfWidths);
        nearest(gl);
      }
      const result = { spans: this.spanTexture, grown: this.grown.textures[0], hanging: false };
      const band = bandBox(cut.spans, width, height);
      if (!band) return result;
      const r = cut.radius;
      gl.disable(gl.BLEND);
      gl.viewport(0, 0, width, height);
      gl.enable(gl.SCISSOR_TEST);
      scissor(gl, band, r, r, width, height);
      let p = this.coverageProgram;
      gl.useProgram(p);
      gl.bindFramebuffer(gl.FRAMEBUFFER, this.covered.framebuffer);
      gl.clearBufferuiv(gl.COLOR, 0, [0, 0, 0, 0]);
      bindTextures(gl, p, { u_faces: this.faces, u_posed: posed });
      const m = camera.w2c, k = camera.K;
      gl.uniform4fv(p.uniform("u_view"), [m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8], m[9], m[10], m[11]]);
      gl.uniform3fv(p.uniform("u_k"), k.slice(0, 9));
      gl.uniform3f(p.uniform("u_frame"), width, height, camera.near);
      gl.drawArrays(gl.TRIANGLES, 0, 6 * this.faceCount);
      for (const [prog, source, target, rows] of [
        [this.distanceProgram, this.covered, this.distance, r],
        [this.growProgram, this.distance, this.grown, 0]
      ]) {
        scissor(gl, band, 0, rows, width, height);
        p = prog;
        gl.useProgram(p);
        gl.bindFramebuffer(gl.FRAMEBUFFER, target.framebuffer);
        bindTextures(gl, p, p === this.growProgram ? { u_distance: source.textures[0], u_half: this.halfTexture } : { u_covered: source.textures[0] });
        gl.uniform1i(p.uniform("u_radius"), cut.radius);
        gl.uniform2i(p.uniform("u_size"), width, height);
        gl.drawArrays(gl.TRIANGLES, 0, 3);
      }
      gl.disable(gl.SCISSOR_TEST);
      gl.bindFramebuffer(gl.FRAMEBUFFER, null);
      return result;
    }
  };
  function bandBox(spans, width, height) {
    let x0 = width, x1 = -1, v0 = height, v1 = -1;
    for (let v = 0; v < height; ++v) {
      const ringLo = spans[4 * v], ringHi = spans[4 * v + 1], sidesLo = spans[4 * v + 2], sidesHi = spans[4 * v + 3];
      if (ringLo > ringHi) continue;
      const whole = sidesLo > sidesHi || sidesHi < ringLo || sidesLo > ringHi;
      const left = whole ? ringLo : sidesLo > ringLo ? ringLo : null;
      const right = whole ? ringHi : sidesHi < ringHi ? ringHi : null;
      if (left === null && right === null) continue;
      x0 = Math.min(x0, left ?? sidesHi + 1);
      x1 = Math.max(x1, right ?? sidesLo - 1);
      v0 = Math.min(v0, v);
      v1 = Math.max(v1, v);
    }
    return v1 < 0 ? null : { x0, x1, v0, v1 };
  }
  function scissor(gl, band, dx, dy, width, height) {
    const x0 = Math.max(band.x0 - dx, 0), x1 = Math.min(band.x1 + dx, width - 1);
    const top = Math.max(band.v0 - dy, 0), bottom = Math.min(band.v1 + dy, height - 1);
    gl.scissor(x0, height - 1 - bottom, x1 - x0 + 1, bottom - top + 1);
  }

  // src/level_switch.js
  var WINDOW_MS = 1500;
  var MIN_FRAMES = 8;
  var MISS = 1.5;
  var MEET = 1.2;
  var HOLD_MS = 4e3;
  var MAX_HOLD_MS = 12e4;
  var MIN_BUDGET_MS = 1e3 / 60;
  var LevelSwitch = class {
    /** levels: how many the avatar has (1: nothing to switch); start at level `level`. */
    constructor(levels, level = 0) {
      this.levels = levels;
      this.level = level;
      this.hold = HOLD_MS;
      this.times = [];
      this.since = null;
      this.probe = false;
      this.switches = 0;
    }
    /** A frame of level `level` took `ms`, drawn at `now` (ms), the budget `budgetMs`: returns the
     * level to draw next (this.level). */
    frame(ms, level, now, budgetMs) {
      if (level !== this.level || this.levels < 2) return this.level;
      if (this.since === null) this.since = now;
      this.times.push([ms, now]);
      while (this.times.length > MIN_FRAMES && now - this.times[0][1] > WINDOW_MS) this.times.shift();
      if (this.times.length < MIN_FRAMES || now - this.since < WINDOW_MS) return this.level;
      const typical = median(this.times.map(([t]) => t)), budget = Math.max(budgetMs, MIN_BUDGET_MS);
      if (typical > MISS * budget && this.level < this.levels - 1) {
        const lasted = now - this.since;
        this.hold = this.probe && lasted < this.hold ? Math.min(2 * this.hold, MAX_HOLD_MS) : HOLD_MS;
        this.enter(this.level + 1, false);
      } else if (typical <= MEET * budget && this.level > 0 && now - this.since >= this.hold) {
        this.enter(this.level - 1, true);
      }
      return this.level;
    }
    /** Draws `level` from the next frame on (probe: a step up, tried). */
    enter(level, probe) {
      this.level = level;
      this.probe = probe;
      this.times = [];
      this.since = null;
      this.switches += 1;
    }
  };
  var DisplayPeriod = class {
    constructor(count = 120) {
      this.count = count;
      this.intervals = [];
      this.last = null;
    }
    /** An animation frame at `timestamp` (ms, requestAnimationFrame's argument). */
    tick(timestamp) {
      if (this.last !== null && timestamp > this.last) {
        this.intervals.push(timestamp - this.last);
        if (this.intervals.length > this.count) this.intervals.shift();
      }
      this.last = timestamp;
    }
    /** ms, or null. */
    ms() {
      if (!this.intervals.length) return null;
      const sorted = [...this.intervals].sort((a, b) => a - b);
      return sorted[Math.floor(0.1 * (sorted.length - 1))];
    }
  };
  function median(values) {
    const sorted = [...values].sort((a, b) => a - b), mid = sorted.length >> 1;
    return sorted.length % 2 ? sorted[mid] : 0.5 * (sorted[mid - 1] + sorted[mid]);
  }

  // src/params.js
  var FRAME_KEYS = [["jaw", 3], ["neck", 3], ["rotation", 3], ["eyes", 6], ["translation", 3]];
  function zeroParams(numExpr) {
    const params = { expr: new Array(numExpr).fill(0) };
    for (const [key, width] of FRAME_KEYS) params[key] = new Array(width).fill(0);
    return params;
  }
  function copyParams(params) {
    const out = { expr: Array.from(params.expr) };
    for (const [key] of FRAME_KEYS) out[key] = Array.from(params[key]);
    return out;
  }
  function rowWidth(numExpr) {
    return numExpr + FRAME_KEYS.reduce((sum, [, width]) => sum + width, 0);
  }
  var Sequence = class {
    /** rows: Float32Array [T * rowWidth(numExpr)]. */
    constructor(name, fps, numExpr, rows) {
      const width = rowWidth(numExpr);
      if (rows.length % width) throw new Error(`${name}: ${rows.length} values are not rows of ${width}`);
      this.name = name;
      this.fps = fps;
      this.numExpr = numExpr;
      this.rows = rows;
      this.width = width;
      this.frames = rows.length / width;
    }
    /** Frame t (clamped into the sequence) as params. */
    params(t) {
      const frame = Math.min(Math.max(Math.floor(t), 0), this.frames - 1);
      const row2 = this.rows.subarray(frame * this.width, (frame + 1) * this.width);
      const params = { expr: Array.from(row2.subarray(0, this.numExpr)) };
      let at = this.numExpr;
      for (const [key, width] of FRAME_KEYS) {
        params[key] = Array.from(row2.subarray(at, at + width));
        at += width;
      }
      return params;
    }
    /** The frame shown `seconds` after the start, looping. */
    frameAt(seconds) {
      return Math.floor(seconds * this.fps) % this.frames;
    }
  };
  function sequenceOf(name, fps, numExpr, frames) {
    const width = rowWidth(numExpr);
    const rows = new Float32Array(frames.length * width);
    frames.forEach((params, t) => {
      rows.set(params.expr, t * width);
      let at = t * width + numExpr;
      for (const [key, w] of FRAME_KEYS) {
        rows.set(params[key], at);
        at += w;
      }
    });
    return new Sequence(name, fps, numExpr, rows);
  }

  // src/livelink.js
  var MAX_ABS_VALUE = 1e4;
  var DEFAULT_FPS = 60;
  var TORSO_SECONDS = 1;
  var TIMECODE_RATES = [24, 25, 30, 48, 50, 60, 72, 90, 100, 120, 240];
  var TIMECODE = /^\s*(\d+):(\d+):(\d+)[:;.](\d+(?:\.\d*)?)\s*$/;
  var LiveLinkError = class extends Error {
    constructor(file, what, row2 = null, column = null) {
      const where = row2 === null ? "" : `, row ${row2}${column ? `, column '${column}'` : ""}`;
      super(`${file}${where}: ${what}`);
    }
  };
  function readLiveLinkCsv(text, file, columns) {
    const lines = parseCsv(text.replace(/^\uFEFF/, ""));
    if (!lines.length) throw new LiveLinkError(file, "empty file: no header row");
    const header = lines[0].fields;
    const byLower = /* @__PURE__ */ new Map();
    header.forEach((name, i) => {
      const key = name.trim().toLowerCase();
      if (!byLower.has(key)) byLower.set(key, i);
    });
    const missing = columns.filter((c) => !byLower.has(c.toLowerCase()));
    if (missing.length) {
      throw new LiveLinkError(file, `missing column${missing.length > 1 ? "s" : ""} ${missing.map((c) => `'${c}'`).join(", ")}`);
    }
    const index = columns.map((c) => byLower.get(c.toLowerCase()));
    const timecodeColumn = byLower.get("timecode");
    const rows = lines.slice(1).filter(({ fields }) => fields.some((f) => f.trim()));
    if (rows.length < 2) throw new LiveLinkError(file, `too few rows: ${rows.length} data row(s), need at least 2`);
    const values = new Float32Array(rows.length * columns.length);
    const timecodes = [];
    rows.forEach(({ fields, line }, r) => {
      if (fields.length < header.length) {
        throw new LiveLinkError(
          file,
          `row has ${fields.length} fields, the header has ${header.length}`,
          line,
          header[fields.length].trim()
        );
      }
      index.forEach((column, c) => {
        const text2 = fields[column];
        const value = text2.trim() === "" ? NaN : Number(text2);
        if (!Number.isFinite(value) || Math.abs(value) > MAX_ABS_VALUE) {
          throw new LiveLinkError(
            file,
            `not a finite number within \xB1${MAX_ABS_VALUE}: '${text2.trim()}'`,
            line,
            columns[c]
          );
        }
        values[r * columns.length + c] = value;
      });
      if (timecodeColumn !== void 0) {
        const text2 = fields[timecodeColumn];
        try {
          timecodeFields(text2);
        } catch (e) {
          throw new LiveLinkError(file, e.message, line, "Timecode");
        }
        timecodes.push(text2);
      }
    });
    return { fps: timecodes.length && fpsFromTimecodes(timecodes) || DEFAULT_FPS, values };
  }
  function parseCsv(text) {
    const out = [];
    let fields = [], field = "", quoted = false, line = 1, start = 1;
    for (let i = 0; i < text.length; ++i) {
      const ch = text[i];
      if (quoted) {
        if (ch === '"' && text[i + 1] === '"') {
          field += '"';
          ++i;
        } else if (ch === '"') quoted = false;
        else {
          if (ch === "\n") ++line;
          field += ch;
        }
      } else if (ch === '"') quoted = true;
      else if (ch === ",") {
        fields.push(field);
        field = "";
      } else if (ch === "\n" || ch === "\r") {
        if (ch === "\r" && text[i + 1] === "\n") ++i;
        fields.push(field);
        out.push({ fields, line: start });
        fields = [];
        field = "";
        ++line;
        start = line;
      } else field += ch;
    }
    if (field || fields.length) {
      fields.push(field);
      out.push({ fields, line: start });
    }
    return out;
  }
  function timecodeFields(text) {
    const match = TIMECODE.exec(text);
    if (!match) return null;
    const whole = [match[1], match[2], match[3], match[4].split(".")[0]];
    const limits = [24, 60, 60, TIMECODE_RATES[TIMECODE_RATES.length - 1]];
    const numbers = whole.map((f) => f.replace(/^0+/, "").length <= 3 ? Number(f) : null);
    if (numbers.some((n, i) => n === null || n >= limits[i])) {
      throw new Error(`timecode '${text.trim()}' is out of range (HH:MM:SS:FF: hours below 24, minutes and seconds below 60, frames below ${limits[3]})`);
    }
    return [numbers[0], numbers[1], numbers[2], Number(match[4])];
  }
  function fpsFromTimecodes(timecodes) {
    const parsed = timecodes.map(timecodeFields);
    if (parsed.length < 2 || parsed.some((p) => !p)) return null;
    const seconds = parsed.map((p) => 3600 * p[0] + 60 * p[1] + p[2]);
    const frames = parsed.map((p) => p[3]);
    let rate = DEFAULT_FPS;
    if (new Set(seconds).size > 1) {
      const top = Math.floor(Math.max(...frames));
      rate = TIMECODE_RATES.find((r) => r > top);
      if (rate === void 0) return null;
    }
    let sum = 0, count = 0;
    for (let i = 1; i < parsed.length; ++i) {
      let step = seconds[i] + frames[i] / rate - (seconds[i - 1] + frames[i - 1] / rate);
      if (step < -43200) step += 86400;
      if (step > 0 && step < 0.5) {
        sum += step;
        ++count;
      }
    }
    if (!count) return null;
    const fps = count / sum;
    return fps >= 1 && fps <= 1e3 ? fps : null;
  }
  function eulerToAxisAngle(yaw, pitch, roll) {
    const about = (axis, angle) => {
      const q = [Math.cos(angle / 2), 0, 0, 0];
      q[1 + axis] = Math.sin(angle / 2);
      return q;
    };
    return quatToAxisAngle(multiply(multiply(about(1, -yaw), about(0, pitch)), about(2, -roll)));
  }
  function quatToAxisAngle(q) {
    if (q[0] < 0) q = q.map((v) => -v);
    const norm = Math.hypot(q[1], q[2], q[3]);
    const scale = norm > 1e-12 ? 2 * Math.atan2(norm, q[0]) / norm : 2 / q[0];
    return [q[1] * scale, q[2] * scale, q[3] * scale];
  }
  function axisAngleToQuat(v) {
    const angle = Math.hypot(v[0], v[1], v[2]);
    const s = angle > 1e-12 ? Math.sin(angle / 2) / angle : 0.5;
    return [Math.cos(angle / 2), v[0] * s, v[1] * s, v[2] * s];
  }
  var conjugate = (q) => [q[0], -q[1], -q[2], -q[3]];
  function slowTorso(frames, fps) {
    const share = 1 - Math.exp(-1 / (fps * TORSO_SECONDS));
    let torso = null;
    for (const params of frames) {
      const head = multiply(axisAngleToQuat(params.rotation), axisAngleToQuat(params.neck));
      if (torso === null) {
        torso = head;
      } else {
        const turn = quatToAxisAngle(multiply(conjugate(torso), head)).map((v) => share * v);
        torso = multiply(torso, axisAngleToQuat(turn));
      }
      params.rotation = quatToAxisAngle(torso);
      params.neck = quatToAxisAngle(multiply(conjugate(torso), head));
    }
    return frames;
  }
  function multiply(a, b) {
    return [
      a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3],
      a[0] * b[1] + a[1] * b[0] + a[2] * b[3] - a[3] * b[2],
      a[0] * b[2] - a[1] * b[3] + a[2] * b[0] + a[3] * b[1],
      a[0] * b[3] + a[1] * b[2] - a[2] * b[1] + a[3] * b[0]
    ];
  }
  function liveLinkSequence(name, recording, mapping, numExpr, range) {
    const columns = mapping.columns.length;
    const jawOpen = mapping.jaw_open;
    const frames = [];
    for (let t = 0; t < recording.values.length / columns; ++t) {
      const row2 = recording.values.subarray(t * columns, (t + 1) * columns);
      const params = zeroParams(numExpr);
      for (let e = 0; e < numExpr; ++e) {
        let sum = 0;
        for (let a = 0; a < 52; ++a) sum += mapping.matrix[e * 52 + a] * row2[a];
        params.expr[e] = sum;
      }
      if (mapping.jaw_from_jawopen) params.jaw[0] = row2[jawOpen] * mapping.max_jaw_angle;
      params.rotation = eulerToAxisAngle(row2[52], row2[53], row2[54]);
      params.eyes = [...eulerToAxisAngle(row2[55], row2[56], row2[57]), ...eulerToAxisAngle(row2[58], row2[59], row2[60])];
      frames.push(range ? onto(params, range) : params);
    }
    return sequenceOf(name, recording.fps, numExpr, slowTorso(frames, recording.fps));
  }
  function onto(params, range) {
    const clamp = (v, lo, hi) => Math.min(Math.max(v, lo), hi);
    params.expr = params.expr.map((v, e) => clamp(v + range.expr_neutral[e], range.expr_low[e], range.expr_high[e]));
    params.jaw = params.jaw.map((v, k) => clamp(v, range.jaw_low[k], range.jaw_high[k]));
    if (range.eyes_low) params.eyes = params.eyes.map((v, k) => clamp(v, range.eyes_low[k], range.eyes_high[k]));
    return params;
  }

  // src/stream.js
  var PROTOCOL_VERSION = 1;
  var RETRY_MS = 1e3;
  var ParamStream = class {
    /** onParams(params, message) for each frame; onStatus(text, state) as the connection changes
     * (state: connecting | open | closed | error). A connection that fails or drops is tried again
     * every RETRY_MS (the viewer may start after the page, or restart), unless the rig does not fit. */
    constructor(url, rig, onParams, onStatus) {
      this.url = url;
      this.rig = rig;
      this.onParams = onParams;
      this.onStatus = onStatus;
      this.frames = 0;
      this.closedByUs = false;
      this.open();
    }
    open() {
      const url = this.url, onStatus = this.onStatus;
      onStatus(`connecting to ${url}`, "connecting");
      this.hello = null;
      const socket = new WebSocket(url);
      this.socket = socket;
      socket.onopen = () => onStatus(`connected to ${url}, waiting for its hello`, "open");
      socket.onclose = () => {
        if (this.closedByUs) return;
        onStatus(`${url}: no stream (trying again)`, "closed");
        this.retry = setTimeout(() => this.open(), RETRY_MS);
      };
      socket.onmessage = ({ data }) => {
        let message;
        try {
          message = JSON.parse(data);
        } catch {
          onStatus(`${url}: a message that is not JSON`, "error");
          return;
        }
        if (message.type === "hello") {
          const problem = this.mismatch(message);
          if (problem) {
            onStatus(`${url}: ${problem}`, "error");
            this.close();
            return;
          }
          this.hello = message;
          onStatus(`driven by ${url} (rig ${message.rig}, ${message.fps ? `${message.fps} fps` : "no source"})`, "open");
        } else if (message.type === "params" && this.hello) {
          const params = toParams(message, this.rig.numExpr);
          if (params) {
            this.frames += 1;
            this.onParams(params, message);
          }
        }
      };
    }
    mismatch(hello) {
      if (hello.version !== PROTOCOL_VERSION) return `protocol version ${hello.version}, this player reads ${PROTOCOL_VERSION}`;
      if (hello.rig !== this.rig.name) return `its rig is '${hello.rig}', this avatar's is '${this.rig.name}'`;
      if (hello.num_expr !== this.rig.numExpr) return `${hello.num_expr} expressions, this avatar's rig has ${this.rig.numExpr}`;
      return null;
    }
    close() {
      this.closedByUs = true;
      clearTimeout(this.retry);
      this.socket.close();
    }
  };
  function toParams(message, numExpr) {
    const params = {};
    for (const [key, width] of [["expr", numExpr], ...FRAME_KEYS]) {
      const values = message[key];
      if (!Array.isArray(values) || values.length !== width || !values.every(Number.isFinite)) return null;
      params[key] = values;
    }
    return params;
  }

  // src/player.js
  var SORT_EVERY = 2;
  var Player = class {
    constructor(canvas, workerUrl, options = {}) {
      this.canvas = canvas;
      this.renderer = new SplatRenderer(canvas, options.target || "auto", Boolean(options.transparent));
      this.worker = new Worker(workerUrl);
      this.options = options;
      this.size = options.size || 512;
      this.frames = [];
      this.nextId = 1;
      this.spare = { keys: [], orders: [] };
      this.sorted = null;
      this.ticks = 0;
      this.inTick = false;
      this.presentAt = -1;
      this.deferred = false;
      this.dirty = true;
      this.listeners = [];
      this.stats = {
        frames: 0,
        fps: 0,
        workerMs: 0,
        pageMs: 0,
        frameMs: 0,
        windowStart: performance.now(),
        windowFrames: 0,
        lastFrame: 0,
        cpu: { page: 0, worker: 0, frames: 0 }
      };
      this.level = 0;
      this.levelSwitch = null;
      this.display = new DisplayPeriod();
      this.source = { kind: "neutral" };
      this.sliderParams = null;
      this.streamParams = null;
    }
    /** Loads manifest.json and the avatar it names from `base` (a folder URL). */
    async load(base) {
      const manifestUrl = new URL("manifest.json", base);
      this.manifest = await fetchJson(manifestUrl);
      const avatarUrl = new URL(this.manifest.avatar, manifestUrl);
      const buffer = await fetchBytes(avatarUrl);
      const loaded = await this.call({ type: "load", buffer, name: this.manifest.avatar }, [buffer], "loaded");
      this.summary = loaded.summary;
      const gl = this.renderer.gl;
      this.gpu = new AvatarGpu(gl, loaded.layout);
      this.inputs = new FrameInputs(loaded.avatar);
      const cut = loaded.avatar.headCut;
      this.cut = cut ? new CutGpu(gl, this.inputs.cutLines.faces, Boolean(cut.hanging_hair)) : null;
      const numExpr = this.summary.numExpr;
      this.sequences = await Promise.all(this.manifest.sequences.map(async (s) => {
        const rows = new Float32Array(await fetchBytes(new URL(s.file, manifestUrl)));
        return new Sequence(s.name, s.fps, numExpr, rows);
      }));
      this.background = this.summary.background;
      this.levels = this.summary.levels;
      this.setLevel(this.options.lod ?? "auto");
      this.resetView();
      this.sliderParams = zeroParams(numExpr);
      this.worker.onmessage = ({ data }) => this.received(data);
      return this.summary;
    }
    resetView() {
      const c = this.manifest.camera;
      this.view = { yaw: 0, pitch: 0, distance: framingDistance(c.extent, c.fov_y_deg), target: c.target, fov: c.fov_y_deg };
      this.dirty = true;
    }
    camera() {
      const v = this.view;
      return orbit(v.yaw, v.pitch, v.distance, v.target, this.size, this.size, v.fov);
    }
    /** The params the current source shows now. */
    currentParams(now = performance.now()) {
      const s = this.source;
      if (s.kind === "sequence") return s.sequence.params(this.sequenceFrame(now));
      if (s.kind === "stream") return this.streamParams || zeroParams(this.summary.numExpr);
      if (s.kind === "sliders") return this.sliderParams;
      return zeroParams(this.summary.numExpr);
    }
    sequenceFrame(now = performance.now()) {
      const s = this.source;
      if (s.kind !== "sequence") return 0;
      return s.paused ? s.frame : (s.frame + s.sequence.frameAt((now - s.started) / 1e3)) % s.sequence.frames;
    }
    play(sequence) {
      this.source = { kind: "sequence", sequence, frame: 0, started: performance.now(), paused: false };
      this.dirty = true;
      this.emit();
    }
    setPaused(paused) {
      const s = this.source;
      if (s.kind !== "sequence" || s.paused === paused) return;
      s.frame = this.sequenceFrame();
      s.started = performance.now();
      s.paused = paused;
      this.dirty = true;
      this.emit();
    }
    seek(frame) {
      const s = this.source;
      if (s.kind !== "sequence") return;
      s.frame = frame;
      s.started = performance.now();
      this.dirty = true;
    }
    /** A Live Link Face CSV's text as a sequence, mapped and kept in the avatar's range as the
     * engine maps it, added to the sequences and played. Throws LiveLinkError (file, row, column). */
    loadLiveLink(text, name) {
      const mapping = this.manifest.livelink;
      const range = mapping.clamp ? this.summary.expressionRange : null;
      const recording = readLiveLinkCsv(text, name, mapping.columns);
      const sequence = liveLinkSequence(name, recording, mapping, this.summary.numExpr, range);
      this.sequences.push(sequence);
      this.play(sequence);
      return sequence;
    }
    useSliders(params) {
      this.sliderParams = copyParams(params || this.currentParams());
      this.source = { kind: "sliders" };
      this.dirty = true;
      this.emit();
    }
    useStream() {
      this.source = { kind: "stream" };
      this.dirty = true;
      this.emit();
    }
    useNeutral() {
      this.source = { kind: "neutral" };
      this.dirty = true;
      this.emit();
    }
    /** Drives the avatar from a parameter stream (`avatar view --serve`) at url; onStatus(text, state). */
    connect(url, onStatus = () => {
    }) {
      this.disconnect();
      this.stream = new ParamStream(url, { name: this.summary.rig, numExpr: this.summary.numExpr }, (params) => {
        this.streamParams = params;
        if (this.source.kind === "stream") this.dirty = true;
      }, onStatus);
      this.useStream();
    }
    disconnect() {
      if (this.stream) this.stream.close();
      this.stream = null;
    }
    onChange(listener) {
      this.listeners.push(listener);
    }
    emit() {
      for (const listener of this.listeners) listener(this);
    }
    /** The level of detail to draw from the next frame on: k (0 the full avatar; clamped to the
     * levels there are) or "auto" (chosen from the frames' times, from the full avatar on). */
    setLevel(level) {
      const last = this.levels.length - 1;
      if (level === "auto") {
        this.levelSwitch = new LevelSwitch(this.levels.length);
        this.level = 0;
      } else {
        this.levelSwitch = null;
        this.level = Math.max(0, Math.min(last, Math.floor(Number(level)) || 0));
      }
      this.dirty = true;
    }
    /** Starts the loop: a new frame whenever a slot is free and something changed (always while a
     * sequence plays or a stream drives); each animation frame looks whether the GPU has the
     * oldest frame's depths for the sort, and times the display's refresh. */
    start() {
      this.looping = true;
      const tick = (timestamp) => {
        this.ticks += 1;
        this.inTick = true;
        this.display.tick(timestamp);
        this.pollDepths();
        this.next();
        this.inTick = false;
        requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    }
    /** The loop's next frame, if a slot is free and something changed or moves: begun as soon as
     * one is, its GPU work queued right behind the last frame's draw. */
    next() {
      if (this.frames.length >= SLOTS || this.frames.some((f) => f.exact)) return;
      const moving = this.source.kind === "sequence" && !this.source.paused || this.source.kind === "stream";
      if (!this.dirty && !moving) return;
      const how = this.reusesOrder() ? "last" : "read back";
      if (how === "last" && !this.lastFrameShown()) {
        if (this.inTick && !this.deferred) {
          this.deferred = true;
          setTimeout(() => {
            this.deferred = false;
            this.next();
          }, 0);
        }
        return;
      }
      this.begin(this.currentParams(), this.camera(), how);
    }
    /** Whether the display has shown the last frame drawn (at a tick's rendering update). */
    lastFrameShown() {
      return this.inTick ? this.presentAt < this.ticks : this.presentAt <= this.ticks;
    }
    /** Whether the next frame draws in the last sort's order: it has served fewer than SORT_EVERY
     * frames and was sorted for the level drawn now. */
    reusesOrder() {
      const s = this.sorted;
      return s !== null && s.level === this.level && s.served < SORT_EVERY;
    }
    /** Starts a frame of params seen by camera in a free slot: its inputs and GPU passes, then its
     * order: `how` "exact" (its depths read back now, waiting for the GPU, and sorted), "read back"
     * (read back without waiting, polled by the loop, then sorted) or "last" (drawn at once in the
     * last sort's order). Resolves once drawn with {pixels (capture: the canvas's RGBA, rows from
     * the top, else null), workerMs, pageMs, splats, level, sorted (false: the last order)}. */
    begin(params, camera, how, capture = false) {
      this.dirty = false;
      const started = performance.now();
      const exact = how === "exact";
      const slot = Array.from({ length: SLOTS }, (_, k) => k).find((k) => !this.frames.some((f) => f.slot === k));
      const frame = { id: this.nextId++, slot, camera, exact, capture, state: "gpu", cpuMs: 0, started, level: this.level };
      frame.done = new Promise((resolve, reject) => {
        frame.resolve = resolve;
        frame.reject = reject;
      });
      frame.settled = frame.done.catch(() => null);
      this.frames.push(frame);
      try {
        frame.inputs = this.inputs.frame(params, camera, slot);
        this.renderer.beginSpan(frame.id);
        this.gpu.pose(frame.inputs, slot);
        this.gpu.project(frame.inputs, camera, slot, frame.level);
        this.renderer.endSpan();
        if (exact) this.sort(frame, { keys: this.gpu.readDepthKeys(slot, frame.level), stride: 1 }, started);
        else if (how === "read back") this.gpu.startDepthKeys(slot, frame.level);
        else if (!this.sorted || this.sorted.level !== frame.level) throw new Error("no order of this level to draw in");
      } catch (error) {
        this.fail(error.message || String(error));
        return frame.done;
      }
      if (frame.state === "gpu") frame.cpuMs += performance.now() - started;
      if (how === "last") {
        this.sorted.served += 1;
        this.draw(frame, null, 0, this.sorted.count);
      }
      return frame.done;
    }
    /** The oldest frame's depths, if the GPU has them: off to the worker's sort (in frame order). */
    pollDepths() {
      const frame = this.frames[0];
      if (!frame || frame.state !== "gpu") return;
      const started = performance.now();
      const read = this.gpu.takeDepthKeys(frame.slot, this.spare.keys.pop());
      if (read) this.sort(frame, read, started);
      else frame.cpuMs += performance.now() - started;
    }
    sort(frame, { keys, stride }, started) {
      frame.state = "sorting";
      const order = this.spare.orders.pop();
      const transfer = [keys.buffer];
      if (order) transfer.push(order.buffer);
      const gaussians = this.levels[frame.level].count;
      this.worker.postMessage({ type: "sort", id: frame.id, keys, stride, order, gaussians }, transfer);
      frame.cpuMs += performance.now() - started;
    }
    /** Waits until no frame is under way. */
    async idle() {
      while (this.frames.length) await this.frames[this.frames.length - 1].settled;
    }
    /** Renders params seen by camera now, the depths read back at once, and resolves with the
     * canvas's pixels (RGBA, rows from the top) and the times: what the tests compare with the
     * engine's own render. */
    async renderNow(params, camera) {
      await this.idle();
      return this.begin(params, camera, "exact", true);
    }
    /** As renderNow, but drawn in the last sort's order (of the last exact or read-back frame):
     * what the frames between sorts show, for the tests to compare with the engine. */
    async renderInLastOrder(params, camera) {
      await this.idle();
      return this.begin(params, camera, "last", true);
    }
    /** For the tests: what the GPU computes of params seen by camera, read back: the posed vertices,
     * the world Gaussians (avatar_gpu.js's readWorld), the draw order (Uint32Array of Gaussians) and
     * the cut's region (Uint8Array [H * W], rows from the top, 1 = kept; null without a cut). */
    async stages(params, camera) {
      await this.idle();
      const inputs = this.inputs.frame(params, camera, 0);
      const world = this.gpu.readWorld(inputs, camera);
      this.gpu.project(inputs, camera, 0);
      const keys = this.gpu.readDepthKeys(0);
      const frame = { id: this.nextId++, slot: 0, state: "sorting", cpuMs: 0, exact: true, stages: true };
      frame.done = new Promise((resolve, reject) => {
        frame.resolve = resolve;
        frame.reject = reject;
      });
      frame.settled = frame.done.catch(() => null);
      this.frames.push(frame);
      this.worker.postMessage({ type: "sort", id: frame.id, keys, stride: 1 }, [keys.buffer]);
      const order = await frame.done;
      let region = null;
      if (this.cut) {
        this.renderer.drawRegion(this.cut.region(inputs.cut, this.gpu.posedTexture(0), camera), camera);
        const rgba = this.renderer.readPixels();
        region = new Uint8Array(camera.width * camera.height);
        for (let i = 0; i < region.length; ++i) region[i] = rgba[4 * i] > 127 ? 1 : 0;
      }
      return { ...world, order, region };
    }
    /** The worker's sort of the oldest frame: drawn now, in its own order. */
    received(data) {
      if (data.type === "error") {
        this.fail(data.message);
        return;
      }
      const frame = this.frames[0];
      if (data.type !== "sorted" || !frame || data.id !== frame.id) return;
      const order = data.order.subarray(0, data.count);
      this.spare.keys.push(data.keys);
      this.spare.orders.push(data.order);
      if (frame.stages) {
        this.frames.shift();
        const gaussian = new Map(Array.from(this.gpu.positions, (place, i) => [place, i]));
        frame.resolve(Uint32Array.from(order, (place) => gaussian.get(place)));
        return;
      }
      this.sorted = { level: frame.level, count: data.count, served: 1 };
      if (this.draw(frame, order, data.ms, data.count) && this.looping) this.next();
    }
    /** Draws the oldest frame (its passes done) in `order`, or in the last sort's (null), and
     * resolves it; false where that failed (the frames under way rejected). */
    draw(frame, order, workerMs, splats) {
      const started = performance.now();
      let pixels = null;
      try {
        if (order) this.renderer.setOrder(order);
        const camera = frame.camera;
        this.renderer.beginSpan(frame.id);
        const cut = frame.inputs.cut ? this.cut.region(frame.inputs.cut, this.gpu.posedTexture(frame.slot), camera) : null;
        this.renderer.draw(this.gpu.splatTextures(frame.slot), cut, camera, this.background);
        this.renderer.endSpan(true);
        if (frame.capture) pixels = this.renderer.readPixels();
      } catch (error) {
        this.fail(error.message || String(error));
        return false;
      }
      const now = performance.now();
      frame.cpuMs += now - started;
      this.presentAt = this.inTick ? this.ticks : this.ticks + 1;
      this.frames.shift();
      this.count(workerMs, frame.cpuMs, splats, now - frame.started);
      if (this.levelSwitch && order) this.chooseLevel(now - frame.started, frame.level, now);
      frame.resolve({ pixels, workerMs, pageMs: frame.cpuMs, splats, level: frame.level, sorted: order !== null });
      return true;
    }
    fail(message) {
      const frames = this.frames;
      this.frames = [];
      this.emitError(message);
      for (const frame of frames) frame.reject(new Error(message));
    }
    /** With lod "auto": a frame of level `level` took `ms`, drawn at `now`; the level switch says
     * which level the next frames draw (the display's refresh period is their budget). */
    chooseLevel(ms, level, now) {
      const next = this.levelSwitch.frame(ms, level, now, this.display.ms() || 0);
      if (next === this.level) return;
      this.level = next;
      this.dirty = true;
    }
    count(workerMs, pageMs, splats, frameMs) {
      const s = this.stats, now = performance.now();
      s.frames += 1;
      s.windowFrames += 1;
      s.lastFrame = now;
      s.workerMs = workerMs;
      s.pageMs = pageMs;
      s.frameMs = frameMs;
      s.splats = splats;
      s.cpu.page += pageMs;
      s.cpu.worker += workerMs;
      s.cpu.frames += 1;
      if (now - s.windowStart >= 1e3) {
        s.fps = 1e3 * s.windowFrames / (now - s.windowStart);
        s.windowStart = now;
        s.windowFrames = 0;
      }
    }
    emitError(message) {
      if (this.onError) this.onError(message);
    }
    /** Sends a message to the worker and waits for the reply of type `expect`. */
    call(message, transfer, expect) {
      return new Promise((resolve, reject) => {
        this.worker.onmessage = ({ data }) => {
          if (data.type === "error") reject(new Error(data.message));
          else if (data.type === expect) resolve(data);
        };
        this.worker.onerror = (event) => reject(new Error(event.message || "the player's worker failed to start"));
        this.worker.postMessage(message, transfer);
      });
    }
  };
  async function fetchJson(url) {
    return JSON.parse(new TextDecoder().decode(await fetchBytes(url)));
  }
  async function fetchBytes(url) {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url}: ${response.status} ${response.statusText}`);
    return response.arrayBuffer();
  }

  // src/ui.js
  var SIZES = [256, 384, 512, 768, 1024];
  function buildUi(player, query) {
    const $ = (id) => document.getElementById(id);
    const panel = $("panel");
    const show = (message) => {
      $("error").textContent = message;
      $("error").hidden = false;
    };
    player.onError = show;
    $("toggle").onclick = () => {
      panel.hidden = !panel.hidden;
    };
    const sources = element("select", { id: "source" });
    const playButton = element("button", { textContent: "Pause" });
    const seekBar = element("input", { type: "range", min: 0, max: 0, value: 0 });
    const frameLabel = element("span", { textContent: "" });
    const sizeSelect = element("select");
    for (const s of SIZES) sizeSelect.append(element("option", { value: s, textContent: `${s} px` }));
    sizeSelect.value = String(player.size);
    const streamUrl = element("input", { type: "text", value: query.get("ws") || defaultStreamUrl() });
    const streamButton = element("button", { textContent: "Connect" });
    const status = element("div", { id: "status" });
    const fileInput = element("input", { type: "file", accept: ".csv,text/csv" });
    const reset = element("button", { textContent: "Reset view" });
    panel.append(
      heading("Source"),
      row(sources),
      row(playButton, frameLabel),
      row(seekBar),
      heading("Live Link Face recording"),
      row(fileInput),
      hint("or drop a .csv anywhere on the page"),
      heading("Stream (avatar view --serve)"),
      row(streamUrl, streamButton),
      status,
      heading("View"),
      row(sizeSelect, reset),
      hint("drag to turn, wheel or pinch to zoom, double-click to reset"),
      heading("Expressions")
    );
    const sliders = expressionSliders(panel, player);
    const refreshSources = () => {
      sources.replaceChildren(
        element("option", { value: "neutral", textContent: "Neutral" }),
        element("option", { value: "sliders", textContent: "Sliders" }),
        ...player.sequences.map((s2, i) => element("option", { value: `seq:${i}`, textContent: `${s2.name} (${s2.frames} frames)` })),
        element("option", { value: "stream", textContent: "Stream" })
      );
      const s = player.source;
      sources.value = s.kind === "sequence" ? `seq:${player.sequences.indexOf(s.sequence)}` : s.kind;
    };
    sources.onchange = () => {
      const v = sources.value;
      if (v === "neutral") player.useNeutral();
      else if (v === "sliders") player.useSliders();
      else if (v === "stream") player.useStream();
      else player.play(player.sequences[Number(v.slice(4))]);
    };
    playButton.onclick = () => player.setPaused(!player.source.paused);
    seekBar.oninput = () => {
      player.setPaused(true);
      player.seek(Number(seekBar.value));
    };
    sizeSelect.onchange = () => {
      player.size = Number(sizeSelect.value);
      player.dirty = true;
    };
    reset.onclick = () => player.resetView();
    const connect = () => {
      if (player.stream) {
        player.disconnect();
        streamButton.textContent = "Connect";
        status.textContent = "disconnected";
        return;
      }
      player.connect(streamUrl.value, (text) => {
        status.textContent = text;
      });
      streamButton.textContent = "Disconnect";
    };
    streamButton.onclick = connect;
    if (query.get("ws")) connect();
    const loadCsv = async (file) => {
      try {
        player.loadLiveLink(await file.text(), file.name);
        $("error").hidden = true;
      } catch (error) {
        show(String(error.message || error));
      }
    };
    fileInput.onchange = () => {
      if (fileInput.files[0]) loadCsv(fileInput.files[0]);
    };
    dropTarget(document.body, $("drop"), loadCsv);
    orbitControls(player.canvas, player);
    player.onChange(() => {
      refreshSources();
      const s = player.source;
      playButton.disabled = s.kind !== "sequence";
      playButton.textContent = s.paused ? "Play" : "Pause";
      seekBar.max = s.kind === "sequence" ? s.sequence.frames - 1 : 0;
    });
    player.emit();
    const hud = $("hud");
    setInterval(() => {
      const st = player.stats, s = player.source;
      if (s.kind === "sequence") {
        const frame = player.sequenceFrame();
        seekBar.value = frame;
        frameLabel.textContent = `frame ${frame + 1} / ${s.sequence.frames}`;
      } else frameLabel.textContent = "";
      if (s.kind !== "sliders" && !panel.hidden) sliders.show(player.currentParams());
      const gpu = player.renderer.gpuMs === null ? "" : `  gpu ${player.renderer.gpuMs.toFixed(1)} ms`;
      const rate = performance.now() - st.lastFrame > 1e3 ? "idle" : `${st.fps.toFixed(1)} fps`;
      hud.textContent = `${rate}  ${player.size} px  ${st.splats ?? 0} splats
frame ${st.frameMs.toFixed(0)} ms  page ${st.pageMs.toFixed(1)} ms  worker ${st.workerMs.toFixed(1)} ms${gpu}
${describeLevel(player)}  ${player.renderer.target.name}`;
    }, 250);
  }
  function describeLevel(player) {
    const levels = player.levels, level = levels[player.level];
    const cost = player.level === 0 ? "full" : level.psnrDb === null ? "PSNR not measured" : `${level.psnrDb.toFixed(1)} dB (worst ${level.psnrMinDb === null ? "-" : level.psnrMinDb.toFixed(1)})`;
    return `lod ${player.level}/${levels.length - 1}${player.levelSwitch ? " auto" : ""}: ${level.count} Gaussians, ${cost}`;
  }
  function expressionSliders(panel, player) {
    const names = player.summary.exprNames || player.sliderParams.expr.map((_, i) => `expression ${i}`);
    const range = player.summary.expressionRange;
    const inputs = [];
    const add = (label, min, max, get, set) => {
      const input = element("input", { type: "range", min, max, step: 0.01, value: get(player.sliderParams) });
      const value = element("span", { textContent: Number(input.value).toFixed(2) });
      input.oninput = () => {
        if (player.source.kind !== "sliders") player.useSliders();
        set(player.sliderParams, Number(input.value));
        value.textContent = Number(input.value).toFixed(2);
        player.dirty = true;
      };
      const line = element("div", { className: "slider" });
      line.append(element("span", { textContent: label, title: label }), input, value);
      panel.append(line);
      inputs.push({ input, value, get });
    };
    add("jaw open", 0, 0.4, (p) => p.jaw[0], (p, v) => {
      p.jaw[0] = v;
    });
    add("head turn", -0.8, 0.8, (p) => p.rotation[1], (p, v) => {
      p.rotation[1] = v;
    });
    add("head nod", -0.5, 0.5, (p) => p.rotation[0], (p, v) => {
      p.rotation[0] = v;
    });
    names.forEach((name, e) => {
      const high = range ? Math.max(1, range.expr_high[e]) : 1;
      add(name, range ? Math.min(0, range.expr_low[e]) : 0, high, (p) => p.expr[e], (p, v) => {
        p.expr[e] = v;
      });
    });
    return {
      show(params) {
        for (const { input, value, get } of inputs) {
          input.value = get(params);
          value.textContent = Number(get(params)).toFixed(2);
        }
      }
    };
  }
  function orbitControls(canvas, player) {
    const pointers = /* @__PURE__ */ new Map();
    let pinch = null;
    canvas.addEventListener("pointerdown", (e) => {
      canvas.setPointerCapture(e.pointerId);
      pointers.set(e.pointerId, e);
    });
    canvas.addEventListener("pointerup", (e) => {
      pointers.delete(e.pointerId);
      pinch = null;
    });
    canvas.addEventListener("pointercancel", (e) => {
      pointers.delete(e.pointerId);
      pinch = null;
    });
    canvas.addEventListener("pointermove", (e) => {
      if (!pointers.has(e.pointerId)) return;
      const last = pointers.get(e.pointerId);
      pointers.set(e.pointerId, e);
      const v = player.view;
      if (pointers.size === 1) {
        v.yaw -= 0.4 * (e.clientX - last.clientX);
        v.pitch = Math.max(-80, Math.min(80, v.pitch + 0.4 * (e.clientY - last.clientY)));
      } else if (pointers.size === 2) {
        const [a, b] = [...pointers.values()];
        const spread = Math.hypot(a.clientX - b.clientX, a.clientY - b.clientY);
        if (pinch) v.distance *= pinch / spread;
        pinch = spread;
      }
      player.dirty = true;
    });
    canvas.addEventListener("wheel", (e) => {
      e.preventDefault();
      player.view.distance *= Math.exp(1e-3 * e.deltaY);
      player.dirty = true;
    }, { passive: false });
    canvas.addEventListener("dblclick", () => player.resetView());
  }
  function dropTarget(zone, overlay, onFile) {
    zone.addEventListener("dragover", (e) => {
      e.preventDefault();
      overlay.classList.add("shown");
    });
    zone.addEventListener("dragleave", () => overlay.classList.remove("shown"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      overlay.classList.remove("shown");
      const file = e.dataTransfer.files[0];
      if (file) onFile(file);
    });
  }
  function defaultStreamUrl() {
    return `ws://${location.hostname || "localhost"}:8765`;
  }
  function element(tag, props = {}) {
    return Object.assign(document.createElement(tag), props);
  }
  function heading(text) {
    return element("h3", { textContent: text });
  }
  function hint(text) {
    return element("div", { textContent: text, style: "font-size:12px;color:#999" });
  }
  function row(...children) {
    const div = element("div", { className: "row" });
    div.append(...children);
    return div;
  }

  // src/sort.js
  var CULLED = 4294967295;
  var DIGIT_BITS = 11;
  var DIGITS = 1 << DIGIT_BITS;
  var PASSES = Math.ceil(32 / DIGIT_BITS);
  var DepthSorter = class {
    /** places [N]: per Gaussian its place (gpu/layout.js's positions). */
    constructor(places) {
      const count = places.length;
      this.places = places;
      this.keys = new Uint32Array(count);
      this.order = new Uint32Array(count);
      this.scratchKeys = new Uint32Array(count);
      this.scratchOrder = new Uint32Array(count);
      this.counts = new Uint32Array(PASSES * DIGITS);
    }
    /** The places of the visible Gaussians among the first `count` (all by default: a level of
     * detail is the file's first Gaussians) back to front, into out [>= their count] (a view of it
     * is returned). depthKeys: per place its key (positive floats sort as their bits do), at least
     * up to the last of those Gaussians' places. */
    drawOrder(depthKeys, out, count = this.keys.length) {
      const n = Math.min(count, this.keys.length), places = this.places;
      let visible = 0, nearest2 = CULLED, farthest = 0;
      for (let i = 0; i < n; ++i) {
        const place = places[i], key = depthKeys[place];
        if (key === CULLED) continue;
        if (key < nearest2) nearest2 = key;
        if (key > farthest) farthest = key;
        this.keys[visible] = key;
        this.order[visible++] = place;
      }
      const order = this.radixSort(visible, nearest2, visible ? farthest - nearest2 : 0);
      for (let s = 0; s < visible; ++s) out[s] = order[visible - 1 - s];
      return out.subarray(0, visible);
    }
    /** Stable LSD radix sort of keys[0..n) less `base` (then each at most `largest`) with order
     * alongside, in as many passes of DIGIT_BITS as `largest` needs, every pass's counts taken in
     * one read; returns the array the sorted order ends in. */
    radixSort(n, base, largest) {
      let passes = 1;
      while (passes < PASSES && largest >>> passes * DIGIT_BITS) ++passes;
      let keys = this.keys, order = this.order, outKeys = this.scratchKeys, outOrder = this.scratchOrder;
      const counts = this.counts;
      counts.fill(0);
      for (let i = 0; i < n; ++i) {
        const key = keys[i] - base;
        keys[i] = key;
        for (let p = 0; p < passes; ++p) counts[p * DIGITS + (key >>> p * DIGIT_BITS & DIGITS - 1)]++;
      }
      for (let p = 0; p < passes; ++p) {
        let sum = 0;
        for (let b = p * DIGITS; b < (p + 1) * DIGITS; ++b) {
          const c = counts[b];
          counts[b] = sum;
          sum += c;
        }
        const shift = p * DIGIT_BITS, offset = p * DIGITS;
        for (let i = 0; i < n; ++i) {
          const slot = counts[offset + (keys[i] >>> shift & DIGITS - 1)]++;
          outKeys[slot] = keys[i];
          outOrder[slot] = order[i];
        }
        [keys, outKeys] = [outKeys, keys];
        [order, outOrder] = [outOrder, order];
      }
      return order;
    }
  };

  // src/worker.js
  function startWorker(scope) {
    let sorter = null, count = 0;
    scope.onmessage = ({ data }) => {
      try {
        if (data.type === "load") {
          const avatar = readWebAvatar(data.buffer, data.name);
          const layout = gpuLayout(avatar);
          count = avatar.gaussians.count;
          sorter = new DepthSorter(layout.arrays.positions.slice());
          scope.postMessage(
            { type: "loaded", summary: summary(avatar), avatar: pagePart(avatar), layout },
            Object.values(layout.arrays).map((a) => a.buffer)
          );
        } else if (data.type === "sort") {
          const started = performance.now();
          const keys = data.stride === 1 ? data.keys : strided(data.keys, data.stride, data.keys.length / data.stride);
          const out = data.order && data.order.length === count ? data.order : new Uint32Array(count);
          const order = sorter.drawOrder(keys, out, data.gaussians || count);
          const ms = performance.now() - started;
          scope.postMessage(
            { type: "sorted", id: data.id, order: out, count: order.length, keys: data.keys, ms },
            [out.buffer, data.keys.buffer]
          );
        }
      } catch (error) {
        scope.postMessage({ type: "error", id: data.id, message: String(error && error.message ? error.message : error) });
      }
    };
  }
  function strided(keys, stride, count) {
    const out = new Uint32Array(count);
    for (let i = 0; i < count; ++i) out[i] = keys[stride * i];
    return out;
  }
  function summary(avatar) {
    const { rig, gaussians } = avatar;
    return {
      rig: rig.name,
      numExpr: rig.numExpr,
      exprNames: rig.exprNames,
      numGaussians: gaussians.count,
      levels: avatar.levels,
      shDegree: gaussians.degree,
      background: avatar.background,
      hasCut: Boolean(avatar.headCut),
      expressionRange: avatar.expressionRange
    };
  }
  function pagePart(avatar) {
    const { rig, gaussians, offsets } = avatar;
    return {
      rig: { ...rig, lbsWeightBits: null, posedirBits: null },
      gaussians: { count: gaussians.count, blendExpr: gaussians.blendExpr, pose: gaussians.pose },
      offsets: { drivers: offsets.drivers, groups: offsets.groups.map(({ width, scale }) => ({ width, scale })) },
      headCut: avatar.headCut,
      viewCone: avatar.viewCone,
      background: avatar.background
    };
  }

  // src/main.js
  if (typeof WorkerGlobalScope !== "undefined" && self instanceof WorkerGlobalScope) {
    startWorker(self);
  } else {
    const scriptUrl = document.currentScript.src;
    window.addEventListener("DOMContentLoaded", () => main(scriptUrl));
  }
  async function main(scriptUrl) {
    const query = new URLSearchParams(location.search);
    const hud = document.getElementById("hud");
    const transparent = query.get("bg") === "transparent";
    if (transparent) document.documentElement.classList.add("transparent");
    try {
      const player = new Player(document.getElementById("view"), scriptUrl, {
        size: Number(query.get("size")) || Math.min(512, Math.floor(Math.min(innerWidth, innerHeight) * devicePixelRatio)),
        target: query.get("target") || "auto",
        transparent,
        lod: query.get("lod") || (query.get("manual") ? 0 : "auto")
      });
      window.avatarPlayer = player;
      const summary2 = await player.load(new URL(".", location.href));
      document.title = `${player.manifest.name} \xB7 avatar`;
      hud.textContent = `${summary2.numGaussians} Gaussians`;
      buildUi(player, query);
      const wanted = query.get("seq");
      const sequence = player.sequences.find((s) => s.name === wanted);
      if (sequence) player.play(sequence);
      if (!query.get("manual")) player.start();
      player.ready = true;
    } catch (error) {
      const box = document.getElementById("error");
      box.textContent = String(error.message || error);
      box.hidden = false;
      hud.textContent = "failed";
      window.avatarPlayerError = String(error.message || error);
    }
  }
})();
