// Splat op: the tile rasterizer on CPU, forward and backward (semantics in include/splat_raster.h),
// and each Gaussian's blending weight summed over the image (the backward's tile loop, front to back).
// Tiles of CPU_TILE x CPU_TILE pixels (splat_cpu_tiles.h) are composited in parallel (OpenMP).
// The forward composites blocks of pixels with their state in registers (splat_forward_cpu.h).
// The backward walks each tile's Gaussians back to front and, per Gaussian, the pixel box of its
// alpha ellipse inside the tile, W pixels at a time (float32: 8 lanes where the CPU has AVX2 +
// FMA, else 4; float64: scalar), with the tile's per-pixel state in small stack arrays; it writes
// one gradient record per (tile, Gaussian) entry and sums them per Gaussian afterwards: no
// atomics, and the result does not depend on the number of threads.
#include <ATen/Dispatch.h>
#include <omp.h>
#include <torch/library.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "cpu_simd.h"
#include "splat_cpu_tiles.h"
#include "splat_forward_cpu.h"

namespace {

using at::Tensor;
using splat_cpu::CPU_TILE;
using splat_cpu::ForwardArgs;
using splat_cpu::ForwardScratch;
using splat_cpu::PREFETCH_AHEAD;
using splat_cpu::TileGaussian;
using splat_cpu::TileGrid;

// Per-pixel state of one tile, structure of arrays so W neighbouring pixels load as one vector;
// W - 1 <= 7 pixels of padding let the last row's vectors run past the tile.
constexpr int TILE_STATE = splat_cpu::CPU_TILE_PIXELS + 8;

// The pixel chunks of Gaussian g inside the tile [x0, x1) x [y0, y1) and their alphas (two loops:
// the exp chains are independent and overlap). Shared by the forward and backward tile loops so
// both visit exactly the same pixels. Returns the chunk count; u_hi is the box's last column.
template <typename T, int W>
AVX_HD_LANE int tile_alphas(const TileGaussian<T>& g, int x0, int x1, int y0, int y1, splat_cpu::Chunk<T>* chunks,
                            splat::PairAlpha<typename splat::Lanes<T, W>::V, typename splat::Lanes<T, W>::M>* alphas,
                            int& u_hi) {
  using L = splat::Lanes<T, W>;
  const int num_chunks = splat_cpu::box_chunks<W>(g, x0, x1, y0, y1, chunks, u_hi);
  for (int k = 0; k < num_chunks; ++k)
    alphas[k] = splat::pair_alpha(g.a, g.b, g.c, g.opacity, (L::offsets() + T(chunks[k].u)) + T(0.5) - g.mx,
                                  chunks[k].dy);
  return num_chunks;
}

// What the backward tile loops read and write.
template <typename T>
struct BackwardArgs : TileGrid<T> {
  const T* final_transmittance;
  const int32_t* last_entry;
  const T *grad_rgb, *grad_alpha, *grad_depth;
  splat::PairGrad<T>* entry_grads;  // out: one record per (tile, Gaussian) entry
};

// One tile of the backward, W pixels at a time.
template <typename T, int W>
AVX_HD_LANE void rasterize_tile(const BackwardArgs<T>& a, int tile) {
  using L = splat::Lanes<T, W>;
  using V = typename L::V;
  using M = typename L::M;
  const TileGaussian<T>* gs = a.gs;
  const int32_t* entries = a.entries;
  const int width = a.width;
  int x0, y0, x1, y1;
  a.bounds(tile, x0, y0, x1, y1);
  T trans[TILE_STATE], suffix[TILE_STATE], g_rgb[3][TILE_STATE], g_alpha[TILE_STATE], g_depth[TILE_STATE];
  T g_dot_bg[TILE_STATE];
  int32_t last[TILE_STATE];
  int32_t max_last = -1;
  const T bg[3] = {a.background[0], a.background[1], a.background[2]};  // locals: the stores below cannot alias them
  for (int p = 0; p < TILE_STATE; ++p) {
    trans[p] = T(1);
    suffix[p] = g_rgb[0][p] = g_rgb[1][p] = g_rgb[2][p] = g_alpha[p] = g_depth[p] = g_dot_bg[p] = T(0);
    last[p] = -1;
  }
  for (int v = y0; v < y1; ++v)
    for (int u = x0; u < x1; ++u) {
      const int p = (v - y0) * CPU_TILE + (u - x0);
      const int64_t pix = int64_t(v) * width + u;
      trans[p] = a.final_transmittance[pix];
      last[p] = a.last_entry[pix];
      max_last = std::max(max_last, last[p]);
      for (int k = 0; k < 3; ++k) g_rgb[k][p] = a.grad_rgb[3 * pix + k];
      g_alpha[p] = a.grad_alpha[pix];
      g_depth[p] = a.grad_depth[pix];
      g_dot_bg[p] = g_rgb[0][p] * bg[0] + g_rgb[1][p] * bg[1] + g_rgb[2][p] * bg[2];
    }
  const int32_t start = a.offsets[tile];
  // Entries after the tile's last contribution get no gradient: zero their records here, in
  // parallel, rather than zeroing every record up front.
  for (int32_t e = start + max_last + 1; e < a.offsets[tile + 1]; ++e) a.entry_grads[e] = splat::PairGrad<T>{};
  splat_cpu::Chunk<T> chunks[splat_cpu::max_chunks<W>()];
  splat::PairAlpha<V, M> alphas[splat_cpu::max_chunks<W>()];
  for (int32_t local = max_last; local >= 0; --local) {
    if (local >= PREFETCH_AHEAD) __builtin_prefetch(gs + entries[start + local - PREFETCH_AHEAD]);
    const TileGaussian<T>& g = gs[entries[start + local]];
    splat::PairGrad<V> acc;
    splat::pair_grad_zero(acc);
    int u_hi;
    const int num_chunks = tile_alphas<T, W>(g, x0, x1, y0, y1, chunks, alphas, u_hi);
    for (int k = 0; k < num_chunks; ++k) {
      const int p = chunks[k].p;
      const auto& pa = alphas[k];
      const V dx = (L::offsets() + T(chunks[k].u)) + T(0.5) - g.mx;
      // Only where this Gaussian is at or before the pixel's last contribution.
      const M active = pa.counts & M((L::ids() + chunks[k].u) <= u_hi) & M(L::load_int(last + p) >= local);
      splat::PixelGrad<V> pg;
      for (int c = 0; c < 3; ++c) pg.rgb[c] = L::load(g_rgb[c] + p);
      pg.alpha = L::load(g_alpha + p);
      pg.depth = L::load(g_depth + p);
      pg.rgb_dot_background = L::load(g_dot_bg + p);
      V t = L::load(trans + p), s = L::load(suffix + p);
      splat::pair_backward(active, pa, g.a, g.b, g.c, dx, chunks[k].dy, g.colour, g.depth, pg, t, s, acc);
      L::store(trans + p, t);
      L::store(suffix + p, s);
    }
    // The record's first 8 fields (mean2d, conic, opacity, colour[0..1]) in one transposed
    // horizontal sum: 8 separate sums cost more than the pair math of a small Gaussian.
    static_assert(offsetof(splat::PairGrad<T>, colour) == 6 * sizeof(T), "PairGrad<T> field order");
    const V firsts[8] = {acc.mean2d[0], acc.mean2d[1], acc.conic[0],  acc.conic[1],
                         acc.conic[2],  acc.opacity,   acc.colour[0], acc.colour[1]};
    T sums[8];
    L::sum8(firsts, sums);
    splat::PairGrad<T>& out = a.entry_grads[start + local];
    std::memcpy(&out, sums, sizeof(sums));
    out.colour[2] = L::sum(acc.colour[2]);
    out.depth = L::sum(acc.depth);
  }
}

// Every tile of the backward, W pixels at a time.
template <typename T, int W>
void all_tiles(const BackwardArgs<T>& a) {
#pragma omp parallel for schedule(dynamic, 2)
  for (int tile = 0; tile < a.num_tiles(); ++tile) rasterize_tile<T, W>(a, tile);
}

#if defined(__x86_64__)
// The float32 backward compiled for AVX2 + FMA, 8 lanes. The OpenMP body must sit in this
// target-attributed function (the per-tile bodies and the pair math are forced inline into it)
// for all of it to compile for these instruction sets. Same results as 4 lanes up to rounding
// (FMA contractions).
__attribute__((target("avx2,fma"))) void all_tiles_avx2(const BackwardArgs<float>& a) {
#pragma omp parallel for schedule(dynamic, 2)
  for (int tile = 0; tile < a.num_tiles(); ++tile) rasterize_tile<float, 8>(a, tile);
}
#endif

// The float32 hot loops' instruction set, for reports: "avx512" (the forward's tile loop 16 lanes
// wide, the rest as avx2), "avx2" (tile loops 8 lanes wide) or "sse2" (4).
std::string cpu_simd() { return simd::use_avx512() ? "avx512" : simd::use_avx2() ? "avx2" : "sse2"; }

// The backward over all tiles with the widest lanes available for T.
template <typename T>
void run_backward(const BackwardArgs<T>& a) {
  if constexpr (std::is_same<T, float>::value) {
#if defined(__x86_64__)
    if (simd::use_avx2()) return all_tiles_avx2(a);
#endif
    return all_tiles<float, 4>(a);
  } else {
    return all_tiles<T, splat::LaneWidth<T>::value>(a);
  }
}

// What the weights' tile loops read and write.
template <typename T>
struct WeightsArgs : TileGrid<T> {
  T* entry_weights;  // out: one sum per (tile, Gaussian) entry
};

// One tile of splat_rasterize_weights, W pixels at a time: the tile's Gaussians front to back
// over the pixels of their boxes (tile_alphas: the pixels and alphas the backward visits) with
// composite_step's compositing, each pair's weight w = alpha T summed per (tile, Gaussian) entry.
// Nothing but the transmittance and whether the pixel still composites is kept per pixel.
template <typename T, int W>
AVX_HD_LANE void weights_tile(const WeightsArgs<T>& a, int tile) {
  using L = splat::Lanes<T, W>;
  using V = typename L::V;
  using M = typename L::M;
  int x0, y0, x1, y1;
  a.bounds(tile, x0, y0, x1, y1);
  T trans[TILE_STATE];
  int32_t alive[TILE_STATE];  // 1 while the pixel composites; 0 once stopped, and for padding
  int pixels_alive = 0;
  for (int p = 0; p < TILE_STATE; ++p) {
    trans[p] = T(1);
    const int u = x0 + p % CPU_TILE, v = y0 + p / CPU_TILE;
    alive[p] = p < splat_cpu::CPU_TILE_PIXELS && u < x1 && v < y1;
    pixels_alive += alive[p];
  }
  const int32_t start = a.offsets[tile], count = a.offsets[tile + 1] - start;
  splat_cpu::Chunk<T> chunks[splat_cpu::max_chunks<W>()];
  splat::PairAlpha<V, M> alphas[splat_cpu::max_chunks<W>()];
  int32_t local = 0;
  for (; local < count && pixels_alive > 0; ++local) {
    if (local + PREFETCH_AHEAD < count) __builtin_prefetch(a.gs + a.entries[start + local + PREFETCH_AHEAD]);
    const TileGaussian<T>& g = a.gs[a.entries[start + local]];
    V sum{};
    int u_hi;
    const int num_chunks = tile_alphas<T, W>(g, x0, x1, y0, y1, chunks, alphas, u_hi);
    for (int k = 0; k < num_chunks; ++k) {
      const int p = chunks[k].p;
      const M in_box = M((L::ids() + chunks[k].u) <= u_hi) & M(L::load_int(alive + p) != 0);
      V t = L::load(trans + p), w;
      M stopped;
      splat::composite_step<T>(alphas[k], in_box, t, w, stopped);
      sum += w;
      L::store(trans + p, t);
      if (L::any(stopped))
        for (int l = 0; l < W; ++l)
          if (L::lane_int(stopped, l) != 0) {
            alive[p + l] = 0;
            --pixels_alive;
          }
    }
    a.entry_weights[start + local] = L::sum(sum);
  }
  for (; local < count; ++local) a.entry_weights[start + local] = T(0);  // behind pixels that all stopped
}

template <typename T, int W>
void weights_tiles(const WeightsArgs<T>& a) {
#pragma omp parallel for schedule(dynamic, 2)
  for (int tile = 0; tile < a.num_tiles(); ++tile) weights_tile<T, W>(a, tile);
}

#if defined(__x86_64__)
// The float32 weights compiled for AVX2 + FMA, 8 lanes (as all_tiles_avx2).
__attribute__((target("avx2,fma"))) void weights_tiles_avx2(const WeightsArgs<float>& a) {
#pragma omp parallel for schedule(dynamic, 2)
  for (int tile = 0; tile < a.num_tiles(); ++tile) weights_tile<float, 8>(a, tile);
}
#endif

template <typename T>
void run_weights(const WeightsArgs<T>& a) {
  if constexpr (std::is_same<T, float>::value) {
#if defined(__x86_64__)
    if (simd::use_avx2()) return weights_tiles_avx2(a);
#endif
    return weights_tiles<float, 4>(a);
  } else {
    return weights_tiles<T, splat::LaneWidth<T>::value>(a);
  }
}

std::tuple<Tensor, Tensor, Tensor, std::vector<Tensor>> rasterize_forward_cpu(
    const Tensor& means2d, const Tensor& conics, const Tensor& colours, const Tensor& opacities, const Tensor& depths,
    const Tensor& radii, const Tensor& background, int64_t width, int64_t height) {
  splat::check_screen_gaussians(means2d, conics, colours, opacities, depths, radii, background, c10::kCPU);
  splat::check_image_size(width, height);
  const auto options = means2d.options();
  Tensor rgb = at::empty({height, width, 3}, options), alpha = at::empty({height, width, 1}, options);
  Tensor depth = at::empty({height, width, 1}, options), final_t = at::empty({height, width}, options);
  Tensor last = at::empty({height, width}, options.dtype(at::kInt));
  splat_cpu::TileLists lists;
  AT_DISPATCH_FLOATING_TYPES(means2d.scalar_type(), "splat_rasterize_forward_cpu", [&] {
    using T = scalar_t;
    const splat_cpu::ScreenInputs<T> in(means2d, conics, colours, opacities, depths, radii, int(width), int(height));
    lists = splat_cpu::build_tile_lists(in);
    splat_cpu::run_forward(ForwardArgs<T>{{reinterpret_cast<const TileGaussian<T>*>(lists.records.data_ptr<uint8_t>()),
                                           lists.tile_offsets.data_ptr<int32_t>(), lists.entries.data_ptr<int32_t>(),
                                           background.data_ptr<T>(), int(width), int(height)},
                                          rgb.data_ptr<T>(),
                                          alpha.data_ptr<T>(),
                                          depth.data_ptr<T>(),
                                          final_t.data_ptr<T>(),
                                          last.data_ptr<int32_t>()});
  });
  return {rgb, alpha, depth, {final_t, last, lists.tile_offsets, lists.entries, lists.records}};
}

template <typename T>
void sum_entry_grads(const splat::PairGrad<T>* entry_grads, int64_t num_entries, const int32_t* entry, int64_t n, T* gm,
                     T* gc, T* gcol, T* go, T* gd) {
#pragma omp parallel
  {
    const int64_t threads = omp_get_num_threads(), thread = omp_get_thread_num();
    const int64_t lo = n * thread / threads, hi = n * (thread + 1) / threads;
    for (int64_t e = 0; e < num_entries; ++e) {
      const int64_t i = entry[e];
      if (i < lo || i >= hi) continue;
      const splat::PairGrad<T>& r = entry_grads[e];
      gm[2 * i] += r.mean2d[0];
      gm[2 * i + 1] += r.mean2d[1];
      for (int k = 0; k < 3; ++k) {
        gc[3 * i + k] += r.conic[k];
        gcol[3 * i + k] += r.colour[k];
      }
      go[i] += r.opacity;
      gd[i] += r.depth;
    }
  }
}

std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor> rasterize_backward_cpu(
    const Tensor& means2d, const Tensor& conics, const Tensor& colours, const Tensor& opacities, const Tensor& depths,
    const Tensor& radii, const Tensor& background, at::TensorList state, const Tensor& grad_rgb,
    const Tensor& grad_alpha, const Tensor& grad_depth) {
  splat::check_screen_gaussians(means2d, conics, colours, opacities, depths, radii, background, c10::kCPU);
  AVATAR_CHECK_VALUE(state.size() == 5, "splat: the CPU rasterizer state has 5 tensors, got ", state.size());
  const Tensor &final_t = state[0], &last = state[1], &tile_offsets = state[2], &entries = state[3];
  const Tensor& records = state[4];
  splat::check_raster_state(final_t, last, tile_offsets, entries, grad_rgb, grad_alpha, grad_depth, CPU_TILE,
                            means2d.scalar_type(), c10::kCPU);
  const int64_t height = final_t.size(0), width = final_t.size(1), n = means2d.size(0);
  Tensor g_means2d = at::zeros({n, 2}, means2d.options()), g_conics = at::zeros({n, 3}, means2d.options());
  Tensor g_colours = at::zeros({n, 3}, means2d.options()), g_opacities = at::zeros({n}, means2d.options());
  Tensor g_depths = at::zeros({n}, means2d.options());
  AT_DISPATCH_FLOATING_TYPES(means2d.scalar_type(), "splat_rasterize_backward_cpu", [&] {
    using T = scalar_t;
    splat::check_tensor(records, "records", {means2d.size(0) * int64_t(sizeof(TileGaussian<T>))}, at::kByte, c10::kCPU);
    // Every record is written by its tile: a contribution's gradient, or zeros after the last one.
    std::unique_ptr<splat::PairGrad<T>[]> entry_grads(new splat::PairGrad<T>[entries.numel()]);
    run_backward(BackwardArgs<T>{
        {reinterpret_cast<const TileGaussian<T>*>(records.data_ptr<uint8_t>()), tile_offsets.data_ptr<int32_t>(),
         entries.data_ptr<int32_t>(), background.data_ptr<T>(), int(width), int(height)},
        final_t.data_ptr<T>(),
        last.data_ptr<int32_t>(),
        grad_rgb.data_ptr<T>(),
        grad_alpha.data_ptr<T>(),
        grad_depth.data_ptr<T>(),
        entry_grads.get()});
    // Sum the per-entry records per Gaussian. Each thread owns a range of Gaussian indices and scans
    // every entry in order, so each sum runs in entry order whatever the number of threads.
    const int32_t* entry = entries.data_ptr<int32_t>();
    T *gm = g_means2d.data_ptr<T>(), *gc = g_conics.data_ptr<T>(), *gcol = g_colours.data_ptr<T>();
    T *go = g_opacities.data_ptr<T>(), *gd = g_depths.data_ptr<T>();
    sum_entry_grads(entry_grads.get(), entries.numel(), entry, n, gm, gc, gcol, go, gd);
  });
  return {g_means2d, g_conics, g_colours, g_opacities, g_depths};
}

// The per-entry weights summed per Gaussian into out [n], in entry order whatever the number of
// threads (as sum_entry_grads).
template <typename T>
void sum_entry_weights(const T* entry_weights, int64_t num_entries, const int32_t* entry, int64_t n, T* out) {
#pragma omp parallel
  {
    const int64_t threads = omp_get_num_threads(), thread = omp_get_thread_num();
    const int64_t lo = n * thread / threads, hi = n * (thread + 1) / threads;
    for (int64_t e = 0; e < num_entries; ++e)
      if (entry[e] >= lo && entry[e] < hi) out[entry[e]] += entry_weights[e];
  }
}

Tensor rasterize_weights_cpu(const Tensor& means2d, const Tensor& conics, const Tensor& colours,
                             const Tensor& opacities, const Tensor& depths, const Tensor& radii,
                             const Tensor& background, int64_t width, int64_t height) {
  splat::check_screen_gaussians(means2d, conics, colours, opacities, depths, radii, background, c10::kCPU);
  splat::check_image_size(width, height);
  const int64_t n = means2d.size(0);
  Tensor weights = at::zeros({n}, means2d.options());
  AT_DISPATCH_FLOATING_TYPES(means2d.scalar_type(), "splat_rasterize_weights_cpu", [&] {
    using T = scalar_t;
    const splat_cpu::ScreenInputs<T> in(means2d, conics, colours, opacities, depths, radii, int(width), int(height));
    const splat_cpu::TileLists lists = splat_cpu::build_tile_lists(in);
    const int64_t num_entries = lists.entries.numel();
    std::unique_ptr<T[]> entry_weights(new T[num_entries]);
    const int32_t* entry = lists.entries.data_ptr<int32_t>();
    run_weights(WeightsArgs<T>{
        {reinterpret_cast<const TileGaussian<T>*>(lists.records.data_ptr<uint8_t>()),
         lists.tile_offsets.data_ptr<int32_t>(), entry, background.data_ptr<T>(), int(width), int(height)},
        entry_weights.get()});
    sum_entry_weights(entry_weights.get(), num_entries, entry, n, weights.data_ptr<T>());
  });
  return weights;
}

}  // namespace

TORCH_LIBRARY_IMPL(avatar_ext, CPU, m) {
  m.impl("splat_rasterize_forward", &rasterize_forward_cpu);
  m.impl("splat_rasterize_backward", &rasterize_backward_cpu);
  m.impl("splat_rasterize_weights", &rasterize_weights_cpu);
}

// No tensor argument to dispatch on: the one kernel for every dispatch key.
TORCH_LIBRARY_IMPL(avatar_ext, CompositeExplicitAutograd, m) { m.impl("cpu_simd", &cpu_simd); }
