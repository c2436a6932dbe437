// Rig parameters of one frame, the currency between the player's sources and its engine:
// {expr [E], jaw [3], neck [3], rotation [3], eyes [6], translation [3]} (avatar/rig/params.py;
// rotations axis-angle in radians, translation in metres; the identity is in the avatar's
// template). A sequence stores its frames as rows of these values in that order.

export const FRAME_KEYS = [["jaw", 3], ["neck", 3], ["rotation", 3], ["eyes", 6], ["translation", 3]];

export function zeroParams(numExpr) {
  const params = { expr: new Array(numExpr).fill(0) };
  for (const [key, width] of FRAME_KEYS) params[key] = new Array(width).fill(0);
  return params;
}

export function copyParams(params) {
  const out = { expr: Array.from(params.expr) };
  for (const [key] of FRAME_KEYS) out[key] = Array.from(params[key]);
  return out;
}

/** Values per row of a sequence of a rig with numExpr expressions. */
export function rowWidth(numExpr) {
  return numExpr + FRAME_KEYS.reduce((sum, [, width]) => sum + width, 0);
}

export class Sequence {
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
    const row = this.rows.subarray(frame * this.width, (frame + 1) * this.width);
    const params = { expr: Array.from(row.subarray(0, this.numExpr)) };
    let at = this.numExpr;
    for (const [key, width] of FRAME_KEYS) {
      params[key] = Array.from(row.subarray(at, at + width));
      at += width;
    }
    return params;
  }

  /** The frame shown `seconds` after the start, looping. */
  frameAt(seconds) {
    return Math.floor(seconds * this.fps) % this.frames;
  }
}

/** A sequence built from per-frame params objects. */
export function sequenceOf(name, fps, numExpr, frames) {
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
