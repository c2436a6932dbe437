// Blend op: the CPU implementation (schemas in cuda_ext/ops.py), one OpenMP loop over
// Gaussians around the shared per-Gaussian maths in include/blend_math.h.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdint>
#include <tuple>
#include <type_traits>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "blend.h"
#include "blend_frames_cpu.h"
#include "cpu_parallel.h"
#include "cpu_simd.h"
#include "host_block_cache.h"

namespace avatar_ext {
namespace blend {
namespace {

// Gaussians are processed in blocks so that each blendshape row of a block is one long contiguous
// run of memory (the offsets are [D, N, width]): streaming reads instead of D strided ones per
// Gaussian. Long runs matter (measured on one core: 256 Gaussians ~6 GB/s, 4096 ~11 GB/s); the
// block's accumulators (at most 4096 x 14 scalars) stay in L2.
constexpr int64_t kMaxBlock = 4096;
constexpr int64_t kMinBlock = 256;
constexpr int kMaxWidth = 4;

// Block length: long runs, but at least ~4 blocks per thread so the threads stay balanced.
inline int64_t block_length(int64_t num_gaussians, int threads) {
  const int64_t per_thread = (num_gaussians + 4 * threads - 1) / (4 * threads);
  return std::min(kMaxBlock, std::max(kMinBlock, per_thread));
}

// One thread's per-block accumulators: section s holds [i * width + k] for Gaussian i of the block.
template <typename T>
struct BlockSections {
  explicit BlockSections(int64_t block) : block(block), data(static_cast<size_t>(kNumSections * block * kMaxWidth)) {}
  T* operator[](int s) { return data.data() + s * block * kMaxWidth; }
  const T* operator[](int s) const { return data.data() + s * block * kMaxWidth; }
  int64_t block;
  std::vector<T> data;
};

// Gaussian i of a block: its flat [kLocalSize] vector <-> its entries in the block's sections.
template <typename T>
void block_to_flat(const BlockSections<T>& block, int64_t i, T flat[kLocalSize]) {
  for (int s = 0; s < kNumSections; ++s)
    for (int k = 0; k < section_width(s); ++k) flat[section_offset(s) + k] = block[s][i * section_width(s) + k];
}

template <typename T>
void flat_to_block(const T flat[kLocalSize], int64_t i, BlockSections<T>& block) {
  for (int s = 0; s < kNumSections; ++s)
    for (int k = 0; k < section_width(s); ++k) block[s][i * section_width(s) + k] = flat[section_offset(s) + k];
}

// The drivers whose weight is not zero: only their offset rows can add to the sums. Most are
// zero in a typical frame (91% of the expression weights in the demo's capture), and skipping
// their rows skips most of the forward's memory traffic.
template <typename T>
std::vector<int64_t> nonzero_drivers(const BlendInputs<T>& in) {
  std::vector<int64_t> active;
  for (int64_t d = 0; d < in.num_drivers; ++d)
    if (in.drivers[d] != T(0)) active.push_back(d);
  return active;
}

// sums[s] = Σ_d w_d Δ_s[d, n0 : n0 + count] over the drivers d in active[0 : num_active].
template <typename T>
void block_sums(const BlendInputs<T>& in, const int64_t* active, int64_t num_active, int64_t n0, int64_t count,
                BlockSections<T>& sums) {
  for (int s = 0; s < kNumSections; ++s) {
    const int64_t len = count * section_width(s);
    T* acc = sums[s];
    const int64_t stride = in.num_gaussians * section_width(s);  // from one driver's row to the next
    const T* rows = in.delta[s] + n0 * section_width(s);
    for (int64_t i = 0; i < len; ++i) acc[i] = T(0);
    int64_t j = 0;
    // Four drivers per pass: a quarter of the accumulator traffic, four read streams in flight.
    for (; j + 4 <= num_active; j += 4) {
      const int64_t d0 = active[j], d1 = active[j + 1], d2 = active[j + 2], d3 = active[j + 3];
      const T w0 = in.drivers[d0], w1 = in.drivers[d1], w2 = in.drivers[d2], w3 = in.drivers[d3];
      const T *r0 = rows + d0 * stride, *r1 = rows + d1 * stride, *r2 = rows + d2 * stride, *r3 = rows + d3 * stride;
      for (int64_t i = 0; i < len; ++i) acc[i] += w0 * r0[i] + w1 * r1[i] + w2 * r2[i] + w3 * r3[i];
    }
    for (; j < num_active; ++j) {
      const T weight = in.drivers[active[j]], *row = rows + active[j] * stride;
      for (int64_t i = 0; i < len; ++i) acc[i] += weight * row[i];
    }
  }
}

// out[i] = weight * g[i], i < len, written around the caches. The offset gradients are the
// backward's largest output ([D, N, 14], tens of MB) and nothing reads them until the optimiser:
// ordinary stores would first fetch every line they overwrite, doubling the memory traffic of a
// loop that is bound by it. The caller fences (stream_fence) before other threads read.
template <typename T>
void scaled_row_streaming(T* out, const T* g, T weight, int64_t len) {
  int64_t i = 0;
#if defined(__SSE2__)
  constexpr int lanes = 16 / sizeof(T);
  for (; i < len && reinterpret_cast<uintptr_t>(out + i) % 16 != 0; ++i) out[i] = weight * g[i];
  if constexpr (std::is_same<T, float>::value) {
    const __m128 w = _mm_set1_ps(weight);
    for (; i + lanes <= len; i += lanes) _mm_stream_ps(out + i, _mm_mul_ps(w, _mm_loadu_ps(g + i)));
  } else {
    const __m128d w = _mm_set1_pd(weight);
    for (; i + lanes <= len; i += lanes) _mm_stream_pd(out + i, _mm_mul_pd(w, _mm_loadu_pd(g + i)));
  }
#endif
  for (; i < len; ++i) out[i] = weight * g[i];
}

template <typename T>
T dot_product(const T* a, const T* b, int64_t len) {
  T dot = T(0);
#pragma omp simd reduction(+ : dot)
  for (int64_t i = 0; i < len; ++i) dot += a[i] * b[i];
  return dot;
}

// Orders this thread's streaming stores before anything it does next (they are weakly ordered).
inline void stream_fence() {
#if defined(__SSE2__)
  _mm_sfence();
#endif
}

// g_delta[s][d, block] = w_d g_sums[s] and driver_acc[d] += <g_sums[s], Δ_s[d, block]>; without
// driver_acc the offsets are not read at all.
template <typename T>
void block_delta_backward(const BlendInputs<T>& in, int64_t n0, int64_t count, const BlockSections<T>& g_sums,
                          const BlendGrads<T>& grads, T* driver_acc) {
  for (int s = 0; s < kNumSections; ++s) {
    const int64_t len = count * section_width(s), stride = in.num_gaussians * section_width(s);
    const T* g = g_sums[s];
    const T* rows = in.delta[s] + n0 * section_width(s);
    T* g_rows = grads.delta[s] + n0 * section_width(s);
    for (int64_t d = 0; d < in.num_drivers; ++d) {
      scaled_row_streaming(g_rows + d * stride, g, in.drivers[d], len);
      if (driver_acc != nullptr) driver_acc[d] += dot_product(g, rows + d * stride, len);
    }
  }
  stream_fence();
}

// Forward of the Gaussians [n0, n0 + count): one block. Flattened: the per-Gaussian maths is
// inlined, and with it takes the instruction set simd::widest picks.
template <typename T>
__attribute__((flatten)) void forward_block(const BlendInputs<T>& in, const PosedFrame<T>* frames,
                                            const int64_t* active, int64_t num_active, int64_t n0, int64_t count,
                                            BlockSections<T>& sums, const BlendOutputs<T>& out) {
  block_sums(in, active, num_active, n0, count, sums);
  for (int64_t i = 0; i < count; ++i) {
    T flat[kLocalSize], local[kLocalSize];
    block_to_flat(sums, i, flat);
    local_from_sums(in, n0 + i, flat, local);
    blend_gaussian(in, n0 + i, local, frames[in.parent[n0 + i]], out);
  }
}

template <typename T>
void forward_loop(const BlendInputs<T>& in, const BlendOutputs<T>& out, PosedFrame<T>* frames) {
  const int threads = at::get_num_threads();
  posed_frames(in, frames);
  const int64_t block = block_length(in.num_gaussians, threads);
  const int64_t num_blocks = (in.num_gaussians + block - 1) / block;
  const std::vector<int64_t> active = nonzero_drivers(in);
  const auto forward = simd::widest<&forward_block<T>>();
#pragma omp parallel num_threads(threads)
  {
    BlockSections<T> sums(block);
#pragma omp for schedule(static)
    for (int64_t b = 0; b < num_blocks; ++b)
      forward(in, frames, active.data(), int64_t(active.size()), b * block,
              std::min(block, in.num_gaussians - b * block), sums, out);
  }
}

// What one block of the backward reads besides the inputs, and where it writes.
template <typename T>
struct BackwardBlock {
  const T* saved_local;  // [N, kLocalSize]
  const PosedFrame<T>* frames;
  BlendUpstream<T> up;
  BlendGrads<T> grads;
  T* triangle_grads;  // [N, 9] or null
};

// Backward of the Gaussians [n0, n0 + count): one block, flattened (its maths inlined).
template <typename T>
__attribute__((flatten)) void backward_block(const BlendInputs<T>& in, const BackwardBlock<T>& b, int64_t n0,
                                             int64_t count, BlockSections<T>& g_sums, T* driver_acc) {
  for (int64_t i = 0; i < count; ++i) {
    const int64_t n = n0 + i;
    T g_local[kLocalSize], g_flat[kLocalSize], g_v[3][3];
    blend_gaussian_backward(in, n, b.saved_local + n * kLocalSize, b.frames[in.parent[n]], b.up, b.grads, g_local,
                            g_v);
    sums_gradient(g_local, g_flat);
    flat_to_block(g_flat, i, g_sums);
    if (b.triangle_grads)
      for (int k = 0; k < 3; ++k)
        for (int c = 0; c < 3; ++c) b.triangle_grads[9 * n + 3 * k + c] = g_v[k][c];
  }
  block_delta_backward(in, n0, count, g_sums, b.grads, driver_acc);
}

template <typename T>
void backward_loop(const BlendInputs<T>& in, const T* saved_local, const PosedFrame<T>* frames,
                   const BlendUpstream<T>& up, const BlendGrads<T>& grads) {
  const int64_t n_total = in.num_gaussians, d_total = in.num_drivers;
  const int threads = at::get_num_threads();
  const int64_t block = block_length(n_total, threads);
  const int64_t num_blocks = (n_total + block - 1) / block;
  // Per-thread driver sums and per-Gaussian vertex gradients, reduced serially afterwards so the
  // result does not depend on scheduling.
  std::vector<T> driver_parts(grads.drivers ? static_cast<size_t>(threads) * d_total : 0, T(0));
  std::vector<T> triangle_grads(grads.verts ? static_cast<size_t>(n_total) * 9 : 0);
  const BackwardBlock<T> shared{saved_local, frames, up, grads,
                                grads.verts ? triangle_grads.data() : nullptr};
  // Baseline instruction set, not simd::widest: the block is bound by its streaming stores, and
  // the AVX2 copy measured slower (2.2-2.7 against 1.9-2.3 ms at 30k Gaussians, 23 drivers).
  const auto backward = &backward_block<T>;
#pragma omp parallel num_threads(threads)
  {
#ifdef _OPENMP
    const size_t thread = static_cast<size_t>(omp_get_thread_num());
#else
    const size_t thread = 0;
#endif
    T* driver_acc = grads.drivers ? driver_parts.data() + thread * d_total : nullptr;
    BlockSections<T> g_sums(block);
#pragma omp for schedule(static)
    for (int64_t b = 0; b < num_blocks; ++b)
      backward(in, shared, b * block, std::min(block, n_total - b * block), g_sums, driver_acc);
  }
  if (grads.drivers)
    for (int t = 0; t < threads; ++t)
      for (int64_t d = 0; d < d_total; ++d) grads.drivers[d] += driver_parts[static_cast<size_t>(t) * d_total + d];
  if (grads.verts == nullptr) return;
  for (int64_t n = 0; n < n_total; ++n) {
    const int64_t* face = in.faces + 3 * in.parent[n];
    for (int k = 0; k < 3; ++k)
      for (int c = 0; c < 3; ++c) grads.verts[3 * face[k] + c] += triangle_grads[9 * n + 3 * k + c];
  }
}

BlendForwardResult blend_forward_cpu(
    const at::Tensor& verts, const at::Tensor& faces, const at::Tensor& parent, const at::Tensor& drivers,
    const at::Tensor& xyz, const at::Tensor& rot, const at::Tensor& log_scale, const at::Tensor& opacity_logit,
    const at::Tensor& sh_dc, const at::Tensor& sh_rest, const at::Tensor& d_xyz, const at::Tensor& d_rot,
    const at::Tensor& d_log_scale, const at::Tensor& d_opacity, const at::Tensor& d_color) {
  BlendTensors t = pack_inputs(verts, faces, parent, drivers, xyz, rot, log_scale, opacity_logit, sh_dc, sh_rest,
                               d_xyz, d_rot, d_log_scale, d_opacity, d_color);
  auto out = allocate_outputs(t);
  AT_DISPATCH_FLOATING_TYPES(verts.scalar_type(), "blend_forward_cpu", [&] {
    forward_loop(input_pointers<scalar_t>(t), output_pointers<scalar_t>(out),
                 reinterpret_cast<PosedFrame<scalar_t>*>(std::get<6>(out).data_ptr<scalar_t>()));
  });
  return out;
}

std::vector<at::Tensor> blend_backward_cpu(
    const at::Tensor& verts, const at::Tensor& faces, const at::Tensor& parent, const at::Tensor& drivers,
    const at::Tensor& xyz, const at::Tensor& rot, const at::Tensor& log_scale, const at::Tensor& opacity_logit,
    const at::Tensor& sh_dc, const at::Tensor& sh_rest, const at::Tensor& d_xyz, const at::Tensor& d_rot,
    const at::Tensor& d_log_scale, const at::Tensor& d_opacity, const at::Tensor& d_color, const at::Tensor& local,
    const at::Tensor& frames, const at::Tensor& grad_means, const at::Tensor& grad_quats,
    const at::Tensor& grad_scales, const at::Tensor& grad_opacities, const at::Tensor& grad_sh,
    const at::Tensor& grad_local, bool need_verts, bool need_drivers) {
  BlendTensors t = pack_inputs(verts, faces, parent, drivers, xyz, rot, log_scale, opacity_logit, sh_dc, sh_rest,
                               d_xyz, d_rot, d_log_scale, d_opacity, d_color);
  std::array<at::Tensor, 6> up{grad_means, grad_quats, grad_scales, grad_opacities, grad_sh, grad_local};
  check_backward_inputs(t, local, up);
  auto grads = allocate_grads(t, [](const at::Tensor& delta) {
    return host_cache::empty(delta.sizes(), delta.options());
  });
  AT_DISPATCH_FLOATING_TYPES(verts.scalar_type(), "blend_backward_cpu", [&] {
    using T = scalar_t;
    const BlendInputs<T> in = input_pointers<T>(t);
    std::vector<PosedFrame<T>> computed;  // only when the caller has no forward's frames
    const PosedFrame<T>* posed = nullptr;
    if (frames_missing(t, frames)) {
      computed.resize(static_cast<size_t>(in.num_faces));
      posed_frames(in, computed.data());
      posed = computed.data();
    } else {
      posed = reinterpret_cast<const PosedFrame<T>*>(frames.data_ptr<T>());
    }
    backward_loop(in, local.data_ptr<T>(), posed, upstream_pointers<T>(up),
                  grad_pointers<T>(grads, need_verts, need_drivers));
  });
  return grads;
}

}  // namespace
}  // namespace blend
}  // namespace avatar_ext

TORCH_LIBRARY_IMPL(avatar_ext, CPU, m) {
  m.impl("blend_forward", &avatar_ext::blend::blend_forward_cpu);
  m.impl("blend_backward", &avatar_ext::blend::blend_backward_cpu);
}
