// Splat op: the CPU (OpenMP) projection forward/backward (schemas in cuda_ext/ops.py).
// The rasterizer's CPU implementation is in splat_raster_cpu.cpp.
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <tuple>
#include <type_traits>

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

#if defined(__x86_64__)
// Float32 with AVX2 + FMA: 8 Gaussians per step through the lane-generic projection maths
// (T = f32x8), the rest (the range's tail, SH colours, radii) per Gaussian. The scalar loops
// spent ~39 ns a Gaussian (one core, forward) on their divisions and square roots one at a time.
using splat::f32x8;
constexpr int kLanes = 8;

// out[c][l] = rows[C (i + l) + c]: C-wide rows of 8 consecutive Gaussians, transposed to lanes.
template <int C>
__attribute__((target("avx2,fma"))) AVX_HD_LANE void load_lanes(const float* rows, int64_t i, f32x8 out[C]) {
  for (int c = 0; c < C; ++c)
    for (int l = 0; l < kLanes; ++l) out[c][l] = rows[C * (i + l) + c];
}

template <int C>
__attribute__((target("avx2,fma"))) AVX_HD_LANE void store_lanes(const f32x8 in[C], int64_t i, float* rows) {
  for (int c = 0; c < C; ++c)
    for (int l = 0; l < kLanes; ++l) rows[C * (i + l) + c] = in[c][l];
}

__attribute__((target("avx2,fma"), flatten)) void project_range_lanes(const ProjectArgs<float>& a, int64_t i0,
                                                                      int64_t i1) {
  const int64_t lanes_end = i0 + (i1 - i0) / kLanes * kLanes;
  for (int64_t i = i0; i < lanes_end; i += kLanes) {
    f32x8 mean[3], quat[4], scale[3], qn[4], qnorm, rq[9];
    load_lanes<3>(a.means, i, mean);
    load_lanes<4>(a.quats, i, quat);
    load_lanes<3>(a.scales, i, scale);
    splat::Projection<f32x8> p;
    splat::project(a.cam, mean, quat, scale, p, qn, qnorm, rq);
    store_lanes<2>(p.mean2d, i, a.means2d);
    store_lanes<3>(p.conic, i, a.conics);
    store_lanes<1>(&p.t[2], i, a.depths);
    for (int l = 0; l < kLanes; ++l) {  // the radius per lane, in the scalar maths the reference mirrors
      splat::Projection<float> one;
      for (int k = 0; k < 3; ++k) one.cov[k] = p.cov[k][l];
      one.mean2d[0] = p.mean2d[0][l];
      one.mean2d[1] = p.mean2d[1][l];
      one.in_range = p.in_range[l] != 0;
      a.radii[i + l] = splat::opacity_aware_radius(a.cam, one, a.opacities[i + l]);
    }
  }
  const int64_t sh_stride = 3 * (a.degree + 1) * (a.degree + 1);
  for (int64_t i = i0; i < lanes_end; ++i)
    splat::sh_colour(a.degree, a.sh + sh_stride * i, a.means + 3 * i, a.cam.pos, a.colours + 3 * i);
  for (int64_t i = lanes_end; i < i1; ++i)
    splat::project_gaussian(a.cam, a.degree, i, a.means, a.quats, a.scales, a.opacities, a.sh, a.means2d, a.conics,
                            a.depths, a.colours, a.radii);
}

__attribute__((target("avx2,fma"), flatten)) void project_backward_range_lanes(const ProjectBackwardArgs<float>& a,
                                                                               int64_t i0, int64_t i1) {
  const int64_t lanes_end = i0 + (i1 - i0) / kLanes * kLanes;
  for (int64_t i = i0; i < lanes_end; i += kLanes) {
    f32x8 mean[3], quat[4], scale[3], g_mean2d[2], g_conic[3], g_depth[1], g_mean[3], g_quat[4], g_scale[3];
    load_lanes<3>(a.means, i, mean);
    load_lanes<4>(a.quats, i, quat);
    load_lanes<3>(a.scales, i, scale);
    load_lanes<2>(a.g_means2d, i, g_mean2d);
    load_lanes<3>(a.g_conics, i, g_conic);
    load_lanes<1>(a.g_depths, i, g_depth);
    splat::project_backward(a.cam, mean, quat, scale, g_mean2d, g_conic, g_depth[0], g_mean, g_quat, g_scale);
    store_lanes<3>(g_mean, i, a.g_means);
    store_lanes<4>(g_quat, i, a.g_quats);
    store_lanes<3>(g_scale, i, a.g_scales);
  }
  const int64_t sh_stride = 3 * (a.degree + 1) * (a.degree + 1);
  for (int64_t i = i0; i < lanes_end; ++i)  // after the lanes: it adds the view direction's share to g_means
    splat::sh_colour_backward(a.degree, a.sh + sh_stride * i, a.means + 3 * i, a.cam.pos, a.g_colours + 3 * i,
                              a.g_sh + sh_stride * i, a.g_means + 3 * i);
  for (int64_t i = lanes_end; i < i1; ++i)
    splat::project_gaussian_backward(a.cam, a.degree, i, a.means, a.quats, a.scales, a.sh, a.g_means2d, a.g_conics,
                                     a.g_depths, a.g_colours, a.g_means, a.g_quats, a.g_scales, a.g_sh);
}
#endif

// The widest projection loop for T: 8 lanes for float32 where the CPU has AVX2 + FMA, else the
// per-Gaussian loop (itself compiled for AVX2 where it can be).
template <typename T>
void (*project_loop())(const ProjectArgs<T>&, int64_t, int64_t) {
#if defined(__x86_64__)
  if constexpr (std::is_same<T, float>::value)
    if (simd::use_avx2()) return &project_range_lanes;
#endif
  return simd::widest<&project_range<T>>();
}

template <typename T>
void (*project_backward_loop())(const ProjectBackwardArgs<T>&, int64_t, int64_t) {
#if defined(__x86_64__)
  if constexpr (std::is_same<T, float>::value)
    if (simd::use_avx2()) return &project_backward_range_lanes;
#endif
  return simd::widest<&project_backward_range<T>>();
}

std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor> project_forward_cpu(
    const Tensor& means, const Tensor& quats, const Tensor& scales, const Tensor& opacities, const Tensor& sh,
    const Tensor& world_to_cam, const Tensor& K, const Tensor& cam_pos, int64_t width,
    int64_t height, double near, double far) {
  splat::check_gaussians(means, quats, scales, sh, c10::kCPU);
  splat::check_tensor(opacities, "opacities", {means.size(0)}, means.scalar_type(), c10::kCPU);
  const splat::CameraNumbers camera = splat::camera_numbers(world_to_cam, K, cam_pos, width, height);
  const int64_t n = means.size(0);
  const int degree = splat::sh_degree_checked(sh.size(1));
  Tensor means2d = at::empty({n, 2}, means.options()), conics = at::empty({n, 3}, means.options());
  Tensor depths = at::empty({n}, means.options()), colours = at::empty({n, 3}, means.options());
  Tensor radii = at::empty({n}, means.options().dtype(at::kInt));
  AT_DISPATCH_FLOATING_TYPES(means.scalar_type(), "splat_project_forward_cpu", [&] {
    const ProjectArgs<scalar_t> args{
        camera.pinhole<scalar_t>(width, height, near, far),
        degree, means.data_ptr<scalar_t>(), quats.data_ptr<scalar_t>(), scales.data_ptr<scalar_t>(),
        opacities.data_ptr<scalar_t>(), sh.data_ptr<scalar_t>(), means2d.data_ptr<scalar_t>(),
        conics.data_ptr<scalar_t>(), depths.data_ptr<scalar_t>(), colours.data_ptr<scalar_t>(),
        radii.data_ptr<int32_t>()};
    const auto range = project_loop<scalar_t>();
    cpu_parallel::ranges(n, 256, [&](int64_t i0, int64_t i1) { range(args, i0, i1); });
  });
  return {means2d, conics, depths, colours, radii};
}

std::tuple<Tensor, Tensor, Tensor, Tensor> project_backward_cpu(
    const Tensor& means, const Tensor& quats, const Tensor& scales, const Tensor& sh,
    const Tensor& world_to_cam, const Tensor& K, const Tensor& cam_pos, int64_t width,
    int64_t height, double near, double far, const Tensor& grad_means2d, const Tensor& grad_conics,
    const Tensor& grad_depths, const Tensor& grad_colours) {
  splat::check_gaussians(means, quats, scales, sh, c10::kCPU);
  const splat::CameraNumbers camera = splat::camera_numbers(world_to_cam, K, cam_pos, width, height);
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
        camera.pinhole<scalar_t>(width, height, near, far),
        degree, means.data_ptr<scalar_t>(), quats.data_ptr<scalar_t>(), scales.data_ptr<scalar_t>(),
        sh.data_ptr<scalar_t>(), grad_means2d.data_ptr<scalar_t>(), grad_conics.data_ptr<scalar_t>(),
        grad_depths.data_ptr<scalar_t>(), grad_colours.data_ptr<scalar_t>(), g_means.data_ptr<scalar_t>(),
        g_quats.data_ptr<scalar_t>(), g_scales.data_ptr<scalar_t>(), g_sh.data_ptr<scalar_t>()};
    const auto range = project_backward_loop<scalar_t>();
    cpu_parallel::ranges(n, 256, [&](int64_t i0, int64_t i1) { range(args, i0, i1); });
  });
  return {g_means, g_quats, g_scales, g_sh};
}

}  // namespace

TORCH_LIBRARY_IMPL(avatar_ext, CPU, m) {
  m.impl("splat_project_forward", &project_forward_cpu);
  m.impl("splat_project_backward", &project_backward_cpu);
}
