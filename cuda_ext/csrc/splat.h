// Host-side pieces shared by the CPU and CUDA implementations of the splat ops: argument checks
// (one clear message each), the camera read from its tensors and the tile grid. The math itself
// lives in include/splat_math.h.
#pragma once

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>

#include "splat_math.h"
#include "tensor_checks.h"

namespace splat {

// Tiles of `tile` pixels along a side of `pixels` pixels.
inline int tiles_along(int64_t pixels, int tile) { return int((pixels + tile - 1) / tile); }

inline int sh_degree_checked(int64_t num_coeffs) {
  for (int degree = 0; degree <= 3; ++degree)
    if ((degree + 1) * (degree + 1) == num_coeffs) return degree;
  AVATAR_CHECK_VALUE(false, "splat: sh has ", num_coeffs, " coefficients per channel; expected 1, 4, 9 or 16");
  return -1;
}

// The splat ops' argument checks (tensor_checks.h), naming the op.
inline void check_tensor(const at::Tensor& t, const char* name, at::IntArrayRef shape, at::ScalarType dtype,
                         const c10::Device& device) {
  tensor_checks::check_tensor(t, "splat", name, shape, dtype, device);
}

inline void check_floating(const at::Tensor& t, const char* name) { tensor_checks::check_floating(t, "splat", name); }

inline void check_image_size(int64_t width, int64_t height) {
  AVATAR_CHECK_VALUE(width > 0 && height > 0 && width < (1 << 20) && height < (1 << 20), "splat: image size ", width,
                     "x", height, " is empty or too large");
}

// A camera's numbers as make_camera takes them, read from its tensors.
struct CameraNumbers {
  double world_to_cam[16];  // row-major [4, 4]
  double K[9];              // row-major [3, 3]
  double pos[3];

  template <typename T>
  PinholeCamera<T> pinhole(int64_t width, int64_t height, double near, double far) const {
    return make_camera<T>(world_to_cam, K, pos, int(width), int(height), near, far);
  }
};

// The values of a camera tensor: a contiguous CPU tensor (a host copy: the CUDA ops read it
// without a device synchronisation), float32 or float64.
inline void read_camera_tensor(const at::Tensor& t, const char* name, at::IntArrayRef shape, double* out) {
  check_floating(t, name);
  check_tensor(t, name, shape, t.scalar_type(), c10::kCPU);
  AT_DISPATCH_FLOATING_TYPES(t.scalar_type(), "splat_camera", [&] {
    const scalar_t* values = t.data_ptr<scalar_t>();
    for (int64_t i = 0; i < t.numel(); ++i) out[i] = double(values[i]);
  });
}

// world_to_cam [4, 4], K [3, 3], cam_pos [3] and the image size, checked.
inline CameraNumbers camera_numbers(const at::Tensor& world_to_cam, const at::Tensor& K, const at::Tensor& cam_pos,
                                    int64_t width, int64_t height) {
  CameraNumbers cam;
  read_camera_tensor(world_to_cam, "world_to_cam", {4, 4}, cam.world_to_cam);
  read_camera_tensor(K, "K", {3, 3}, cam.K);
  read_camera_tensor(cam_pos, "cam_pos", {3}, cam.pos);
  check_image_size(width, height);
  return cam;
}

// means [N, 3], quats [N, 4], scales [N, 3], sh [N, K, 3]: same floating dtype and device.
inline void check_gaussians(const at::Tensor& means, const at::Tensor& quats, const at::Tensor& scales,
                            const at::Tensor& sh, const c10::Device& device) {
  check_floating(means, "means");
  AVATAR_CHECK_VALUE(means.dim() == 2, "splat: means must be [N, 3], got ", means.sizes());
  const int64_t n = means.size(0);
  AVATAR_CHECK_VALUE(n < (int64_t(1) << 31), "splat: too many Gaussians (", n, ")");
  const auto dtype = means.scalar_type();
  check_tensor(means, "means", {n, 3}, dtype, device);
  check_tensor(quats, "quats", {n, 4}, dtype, device);
  check_tensor(scales, "scales", {n, 3}, dtype, device);
  AVATAR_CHECK_VALUE(sh.dim() == 3, "splat: sh must be [N, K, 3], got ", sh.sizes());
  sh_degree_checked(sh.size(1));
  check_tensor(sh, "sh", {n, sh.size(1), 3}, dtype, device);
}

// The per-Gaussian screen-space inputs of the rasterizer, all [N, ...] of one dtype and device.
inline void check_screen_gaussians(const at::Tensor& means2d, const at::Tensor& conics, const at::Tensor& colours,
                                   const at::Tensor& opacities, const at::Tensor& depths, const at::Tensor& radii,
                                   const at::Tensor& background, const c10::Device& device) {
  check_floating(means2d, "means2d");
  AVATAR_CHECK_VALUE(means2d.dim() == 2, "splat: means2d must be [N, 2], got ", means2d.sizes());
  const int64_t n = means2d.size(0);
  const auto dtype = means2d.scalar_type();
  check_tensor(means2d, "means2d", {n, 2}, dtype, device);
  check_tensor(conics, "conics", {n, 3}, dtype, device);
  check_tensor(colours, "colours", {n, 3}, dtype, device);
  check_tensor(opacities, "opacities", {n}, dtype, device);
  check_tensor(depths, "depths", {n}, dtype, device);
  check_tensor(radii, "radii", {n}, at::kInt, device);
  check_tensor(background, "background", {3}, dtype, device);
}

// What the rasterizer's forward (on `tile` x `tile`-pixel tiles) leaves for a walk back through
// its tiles: final transmittance, last contributing entry, tile offsets and entries.
inline void check_raster_walk_state(const at::Tensor& final_transmittance, const at::Tensor& last_entry,
                                    const at::Tensor& tile_offsets, const at::Tensor& entries, int tile,
                                    at::ScalarType dtype, const c10::Device& device) {
  AVATAR_CHECK_VALUE(final_transmittance.dim() == 2, "splat: final_transmittance must be [H, W], got ",
                     final_transmittance.sizes());
  const int64_t height = final_transmittance.size(0), width = final_transmittance.size(1);
  const int64_t num_tiles = int64_t(tiles_along(width, tile)) * tiles_along(height, tile);
  check_tensor(final_transmittance, "final_transmittance", {height, width}, dtype, device);
  check_tensor(last_entry, "last_entry", {height, width}, at::kInt, device);
  check_tensor(tile_offsets, "tile_offsets", {num_tiles + 1}, at::kInt, device);
  check_tensor(entries, "entries", {entries.numel()}, at::kInt, device);
}

// What the rasterizer's forward hands its backward, and the upstream image gradients.
inline void check_raster_state(const at::Tensor& final_transmittance, const at::Tensor& last_entry,
                               const at::Tensor& tile_offsets, const at::Tensor& entries, const at::Tensor& grad_rgb,
                               const at::Tensor& grad_alpha, const at::Tensor& grad_depth, int tile,
                               at::ScalarType dtype, const c10::Device& device) {
  check_raster_walk_state(final_transmittance, last_entry, tile_offsets, entries, tile, dtype, device);
  const int64_t height = final_transmittance.size(0), width = final_transmittance.size(1);
  check_tensor(grad_rgb, "grad_rgb", {height, width, 3}, dtype, device);
  check_tensor(grad_alpha, "grad_alpha", {height, width, 1}, dtype, device);
  check_tensor(grad_depth, "grad_depth", {height, width, 1}, dtype, device);
}

}  // namespace splat
