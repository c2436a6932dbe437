// Blend op, CUDA implementation: one thread per Gaussian around the shared maths in
// include/blend_math.h (the schemas live in blend_cpu.cpp, loaded first).
#include <ATen/ATen.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <vector>

#include "blend.h"

namespace avatar_ext {
namespace blend {
namespace {

constexpr int kThreads = 256;  // a multiple of the warp size: backward reduces per warp

inline unsigned int num_blocks(int64_t n) { return static_cast<unsigned int>((n + kThreads - 1) / kThreads); }

template <typename T>
__global__ void blend_forward_kernel(BlendInputs<T> in, BlendOutputs<T> out) {
  const int64_t n = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (n >= in.num_gaussians) return;
  T local[kLocalSize];
  blend_local(in, n, local);
  PosedFrame<T> pf;
  posed_frame(in, in.parent[n], pf);
  blend_gaussian(in, n, local, pf, out);
}

template <typename T>
__device__ T warp_sum(T value) {
  for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_down_sync(0xffffffffu, value, offset);
  return value;
}

// Vertex and driver gradients are sums over Gaussians: atomics (drivers after a warp reduction).
// Threads past the end stay alive with zero contributions so every warp reduction is complete.
template <typename T>
__global__ void blend_backward_kernel(BlendInputs<T> in, const T* saved_local, BlendUpstream<T> up,
                                      BlendGrads<T> grads) {
  const int64_t n = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const bool active = n < in.num_gaussians;
  T g_sums[kLocalSize];
  if (active) {
    T g_local[kLocalSize], g_v[3][3];
    PosedFrame<T> pf;
    posed_frame(in, in.parent[n], pf);
    blend_gaussian_backward(in, n, saved_local + n * kLocalSize, pf, up, grads, g_local, g_v);
    sums_gradient(g_local, g_sums);
    if (grads.verts) {
      const int64_t* face = in.faces + 3 * in.parent[n];
      for (int k = 0; k < 3; ++k)
        for (int c = 0; c < 3; ++c) atomicAdd(grads.verts + 3 * face[k] + c, g_v[k][c]);
    }
  }
  for (int64_t d = 0; d < in.num_drivers; ++d) {
    T part = active ? blend_local_backward(in, n, d, g_sums, grads.delta, grads.drivers != nullptr) : T(0);
    if (grads.drivers == nullptr) continue;  // uniform across the grid: no divergent shuffle
    part = warp_sum(part);
    if ((threadIdx.x & 31) == 0) atomicAdd(grads.drivers + d, part);
  }
}

BlendForwardResult blend_forward_cuda(
    const at::Tensor& verts, const at::Tensor& faces, const at::Tensor& parent, const at::Tensor& drivers,
    const at::Tensor& xyz, const at::Tensor& rot, const at::Tensor& log_scale, const at::Tensor& opacity_logit,
    const at::Tensor& sh_dc, const at::Tensor& sh_rest, const at::Tensor& d_xyz, const at::Tensor& d_rot,
    const at::Tensor& d_log_scale, const at::Tensor& d_opacity, const at::Tensor& d_color) {
  BlendTensors t = pack_inputs(verts, faces, parent, drivers, xyz, rot, log_scale, opacity_logit, sh_dc, sh_rest,
                               d_xyz, d_rot, d_log_scale, d_opacity, d_color);
  const c10::cuda::OptionalCUDAGuard guard(verts.device());
  auto out = allocate_outputs(t, 0);  // the kernel computes each Gaussian's frame itself
  const int64_t n = t.num_gaussians();
  if (n == 0) return out;
  cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(verts.scalar_type(), "blend_forward_cuda", [&] {
    blend_forward_kernel<scalar_t><<<num_blocks(n), kThreads, 0, stream>>>(input_pointers<scalar_t>(t),
                                                                           output_pointers<scalar_t>(out));
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}

std::vector<at::Tensor> blend_backward_cuda(
    const at::Tensor& verts, const at::Tensor& faces, const at::Tensor& parent, const at::Tensor& drivers,
    const at::Tensor& xyz, const at::Tensor& rot, const at::Tensor& log_scale, const at::Tensor& opacity_logit,
    const at::Tensor& sh_dc, const at::Tensor& sh_rest, const at::Tensor& d_xyz, const at::Tensor& d_rot,
    const at::Tensor& d_log_scale, const at::Tensor& d_opacity, const at::Tensor& d_color, const at::Tensor& local,
    const at::Tensor& /*frames: the CPU forward's, unused: the kernel computes each Gaussian's frame*/,
    const at::Tensor& grad_means, const at::Tensor& grad_quats, const at::Tensor& grad_scales,
    const at::Tensor& grad_opacities, const at::Tensor& grad_sh, const at::Tensor& grad_local, bool need_verts,
    bool need_drivers) {
  BlendTensors t = pack_inputs(verts, faces, parent, drivers, xyz, rot, log_scale, opacity_logit, sh_dc, sh_rest,
                               d_xyz, d_rot, d_log_scale, d_opacity, d_color);
  std::array<at::Tensor, 6> up{grad_means, grad_quats, grad_scales, grad_opacities, grad_sh, grad_local};
  check_backward_inputs(t, local, up);
  const c10::cuda::OptionalCUDAGuard guard(verts.device());
  auto grads = allocate_grads(t, [](const at::Tensor& delta) { return at::empty_like(delta); });
  const int64_t n = t.num_gaussians();
  if (n == 0) return grads;
  cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(verts.scalar_type(), "blend_backward_cuda", [&] {
    blend_backward_kernel<scalar_t><<<num_blocks(n), kThreads, 0, stream>>>(
        input_pointers<scalar_t>(t), local.data_ptr<scalar_t>(), upstream_pointers<scalar_t>(up),
        grad_pointers<scalar_t>(grads, need_verts, need_drivers));
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return grads;
}

}  // namespace
}  // namespace blend
}  // namespace avatar_ext

TORCH_LIBRARY_IMPL(avatar_ext, CUDA, m) {
  m.impl("blend_forward", &avatar_ext::blend::blend_forward_cuda);
  m.impl("blend_backward", &avatar_ext::blend::blend_backward_cuda);
}
