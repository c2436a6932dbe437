// Geometric primitives of the blend op (vectors, the posed-triangle frame, quaternions), with
// their backward passes; they mirror avatar/gaussians/binding.py and rotations.py exactly.
#pragma once

#include "common.h"
#include "scalar_math.h"

namespace avatar_ext {
namespace blend {

constexpr double kNormEps = 1e-12;    // F.normalize's eps
constexpr double kQuatClamp = 1e-12;  // matrix_to_quat's clamp before sqrt

using scalar_math::exp_;
using scalar_math::sqrt_;

// ---- small vector helpers -------------------------------------------------------------------

template <typename T>
AVX_HD void cross3(const T a[3], const T b[3], T out[3]) {
  out[0] = a[1] * b[2] - a[2] * b[1];
  out[1] = a[2] * b[0] - a[0] * b[2];
  out[2] = a[0] * b[1] - a[1] * b[0];
}

template <typename T>
AVX_HD T dot(const T* a, const T* b, int n) {
  T s = T(0);
  for (int i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

template <typename T>
AVX_HD T norm(const T* a, int n) { return sqrt_(dot(a, a, n)); }

// out = x / max(|x|, eps), as F.normalize.
template <typename T>
AVX_HD void normalize(const T* x, T* out, int n) {
  T len = norm(x, n);
  T den = len > T(kNormEps) ? len : T(kNormEps);
  for (int i = 0; i < n; ++i) out[i] = x[i] / den;
}

// g_x += d normalize(x) / dx applied to g (the clamp passes no gradient through the length).
template <typename T>
AVX_HD void normalize_backward(const T* x, const T* g, T* g_x, int n) {
  T len = norm(x, n);
  if (len > T(kNormEps)) {
    T proj = dot(x, g, n) / (len * len);
    for (int i = 0; i < n; ++i) g_x[i] += (g[i] - x[i] * proj) / len;
  } else {
    for (int i = 0; i < n; ++i) g_x[i] += g[i] / T(kNormEps);
  }
}
// ---- triangle frame ---------------------------------------------------------------------------

template <typename T>
struct Frame {
  T origin[3];
  T rot[3][3];  // rot[i][j]: component i of axis j (columns x, y, normal)
  T unit;
};

template <typename T>
AVX_HD void triangle_frame(const T v[3][3], Frame<T>& f) {
  T e0[3], e1[3], e2[3], far_edge[3], c[3], ax[3], ay[3], nz[3];
  for (int i = 0; i < 3; ++i) {
    e0[i] = v[1][i] - v[0][i];
    e1[i] = v[2][i] - v[1][i];
    e2[i] = v[0][i] - v[2][i];
    far_edge[i] = v[2][i] - v[0][i];
    f.origin[i] = (v[0][i] + v[1][i] + v[2][i]) / T(3);
  }
  normalize(e0, ax, 3);
  cross3(e0, far_edge, c);
  normalize(c, nz, 3);
  cross3(nz, ax, ay);
  for (int i = 0; i < 3; ++i) {
    f.rot[i][0] = ax[i];
    f.rot[i][1] = ay[i];
    f.rot[i][2] = nz[i];
  }
  f.unit = (norm(e0, 3) + norm(e1, 3) + norm(e2, 3)) / T(3);
}

// Gradients of the frame (g_origin [3], g_rot [3][3], g_unit) -> the three vertices g_v.
template <typename T>
AVX_HD void triangle_frame_backward(const T v[3][3], const T g_origin[3], const T g_rot[3][3], T g_unit,
                                    T g_v[3][3]) {
  T e0[3], e1[3], e2[3], far_edge[3], c[3], ax[3], nz[3];
  for (int i = 0; i < 3; ++i) {
    e0[i] = v[1][i] - v[0][i];
    e1[i] = v[2][i] - v[1][i];
    e2[i] = v[0][i] - v[2][i];
    far_edge[i] = v[2][i] - v[0][i];
  }
  normalize(e0, ax, 3);
  cross3(e0, far_edge, c);
  normalize(c, nz, 3);

  T g_ax[3], g_ay[3], g_nz[3], tmp[3];
  for (int i = 0; i < 3; ++i) {
    g_ax[i] = g_rot[i][0];
    g_ay[i] = g_rot[i][1];
    g_nz[i] = g_rot[i][2];
  }
  // ay = nz × ax
  cross3(ax, g_ay, tmp);
  for (int i = 0; i < 3; ++i) g_nz[i] += tmp[i];
  cross3(g_ay, nz, tmp);
  for (int i = 0; i < 3; ++i) g_ax[i] += tmp[i];

  T g_e0[3] = {T(0), T(0), T(0)}, g_e1[3] = {T(0), T(0), T(0)}, g_e2[3] = {T(0), T(0), T(0)};
  T g_c[3] = {T(0), T(0), T(0)}, g_far[3];
  normalize_backward(e0, g_ax, g_e0, 3);
  normalize_backward(c, g_nz, g_c, 3);
  // c = e0 × far_edge
  cross3(far_edge, g_c, tmp);
  for (int i = 0; i < 3; ++i) g_e0[i] += tmp[i];
  cross3(g_c, e0, g_far);
  // unit = (|e0| + |e1| + |e2|) / 3; a zero-length edge passes no gradient (as torch's norm)
  const T* edges[3] = {e0, e1, e2};
  T* g_edges[3] = {g_e0, g_e1, g_e2};
  for (int k = 0; k < 3; ++k) {
    T len = norm(edges[k], 3);
    if (len > T(0))
      for (int i = 0; i < 3; ++i) g_edges[k][i] += g_unit / T(3) * edges[k][i] / len;
  }
  for (int i = 0; i < 3; ++i) {
    T g_o = g_origin[i] / T(3);
    g_v[0][i] = g_o - g_e0[i] + g_e2[i] - g_far[i];
    g_v[1][i] = g_o + g_e0[i] - g_e1[i];
    g_v[2][i] = g_o + g_e1[i] - g_e2[i] + g_far[i];
  }
}
// ---- rotations --------------------------------------------------------------------------------

// Hamilton product a ⊗ b, (w, x, y, z).
template <typename T>
AVX_HD void quat_multiply(const T a[4], const T b[4], T out[4]) {
  out[0] = a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3];
  out[1] = a[0] * b[1] + a[1] * b[0] + a[2] * b[3] - a[3] * b[2];
  out[2] = a[0] * b[2] - a[1] * b[3] + a[2] * b[0] + a[3] * b[1];
  out[3] = a[0] * b[3] + a[1] * b[2] - a[2] * b[1] + a[3] * b[0];
}

template <typename T>
AVX_HD void quat_multiply_backward(const T a[4], const T b[4], const T g[4], T g_a[4], T g_b[4]) {
  g_a[0] = g[0] * b[0] + g[1] * b[1] + g[2] * b[2] + g[3] * b[3];
  g_a[1] = -g[0] * b[1] + g[1] * b[0] - g[2] * b[3] + g[3] * b[2];
  g_a[2] = -g[0] * b[2] + g[1] * b[3] + g[2] * b[0] - g[3] * b[1];
  g_a[3] = -g[0] * b[3] - g[1] * b[2] + g[2] * b[1] + g[3] * b[0];
  g_b[0] = g[0] * a[0] + g[1] * a[1] + g[2] * a[2] + g[3] * a[3];
  g_b[1] = -g[0] * a[1] + g[1] * a[0] + g[2] * a[3] - g[3] * a[2];
  g_b[2] = -g[0] * a[2] - g[1] * a[3] + g[2] * a[0] + g[3] * a[1];
  g_b[3] = -g[0] * a[3] + g[1] * a[2] - g[2] * a[1] + g[3] * a[0];
}

// The best-conditioned of the four candidates (largest 4 q_i^2, first on ties, like argmax),
// before normalisation: numerator[4] / (2 root). Returns the candidate index.
template <typename T>
AVX_HD int quat_candidate(const T m[3][3], T numerator[4], T& root) {
  const T one = T(1);
  T four_sq[4] = {one + m[0][0] + m[1][1] + m[2][2], one + m[0][0] - m[1][1] - m[2][2],
                  one - m[0][0] + m[1][1] - m[2][2], one - m[0][0] - m[1][1] + m[2][2]};
  int best = 0;
  for (int i = 1; i < 4; ++i)
    if (four_sq[i] > four_sq[best]) best = i;
  T clamped = four_sq[best] > T(kQuatClamp) ? four_sq[best] : T(kQuatClamp);
  root = sqrt_(clamped);
  T r2 = root * root;
  const T m01 = m[0][1], m02 = m[0][2], m10 = m[1][0], m12 = m[1][2], m20 = m[2][0], m21 = m[2][1];
  if (best == 0) {
    numerator[0] = r2, numerator[1] = m21 - m12, numerator[2] = m02 - m20, numerator[3] = m10 - m01;
  } else if (best == 1) {
    numerator[0] = m21 - m12, numerator[1] = r2, numerator[2] = m10 + m01, numerator[3] = m02 + m20;
  } else if (best == 2) {
    numerator[0] = m02 - m20, numerator[1] = m10 + m01, numerator[2] = r2, numerator[3] = m21 + m12;
  } else {
    numerator[0] = m10 - m01, numerator[1] = m20 + m02, numerator[2] = m21 + m12, numerator[3] = r2;
  }
  return best;
}

// Rotation matrix -> unit quaternion with w >= 0 (rotations.matrix_to_quat).
template <typename T>
AVX_HD void matrix_to_quat(const T m[3][3], T q[4]) {
  T numerator[4], root, raw[4];
  quat_candidate(m, numerator, root);
  for (int i = 0; i < 4; ++i) raw[i] = numerator[i] / (T(2) * root);
  normalize(raw, q, 4);
  if (q[0] < T(0))
    for (int i = 0; i < 4; ++i) q[i] = -q[i];
}

// g_m += d matrix_to_quat(m) / dm applied to g_q.
template <typename T>
AVX_HD void matrix_to_quat_backward(const T m[3][3], const T g_q[4], T g_m[3][3]) {
  T numerator[4], root, raw[4], q[4];
  int best = quat_candidate(m, numerator, root);
  T two_root = T(2) * root;
  for (int i = 0; i < 4; ++i) raw[i] = numerator[i] / two_root;
  normalize(raw, q, 4);
  T sign = q[0] < T(0) ? T(-1) : T(1);
  T g_flipped[4] = {sign * g_q[0], sign * g_q[1], sign * g_q[2], sign * g_q[3]};
  T g_raw[4] = {T(0), T(0), T(0), T(0)};
  normalize_backward(raw, g_flipped, g_raw, 4);
  T g_num[4];
  T g_root = T(0);
  for (int i = 0; i < 4; ++i) {
    g_num[i] = g_raw[i] / two_root;
    g_root -= g_raw[i] * numerator[i] / (two_root * root);
  }
  g_root += g_num[best] * T(2) * root;  // numerator[best] = root^2
  // root = sqrt(four_sq[best]); four_sq[best] >= 1 for a rotation, so the clamp is inactive.
  T g_four = g_root / two_root;
  const T s0[4] = {T(1), T(1), T(-1), T(-1)}, s1[4] = {T(1), T(-1), T(1), T(-1)}, s2[4] = {T(1), T(-1), T(-1), T(1)};
  g_m[0][0] += s0[best] * g_four;
  g_m[1][1] += s1[best] * g_four;
  g_m[2][2] += s2[best] * g_four;
  // Off-diagonal numerators (see quat_candidate).
  if (best == 0) {
    g_m[2][1] += g_num[1]; g_m[1][2] -= g_num[1];
    g_m[0][2] += g_num[2]; g_m[2][0] -= g_num[2];
    g_m[1][0] += g_num[3]; g_m[0][1] -= g_num[3];
  } else if (best == 1) {
    g_m[2][1] += g_num[0]; g_m[1][2] -= g_num[0];
    g_m[1][0] += g_num[2]; g_m[0][1] += g_num[2];
    g_m[0][2] += g_num[3]; g_m[2][0] += g_num[3];
  } else if (best == 2) {
    g_m[0][2] += g_num[0]; g_m[2][0] -= g_num[0];
    g_m[1][0] += g_num[1]; g_m[0][1] += g_num[1];
    g_m[2][1] += g_num[3]; g_m[1][2] += g_num[3];
  } else {
    g_m[1][0] += g_num[0]; g_m[0][1] -= g_num[0];
    g_m[2][0] += g_num[1]; g_m[0][2] += g_num[1];
    g_m[2][1] += g_num[2]; g_m[1][2] += g_num[2];
  }
}

}  // namespace blend
}  // namespace avatar_ext
