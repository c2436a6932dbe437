// Per-Gaussian blend maths, forward and backward, shared by the CPU (OpenMP) and CUDA modules.
//
// Mirrors the torch reference (avatar/gaussians/blend.py, binding.py, rotations.py, model.py):
//   local   = base + Σ_d w_d Δ_d                 (the DC colour offset is divided by SH_C0)
//   frame   = parent triangle's posed frame: origin = centroid, R = [x | y | normal] with x
//             along the first edge, unit = mean edge length
//   means   = origin + unit · R · xyz
//   quats   = matrix_to_quat(R) ⊗ normalise(rot)  (same four-candidate branch choice)
//   scales  = unit · exp(log_scale),  opacity = sigmoid(logit),  sh = [dc, sh_rest]
// The forward pass also returns the blended local attributes; the backward pass takes them back
// instead of re-reading every blendshape offset, and recomputes the rest from the inputs.
#pragma once

#include <stdint.h>

#include "blend_geometry.h"
#include "common.h"

namespace avatar_ext {
namespace blend {

constexpr double kShC0 = 0.28209479177387814;  // Y_0^0

// The blended local attributes of one Gaussian, as 5 sections of one flat vector:
// xyz [3], rot [4] (not yet normalised), log_scale [3], opacity logit [1], DC colour [3].
constexpr int kNumSections = 5;
constexpr int kColorSection = 4;
constexpr int kLocalSize = 14;
constexpr int kXyz = 0, kRot = 3, kLogScale = 7, kOpacity = 10, kColor = 11;

AVX_HD int section_width(int s) { return s == 1 ? 4 : (s == 3 ? 1 : 3); }
AVX_HD int section_offset(int s) {
  return s == 0 ? kXyz : s == 1 ? kRot : s == 2 ? kLogScale : s == 3 ? kOpacity : kColor;
}

// Plain pointers to contiguous tensors; N Gaussians, D drivers.
template <typename T>
struct BlendInputs {
  const T* verts;                 // [V, 3] posed vertices
  const int64_t* faces;           // [F, 3]
  const int64_t* parent;          // [N] triangle of each Gaussian
  int64_t num_faces;
  const T* drivers;               // [D] blendshape weights
  const T* base[kNumSections];    // xyz [N, 3], rot [N, 4], log_scale [N, 3], opacity_logit [N], sh_dc [N, 3]
  const T* delta[kNumSections];   // d_xyz [D, N, 3], d_rot [D, N, 4], d_log_scale, d_opacity [D, N], d_color
  const T* sh_rest;               // [N, rest] with rest = (K - 1) * 3
  int64_t num_gaussians;
  int64_t num_drivers;
  int64_t rest;
};

template <typename T>
struct BlendOutputs {
  T* means;      // [N, 3]
  T* quats;      // [N, 4]
  T* scales;     // [N, 3]
  T* opacities;  // [N]
  T* sh;         // [N, 1 + rest / 3, 3]
  T* local;      // [N, kLocalSize] blended local attributes, saved for the backward pass
};

// Upstream gradients of the outputs (same shapes as BlendOutputs).
template <typename T>
struct BlendUpstream {
  const T* means;
  const T* quats;
  const T* scales;
  const T* opacities;
  const T* sh;
  const T* local;  // [N, kLocalSize] ∂L/∂ the blended local attributes themselves, or null
};

// Gradients of the inputs. verts and drivers are accumulated into (zero them first), or null when
// not needed (skipping their work); base and delta are written. The gradient of sh_rest is the
// rest of the upstream sh (no kernel needed).
template <typename T>
struct BlendGrads {
  T* verts;                // [V, 3] or null
  T* drivers;              // [D] or null
  T* base[kNumSections];   // like BlendInputs::base
  T* delta[kNumSections];  // like BlendInputs::delta
};

// The posed vertices of triangle `face`.
template <typename T>
AVX_HD void gather_face(const BlendInputs<T>& in, int64_t face, T v[3][3]) {
  const int64_t* corners = in.faces + 3 * face;
  for (int k = 0; k < 3; ++k)
    for (int c = 0; c < 3; ++c) v[k][c] = in.verts[3 * corners[k] + c];
}

// A posed triangle's frame and that frame's rotation as a quaternion: the same for every Gaussian
// bound to the triangle (the CPU computes it once per triangle, CUDA once per Gaussian).
template <typename T>
struct PosedFrame {
  Frame<T> frame;
  T quat[4];  // matrix_to_quat(frame.rot)
};

template <typename T>
AVX_HD void posed_frame(const BlendInputs<T>& in, int64_t face, PosedFrame<T>& pf) {
  T v[3][3];
  gather_face(in, face, v);
  triangle_frame(v, pf.frame);
  matrix_to_quat(pf.frame.rot, pf.quat);
}

// ---- blendshapes ------------------------------------------------------------------------------
// sums = Σ_d w_d Δ_d and local = base + sums (colour: sums / SH_C0), both flat [kLocalSize].

template <typename T>
AVX_HD void local_from_sums(const BlendInputs<T>& in, int64_t n, const T sums[kLocalSize], T local[kLocalSize]) {
  for (int s = 0; s < kNumSections; ++s) {
    const int w = section_width(s), o = section_offset(s);
    for (int k = 0; k < w; ++k)
      local[o + k] = in.base[s][n * w + k] + (s == kColorSection ? sums[o + k] / T(kShC0) : sums[o + k]);
  }
}

// ∂L/∂sums from ∂L/∂local.
AVX_HD int section_of(int i) { return i < kRot ? 0 : i < kLogScale ? 1 : i < kOpacity ? 2 : i < kColor ? 3 : 4; }

template <typename T>
AVX_HD void sums_gradient(const T g_local[kLocalSize], T g_sums[kLocalSize]) {
  for (int i = 0; i < kLocalSize; ++i) g_sums[i] = section_of(i) == kColorSection ? g_local[i] / T(kShC0) : g_local[i];
}

// One Gaussian at a time (delta rows are N apart: the CUDA layout, coalesced across threads).
template <typename T>
AVX_HD void blend_local(const BlendInputs<T>& in, int64_t n, T local[kLocalSize]) {
  T sums[kLocalSize];
  for (int s = 0; s < kNumSections; ++s) {
    const int w = section_width(s), o = section_offset(s);
    for (int k = 0; k < w; ++k) sums[o + k] = T(0);
    const T* delta = in.delta[s] + n * w;
    for (int64_t d = 0; d < in.num_drivers; ++d) {
      const T weight = in.drivers[d];
      const T* row = delta + d * in.num_gaussians * w;
      for (int k = 0; k < w; ++k) sums[o + k] += weight * row[k];
    }
  }
  local_from_sums(in, n, sums, local);
}

// For driver d: writes g_delta[s][d, n] = w_d ∂L/∂sums and, with_driver, returns Gaussian n's
// share of ∂L/∂w_d (reading the offsets; without it they are not read and 0 is returned).
template <typename T>
AVX_HD T blend_local_backward(const BlendInputs<T>& in, int64_t n, int64_t d, const T g_sums[kLocalSize],
                              T* const g_delta[kNumSections], bool with_driver) {
  const T weight = in.drivers[d];
  T g_weight = T(0);
  for (int s = 0; s < kNumSections; ++s) {
    const int w = section_width(s), o = section_offset(s);
    const int64_t at = (d * in.num_gaussians + n) * w;
    for (int k = 0; k < w; ++k) {
      g_delta[s][at + k] = weight * g_sums[o + k];
      if (with_driver) g_weight += g_sums[o + k] * in.delta[s][at + k];
    }
  }
  return g_weight;
}

// ---- one Gaussian -----------------------------------------------------------------------------

// World-space Gaussian n from its blended local attributes and its parent's posed frame.
template <typename T>
AVX_HD void blend_gaussian(const BlendInputs<T>& in, int64_t n, const T local[kLocalSize], const PosedFrame<T>& pf,
                           const BlendOutputs<T>& out) {
  const Frame<T>& f = pf.frame;
  const T* xyz = local + kXyz;
  for (int i = 0; i < 3; ++i)
    out.means[3 * n + i] = f.origin[i] + f.unit * (f.rot[i][0] * xyz[0] + f.rot[i][1] * xyz[1] + f.rot[i][2] * xyz[2]);
  T q_local[4];
  normalize(local + kRot, q_local, 4);
  quat_multiply(pf.quat, q_local, out.quats + 4 * n);
  for (int i = 0; i < 3; ++i) out.scales[3 * n + i] = f.unit * exp_(local[kLogScale + i]);
  out.opacities[n] = T(1) / (T(1) + exp_(-local[kOpacity]));
  T* sh = out.sh + n * (3 + in.rest);
  for (int i = 0; i < 3; ++i) sh[i] = local[kColor + i];
  for (int64_t i = 0; i < in.rest; ++i) sh[3 + i] = in.sh_rest[n * in.rest + i];
  for (int i = 0; i < kLocalSize; ++i) out.local[n * kLocalSize + i] = local[i];
}

// Upstream gradients of Gaussian n -> g_local (∂L/∂ its blended local attributes, also written
// as the base gradients) and, when grads.verts is set, g_v (∂L/∂ its triangle's posed vertices).
template <typename T>
AVX_HD void blend_gaussian_backward(const BlendInputs<T>& in, int64_t n, const T local[kLocalSize],
                                    const PosedFrame<T>& pf, const BlendUpstream<T>& up, const BlendGrads<T>& grads,
                                    T g_local[kLocalSize], T g_v[3][3]) {
  const Frame<T>& f = pf.frame;
  const T* xyz = local + kXyz;
  const T* g_mean = up.means + 3 * n;

  T g_rot[3][3], g_unit = T(0);
  for (int i = 0; i < 3; ++i) {
    T rx = f.rot[i][0] * xyz[0] + f.rot[i][1] * xyz[1] + f.rot[i][2] * xyz[2];
    g_unit += g_mean[i] * rx;
    for (int j = 0; j < 3; ++j) g_rot[i][j] = f.unit * g_mean[i] * xyz[j];
  }
  for (int j = 0; j < 3; ++j)
    g_local[kXyz + j] = f.unit * (f.rot[0][j] * g_mean[0] + f.rot[1][j] * g_mean[1] + f.rot[2][j] * g_mean[2]);

  T q_local[4], g_q_frame[4], g_q_local[4];
  normalize(local + kRot, q_local, 4);
  quat_multiply_backward(pf.quat, q_local, up.quats + 4 * n, g_q_frame, g_q_local);
  for (int i = 0; i < 4; ++i) g_local[kRot + i] = T(0);
  normalize_backward(local + kRot, g_q_local, g_local + kRot, 4);

  for (int i = 0; i < 3; ++i) {
    T scale_over_unit = exp_(local[kLogScale + i]);
    g_unit += up.scales[3 * n + i] * scale_over_unit;
    g_local[kLogScale + i] = up.scales[3 * n + i] * f.unit * scale_over_unit;
  }
  T opacity = T(1) / (T(1) + exp_(-local[kOpacity]));
  g_local[kOpacity] = up.opacities[n] * opacity * (T(1) - opacity);
  for (int i = 0; i < 3; ++i) g_local[kColor + i] = up.sh[n * (3 + in.rest) + i];
  if (up.local != nullptr)  // a loss on the local attributes (the offset regulariser): one backward pass
    for (int i = 0; i < kLocalSize; ++i) g_local[i] += up.local[n * kLocalSize + i];

  for (int s = 0; s < kNumSections; ++s) {
    const int w = section_width(s), o = section_offset(s);
    for (int k = 0; k < w; ++k) grads.base[s][n * w + k] = g_local[o + k];
  }
  if (grads.verts != nullptr) {
    T v[3][3];
    gather_face(in, in.parent[n], v);
    matrix_to_quat_backward(f.rot, g_q_frame, g_rot);
    triangle_frame_backward(v, g_mean, g_rot, g_unit, g_v);  // origin = centroid: g_origin = g_mean
  }
}

}  // namespace blend
}  // namespace avatar_ext
