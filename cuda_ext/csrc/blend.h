// Argument checks and tensor -> pointer plumbing shared by the CPU and CUDA blend ops.
#pragma once

#include <ATen/ATen.h>

#include <array>
#include <tuple>
#include <vector>

#include "blend_math.h"
#include "tensor_checks.h"

namespace avatar_ext {
namespace blend {

// The inputs of both blend ops, in schema order (cuda_ext/ops.py).
struct BlendTensors {
  at::Tensor verts, faces, parent, drivers;
  std::array<at::Tensor, kNumSections> base;   // xyz, rot, log_scale, opacity_logit, sh_dc
  std::array<at::Tensor, kNumSections> delta;  // d_xyz, d_rot, d_log_scale, d_opacity, d_color
  at::Tensor sh_rest;

  int64_t num_gaussians() const { return parent.size(0); }
  int64_t num_drivers() const { return drivers.size(0); }
  int64_t rest() const { return sh_rest.size(1) * 3; }
};

inline const char* const kBaseNames[kNumSections] = {"xyz", "rot", "log_scale", "opacity_logit", "sh_dc"};
inline const char* const kDeltaNames[kNumSections] = {"d_xyz", "d_rot", "d_log_scale", "d_opacity", "d_color"};

// The blend ops' argument checks (tensor_checks.h): every tensor on verts' device.
inline void check_tensor(const at::Tensor& t, const char* name, at::IntArrayRef shape, at::ScalarType dtype,
                         const at::Tensor& verts) {
  tensor_checks::check_tensor(t, "blend", name, shape, dtype, verts.device());
}

// Every entry of the CPU int64 tensor `indices` is in [0, size).
inline bool indices_below(const at::Tensor& indices, int64_t size) {
  if (indices.numel() == 0) return true;
  auto [lo, hi] = at::aminmax(indices);
  return lo.item<int64_t>() >= 0 && hi.item<int64_t>() < size;
}

inline void check_inputs(const BlendTensors& t) {
  AVATAR_CHECK_VALUE(t.verts.dim() == 2 && t.verts.size(1) == 3, "blend: verts must be [V, 3], got ", t.verts.sizes());
  tensor_checks::check_floating(t.verts, "blend", "verts");
  AVATAR_CHECK_VALUE(t.faces.dim() == 2 && t.faces.size(1) == 3, "blend: faces must be [F, 3], got ", t.faces.sizes());
  AVATAR_CHECK_VALUE(t.parent.dim() == 1, "blend: parent must be [N], got ", t.parent.sizes());
  AVATAR_CHECK_VALUE(t.drivers.dim() == 1, "blend: drivers must be [D], got ", t.drivers.sizes());
  AVATAR_CHECK_VALUE(t.sh_rest.dim() == 3 && t.sh_rest.size(2) == 3, "blend: sh_rest must be [N, K-1, 3], got ",
                     t.sh_rest.sizes());
  const int64_t n = t.num_gaussians(), d = t.num_drivers(), k = t.sh_rest.size(1);
  const at::ScalarType real = t.verts.scalar_type();
  check_tensor(t.verts, "verts", {t.verts.size(0), 3}, real, t.verts);
  check_tensor(t.faces, "faces", {t.faces.size(0), 3}, at::kLong, t.verts);
  check_tensor(t.parent, "parent", {n}, at::kLong, t.verts);
  check_tensor(t.drivers, "drivers", {d}, real, t.verts);
  check_tensor(t.sh_rest, "sh_rest", {n, k, 3}, real, t.verts);
  for (int s = 0; s < kNumSections; ++s) {
    const int w = section_width(s);
    using Shape = std::vector<int64_t>;
    const Shape base_shape = s == 3 ? Shape{n} : s == kColorSection ? Shape{n, 1, 3} : Shape{n, w};
    const Shape delta_shape = s == 3 ? Shape{d, n} : Shape{d, n, w};
    check_tensor(t.base[s], kBaseNames[s], base_shape, real, t.verts);
    check_tensor(t.delta[s], kDeltaNames[s], delta_shape, real, t.verts);
  }
  // Index ranges are checked where reading them is cheap (CPU); the CUDA path trusts the model.
  if (t.verts.is_cpu()) {
    AVATAR_CHECK_VALUE(indices_below(t.parent, t.faces.size(0)), "blend: parent indices must lie in [0, ",
                       t.faces.size(0), ")");
    AVATAR_CHECK_VALUE(indices_below(t.faces, t.verts.size(0)), "blend: face indices must lie in [0, ",
                       t.verts.size(0), ")");
  }
}

// The saved local attributes and the upstream gradients of the outputs.
// up: grad_means, grad_quats, grad_scales, grad_opacities, grad_sh, grad_local (empty: none).
inline void check_backward_inputs(const BlendTensors& t, const at::Tensor& local, const std::array<at::Tensor, 6>& up) {
  const int64_t n = t.num_gaussians();
  const at::ScalarType real = t.verts.scalar_type();
  check_tensor(local, "local", {n, kLocalSize}, real, t.verts);
  check_tensor(up[0], "grad_means", {n, 3}, real, t.verts);
  check_tensor(up[1], "grad_quats", {n, 4}, real, t.verts);
  check_tensor(up[2], "grad_scales", {n, 3}, real, t.verts);
  check_tensor(up[3], "grad_opacities", {n}, real, t.verts);
  check_tensor(up[4], "grad_sh", {n, t.sh_rest.size(1) + 1, 3}, real, t.verts);
  if (up[5].numel() > 0) check_tensor(up[5], "grad_local", {n, kLocalSize}, real, t.verts);
}

template <typename T>
BlendInputs<T> input_pointers(const BlendTensors& t) {
  BlendInputs<T> in;
  in.verts = t.verts.data_ptr<T>();
  in.faces = t.faces.data_ptr<int64_t>();
  in.parent = t.parent.data_ptr<int64_t>();
  in.num_faces = t.faces.size(0);
  in.drivers = t.drivers.data_ptr<T>();
  for (int s = 0; s < kNumSections; ++s) {
    in.base[s] = t.base[s].data_ptr<T>();
    in.delta[s] = t.delta[s].data_ptr<T>();
  }
  in.sh_rest = t.sh_rest.data_ptr<T>();
  in.num_gaussians = t.num_gaussians();
  in.num_drivers = t.num_drivers();
  in.rest = t.rest();
  return in;
}

// means [N, 3], quats [N, 4], scales [N, 3], opacities [N], sh [N, K, 3], local [N, kLocalSize],
// frames [F, 17] (the schema is in cuda_ext/ops.py).
using BlendForwardResult =
    std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor>;

// Scalars per posed triangle frame in the `frames` tensor the forward hands its backward.
template <typename T>
constexpr int64_t frame_size() {
  static_assert(sizeof(PosedFrame<T>) % sizeof(T) == 0, "PosedFrame must be whole scalars");
  return int64_t(sizeof(PosedFrame<T>) / sizeof(T));
}

static_assert(frame_size<float>() == 17 && frame_size<double>() == 17, "frames are [F, 17] (cuda_ext/ops.py)");

// [F, 17]: room for the posed frame of every face.
inline at::Tensor empty_frames(const BlendTensors& t) {
  return at::empty({t.faces.size(0), frame_size<float>()}, t.verts.options());
}

// The forward's outputs, the same on both devices.
inline BlendForwardResult allocate_outputs(const BlendTensors& t) {
  const int64_t n = t.num_gaussians();
  auto opts = t.verts.options();
  return {at::empty({n, 3}, opts), at::empty({n, 4}, opts), at::empty({n, 3}, opts), at::empty({n}, opts),
          at::empty({n, t.sh_rest.size(1) + 1, 3}, opts), at::empty({n, kLocalSize}, opts), empty_frames(t)};
}

// The backward's `frames` argument: the forward's [F, 17], or empty (true: the op computes them).
inline bool frames_missing(const BlendTensors& t, const at::Tensor& frames) {
  if (frames.numel() == 0) return true;
  check_tensor(frames, "frames", {t.faces.size(0), frame_size<float>()}, t.verts.scalar_type(), t.verts);
  return false;
}

template <typename T>
BlendOutputs<T> output_pointers(const BlendForwardResult& out) {
  return {std::get<0>(out).data_ptr<T>(), std::get<1>(out).data_ptr<T>(), std::get<2>(out).data_ptr<T>(),
          std::get<3>(out).data_ptr<T>(), std::get<4>(out).data_ptr<T>(), std::get<5>(out).data_ptr<T>()};
}

template <typename T>
BlendUpstream<T> upstream_pointers(const std::array<at::Tensor, 6>& up) {
  return {up[0].data_ptr<T>(), up[1].data_ptr<T>(), up[2].data_ptr<T>(), up[3].data_ptr<T>(), up[4].data_ptr<T>(),
          up[5].numel() > 0 ? up[5].data_ptr<T>() : nullptr};
}

// [grad_verts, grad_drivers, grad base x5, grad delta x5]; verts and drivers zeroed (accumulated).
// empty_delta(delta): uninitialised memory shaped like one (contiguous) offset tensor, the largest
// outputs: the CPU module takes them from its host_block_cache.
template <typename EmptyLike>
std::vector<at::Tensor> allocate_grads(const BlendTensors& t, EmptyLike empty_delta) {
  std::vector<at::Tensor> grads{at::zeros_like(t.verts), at::zeros_like(t.drivers)};
  for (int s = 0; s < kNumSections; ++s) grads.push_back(at::empty_like(t.base[s]));
  for (int s = 0; s < kNumSections; ++s) grads.push_back(empty_delta(t.delta[s]));
  return grads;
}

// need_verts / need_drivers false: those gradients stay zero and their work is skipped.
template <typename T>
BlendGrads<T> grad_pointers(const std::vector<at::Tensor>& grads, bool need_verts, bool need_drivers) {
  BlendGrads<T> g;
  g.verts = need_verts ? grads[0].data_ptr<T>() : nullptr;
  g.drivers = need_drivers ? grads[1].data_ptr<T>() : nullptr;
  for (int s = 0; s < kNumSections; ++s) {
    g.base[s] = grads[2 + s].data_ptr<T>();
    g.delta[s] = grads[2 + kNumSections + s].data_ptr<T>();
  }
  return g;
}

inline BlendTensors pack_inputs(const at::Tensor& verts, const at::Tensor& faces, const at::Tensor& parent,
                                const at::Tensor& drivers, const at::Tensor& xyz, const at::Tensor& rot,
                                const at::Tensor& log_scale, const at::Tensor& opacity_logit,
                                const at::Tensor& sh_dc, const at::Tensor& sh_rest, const at::Tensor& d_xyz,
                                const at::Tensor& d_rot, const at::Tensor& d_log_scale,
                                const at::Tensor& d_opacity, const at::Tensor& d_color) {
  BlendTensors t{verts, faces, parent, drivers, {xyz, rot, log_scale, opacity_logit, sh_dc},
                 {d_xyz, d_rot, d_log_scale, d_opacity, d_color}, sh_rest};
  check_inputs(t);
  return t;
}

}  // namespace blend
}  // namespace avatar_ext
