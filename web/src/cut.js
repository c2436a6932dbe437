// The avatar's cut below the head, per frame: which pixels a render keeps. The same region as
// the engine's head_cut_region op (cuda_ext/include/head_cut_math.h, csrc/head_cut_cpu.cpp;
// reference avatar/splat/cut_region.py): the head's side of a line along the projected neck ring
// through its vertex nearest the camera, and, between that line and a second one through the
// projected sides of the head, only the rig's own pixels grown by a disc of the neck margin; the
// cut's `shoulders` (face ids) are left out of those pixels. A cut with `hanging_hair` keeps the
// head's side of the neck line alone (its avatar learnt where hair ends in that band).
// Pixel (u, v) is tested at its centre (u + 0.5, v + 0.5). Here the lines, in double as the op;
// the rig's pixels and the disc on the GPU (gpu/cut_shaders.js).

/** The cut's CPU half per frame: its lines from the few rig vertices they need (posed on the CPU),
 * as per-row spans the GPU's composite reads; the rig's pixels and their growth by the neck
 * margin are the GPU's (gpu/cut_shaders.js). */
export class CutLines {
  constructor(cut, rig) {
    this.cut = cut;
    this.vertices = Array.from(new Set([...cut.ring, ...cut.sides, cut.top]));
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
}

/** The rig's faces without the cut's shoulders [F' * 3] (the faces whose pixels the neck keeps). */
export function coverageFaces(cut, rig) {
  const shoulders = cut.shoulders || [];
  if (shoulders.length === 0) return rig.faces;
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
  return faces;
}

/** The disc's half widths [radius + 1] by row distance (the op's disc_half_width). */
export function discHalfWidths(radius) {
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

/** [lo, hi] (lo > hi: none; both within a few columns of the image) of the columns of row py
 * whose centres lie on the head's side. */
function columnsOnHeadSide(line, py, width) {
  const inside = (u) => signedDistance(line, u + 0.5, py) >= 0;
  let loX = -2, hiX = width + 1;
  if (line.nx !== 0) {
    // Where the line crosses the row, kept within the image's margin: a nearly level line (a rig
    // symmetric in x seen from straight ahead has |nx| ~ 1e-19) crosses it ~1e19 px away, and
    // such a bound would wrap in the spans' Int32Array, keeping rows the cut removes.
    const root = Math.min(Math.max(line.px - ((py - line.py) * line.ny) / line.nx, -2), width + 1);
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
