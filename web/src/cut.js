// The avatar's cut below the head, per frame: which pixels a render keeps. The same region as
// the engine's head_cut_region op (cuda_ext/include/head_cut_math.h, csrc/head_cut_cpu.cpp;
// reference avatar/splat/cut_region.py): the head's side of a line along the projected neck ring
// through its vertex nearest the camera, and, between that line and a second one through the
// projected sides of the head, only the rig's own pixels grown by a disc of the neck margin; the
// cut's `shoulders` (face ids) are left out of those pixels. A cut with `hanging_hair` keeps the
// head's side of the neck line alone (its avatar learnt where hair ends in that band).
// Pixel (u, v) is tested at its centre (u + 0.5, v + 0.5); all maths in double, as the op.

/** The cut's region per frame, with its scratch buffers kept from frame to frame. */
export class HeadCutter {
  constructor() {
    this.scratch = {};
    this.covered = null; // { cut, rig, faces }: the coverage faces of the last cut and rig
  }

  /** region [H * W] (Uint8Array, 1 = kept; `out` is filled when it has that size) of the rig
   * posed as verts [V * 3] seen by camera. */
  region(cut, verts, rig, camera, out) {
    const { width, height } = camera;
    const numV = verts.length / 3, pixels = width * height;
    const xy = this.buffer("xy", Float64Array, 2 * numV), depth = this.buffer("depth", Float64Array, numV);
    projectVertices(verts, camera, xy, depth);
    const [ringLine, sidesLine] = cutLines(xy, depth, cut.ring, cut.sides, cut.top);
    const region = out && out.length === pixels ? out : new Uint8Array(pixels);
    region.fill(0);
    if (cut.hanging_hair) {
      for (let v = 0; v < height; ++v) {
        const [lo, hi] = columnsOnHeadSide(ringLine, v + 0.5, width);
        if (lo <= hi) region.fill(1, v * width + lo, v * width + hi + 1);
      }
      return region;
    }
    const radius = neckRadius(cut.neck_margin, height, width);
    const coverage = this.buffer("coverage", Uint8Array, pixels).fill(0);
    const faces = this.coverageFaces(cut, rig);
    rasterizeNearBand(xy, depth, faces, faces.length / 3, ringLine, sidesLine, radius + 1, camera.near, width, height,
      coverage);
    const neck = growByDisc(coverage, width, height, radius, this.buffer("neck", Uint8Array, pixels).fill(0));
    for (let v = 0; v < height; ++v) {
      const ring = columnsOnHeadSide(ringLine, v + 0.5, width);
      const ringLo = ring[0], ringHi = ring[1];
      const sides = columnsOnHeadSide(sidesLine, v + 0.5, width);
      const sidesLo = sides[0], sidesHi = sides[1];
      const row = v * width;
      for (let u = ringLo; u <= ringHi; ++u) region[row + u] = (u >= sidesLo && u <= sidesHi) || neck[row + u] ? 1 : 0;
    }
    return region;
  }

  /** The rig's faces without the cut's shoulders (made once per cut and rig). */
  coverageFaces(cut, rig) {
    const shoulders = cut.shoulders || [];
    if (shoulders.length === 0) return rig.faces;
    if (this.covered && this.covered.cut === cut && this.covered.rig === rig) return this.covered.faces;
    const left = new Uint8Array(rig.numFaces);
    let leftOut = 0;
    for (const f of shoulders) {
      if (!Number.isInteger(f) || f < 0 || f >= rig.numFaces) {
        throw new Error(`head_cut.shoulders: face ${f} is not one of the rig's ${rig.numFaces}`);
      }
      if (!left[f]) { left[f] = 1; ++leftOut; }
    }
    const faces = new Uint32Array(3 * (rig.numFaces - leftOut));
    let n = 0;
    for (let f = 0; f < rig.numFaces; ++f) {
      if (left[f]) continue;
      faces.set(rig.faces.subarray(3 * f, 3 * f + 3), 3 * n++);
    }
    this.covered = { cut, rig, faces };
    return faces;
  }

  buffer(name, Type, length) {
    const b = this.scratch[name];
    if (b && b.length === length) return b;
    return (this.scratch[name] = new Type(length));
  }
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

/** A line as {px, py, nx, ny}: a point and a unit normal towards the head. */
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

/** Python's max(1, int(round(margin * max(height, width)))), halves to even. */
export function neckRadius(margin, height, width) {
  const scaled = margin * Math.max(height, width);
  let whole = Math.floor(scaled);
  const rest = scaled - whole;
  if (rest > 0.5 || (rest === 0.5 && whole % 2 !== 0)) whole += 1;
  return Math.max(1, whole);
}

function discHalfWidth(dy, radius) {
  const t = dy / radius;
  return Math.floor(radius * Math.sqrt(Math.max(1 - t * t, 0)) + 0.5);
}

function edge(ax, ay, bx, by, px, py) {
  return (ax - px) * (by - py) - (ay - py) * (bx - px);
}

const ceilInt = (x) => { const t = Math.trunc(x); return t + (t < x ? 1 : 0); };
const floorInt = (x) => { const t = Math.trunc(x); return t - (t > x ? 1 : 0); };

/** [lo, hi] columns of a row whose centres lie between x = a and x = b, or null. */
function rowSpan(a, b, width) {
  const left = Math.min(a, b) - 0.5, right = Math.max(a, b) - 0.5;
  if (!(right >= 0) || !(left <= width - 1)) return null;
  const lo = Math.max(ceilInt(Math.max(left, -1)), 0);
  const hi = Math.min(floorInt(Math.min(right, width)), width - 1);
  return lo <= hi ? [lo, hi] : null;
}

function rasterizeNearBand(xy, depth, faces, numFaces, ringLine, sidesLine, reach, near, width, height, coverage) {
  const x = [0, 0, 0], y = [0, 0, 0];
  for (let f = 0; f < numFaces; ++f) {
    let deepInHead = true, belowCut = true, behind = false;
    for (let k = 0; k < 3; ++k) {
      const v = faces[3 * f + k];
      x[k] = xy[2 * v];
      y[k] = xy[2 * v + 1];
      deepInHead = deepInHead && signedDistance(sidesLine, x[k], y[k]) > reach;
      belowCut = belowCut && signedDistance(ringLine, x[k], y[k]) < -reach;
      if (depth[v] < near) behind = true;
    }
    if (behind || deepInHead || belowCut) continue;
    const area = edge(x[1], y[1], x[2], y[2], x[0], y[0]);
    if (!((area > 1e-12 || area < -1e-12) && area - area === 0)) continue;
    rasterizeTriangle(x, y, width, height, coverage);
  }
  return coverage;
}

/** Marks the pixels whose centres lie in the triangle (edges inclusive), scanline by scanline. */
function rasterizeTriangle(x, y, width, height, coverage) {
  let a = 0, b = 1, c = 2;
  if (y[b] < y[a]) [a, b] = [b, a];
  if (y[c] < y[b]) [b, c] = [c, b];
  if (y[b] < y[a]) [a, b] = [b, a];
  const x0 = x[a], y0 = y[a], x1 = x[b], y1 = y[b], x2 = x[c], y2 = y[c];
  if (!(y2 - 0.5 >= 0) || !(y0 - 0.5 <= height - 1)) return;
  const v0 = Math.max(ceilInt(Math.max(y0 - 0.5, -1)), 0);
  const v1 = Math.min(floorInt(Math.min(y2 - 0.5, height)), height - 1);
  const longSlope = y2 > y0 ? (x2 - x0) / (y2 - y0) : 0;
  const upperSlope = y1 > y0 ? (x1 - x0) / (y1 - y0) : 0;
  const lowerSlope = y2 > y1 ? (x2 - x1) / (y2 - y1) : 0;
  const mark = (v, span) => { if (span) coverage.fill(1, v * width + span[0], v * width + span[1] + 1); };
  for (let v = v0; v <= v1; ++v) {
    const py = v + 0.5;
    const onLong = x0 + (py - y0) * longSlope;
    if (py < y1 || (py === y1 && y1 === y2)) {
      mark(v, rowSpan(onLong, y1 > y0 ? x0 + (py - y0) * upperSlope : x1, width));
      if (py === y1) mark(v, rowSpan(x1, x2, width));
    } else {
      mark(v, rowSpan(onLong, y2 > y1 ? x1 + (py - y1) * lowerSlope : x2, width));
      if (py === y1 && y0 === y1) mark(v, rowSpan(x0, x1, width));
    }
  }
}

/** coverage dilated by the disc of `radius` pixels (each run widened row by row), into grown (zeros). */
function growByDisc(coverage, width, height, radius, grown) {
  const half = [];
  for (let dy = -radius; dy <= radius; ++dy) half.push(discHalfWidth(dy, radius));
  for (let v = 0; v < height; ++v) {
    const row = v * width;
    for (let u = 0; u < width;) {
      if (!coverage[row + u]) { ++u; continue; }
      const start = u;
      while (u < width && coverage[row + u]) ++u;
      const end = u - 1;
      for (let dy = -radius; dy <= radius; ++dy) {
        const target = v + dy;
        if (target < 0 || target >= height) continue;
        const lo = Math.max(start - half[dy + radius], 0), hi = Math.min(end + half[dy + radius], width - 1);
        grown.fill(1, target * width + lo, target * width + hi + 1);
      }
    }
  }
  return grown;
}

/** [lo, hi] (lo > hi: none) of the columns of row py whose centres lie on the head's side. */
function columnsOnHeadSide(line, py, width) {
  const inside = (u) => signedDistance(line, u + 0.5, py) >= 0;
  let loX = -2, hiX = width + 1;
  if (line.nx !== 0) {
    const root = line.px - ((py - line.py) * line.ny) / line.nx;
    if (line.nx > 0) loX = root;
    else hiX = root;
  } else if (!inside(0)) {
    hiX = loX - 1;
  }
  let lo = Math.max(0, Math.ceil(Math.max(loX, -2) - 0.5));
  let hi = Math.min(width - 1, Math.floor(Math.min(hiX, width + 1) - 0.5));
  if (lo > hi) return [lo, hi];
  while (lo > 0 && inside(lo - 1)) --lo;
  while (lo <= hi && !inside(lo)) ++lo;
  while (hi < width - 1 && inside(hi + 1)) ++hi;
  while (hi >= lo && !inside(hi)) --hi;
  return [lo, hi];
}
