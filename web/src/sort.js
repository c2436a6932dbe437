// The draw order of a frame's splats, in the worker: the Gaussians the GPU marked visible (its
// depth keys: a depth's float32 bits, ~0 when culled by depth or opacity) sorted front to back by
// depth, ties by index, as the engine's rasterizers composite, then reversed: back to front. The
// keys and the order are by place (the texel of a Gaussian's splat, gpu/layout.js).

const CULLED = 0xffffffff;

export class DepthSorter {
  /** places [N]: per Gaussian its place (gpu/layout.js's positions). */
  constructor(places) {
    const count = places.length;
    this.places = places;
    this.keys = new Uint32Array(count);
    this.order = new Uint32Array(count);
    this.scratchKeys = new Uint32Array(count);
    this.scratchOrder = new Uint32Array(count);
    this.histogram = new Uint32Array(65536);
  }

  /** The places of the visible Gaussians among the first `count` (all by default: a level of
   * detail is the file's first Gaussians) back to front, into out [>= their count] (a view of it
   * is returned). depthKeys: per place its key (positive floats sort as their bits do), at least
   * up to the last of those Gaussians' places. */
  drawOrder(depthKeys, out, count = this.keys.length) {
    const n = Math.min(count, this.keys.length), places = this.places;
    let visible = 0;
    for (let i = 0; i < n; ++i) { // by Gaussian: a stable sort then leaves ties in index order
      const place = places[i], key = depthKeys[place];
      if (key === CULLED) continue;
      this.keys[visible] = key;
      this.order[visible++] = place;
    }
    this.radixSort(visible);
    for (let s = 0; s < visible; ++s) out[s] = this.order[visible - 1 - s];
    return out.subarray(0, visible);
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
}
