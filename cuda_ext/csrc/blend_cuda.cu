// Blend op, CUDA implementation: one thread per face for the posed triangle frames (the forward's
// `frames` output, as on the CPU), then one thread per Gaussian around the shared maths in
// include/blend_math.h (the schemas are in cuda_ext/ops.py).
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

// frames[f]: the posed frame of face f, shared by the Gaussians bound to it.
template <typename T>
__global__ void posed_frames_kernel(BlendInputs<T> in, PosedFrame<T>* frames) {
  const int64_t face = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (face < in.num_faces) posed_frame(in, face, frames[face]);
}

template <typename T>
void launch_posed_frames(const BlendInputs<T>& in, PosedFrame<T>* frames, cudaStream_t stream) {
  if (in.num_faces == 0) return;
  posed_frames_kernel<T><<<num_blocks(in.num_faces), kThreads, 0, stream>>>(in, frames);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename T>
PosedFrame<T>* frame_pointer(const at::Tensor& frames) {
  return reinterpret_cast<PosedFrame<T>*>(frames.data_ptr<T>());
}

template <typename T>
__global__ void blend_forward_kernel(BlendInputs<T> in, const PosedFrame<T>* frames, BlendOutputs<T> out) {
  const int64_t n = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (n >= in.num_gaussians) return;
  T local[kLocalSize];
  blend_local(in, n, local);
  blend_gaussian(in, n, local, frames[in.parent[n]], out);
}

template <typename T>
__device__ T warp_sum(T value) {
  for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_down_sync(0xffffffffu, value, offset);
  return value;
}

// Vertex and driver gradients are sums over Gaussians: atomics (drivers after a warp reduction).
// Threads past the end stay alive with zero contributions so every warp reduction is complete.
template <typename T>
__global__ void blend_backward_kernel(BlendInputs<T> in, const T* saved_local, const PosedFrame<T>* frames,
                                      BlendUpstream<T> up, BlendGrads<T> grads) {
  const int64_t n = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const bool active = n < in.num_gaussians;
  T g_sums[kLocalSize];
  if (active) {
    T g_local[kLocalSize], g_v[3][3];
    blend_gaussian_backward(in, n, saved_local + n * kLocalSize, frames[in.parent[n]], up, grads, g_local, g_v);
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
  auto out = allocate_outputs(t);
  const int64_t n = t.num_gaussians();
  cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(verts.scalar_type(), "blend_forward_cuda", [&] {
    const BlendInputs<scalar_t> in = input_pointers<scalar_t>(t);
    PosedFrame<scalar_t>* frames = frame_pointer<scalar_t>(std::get<6>(out));
    launch_posed_frames(in, frames, stream);
    if (n == 0) return;
    blend_forward_kernel<scalar_t><<<num_blocks(n), kThreads, 0, stream>>>(in, frames,
                                                                           output_pointers<scalar_t>(out));
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return out;
}

std::vector<at::Tensor> blend_backward_cuda(
    const at::Tensor& verts, const at::Tensor& faces, const at::Tensor& parent, const at::Tensor& drivers,
    const at::Tensor& xyz, const at::Tensor& rot, const at::Tensor& log_scale, const at::Tensor& opacity_logit,
    const at::Tensor& sh_dc, const at::Tensor& sh_rest, const at::Tensor& d_xyz, const at::Tensor& d_rot,
    const at::Tensor& d_log_scale, const at::Tensor& d_opacity, const at::Tensor& d_color, const at::Tensor& local,
    const at::Tensor& frames, const at::Tensor& grad_means, const at::Tensor& grad_quats, const at::Tensor& grad_scales,
    const at::Tensor& grad_opacities, const at::Tensor& grad_sh, const at::Tensor& grad_local, bool need_verts,
    bool need_drivers) {
  BlendTensors t = pack_inputs(verts, faces, parent, drivers, xyz, rot, log_scale, opacity_logit, sh_dc, sh_rest,
                               d_xyz, d_rot, d_log_scale, d_opacity, d_color);
  std::array<at::Tensor, 6> up{grad_means, grad_quats, grad_scales, grad_opacities, grad_sh, grad_local};
  check_backward_inputs(t, local, up);
  const c10::cuda::OptionalCUDAGuard guard(verts.device());
  const bool compute_frames = frames_missing(t, frames);
  auto grads = allocate_grads(t, [](const at::Tensor& delta) { return at::empty_like(delta); });
  const int64_t n = t.num_gaussians();
  if (n == 0) return grads;
  cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  // Without the forward's frames: computed again, into memory of the forward's layout.
  const at::Tensor posed = compute_frames ? empty_frames(t) : frames;
  AT_DISPATCH_FLOATING_TYPES(verts.scalar_type(), "blend_backward_cuda", [&] {
    const BlendInputs<scalar_t> in = input_pointers<scalar_t>(t);
    if (compute_frames) launch_posed_frames(in, frame_pointer<scalar_t>(posed), stream);
    blend_backward_kernel<scalar_t><<<num_blocks(n), kThreads, 0, stream>>>(
        in, local.data_ptr<scalar_t>(), frame_pointer<scalar_t>(posed), upstream_pointers<scalar_t>(up),
        grad_pointers<scalar_t>(grads, need_verts, need_drivers));
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return grads;
}

}  // namespace
}  // namespace blend
}  // namespace avatar_ext

TORCH_LIBRARY_IMPL(avatar_ext, CUDA, m) {
  m.impl("blend_forward", &avatar_ext::blend::blend_forward_cuda);
  m.impl("blend_backward", &avatar_ext::blend::blend_backward_cuda);
}
