// Splat op: CUDA projection forward/backward, one thread per Gaussian running the same
// per-Gaussian functions as the CPU loop (include/splat_math.h). The rasterizer is in
// splat_raster_cuda.cu; the op schemas are in cuda_ext/ops.py.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <tuple>

#include "splat.h"

namespace {

using at::Tensor;

constexpr int PROJECT_BLOCK = 256;

int project_blocks(int64_t n) { return int((n + PROJECT_BLOCK - 1) / PROJECT_BLOCK); }

template <typename T>
__global__ void project_forward_kernel(int64_t n, splat::PinholeCamera<T> cam, int degree, const T* means,
                                       const T* quats, const T* scales, const T* opacities, const T* sh, T* means2d,
                                       T* conics, T* depths, T* colours, int32_t* radii) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  splat::project_gaussian(cam, degree, i, means, quats, scales, opacities, sh, means2d, conics, depths, colours,
                          radii);
}

template <typename T>
__global__ void project_backward_kernel(int64_t n, splat::PinholeCamera<T> cam, int degree, const T* means,
                                        const T* quats, const T* scales, const T* sh, const T* g_means2d,
                                        const T* g_conics, const T* g_depths, const T* g_colours, T* g_means,
                                        T* g_quats, T* g_scales, T* g_sh) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  splat::project_gaussian_backward(cam, degree, i, means, quats, scales, sh, g_means2d, g_conics, g_depths,
                                   g_colours, g_means, g_quats, g_scales, g_sh);
}

std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor> project_forward_cuda(
    const Tensor& means, const Tensor& quats, const Tensor& scales, const Tensor& opacities, const Tensor& sh,
    const Tensor& world_to_cam, const Tensor& K, const Tensor& cam_pos, int64_t width,
    int64_t height, double near, double far) {
  splat::check_gaussians(means, quats, scales, sh, c10::kCUDA);
  splat::check_tensor(opacities, "opacities", {means.size(0)}, means.scalar_type(), c10::kCUDA);
  const splat::CameraNumbers camera = splat::camera_numbers(world_to_cam, K, cam_pos, width, height);
  const c10::cuda::OptionalCUDAGuard guard(means.device());
  const int64_t n = means.size(0);
  const int degree = splat::sh_degree_checked(sh.size(1));
  Tensor means2d = at::empty({n, 2}, means.options()), conics = at::empty({n, 3}, means.options());
  Tensor depths = at::empty({n}, means.options()), colours = at::empty({n, 3}, means.options());
  Tensor radii = at::empty({n}, means.options().dtype(at::kInt));
  if (n == 0) return {means2d, conics, depths, colours, radii};
  AT_DISPATCH_FLOATING_TYPES(means.scalar_type(), "splat_project_forward_cuda", [&] {
    const auto cam = camera.pinhole<scalar_t>(width, height, near, far);
    project_forward_kernel<scalar_t><<<project_blocks(n), PROJECT_BLOCK, 0, c10::cuda::getCurrentCUDAStream()>>>(
        n, cam, degree, means.data_ptr<scalar_t>(), quats.data_ptr<scalar_t>(), scales.data_ptr<scalar_t>(),
        opacities.data_ptr<scalar_t>(), sh.data_ptr<scalar_t>(), means2d.data_ptr<scalar_t>(),
        conics.data_ptr<scalar_t>(), depths.data_ptr<scalar_t>(), colours.data_ptr<scalar_t>(),
        radii.data_ptr<int32_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return {means2d, conics, depths, colours, radii};
}

std::tuple<Tensor, Tensor, Tensor, Tensor> project_backward_cuda(
    const Tensor& means, const Tensor& quats, const Tensor& scales, const Tensor& sh,
    const Tensor& world_to_cam, const Tensor& K, const Tensor& cam_pos, int64_t width,
    int64_t height, double near, double far, const Tensor& grad_means2d, const Tensor& grad_conics,
    const Tensor& grad_depths, const Tensor& grad_colours) {
  splat::check_gaussians(means, quats, scales, sh, c10::kCUDA);
  const splat::CameraNumbers camera = splat::camera_numbers(world_to_cam, K, cam_pos, width, height);
  const c10::cuda::OptionalCUDAGuard guard(means.device());
  const int64_t n = means.size(0);
  const auto dtype = means.scalar_type();
  splat::check_tensor(grad_means2d, "grad_means2d", {n, 2}, dtype, c10::kCUDA);
  splat::check_tensor(grad_conics, "grad_conics", {n, 3}, dtype, c10::kCUDA);
  splat::check_tensor(grad_depths, "grad_depths", {n}, dtype, c10::kCUDA);
  splat::check_tensor(grad_colours, "grad_colours", {n, 3}, dtype, c10::kCUDA);
  const int degree = splat::sh_degree_checked(sh.size(1));
  Tensor g_means = at::empty_like(means), g_quats = at::empty_like(quats), g_scales = at::empty_like(scales);
  Tensor g_sh = at::empty_like(sh);
  if (n == 0) return {g_means, g_quats, g_scales, g_sh};
  AT_DISPATCH_FLOATING_TYPES(dtype, "splat_project_backward_cuda", [&] {
    const auto cam = camera.pinhole<scalar_t>(width, height, near, far);
    project_backward_kernel<scalar_t><<<project_blocks(n), PROJECT_BLOCK, 0, c10::cuda::getCurrentCUDAStream()>>>(
        n, cam, degree, means.data_ptr<scalar_t>(), quats.data_ptr<scalar_t>(), scales.data_ptr<scalar_t>(),
        sh.data_ptr<scalar_t>(), grad_means2d.data_ptr<scalar_t>(), grad_conics.data_ptr<scalar_t>(),
        grad_depths.data_ptr<scalar_t>(), grad_colours.data_ptr<scalar_t>(), g_means.data_ptr<scalar_t>(),
        g_quats.data_ptr<scalar_t>(), g_scales.data_ptr<scalar_t>(), g_sh.data_ptr<scalar_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return {g_means, g_quats, g_scales, g_sh};
}

}  // namespace

TORCH_LIBRARY_IMPL(avatar_ext, CUDA, m) {
  m.impl("splat_project_forward", &project_forward_cuda);
  m.impl("splat_project_backward", &project_backward_cuda);
}
