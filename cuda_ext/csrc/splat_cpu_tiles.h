// CPU rasterizer setup: per-Gaussian records for the tile loops, the depth order and the
// per-tile Gaussian lists (front to back). Used by splat_raster_cpu.cpp only.
#pragma once

#include <ATen/ATen.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include <omp.h>

#include "cpu_simd.h"
#include "splat.h"

namespace splat_cpu {

using at::Tensor;

// CPU tiles are CPU_TILE x CPU_TILE pixels, larger than CUDA's (one thread per pixel there): each
// (tile, Gaussian) entry costs a record fetch, a box clip and a gradient record whatever its size,
// and at 32 the bench scene (256^2, 30k Gaussians) has 22% fewer entries than at 16. Measured on 2
// cores: forward 10%, backward 8-13% faster than 16. At 64 a 256^2 image has only 16 tiles to
// balance over the threads.
constexpr int CPU_TILE = 32;
constexpr int CPU_TILE_PIXELS = CPU_TILE * CPU_TILE;

// What the tile loops read per visible Gaussian (56 bytes in float32: within one cache line). The
// tile loops visit the pixel box of the alpha ellipse (the reference's, in double) clipped to the
// tile: a superset of the reference's enumerated row spans, with no per-row setup; the alpha test
// on each pixel still decides, so the extra pixels (outside the ellipse) change nothing.
template <typename T>
struct TileGaussian : splat::ScreenGaussian<T> {
  int32_t u_lo, u_hi, v_lo, v_hi;  // inclusive pixel box of the ellipse
};

// Reads Gaussian i of the rasterizer inputs into a record.
template <typename T>
struct ScreenInputs {
  const T *means2d, *conics, *colours, *opacities, *depths;
  const int32_t* radii;
  int64_t n;
  int width, height;

  explicit ScreenInputs(const Tensor& m2d, const Tensor& con, const Tensor& col, const Tensor& opa,
                        const Tensor& dep, const Tensor& rad, int w, int h)
      : means2d(m2d.data_ptr<T>()), conics(con.data_ptr<T>()), colours(col.data_ptr<T>()),
        opacities(opa.data_ptr<T>()), depths(dep.data_ptr<T>()), radii(rad.data_ptr<int32_t>()), n(m2d.size(0)),
        width(w), height(h) {}

  splat::Ellipse ellipse(int64_t i) const {
    return splat::alpha_ellipse(means2d + 2 * i, conics + 3 * i, opacities[i], width, height);
  }
};

// Order-preserving unsigned key of a float / double.
template <typename T>
inline typename std::conditional<sizeof(T) == 4, uint32_t, uint64_t>::type sortable_bits(T x) {
  using Key = typename std::conditional<sizeof(T) == 4, uint32_t, uint64_t>::type;
  Key bits;
  std::memcpy(&bits, &x, sizeof(T));
  const Key sign = Key(1) << (8 * sizeof(T) - 1);
  return (bits & sign) ? ~bits : (bits | sign);
}

// A visible Gaussian and the tiles [tx0, tx1] x [ty0, ty1] its box touches: what the binning
// loops read, in depth order, without going back to the scattered records.
struct TileSpan {
  int32_t id;
  uint16_t tx0, tx1, ty0, ty1;  // tile indices fit: images are under 2^20 pixels a side (check_image_size)
};

// `spans` (ascending ids) stably sorted by depth: an LSD radix sort on 8-bit digits, so equal
// depths keep the lower index first, as the reference's stable sort. Digits that every key
// shares (the sign and most of the exponent) are skipped without a pass.
template <typename T>
std::vector<TileSpan> sort_by_depth(const T* depths, std::vector<TileSpan> spans) {
  using Key = decltype(sortable_bits(T(0)));
  const size_t n = spans.size();
  std::vector<Key> keys(n), keys_tmp(n);
  std::vector<TileSpan> spans_tmp(n);
  Key all_ones = ~Key(0), any_ones = Key(0);
  for (size_t j = 0; j < n; ++j) {
    keys[j] = sortable_bits(depths[spans[j].id]);
    all_ones &= keys[j];
    any_ones |= keys[j];
  }
  const Key varying = all_ones ^ any_ones;  // bits that differ between some keys
  for (int shift = 0; shift < int(8 * sizeof(Key)); shift += 8) {
    if (((varying >> shift) & 0xff) == 0) continue;  // one bucket: nothing moves
    // Four interleaved histograms: neighbouring keys often share a digit, and one counter
    // incremented back to back is a chain of dependent loads and stores.
    size_t counts[4][256] = {};
    size_t j = 0;
    for (; j + 4 <= n; j += 4)
      for (int h = 0; h < 4; ++h) ++counts[h][(keys[j + h] >> shift) & 0xff];
    for (; j < n; ++j) ++counts[0][(keys[j] >> shift) & 0xff];
    size_t next[256], total = 0;
    for (int d = 0; d < 256; ++d) {
      next[d] = total;
      total += counts[0][d] + counts[1][d] + counts[2][d] + counts[3][d];
    }
    for (j = 0; j < n; ++j) {
      const size_t dst = next[(keys[j] >> shift) & 0xff]++;
      keys_tmp[dst] = keys[j];
      spans_tmp[dst] = spans[j];
    }
    keys.swap(keys_tmp);
    spans.swap(spans_tmp);
  }
  return spans;
}

struct TileLists {
  Tensor tile_offsets;  // [num_tiles + 1] int32: tile t's entries are [offsets[t], offsets[t + 1])
  Tensor entries;  // [E] int32 Gaussian indices, front to back inside each tile
  Tensor records;  // [N * sizeof(TileGaussian<T>)] uint8: the TileGaussian of Gaussian i (read only when visible)
};

using splat::f64x4;
using splat::i32x4;

// splat::pixel_at_or_after / pixel_at_or_before on 4 lanes: ceil and floor through truncation
// (the clamped coordinates fit int32). A copy of the scalar rounding, kept because calling the
// scalar functions per lane measured 5-7% slower forwards at 2 threads.
inline __attribute__((always_inline)) i32x4 pixels_at_or_after(f64x4 coord, int size) {
  const f64x4 x = splat::min_(splat::max_(coord, f64x4{} - 1.0), f64x4{} + (size + 1.0)) - 0.5;
  const i32x4 t = __builtin_convertvector(x, i32x4);
  const i32x4 up = __builtin_convertvector(__builtin_convertvector(t, f64x4) < x, i32x4);  // -1 where t < x
  return splat::min_(splat::max_(t - up, i32x4{}), i32x4{} + size);
}

inline __attribute__((always_inline)) i32x4 pixels_at_or_before(f64x4 coord, int size) {
  const f64x4 x = splat::min_(splat::max_(coord, f64x4{} - 1.0), f64x4{} + (size + 1.0)) - 0.5;
  const i32x4 t = __builtin_convertvector(x, i32x4);
  const i32x4 down = __builtin_convertvector(__builtin_convertvector(t, f64x4) > x, i32x4);  // -1 where t > x
  return splat::min_(splat::max_(t + down, i32x4{} - 1), i32x4{} + (size - 1));
}

// Record i with the pixel box [u_lo, u_hi] x [v_lo, v_hi] (empty: culled); appends its tile span
// to `visible` when the box is not empty.
template <typename T>
AVX_HD_LANE void write_record(const ScreenInputs<T>& in, int64_t i, int u_lo, int u_hi, int v_lo, int v_hi,
                              TileGaussian<T>* records, std::vector<TileSpan>* visible) {
  TileGaussian<T>& g = records[i];
  splat::load_screen_gaussian(in.means2d, in.conics, in.colours, in.opacities, in.depths, i, g);
  g.u_lo = u_lo;
  g.u_hi = u_hi;
  g.v_lo = v_lo;
  g.v_hi = v_hi;
  int tx0, tx1, ty0, ty1;
  if (splat::box_tiles(CPU_TILE, u_lo, u_hi, v_lo, v_hi, tx0, tx1, ty0, ty1))
    visible->push_back(TileSpan{int32_t(i), uint16_t(tx0), uint16_t(tx1), uint16_t(ty0), uint16_t(ty1)});
}

// Gaussians [i0, i1): their records (culled ones get an empty box) and, appended to `visible` in
// index order, the tile spans of the visible ones. The pixel boxes are splat::alpha_ellipse's (the
// same double maths), 4 Gaussians at a time. Flattened, so simd::widest can give the maths AVX2's
// instructions.
template <typename T>
__attribute__((flatten)) void record_range(const ScreenInputs<T>* in, int64_t i0, int64_t i1,
                                           TileGaussian<T>* records, std::vector<TileSpan>* visible) {
  int64_t i = i0;
  // 4 independent chains of divisions and square roots hide most of their latency.
  for (; i + 4 <= i1; i += 4) {
    f64x4 mx, my, a, b, c, k;
    for (int l = 0; l < 4; ++l) {
      const int64_t j = i + l;
      mx[l] = in->means2d[2 * j];
      my[l] = in->means2d[2 * j + 1];
      a[l] = in->conics[3 * j];
      b[l] = in->conics[3 * j + 1];
      c[l] = in->conics[3 * j + 2];
      k[l] = splat::alpha_ellipse_k(double(in->opacities[j]));
    }
    f64x4 half_w, half_h;
    splat::ellipse_half_extents(a, b, c, k, half_w, half_h);
    const i32x4 u_lo = pixels_at_or_after(mx - half_w, in->width), u_hi = pixels_at_or_before(mx + half_w, in->width);
    const i32x4 v_lo = pixels_at_or_after(my - half_h, in->height), v_hi = pixels_at_or_before(my + half_h, in->height);
    for (int l = 0; l < 4; ++l) {
      const bool culled = in->radii[i + l] <= 0;  // an empty box
      write_record(*in, i + l, culled ? 1 : u_lo[l], culled ? 0 : u_hi[l], v_lo[l], v_hi[l], records, visible);
    }
  }
  for (; i < i1; ++i) {
    if (in->radii[i] > 0) {
      const splat::Ellipse e = in->ellipse(i);
      write_record(*in, i, e.u_lo, e.u_hi, e.v_lo, e.v_hi, records, visible);
    } else {
      write_record(*in, i, 1, 0, 1, 0, records, visible);
    }
  }
}

// [begin, end) of part `part` of `parts` equal parts of n items.
inline void part_range(int64_t n, int part, int parts, int64_t& begin, int64_t& end) {
  begin = n * part / parts;
  end = n * (part + 1) / parts;
}

// Visible Gaussians (radius > 0 and an ellipse inside the image), sorted front to back, dealt to
// the tiles their ellipse box touches. Records are written in index order (sequential reads of
// the inputs) and the tile lists point at them by Gaussian index. The dealing is a counting sort
// by tile over `parts` contiguous parts of the depth order, each with its own cursors: parts are
// dealt in order, so every tile keeps the depth order, without atomics.
template <typename T>
TileLists build_tile_lists(const ScreenInputs<T>& in) {
  const int tiles_x = splat::tiles_along(in.width, CPU_TILE);
  const int num_tiles = tiles_x * splat::tiles_along(in.height, CPU_TILE);
  const int parts = omp_get_max_threads();
  TileLists lists;
  lists.records = at::empty({in.n * int64_t(sizeof(TileGaussian<T>))}, at::kByte);
  auto* records = reinterpret_cast<TileGaussian<T>*>(lists.records.data_ptr<uint8_t>());
  std::vector<std::vector<TileSpan>> visible_parts(static_cast<size_t>(parts));
  const auto record = simd::widest<&record_range<T>>();
#pragma omp parallel for schedule(static) num_threads(parts)
  for (int part = 0; part < parts; ++part) {
    int64_t begin, end;
    part_range(in.n, part, parts, begin, end);
    visible_parts[part].reserve(static_cast<size_t>(end - begin));
    record(&in, begin, end, records, &visible_parts[part]);
  }
  std::vector<TileSpan> visible;
  for (const auto& v : visible_parts) visible.insert(visible.end(), v.begin(), v.end());
  const std::vector<TileSpan> order = sort_by_depth(in.depths, std::move(visible));
  // fn(tile, id) for each (tile, Gaussian) entry of part `part` of the depth order, in order.
  const auto for_each_entry = [&](int part, auto fn) {
    int64_t begin, end;
    part_range(int64_t(order.size()), part, parts, begin, end);
    for (int64_t j = begin; j < end; ++j) {
      const TileSpan& r = order[j];
      for (int ty = r.ty0; ty <= r.ty1; ++ty)
        for (int tx = r.tx0; tx <= r.tx1; ++tx) fn(ty * tiles_x + tx, r.id);
    }
  };

  // cursors[part * num_tiles + tile]: first the part's entry count in the tile, then where it writes.
  std::vector<int64_t> cursors(static_cast<size_t>(parts) * num_tiles, 0);
#pragma omp parallel for schedule(static) num_threads(parts)
  for (int part = 0; part < parts; ++part) {
    int64_t* count = cursors.data() + int64_t(part) * num_tiles;
    for_each_entry(part, [count](int tile, int32_t) { ++count[tile]; });
  }
  std::vector<int64_t> offsets(int64_t(num_tiles) + 1, 0);
  for (int tile = 0; tile < num_tiles; ++tile) {
    int64_t next = offsets[tile];
    for (int part = 0; part < parts; ++part) {
      int64_t& cursor = cursors[int64_t(part) * num_tiles + tile];
      const int64_t count = cursor;
      cursor = next;
      next += count;
    }
    offsets[tile + 1] = next;
  }
  AVATAR_CHECK(offsets.back() < std::numeric_limits<int32_t>::max(), "splat: ", offsets.back(),
               " (tile, Gaussian) entries do not fit int32; render smaller or with fewer Gaussians");
  lists.entries = at::empty({offsets.back()}, at::kInt);
  int32_t* entry = lists.entries.data_ptr<int32_t>();
#pragma omp parallel for schedule(static) num_threads(parts)
  for (int part = 0; part < parts; ++part) {
    int64_t* cursor = cursors.data() + int64_t(part) * num_tiles;
    for_each_entry(part, [cursor, entry](int tile, int32_t id) { entry[cursor[tile]++] = id; });
  }
  lists.tile_offsets = at::empty({int64_t(offsets.size())}, at::kInt);
  std::copy(offsets.begin(), offsets.end(), lists.tile_offsets.data_ptr<int32_t>());
  return lists;
}

// W pixels of one image row inside a Gaussian's box: u .. u + W - 1 (those up to the box's last
// column), p = u's index inside the tile, dy = row centre - mean y.
template <typename T>
struct Chunk {
  int32_t p, u;
  T dy;
};

// Most chunks one Gaussian can have in a tile: every row, each split into W-pixel pieces.
template <int W>
constexpr int max_chunks() {
  return CPU_TILE * ((CPU_TILE + W - 1) / W);
}

// Writes the chunks of g's pixel box clipped to the tile [x0, x1) x [y0, y1) and sets u_hi to the
// box's last column there; returns how many. Collecting them first lets the per-pixel math run as
// one branch-free loop of independent iterations (the exp latency overlaps across chunks).
template <int W, typename T>
AVX_HD_LANE int box_chunks(const TileGaussian<T>& g, int x0, int x1, int y0, int y1, Chunk<T>* out, int& u_hi) {
  int count = 0;
  const int u_lo = std::max(g.u_lo, x0), v_lo = std::max(g.v_lo, y0), v_hi = std::min(g.v_hi, y1 - 1);
  u_hi = std::min(g.u_hi, x1 - 1);
  for (int v = v_lo; v <= v_hi; ++v) {
    const T dy = T(v) + T(0.5) - g.my;
    const int row = (v - y0) * CPU_TILE - x0;
    for (int u = u_lo; u <= u_hi; u += W) out[count++] = Chunk<T>{row + u, u, dy};
  }
  return count;
}

// How many entries ahead the tile loops prefetch a Gaussian's record.
constexpr int PREFETCH_AHEAD = 3;

// The tile grid and lists both passes walk.
template <typename T>
struct TileGrid {
  const TileGaussian<T>* gs;  // records, by Gaussian index
  const int32_t *offsets, *entries;  // per-tile lists
  const T* background;
  int width, height;
  int num_tiles() const { return splat::tiles_along(width, CPU_TILE) * splat::tiles_along(height, CPU_TILE); }
  // Pixels [x0, x1) x [y0, y1) of tile `tile`.
  void bounds(int tile, int& x0, int& y0, int& x1, int& y1) const {
    const int tiles_x = splat::tiles_along(width, CPU_TILE);
    x0 = (tile % tiles_x) * CPU_TILE;
    y0 = (tile / tiles_x) * CPU_TILE;
    x1 = std::min(x0 + CPU_TILE, width);
    y1 = std::min(y0 + CPU_TILE, height);
  }
};

}  // namespace splat_cpu
