// Splat op: the tile rasterizer on CUDA, 3DGS-style, with the per-pair math of
// include/splat_raster.h. Per Gaussian its tile rectangle (the alpha ellipse's box); a stable
// radix sort by depth (ties keep the lower index) and then a stable one by tile id give each
// tile its Gaussians front to back; one 16 x 16 thread block per tile composites them, staging
// Gaussians through shared memory in rounds of TILE_PIXELS (no limit on how many overlap a tile).
// The backward walks each pixel's list back to front and adds gradients with atomics.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <cub/cub.cuh>

#include <cstdint>
#include <limits>
#include <tuple>
#include <vector>

#include "splat.h"

namespace {

using at::Tensor;
using splat::TILE;
using splat::TILE_PIXELS;

constexpr int BLOCK = 256;

int blocks_for(int64_t n) { return int((n + BLOCK - 1) / BLOCK); }

// Per Gaussian: the tile rectangle its alpha ellipse touches and how many tiles (0 when culled).
template <typename T>
__global__ void tile_rects_kernel(int64_t n, const T* means2d, const T* conics, const T* opacities,
                                  const int32_t* radii, int width, int height, int4* rects, int64_t* counts) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  int tx0 = 1, tx1 = 0, ty0 = 1, ty1 = 0;
  if (radii[i] > 0) {
    const splat::Ellipse e = splat::alpha_ellipse(means2d + 2 * i, conics + 3 * i, opacities[i], width, height);
    if (!splat::ellipse_tiles(e, tx0, tx1, ty0, ty1)) tx0 = ty0 = 1, tx1 = ty1 = 0;
  }
  rects[i] = make_int4(tx0, tx1, ty0, ty1);
  counts[i] = tx0 <= tx1 ? int64_t(tx1 - tx0 + 1) * (ty1 - ty0 + 1) : 0;
}

__global__ void gather_counts_kernel(int64_t n, const int32_t* order, const int64_t* counts, int64_t* by_rank) {
  const int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (r < n) by_rank[r] = counts[order[r]];
}

// Rank r's tiles go to [ends[r - 1], ends[r]): key = tile id, value = r.
__global__ void emit_entries_kernel(int64_t n, const int32_t* order, const int4* rects, const int64_t* ends,
                                    int tiles_x, uint32_t* keys, int32_t* ranks) {
  const int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (r >= n) return;
  const int4 rect = rects[order[r]];
  int64_t at = r == 0 ? 0 : ends[r - 1];
  for (int ty = rect.z; ty <= rect.w; ++ty)
    for (int tx = rect.x; tx <= rect.y; ++tx) {
      keys[at] = uint32_t(ty) * uint32_t(tiles_x) + uint32_t(tx);
      ranks[at] = int32_t(r);
      ++at;
    }
}

// offsets[t] = first entry of tile t in the sorted keys (a lower bound); offsets[num_tiles] = E.
__global__ void tile_offsets_kernel(int num_tiles, int64_t num_entries, const uint32_t* keys, int32_t* offsets) {
  const int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t > num_tiles) return;
  int64_t lo = 0, hi = num_entries;
  while (lo < hi) {
    const int64_t mid = (lo + hi) / 2;
    if (keys[mid] < uint32_t(t)) lo = mid + 1;
    else hi = mid;
  }
  offsets[t] = int32_t(lo);
}

template <typename K, typename V>
void radix_sort_pairs(const K* keys_in, K* keys_out, const V* values_in, V* values_out, int64_t n, int end_bit,
                      cudaStream_t stream, const at::TensorOptions& bytes_on_device) {
  size_t bytes = 0;
  C10_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, bytes, keys_in, keys_out, values_in, values_out, int(n), 0,
                                                 end_bit, stream));
  Tensor scratch = at::empty({int64_t(bytes)}, bytes_on_device);
  C10_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(scratch.data_ptr(), bytes, keys_in, keys_out, values_in, values_out,
                                                 int(n), 0, end_bit, stream));
}

struct TileLists {
  Tensor order;  // [N] int32 Gaussian index by depth rank (culled ones touch no tile)
  Tensor tile_offsets;  // [num_tiles + 1] int32
  Tensor entries;  // [E] int32 depth ranks, ascending inside each tile
};

template <typename T>
TileLists build_tile_lists(const Tensor& means2d, const Tensor& conics, const Tensor& opacities,
                           const Tensor& depths, const Tensor& radii, int width, int height) {
  const int64_t n = means2d.size(0);
  const int tiles_x = splat::tiles_along(width, TILE), num_tiles = tiles_x * splat::tiles_along(height, TILE);
  const auto ints = means2d.options().dtype(at::kInt), longs = means2d.options().dtype(at::kLong);
  const auto bytes = means2d.options().dtype(at::kByte);
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  TileLists lists;
  lists.tile_offsets = at::zeros({int64_t(num_tiles) + 1}, ints);
  lists.order = at::empty({n}, ints);
  lists.entries = at::empty({0}, ints);
  if (n == 0) return lists;

  Tensor rects = at::empty({n, 4}, ints), counts = at::empty({n}, longs);
  tile_rects_kernel<T><<<blocks_for(n), BLOCK, 0, stream>>>(
      n, means2d.data_ptr<T>(), conics.data_ptr<T>(), opacities.data_ptr<T>(), radii.data_ptr<int32_t>(), width,
      height, reinterpret_cast<int4*>(rects.data_ptr<int32_t>()), counts.data_ptr<int64_t>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  Tensor ids = at::arange(n, ints), sorted_depths = at::empty_like(depths);
  radix_sort_pairs(depths.data_ptr<T>(), sorted_depths.data_ptr<T>(), ids.data_ptr<int32_t>(),
                   lists.order.data_ptr<int32_t>(), n, int(8 * sizeof(T)), stream, bytes);

  Tensor by_rank = at::empty({n}, longs), ends = at::empty({n}, longs);
  gather_counts_kernel<<<blocks_for(n), BLOCK, 0, stream>>>(n, lists.order.data_ptr<int32_t>(),
                                                             counts.data_ptr<int64_t>(), by_rank.data_ptr<int64_t>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  size_t scan_bytes = 0;
  C10_CUDA_CHECK(cub::DeviceScan::InclusiveSum(nullptr, scan_bytes, by_rank.data_ptr<int64_t>(),
                                               ends.data_ptr<int64_t>(), int(n), stream));
  Tensor scratch = at::empty({int64_t(scan_bytes)}, bytes);
  C10_CUDA_CHECK(cub::DeviceScan::InclusiveSum(scratch.data_ptr(), scan_bytes, by_rank.data_ptr<int64_t>(),
                                               ends.data_ptr<int64_t>(), int(n), stream));
  const int64_t num_entries = ends[n - 1].item<int64_t>();  // one sync: the sizes below depend on it
  AVATAR_CHECK(num_entries < std::numeric_limits<int32_t>::max(), "splat: ", num_entries,
               " (tile, Gaussian) entries do not fit int32; render smaller or with fewer Gaussians");
  if (num_entries == 0) return lists;

  Tensor keys = at::empty({num_entries}, ints), ranks = at::empty({num_entries}, ints);
  emit_entries_kernel<<<blocks_for(n), BLOCK, 0, stream>>>(
      n, lists.order.data_ptr<int32_t>(), reinterpret_cast<const int4*>(rects.data_ptr<int32_t>()),
      ends.data_ptr<int64_t>(), tiles_x, reinterpret_cast<uint32_t*>(keys.data_ptr<int32_t>()),
      ranks.data_ptr<int32_t>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  int tile_bits = 1;
  while (tile_bits < 32 && (int64_t(1) << tile_bits) < num_tiles) ++tile_bits;
  Tensor sorted_keys = at::empty_like(keys);
  lists.entries = at::empty_like(ranks);
  radix_sort_pairs(reinterpret_cast<const uint32_t*>(keys.data_ptr<int32_t>()),
                   reinterpret_cast<uint32_t*>(sorted_keys.data_ptr<int32_t>()), ranks.data_ptr<int32_t>(),
                   lists.entries.data_ptr<int32_t>(), num_entries, tile_bits, stream, bytes);
  tile_offsets_kernel<<<blocks_for(int64_t(num_tiles) + 1), BLOCK, 0, stream>>>(
      num_tiles, num_entries, reinterpret_cast<const uint32_t*>(sorted_keys.data_ptr<int32_t>()),
      lists.tile_offsets.data_ptr<int32_t>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return lists;
}

template <typename T>
using Staged = splat::ScreenGaussian<T>;

template <typename T>
struct ScreenPointers {
  const T *means2d, *conics, *colours, *opacities, *depths, *background;

  __device__ void stage(int32_t i, Staged<T>& s) const {
    splat::load_screen_gaussian(means2d, conics, colours, opacities, depths, i, s);
  }
};

template <typename T>
ScreenPointers<T> screen_pointers(const Tensor& means2d, const Tensor& conics, const Tensor& colours,
                                  const Tensor& opacities, const Tensor& depths, const Tensor& background) {
  return {means2d.data_ptr<T>(), conics.data_ptr<T>(), colours.data_ptr<T>(), opacities.data_ptr<T>(),
          depths.data_ptr<T>(), background.data_ptr<T>()};
}

template <typename T>
__global__ void __launch_bounds__(TILE_PIXELS)
    rasterize_forward_kernel(int width, int height, int tiles_x, const int32_t* tile_offsets, const int32_t* entries,
                             const int32_t* order, ScreenPointers<T> in, T* rgb, T* alpha, T* depth,
                             T* final_transmittance, int32_t* last_entry) {
  __shared__ Staged<T> staged[TILE_PIXELS];
  const int u = (blockIdx.x % tiles_x) * TILE + threadIdx.x % TILE;
  const int v = (blockIdx.x / tiles_x) * TILE + threadIdx.x / TILE;
  const bool inside = u < width && v < height;
  const T centre_x = T(u) + T(0.5), centre_y = T(v) + T(0.5);
  const int32_t start = tile_offsets[blockIdx.x], end = tile_offsets[blockIdx.x + 1];
  T trans = T(1), acc_rgb[3] = {T(0), T(0), T(0)}, acc_depth = T(0);
  int32_t last = -1;
  bool done = !inside;
  for (int32_t round = start; round < end; round += TILE_PIXELS) {
    if (__syncthreads_count(done) == TILE_PIXELS) break;  // also: the previous round is consumed
    if (round + int32_t(threadIdx.x) < end) in.stage(order[entries[round + threadIdx.x]], staged[threadIdx.x]);
    __syncthreads();
    const int count = min(TILE_PIXELS, end - round);
    for (int j = 0; j < count && !done; ++j) {
      const Staged<T>& g = staged[j];
      const auto pa = splat::pair_alpha(g.a, g.b, g.c, g.opacity, centre_x - g.mx, centre_y - g.my);
      if (!pa.counts) continue;
      T w;
      bool stopped;
      const bool contributes = splat::composite_step<T>(pa, true, trans, w, stopped);
      done = stopped;
      if (!contributes) continue;
      for (int k = 0; k < 3; ++k) acc_rgb[k] += w * g.colour[k];
      acc_depth += w * g.depth;
      last = round + j - start;
    }
  }
  if (!inside) return;
  const int64_t pix = int64_t(v) * width + u;
  for (int k = 0; k < 3; ++k) rgb[3 * pix + k] = acc_rgb[k] + trans * in.background[k];
  alpha[pix] = T(1) - trans;
  depth[pix] = acc_depth;
  final_transmittance[pix] = trans;
  last_entry[pix] = last;
}

template <typename T>
__global__ void __launch_bounds__(TILE_PIXELS)
    rasterize_backward_kernel(int width, int height, int tiles_x, const int32_t* tile_offsets, const int32_t* entries,
                              const int32_t* order, ScreenPointers<T> in, const T* final_transmittance,
                              const int32_t* last_entry, const T* grad_rgb, const T* grad_alpha,
                              const T* grad_depth, T* g_means2d, T* g_conics, T* g_colours, T* g_opacities,
                              T* g_depths) {
  __shared__ Staged<T> staged[TILE_PIXELS];
  __shared__ int32_t staged_id[TILE_PIXELS];
  __shared__ int32_t tile_last;
  const int u = (blockIdx.x % tiles_x) * TILE + threadIdx.x % TILE;
  const int v = (blockIdx.x / tiles_x) * TILE + threadIdx.x / TILE;
  const bool inside = u < width && v < height;
  const T centre_x = T(u) + T(0.5), centre_y = T(v) + T(0.5);
  T trans = T(1), suffix = T(0);
  int32_t last = -1;
  splat::PixelGrad<T> pg = {{T(0), T(0), T(0)}, T(0), T(0), T(0)};
  if (inside) {
    const int64_t pix = int64_t(v) * width + u;
    trans = final_transmittance[pix];
    last = last_entry[pix];
    for (int k = 0; k < 3; ++k) pg.rgb[k] = grad_rgb[3 * pix + k];
    pg.alpha = grad_alpha[pix];
    pg.depth = grad_depth[pix];
    pg.rgb_dot_background =
        pg.rgb[0] * in.background[0] + pg.rgb[1] * in.background[1] + pg.rgb[2] * in.background[2];
  }
  if (threadIdx.x == 0) tile_last = -1;
  __syncthreads();
  if (last >= 0) atomicMax(&tile_last, last);
  __syncthreads();
  const int32_t start = tile_offsets[blockIdx.x];
  // Rounds of TILE_PIXELS list positions, back to front: [top - TILE_PIXELS + 1, top].
  for (int32_t top = tile_last; top >= 0; top -= TILE_PIXELS) {
    __syncthreads();  // the previous round is consumed
    const int32_t mine = top - int32_t(threadIdx.x);
    if (mine >= 0) {
      const int32_t id = order[entries[start + mine]];
      staged_id[threadIdx.x] = id;
      in.stage(id, staged[threadIdx.x]);
    }
    __syncthreads();
    const int count = min(TILE_PIXELS, top + 1);
    for (int j = 0; j < count; ++j) {
      if (top - j > last) continue;  // after this pixel's last contribution
      const Staged<T>& g = staged[j];
      const T dx = centre_x - g.mx, dy = centre_y - g.my;
      const auto pa = splat::pair_alpha(g.a, g.b, g.c, g.opacity, dx, dy);
      if (!pa.counts) continue;
      splat::PairGrad<T> grad;
      splat::pair_grad_zero(grad);
      splat::pair_backward<T>(true, pa, g.a, g.b, g.c, dx, dy, g.colour, g.depth, pg, trans, suffix, grad);
      const int64_t id = staged_id[j];
      atomicAdd(g_means2d + 2 * id, grad.mean2d[0]);
      atomicAdd(g_means2d + 2 * id + 1, grad.mean2d[1]);
      for (int k = 0; k < 3; ++k) {
        atomicAdd(g_conics + 3 * id + k, grad.conic[k]);
        atomicAdd(g_colours + 3 * id + k, grad.colour[k]);
      }
      atomicAdd(g_opacities + id, grad.opacity);
      atomicAdd(g_depths + id, grad.depth);
    }
  }
}

std::tuple<Tensor, Tensor, Tensor, std::vector<Tensor>> rasterize_forward_cuda(
    const Tensor& means2d, const Tensor& conics, const Tensor& colours, const Tensor& opacities,
    const Tensor& depths, const Tensor& radii, const Tensor& background, int64_t width, int64_t height) {
  splat::check_screen_gaussians(means2d, conics, colours, opacities, depths, radii, background, c10::kCUDA);
  splat::check_image_size(width, height);
  const c10::cuda::OptionalCUDAGuard guard(means2d.device());
  const auto options = means2d.options();
  Tensor rgb = at::empty({height, width, 3}, options), alpha = at::empty({height, width, 1}, options);
  Tensor depth = at::empty({height, width, 1}, options), final_t = at::empty({height, width}, options);
  Tensor last = at::empty({height, width}, options.dtype(at::kInt));
  const int tiles_x = splat::tiles_along(width, TILE), num_tiles = tiles_x * splat::tiles_along(height, TILE);
  TileLists lists;
  AT_DISPATCH_FLOATING_TYPES(means2d.scalar_type(), "splat_rasterize_forward_cuda", [&] {
    using T = scalar_t;
    lists = build_tile_lists<T>(means2d, conics, opacities, depths, radii, int(width), int(height));
    rasterize_forward_kernel<T><<<num_tiles, TILE_PIXELS, 0, c10::cuda::getCurrentCUDAStream()>>>(
        int(width), int(height), tiles_x, lists.tile_offsets.data_ptr<int32_t>(), lists.entries.data_ptr<int32_t>(),
        lists.order.data_ptr<int32_t>(), screen_pointers<T>(means2d, conics, colours, opacities, depths, background),
        rgb.data_ptr<T>(), alpha.data_ptr<T>(), depth.data_ptr<T>(), final_t.data_ptr<T>(), last.data_ptr<int32_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  // The depth order as bytes: the state has the same five dtypes on every device (cuda_ext/ops.py).
  return {rgb, alpha, depth, {final_t, last, lists.tile_offsets, lists.entries, lists.order.view(at::kByte)}};
}

std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor> rasterize_backward_cuda(
    const Tensor& means2d, const Tensor& conics, const Tensor& colours, const Tensor& opacities,
    const Tensor& depths, const Tensor& radii, const Tensor& background, at::TensorList state,
    const Tensor& grad_rgb, const Tensor& grad_alpha, const Tensor& grad_depth) {
  splat::check_screen_gaussians(means2d, conics, colours, opacities, depths, radii, background, c10::kCUDA);
  AVATAR_CHECK_VALUE(state.size() == 5, "splat: the CUDA rasterizer state has 5 tensors, got ", state.size());
  const Tensor &final_t = state[0], &last = state[1], &tile_offsets = state[2], &entries = state[3];
  splat::check_tensor(state[4], "order", {means2d.size(0) * int64_t(sizeof(int32_t))}, at::kByte, c10::kCUDA);
  const Tensor order = state[4].view(at::kInt);
  splat::check_raster_state(final_t, last, tile_offsets, entries, grad_rgb, grad_alpha, grad_depth, TILE,
                            means2d.scalar_type(), c10::kCUDA);
  const c10::cuda::OptionalCUDAGuard guard(means2d.device());
  const int64_t height = final_t.size(0), width = final_t.size(1), n = means2d.size(0);
  const int tiles_x = splat::tiles_along(width, TILE), num_tiles = tiles_x * splat::tiles_along(height, TILE);
  Tensor g_means2d = at::zeros({n, 2}, means2d.options()), g_conics = at::zeros({n, 3}, means2d.options());
  Tensor g_colours = at::zeros({n, 3}, means2d.options()), g_opacities = at::zeros({n}, means2d.options());
  Tensor g_depths = at::zeros({n}, means2d.options());
  AT_DISPATCH_FLOATING_TYPES(means2d.scalar_type(), "splat_rasterize_backward_cuda", [&] {
    using T = scalar_t;
    rasterize_backward_kernel<T><<<num_tiles, TILE_PIXELS, 0, c10::cuda::getCurrentCUDAStream()>>>(
        int(width), int(height), tiles_x, tile_offsets.data_ptr<int32_t>(), entries.data_ptr<int32_t>(),
        order.data_ptr<int32_t>(), screen_pointers<T>(means2d, conics, colours, opacities, depths, background),
        final_t.data_ptr<T>(), last.data_ptr<int32_t>(), grad_rgb.data_ptr<T>(), grad_alpha.data_ptr<T>(),
        grad_depth.data_ptr<T>(), g_means2d.data_ptr<T>(), g_conics.data_ptr<T>(), g_colours.data_ptr<T>(),
        g_opacities.data_ptr<T>(), g_depths.data_ptr<T>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return {g_means2d, g_conics, g_colours, g_opacities, g_depths};
}

}  // namespace

TORCH_LIBRARY_IMPL(avatar_ext, CUDA, m) {
  m.impl("splat_rasterize_forward", &rasterize_forward_cuda);
  m.impl("splat_rasterize_backward", &rasterize_backward_cuda);
}
