// The draw order of a frame's splats, in the worker: the Gaussians the GPU marked visible (its
// depth keys: a depth's float32 bits, ~0 when culled by depth or opacity) sorted front to back by
// depth, ties by index, as the engine's rasterizers composite, then reversed: back to front. The
// keys and the order are by place (the texel of a Gaussian's splat, gpu/layout.js).

const CULLED = 0xffffffff;
const DIGIT_BITS = 11; // radix digits: 2,048 counters (8 KB) stay in the core's L1 cache
const DIGITS = 1 << DIGIT_BITS;
const PASSES = Math.ceil(32 / DIGIT_BITS); // enough for any key

export class DepthSorter {
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
    let visible = 0, nearest = CULLED, farthest = 0;
    for (let i = 0; i < n; ++i) { // by Gaussian: a stable sort then leaves ties in index order
      const place = places[i], key = depthKeys[place];
      if (key === CULLED) continue;
      if (key < nearest) nearest = key;
      if (key > farthest) farthest = key;
      this.keys[visible] = key;
      this.order[visible++] = place;
    }
    // A head's depths span a few million of their float bits' steps: keys taken from the nearest
    // need 22 bits, two passes of 11, where the raw bits would need three.
    const order = this.radixSort(visible, nearest, visible ? farthest - nearest : 0);
    for (let s = 0; s < visible; ++s) out[s] = order[visible - 1 - s];
    return out.subarray(0, visible);
  }

  /** Stable LSD radix sort of keys[0..n) less `base` (then each at most `largest`) with order
   * alongside, in as many passes of DIGIT_BITS as `largest` needs, every pass's counts taken in
   * one read; returns the array the sorted order ends in. */
  radixSort(n, base, largest) {
    let passes = 1;
    while (passes < PASSES && largest >>> (passes * DIGIT_BITS)) ++passes;
    let keys = this.keys, order = this.order, outKeys = this.scratchKeys, outOrder = this.scratchOrder;
    const counts = this.counts; // [PASSES * DIGITS]: per pass, its digits' counts, then their starts
    counts.fill(0);
    for (let i = 0; i < n; ++i) {
      const key = keys[i] - base;
      keys[i] = key;
      for (let p = 0; p < passes; ++p) counts[p * DIGITS + ((key >>> (p * DIGIT_BITS)) & (DIGITS - 1))]++;
    }
    for (let p = 0; p < passes; ++p) {
      let sum = 0;
      for (let b = p * DIGITS; b < (p + 1) * DIGITS; ++b) { const c = counts[b]; counts[b] = sum; sum += c; }
      const shift = p * DIGIT_BITS, offset = p * DIGITS;
      for (let i = 0; i < n; ++i) {
        const slot = counts[offset + ((keys[i] >>> shift) & (DIGITS - 1))]++;
        outKeys[slot] = keys[i];
        outOrder[slot] = order[i];
      }
      [keys, outKeys] = [outKeys, keys];
      [order, outOrder] = [outOrder, order];
    }
    return order;
  }
}
