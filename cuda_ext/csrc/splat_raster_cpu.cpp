// Splat op: the tile rasterizer on CPU, forward and backward (semantics in include/splat_raster.h).
// Tiles of TILE x TILE pixels are composited in parallel (OpenMP). Each tile walks its Gaussians
// front to back and, per Gaussian, the pixel box of its alpha ellipse inside the tile, W
// pixels at a time (float32: 4 SIMD lanes; float64: scalar), with the tile's per-pixel state in
// small stack arrays. The backward walks the same boxes back to front, writes one gradient
// record per (tile, Gaussian) entry and sums them per Gaussian afterwards: no atomics, and the
// result does not depend on the number of threads.
#include <ATen/Dispatch.h>
#include <omp.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdint>
#include <tuple>
#include <vector>

#include "splat_cpu_tiles.h"

namespace {

using at::Tensor;
using splat::TILE;
using splat::TILE_PIXELS;
using splat_cpu::TileGaussian;

// Per-pixel state of one tile, structure of arrays so W neighbouring pixels load as one vector;
// W - 1 pixels of padding let the last row's vectors run past the tile.
constexpr int TILE_STATE = TILE_PIXELS + 4;

// The pixel chunks of Gaussian g inside the tile [x0, x1) x [y0, y1) and their alphas (two loops:
// the exp chains are independent and overlap). Shared by the forward and backward tile loops so
// both visit exactly the same pixels. Returns the chunk count; u_hi is the box's last column.
template <typename T, int W>
int tile_alphas(const TileGaussian<T>& g, int x0, int x1, int y0, int y1, splat_cpu::Chunk<T>* chunks,
                splat::PairAlpha<typename splat::Lanes<T, W>::V, typename splat::Lanes<T, W>::M>* alphas,
                int& u_hi) {
  using L = splat::Lanes<T, W>;
  const int num_chunks = splat_cpu::box_chunks<W>(g, x0, x1, y0, y1, chunks, u_hi);
  for (int k = 0; k < num_chunks; ++k)
    alphas[k] = splat::pair_alpha(g.a, g.b, g.c, g.opacity, (L::offsets() + T(chunks[k].u)) + T(0.5) - g.mx,
                                  chunks[k].dy);
  return num_chunks;
}

template <typename T, int W>
void rasterize_forward_tiles(const TileGaussian<T>* gs, const int32_t* offsets, const int32_t* entries,
                             const T* background, int width, int height, T* rgb, T* alpha, T* depth,
                             T* final_transmittance, int32_t* last_entry) {
  using L = splat::Lanes<T, W>;
  using V = typename L::V;
  using M = typename L::M;
  const int tiles_x = splat::tiles_along(width), num_tiles = tiles_x * splat::tiles_along(height);
#pragma omp parallel for schedule(dynamic, 2)
  for (int tile = 0; tile < num_tiles; ++tile) {
    const int x0 = (tile % tiles_x) * TILE, y0 = (tile / tiles_x) * TILE;
    const int x1 = std::min(x0 + TILE, width), y1 = std::min(y0 + TILE, height);
    T trans[TILE_STATE], acc_r[TILE_STATE], acc_g[TILE_STATE], acc_b[TILE_STATE], acc_depth[TILE_STATE];
    int32_t last[TILE_STATE], alive[TILE_STATE];  // alive: -1 until the pixel stops, then 0
    for (int p = 0; p < TILE_STATE; ++p) {
      trans[p] = T(1);
      acc_r[p] = acc_g[p] = acc_b[p] = acc_depth[p] = T(0);
      last[p] = -1;
      alive[p] = -1;
    }
    int remaining = (x1 - x0) * (y1 - y0);
    splat_cpu::Chunk<T> chunks[splat_cpu::max_chunks<W>()];
    splat::PairAlpha<V, M> alphas[splat_cpu::max_chunks<W>()];
    const int32_t start = offsets[tile], end = offsets[tile + 1];
    for (int32_t e = start; e < end && remaining > 0; ++e) {
      if (e + 1 < end) __builtin_prefetch(gs + entries[e + 1]);  // records are scattered: hide the miss
      const TileGaussian<T>& g = gs[entries[e]];
      const int32_t local = e - start;
      int u_hi;
      const int num_chunks = tile_alphas<T, W>(g, x0, x1, y0, y1, chunks, alphas, u_hi);
      for (int k = 0; k < num_chunks; ++k) {
        const int p = chunks[k].p;
        const auto& pa = alphas[k];
        const M was_alive = L::load_int(alive + p) != 0;
        const M in_span = (L::ids() + chunks[k].u) <= u_hi;
        V t = L::load(trans + p), w;
        M stopped;
        const M contributes = splat::composite_step<T>(pa, M(was_alive & in_span), t, w, stopped);
        L::store(trans + p, t);
        L::store(acc_r + p, L::load(acc_r + p) + w * g.colour[0]);
        L::store(acc_g + p, L::load(acc_g + p) + w * g.colour[1]);
        L::store(acc_b + p, L::load(acc_b + p) + w * g.colour[2]);
        L::store(acc_depth + p, L::load(acc_depth + p) + w * g.depth);
        L::store_int(last + p, contributes ? L::fill(local) : L::load_int(last + p));
        L::store_int(alive + p, stopped ? L::fill(0) : L::load_int(alive + p));
        remaining -= L::count(stopped);
      }
    }
    for (int v = y0; v < y1; ++v)
      for (int u = x0; u < x1; ++u) {
        const int p = (v - y0) * TILE + (u - x0);
        const int64_t pix = int64_t(v) * width + u;
        const T acc = T(1) - trans[p];  // = sum of weights
        rgb[3 * pix] = acc_r[p] + trans[p] * background[0];
        rgb[3 * pix + 1] = acc_g[p] + trans[p] * background[1];
        rgb[3 * pix + 2] = acc_b[p] + trans[p] * background[2];
        alpha[pix] = acc;
        depth[pix] = acc_depth[p];
        final_transmittance[pix] = trans[p];
        last_entry[pix] = last[p];
      }
  }
}

std::tuple<Tensor, Tensor, Tensor, std::vector<Tensor>> rasterize_forward_cpu(
    const Tensor& means2d, const Tensor& conics, const Tensor& colours, const Tensor& opacities,
    const Tensor& depths, const Tensor& radii, const Tensor& background, int64_t width, int64_t height) {
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
    rasterize_forward_tiles<T, splat::LaneWidth<T>::value>(
        reinterpret_cast<const TileGaussian<T>*>(lists.records.data_ptr<uint8_t>()),
        lists.tile_offsets.data_ptr<int32_t>(), lists.entries.data_ptr<int32_t>(), background.data_ptr<T>(),
        int(width), int(height), rgb.data_ptr<T>(), alpha.data_ptr<T>(), depth.data_ptr<T>(), final_t.data_ptr<T>(),
        last.data_ptr<int32_t>());
  });
  return {rgb, alpha, depth, {final_t, last, lists.tile_offsets, lists.entries, lists.order, lists.records}};
}

template <typename T, int W>
void rasterize_backward_tiles(const TileGaussian<T>* gs, const int32_t* offsets, const int32_t* entries,
                              const T* background, int width, int height, const T* final_transmittance,
                              const int32_t* last_entry, const T* grad_rgb, const T* grad_alpha, const T* grad_depth,
                              splat::PairGrad<T>* entry_grads) {
  using L = splat::Lanes<T, W>;
  using V = typename L::V;
  using M = typename L::M;
  const int tiles_x = splat::tiles_along(width), num_tiles = tiles_x * splat::tiles_along(height);
#pragma omp parallel for schedule(dynamic, 2)
  for (int tile = 0; tile < num_tiles; ++tile) {
    const int x0 = (tile % tiles_x) * TILE, y0 = (tile / tiles_x) * TILE;
    const int x1 = std::min(x0 + TILE, width), y1 = std::min(y0 + TILE, height);
    T trans[TILE_STATE], suffix[TILE_STATE], g_rgb[3][TILE_STATE], g_alpha[TILE_STATE], g_depth[TILE_STATE];
    T g_dot_bg[TILE_STATE];
    int32_t last[TILE_STATE];
    int32_t max_last = -1;
    for (int p = 0; p < TILE_STATE; ++p) {
      trans[p] = T(1);
      suffix[p] = g_rgb[0][p] = g_rgb[1][p] = g_rgb[2][p] = g_alpha[p] = g_depth[p] = g_dot_bg[p] = T(0);
      last[p] = -1;
    }
    for (int v = y0; v < y1; ++v)
      for (int u = x0; u < x1; ++u) {
        const int p = (v - y0) * TILE + (u - x0);
        const int64_t pix = int64_t(v) * width + u;
        trans[p] = final_transmittance[pix];
        last[p] = last_entry[pix];
        max_last = std::max(max_last, last[p]);
        for (int k = 0; k < 3; ++k) g_rgb[k][p] = grad_rgb[3 * pix + k];
        g_alpha[p] = grad_alpha[pix];
        g_depth[p] = grad_depth[pix];
        g_dot_bg[p] = g_rgb[0][p] * background[0] + g_rgb[1][p] * background[1] + g_rgb[2][p] * background[2];
      }
    const int32_t start = offsets[tile];
    splat_cpu::Chunk<T> chunks[splat_cpu::max_chunks<W>()];
    splat::PairAlpha<V, M> alphas[splat_cpu::max_chunks<W>()];
    for (int32_t local = max_last; local >= 0; --local) {
      if (local > 0) __builtin_prefetch(gs + entries[start + local - 1]);
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
        const M active = pa.counts & M((L::ids() + chunks[k].u) <= u_hi) &
                         M(L::load_int(last + p) >= local);
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
      splat::PairGrad<T>& out = entry_grads[start + local];
      out.mean2d[0] = L::sum(acc.mean2d[0]);
      out.mean2d[1] = L::sum(acc.mean2d[1]);
      for (int k = 0; k < 3; ++k) {
        out.conic[k] = L::sum(acc.conic[k]);
        out.colour[k] = L::sum(acc.colour[k]);
      }
      out.opacity = L::sum(acc.opacity);
      out.depth = L::sum(acc.depth);
    }
  }
}

template <typename T>
void sum_entry_grads(const splat::PairGrad<T>* entry_grads, int64_t num_entries, const int32_t* entry,
                     const int32_t* id, int64_t n, T* gm, T* gc, T* gcol, T* go, T* gd) {
#pragma omp parallel
  {
    const int64_t threads = omp_get_num_threads(), thread = omp_get_thread_num();
    const int64_t lo = n * thread / threads, hi = n * (thread + 1) / threads;
    for (int64_t e = 0; e < num_entries; ++e) {
      const int64_t i = id[entry[e]];
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
    const Tensor& means2d, const Tensor& conics, const Tensor& colours, const Tensor& opacities,
    const Tensor& depths, const Tensor& radii, const Tensor& background, at::TensorList state,
    const Tensor& grad_rgb, const Tensor& grad_alpha, const Tensor& grad_depth) {
  splat::check_screen_gaussians(means2d, conics, colours, opacities, depths, radii, background, c10::kCPU);
  TORCH_CHECK_VALUE(state.size() == 6, "splat: the CPU rasterizer state has 6 tensors, got ", state.size());
  const Tensor &final_t = state[0], &last = state[1], &tile_offsets = state[2], &entries = state[3];
  const Tensor &order = state[4], &records = state[5];
  splat::check_raster_state(final_t, last, tile_offsets, entries, order, grad_rgb, grad_alpha, grad_depth,
                            means2d.scalar_type(), c10::kCPU);
  const int64_t height = final_t.size(0), width = final_t.size(1), n = means2d.size(0);
  Tensor g_means2d = at::zeros({n, 2}, means2d.options()), g_conics = at::zeros({n, 3}, means2d.options());
  Tensor g_colours = at::zeros({n, 3}, means2d.options()), g_opacities = at::zeros({n}, means2d.options());
  Tensor g_depths = at::zeros({n}, means2d.options());
  AT_DISPATCH_FLOATING_TYPES(means2d.scalar_type(), "splat_rasterize_backward_cpu", [&] {
    using T = scalar_t;
    splat::check_tensor(records, "records", {order.numel() * int64_t(sizeof(TileGaussian<T>))}, at::kByte,
                        c10::kCPU);
    std::vector<splat::PairGrad<T>> entry_grads(entries.numel());  // value-initialised: zeros
    rasterize_backward_tiles<T, splat::LaneWidth<T>::value>(
        reinterpret_cast<const TileGaussian<T>*>(records.data_ptr<uint8_t>()), tile_offsets.data_ptr<int32_t>(),
        entries.data_ptr<int32_t>(), background.data_ptr<T>(), int(width), int(height), final_t.data_ptr<T>(),
        last.data_ptr<int32_t>(), grad_rgb.data_ptr<T>(), grad_alpha.data_ptr<T>(), grad_depth.data_ptr<T>(),
        entry_grads.data());
    // Sum the per-entry records per Gaussian. Each thread owns a range of Gaussian indices and scans
    // every entry in order, so each sum runs in entry order whatever the number of threads.
    const int32_t *entry = entries.data_ptr<int32_t>(), *id = order.data_ptr<int32_t>();
    T *gm = g_means2d.data_ptr<T>(), *gc = g_conics.data_ptr<T>(), *gcol = g_colours.data_ptr<T>();
    T *go = g_opacities.data_ptr<T>(), *gd = g_depths.data_ptr<T>();
    sum_entry_grads(entry_grads.data(), int64_t(entry_grads.size()), entry, id, n, gm, gc, gcol, go, gd);
  });
  return {g_means2d, g_conics, g_colours, g_opacities, g_depths};
}

}  // namespace

TORCH_LIBRARY_IMPL(avatar_ext, CPU, m) {
  m.impl("splat_rasterize_forward", &rasterize_forward_cpu);
  m.impl("splat_rasterize_backward", &rasterize_backward_cpu);
}
