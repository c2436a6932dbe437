// Splat op: schemas of all four ops, and the CPU (OpenMP) projection forward/backward.
// The rasterizer's CPU implementation is in splat_raster_cpu.cpp.
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <tuple>

#include "cpu_parallel.h"
#include "cpu_simd.h"
#include "splat.h"

namespace {

using at::Tensor;

// What one pass of the projection reads and writes (pointers into the op's tensors).
template <typename T>
struct ProjectArgs {
  splat::PinholeCamera<T> cam;
  int degree;
  const T *means, *quats, *scales, *opacities, *sh;
  T *means2d, *conics, *depths, *colours;
  int32_t* radii;
};

template <typename T>
struct ProjectBackwardArgs {
  splat::PinholeCamera<T> cam;
  int degree;
  const T *means, *quats, *scales, *sh, *g_means2d, *g_conics, *g_depths, *g_colours;
  T *g_means, *g_quats, *g_scales, *g_sh;
};

// Gaussians [i0, i1) of the forward. Flattened (everything it calls inlined): the per-Gaussian
// maths keeps its intermediates (the Projection record, the rotation) in registers.
template <typename T>
__attribute__((flatten)) void project_range(const ProjectArgs<T>& a, int64_t i0, int64_t i1) {
  for (int64_t i = i0; i < i1; ++i)
    splat::project_gaussian(a.cam, a.degree, i, a.means, a.quats, a.scales, a.opacities, a.sh, a.means2d, a.conics,
                            a.depths, a.colours, a.radii);
}

template <typename T>
__attribute__((flatten)) void project_backward_range(const ProjectBackwardArgs<T>& a, int64_t i0, int64_t i1) {
  for (int64_t i = i0; i < i1; ++i)
    splat::project_gaussian_backward(a.cam, a.degree, i, a.means, a.quats, a.scales, a.sh, a.g_means2d, a.g_conics,
                                     a.g_depths, a.g_colours, a.g_means, a.g_quats, a.g_scales, a.g_sh);
}

std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor> project_forward_cpu(
    const Tensor& means, const Tensor& quats, const Tensor& scales, const Tensor& opacities, const Tensor& sh,
    at::ArrayRef<double> world_to_cam, at::ArrayRef<double> K, at::ArrayRef<double> cam_pos, int64_t width,
    int64_t height, double near, double far) {
  splat::check_gaussians(means, quats, scales, sh, c10::kCPU);
  splat::check_tensor(opacities, "opacities", {means.size(0)}, means.scalar_type(), c10::kCPU);
  splat::check_camera(world_to_cam, K, cam_pos, width, height);
  const int64_t n = means.size(0);
  const int degree = splat::sh_degree_checked(sh.size(1));
  Tensor means2d = at::empty({n, 2}, means.options()), conics = at::empty({n, 3}, means.options());
  Tensor depths = at::empty({n}, means.options()), colours = at::empty({n, 3}, means.options());
  Tensor radii = at::empty({n}, means.options().dtype(at::kInt));
  AT_DISPATCH_FLOATING_TYPES(means.scalar_type(), "splat_project_forward_cpu", [&] {
    const ProjectArgs<scalar_t> args{
        splat::make_camera<scalar_t>(world_to_cam.data(), K.data(), cam_pos.data(), int(width), int(height), near,
                                     far),
        degree, means.data_ptr<scalar_t>(), quats.data_ptr<scalar_t>(), scales.data_ptr<scalar_t>(),
        opacities.data_ptr<scalar_t>(), sh.data_ptr<scalar_t>(), means2d.data_ptr<scalar_t>(),
        conics.data_ptr<scalar_t>(), depths.data_ptr<scalar_t>(), colours.data_ptr<scalar_t>(),
        radii.data_ptr<int32_t>()};
    const auto range = simd::widest<&project_range<scalar_t>>();
    cpu_parallel::ranges(n, 256, [&](int64_t i0, int64_t i1) { range(args, i0, i1); });
  });
  return {means2d, conics, depths, colours, radii};
}

std::tuple<Tensor, Tensor, Tensor, Tensor> project_backward_cpu(
    const Tensor& means, const Tensor& quats, const Tensor& scales, const Tensor& sh,
    at::ArrayRef<double> world_to_cam, at::ArrayRef<double> K, at::ArrayRef<double> cam_pos, int64_t width,
    int64_t height, double near, double far, const Tensor& grad_means2d, const Tensor& grad_conics,
    const Tensor& grad_depths, const Tensor& grad_colours) {
  splat::check_gaussians(means, quats, scales, sh, c10::kCPU);
  splat::check_camera(world_to_cam, K, cam_pos, width, height);
  const int64_t n = means.size(0);
  const auto dtype = means.scalar_type();
  splat::check_tensor(grad_means2d, "grad_means2d", {n, 2}, dtype, c10::kCPU);
  splat::check_tensor(grad_conics, "grad_conics", {n, 3}, dtype, c10::kCPU);
  splat::check_tensor(grad_depths, "grad_depths", {n}, dtype, c10::kCPU);
  splat::check_tensor(grad_colours, "grad_colours", {n, 3}, dtype, c10::kCPU);
  const int degree = splat::sh_degree_checked(sh.size(1));
  Tensor g_means = at::empty_like(means), g_quats = at::empty_like(quats), g_scales = at::empty_like(scales);
  Tensor g_sh = at::empty_like(sh);
  AT_DISPATCH_FLOATING_TYPES(dtype, "splat_project_backward_cpu", [&] {
    const ProjectBackwardArgs<scalar_t> args{
        splat::make_camera<scalar_t>(world_to_cam.data(), K.data(), cam_pos.data(), int(width), int(height), near,
                                     far),
        degree, means.data_ptr<scalar_t>(), quats.data_ptr<scalar_t>(), scales.data_ptr<scalar_t>(),
        sh.data_ptr<scalar_t>(), grad_means2d.data_ptr<scalar_t>(), grad_conics.data_ptr<scalar_t>(),
        grad_depths.data_ptr<scalar_t>(), grad_colours.data_ptr<scalar_t>(), g_means.data_ptr<scalar_t>(),
        g_quats.data_ptr<scalar_t>(), g_scales.data_ptr<scalar_t>(), g_sh.data_ptr<scalar_t>()};
    const auto range = simd::widest<&project_backward_range<scalar_t>>();
    cpu_parallel::ranges(n, 256, [&](int64_t i0, int64_t i1) { range(args, i0, i1); });
  });
  return {g_means, g_quats, g_scales, g_sh};
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(avatar_ext, m) {
  m.def(
      "splat_project_forward(Tensor means, Tensor quats, Tensor scales, Tensor opacities, Tensor sh, "
      "float[] world_to_cam, float[] K, float[] cam_pos, int width, int height, float near, float far) "
      "-> (Tensor means2d, Tensor conics, Tensor depths, Tensor colours, Tensor radii)");
  m.def(
      "splat_project_backward(Tensor means, Tensor quats, Tensor scales, Tensor sh, float[] world_to_cam, "
      "float[] K, float[] cam_pos, int width, int height, float near, float far, Tensor grad_means2d, "
      "Tensor grad_conics, Tensor grad_depths, Tensor grad_colours) "
      "-> (Tensor grad_means, Tensor grad_quats, Tensor grad_scales, Tensor grad_sh)");
  m.def(
      "splat_rasterize_forward(Tensor means2d, Tensor conics, Tensor colours, Tensor opacities, Tensor depths, "
      "Tensor radii, Tensor background, int width, int height) "
      "-> (Tensor rgb, Tensor alpha, Tensor depth, Tensor[] state)");
  m.def(
      "splat_rasterize_backward(Tensor means2d, Tensor conics, Tensor colours, Tensor opacities, Tensor depths, "
      "Tensor radii, Tensor background, Tensor[] state, Tensor grad_rgb, Tensor grad_alpha, Tensor grad_depth) "
      "-> (Tensor grad_means2d, Tensor grad_conics, Tensor grad_colours, Tensor grad_opacities, "
      "Tensor grad_depths)");
}

TORCH_LIBRARY_IMPL(avatar_ext, CPU, m) {
  m.impl("splat_project_forward", &project_forward_cpu);
  m.impl("splat_project_backward", &project_backward_cpu);
}
