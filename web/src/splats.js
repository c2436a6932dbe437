// The frame's Gaussians as the GPU draws them. Every Gaussian is packed, in its own order (the
// arrays are read front to back, not gathered in the draw order), into 8 32-bit words (two
// RGBA32UI texels):
//   word 0..2  mean x, y, z (float32 bits, metres)
//   word 3     colour r, g, b: 10 bits each over [0, 2] (q / 511.5), r in the low bits
//   word 4..5  world rotation (w, x) and (y, z): float16 pairs, the first in the low half
//   word 6..7  scale (x, y) and (z, opacity): float16 pairs, scales in millimetres
// and the draw order lists the visible ones (culled by depth and opacity) back to front: sorted
// by depth front to back, ties by index, as the engine's rasterizers composite, then reversed.

export const WORDS_PER_SPLAT = 8;
const ALPHA_MIN = 1 / 255;
const COLOUR_STEPS = 511.5;

// The platform's float16 array where there is one (browsers since 2025; not Node 20), and the
// packer's own conversion otherwise: both round to nearest, ties to even.
const HalfArray = globalThis.Float16Array && globalThis.__avatarNoFloat16Array !== true ? globalThis.Float16Array : null;
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float16 bits of x (round to nearest even; overflow to infinity, underflow through subnormals). */
export function floatToHalf(x) {
  f32[0] = x;
  const bits = u32[0];
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  let mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    const half = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const midpoint = 1 << (shift - 1);
    return sign | (half + (rest > midpoint || (rest === midpoint && (half & 1)) ? 1 : 0));
  }
  const half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  return sign | (half + (rest > 0x1000 || (rest === 0x1000 && (half & 1)) ? 1 : 0));
}

export class SplatPacker {
  constructor(count) {
    this.keys = new Uint32Array(count);
    this.order = new Uint32Array(count);
    this.scratchKeys = new Uint32Array(count);
    this.scratchOrder = new Uint32Array(count);
    this.histogram = new Uint32Array(65536);
  }

  /** The visible Gaussians sorted front to back (Uint32Array view of indices). */
  sorted(world, camera) {
    const m = camera.w2c;
    let visible = 0;
    for (let i = 0; i < world.count; ++i) {
      const x = world.means[3 * i], y = world.means[3 * i + 1], z = world.means[3 * i + 2];
      const depth = m[8] * x + m[9] * y + m[10] * z + m[11];
      if (!(depth > camera.near && depth <= camera.far) || !(world.opacities[i] >= ALPHA_MIN)) continue;
      f32[0] = depth; // positive floats sort as their bits do
      this.keys[visible] = u32[0];
      this.order[visible++] = i;
    }
    this.radixSort(visible);
    return this.order.subarray(0, visible);
  }

  /** Stable LSD radix sort of keys[0..n) with order alongside, two passes of 16 bits. */
  radixSort(n) {
    let keys = this.keys, order = this.order, outKeys = this.scratchKeys, outOrder = this.scratchOrder;
    const histogram = this.histogram;
    for (const shift of [0, 16]) {
      histogram.fill(0);
      for (let i = 0; i < n; ++i) histogram[(keys[i] >>> shift) & 0xffff]++;
      let sum = 0;
      for (let b = 0; b < 65536; ++b) { const c = histogram[b]; histogram[b] = sum; sum += c; }
      for (let i = 0; i < n; ++i) {
        const slot = histogram[(keys[i] >>> shift) & 0xffff]++;
        outKeys[slot] = keys[i];
        outOrder[slot] = order[i];
      }
      [keys, outKeys] = [outKeys, keys];
      [order, outOrder] = [outOrder, order];
    }
    // After an even number of passes the result is back in this.keys / this.order.
  }

  /** The draw order (back to front) of the sorted visible Gaussians, into out [>= sorted.length]. */
  drawOrder(sorted, out) {
    const n = sorted.length;
    for (let s = 0; s < n; ++s) out[s] = sorted[n - 1 - s];
    return out.subarray(0, n);
  }

  /** words [WORDS_PER_SPLAT * N]: every Gaussian, in its own order. */
  pack(world, colours, words) {
    const n = world.count;
    const floats = new Float32Array(words.buffer, words.byteOffset, words.length);
    // The float16 values go through the browser's Float16Array where it has one (the same
    // rounding), else through a float32 staging array converted in bulk.
    const halves = HalfArray ? new HalfArray(words.buffer, words.byteOffset, 2 * words.length)
      : this.staging && this.staging.length === 2 * words.length ? this.staging
        : (this.staging = new Float32Array(2 * words.length));
    const q = world.quats, sc = world.scales, op = world.opacities, means = world.means;
    for (let i = 0; i < n; ++i) {
      const o = WORDS_PER_SPLAT * i, i3 = 3 * i, i4 = 4 * i;
      floats[o] = means[i3];
      floats[o + 1] = means[i3 + 1];
      floats[o + 2] = means[i3 + 2];
      const r = Math.min(1023, Math.round(colours[i3] * COLOUR_STEPS));
      const g = Math.min(1023, Math.round(colours[i3 + 1] * COLOUR_STEPS));
      const b = Math.min(1023, Math.round(colours[i3 + 2] * COLOUR_STEPS));
      words[o + 3] = (r | (g << 10) | (b << 20)) >>> 0;
      const h = 2 * o + 8; // little-endian: the first of a pair is the low half of its word
      halves[h] = q[i4]; halves[h + 1] = q[i4 + 1]; halves[h + 2] = q[i4 + 2]; halves[h + 3] = q[i4 + 3];
      halves[h + 4] = 1000 * sc[i3]; halves[h + 5] = 1000 * sc[i3 + 1]; halves[h + 6] = 1000 * sc[i3 + 2];
      halves[h + 7] = op[i];
    }
    if (!HalfArray) stagedToHalves(this.staging, new Uint16Array(words.buffer, words.byteOffset, 2 * words.length), n);
    return words;
  }
}

/** halves[16 i + 8 + k] = float16 bits of staged[16 i + 8 + k], k < 8, for each of n Gaussians:
 * floatToHalf written out in one loop (a call per value would box every float argument). */
function stagedToHalves(staged, halves, n) {
  const bits = new Uint32Array(staged.buffer, staged.byteOffset, staged.length);
  for (let i = 0; i < n; ++i) {
    for (let k = 16 * i + 8; k < 16 * i + 16; ++k) {
      const x = bits[k];
      const sign = (x >>> 16) & 0x8000;
      const exponent = (x >>> 23) & 0xff;
      let mantissa = x & 0x7fffff;
      let out;
      if (exponent === 0xff) out = sign | 0x7c00 | (mantissa ? 0x200 : 0);
      else {
        const e = exponent - 112; // - 127 + 15
        if (e >= 31) out = sign | 0x7c00;
        else if (e <= 0) {
          if (e < -10) out = sign;
          else {
            mantissa |= 0x800000;
            const shift = 14 - e;
            const half = mantissa >>> shift, rest = mantissa & ((1 << shift) - 1), midpoint = 1 << (shift - 1);
            out = sign | (half + (rest > midpoint || (rest === midpoint && (half & 1)) ? 1 : 0));
          }
        } else {
          const half = (e << 10) | (mantissa >>> 13), rest = mantissa & 0x1fff;
          out = sign | (half + (rest > 0x1000 || (rest === 0x1000 && (half & 1)) ? 1 : 0));
        }
      }
      halves[k] = out;
    }
  }
}
