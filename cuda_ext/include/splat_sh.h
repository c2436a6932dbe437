// View-dependent colour of one Gaussian and its derivative, as avatar/splat/sh.py:
//   dir = normalise(mean - camera position) (norm clamped at DIR_NORM_MIN),
//   colour = max(sum_k basis_k(dir) sh_k + 0.5, 0), real SH of degree 0-3 in 3DGS order/signs.
#pragma once

#include "splat_lanes.h"
#include "splat_scalar.h"

namespace splat {

constexpr int MAX_SH_COEFFS = 16;

// basis[0..K) for unit direction (x, y, z); K = (degree + 1)^2.
// Lane-generic (T a scalar or a vector of floats, see splat_scalar.h).
template <typename T>
AVX_HD void sh_basis(int degree, T x, T y, T z, T* basis) {
  using S = ScalarOf<T>;
  basis[0] = fill<T>(S(0.28209479177387814));
  if (degree < 1) return;
  const S c1 = S(0.4886025119029199);
  basis[1] = -c1 * y;
  basis[2] = c1 * z;
  basis[3] = -c1 * x;
  if (degree < 2) return;
  const T xx = x * x, yy = y * y, zz = z * z;
  basis[4] = S(1.0925484305920792) * x * y;
  basis[5] = S(-1.0925484305920792) * y * z;
  basis[6] = S(0.31539156525252005) * (S(2) * zz - xx - yy);
  basis[7] = S(-1.0925484305920792) * x * z;
  basis[8] = S(0.5462742152960396) * (xx - yy);
  if (degree < 3) return;
  basis[9] = S(-0.5900435899266435) * y * (S(3) * xx - yy);
  basis[10] = S(2.890611442640554) * x * y * z;
  basis[11] = S(-0.4570457994644658) * y * (S(4) * zz - xx - yy);
  basis[12] = S(0.3731763325901154) * z * (S(2) * zz - S(3) * xx - S(3) * yy);
  basis[13] = S(-0.4570457994644658) * x * (S(4) * zz - xx - yy);
  basis[14] = S(1.445305721320277) * z * (xx - yy);
  basis[15] = S(-0.5900435899266435) * x * (xx - S(3) * yy);
}

// d loss / d (x, y, z) of the unit direction from d loss / d basis[0..K).
template <typename T>
AVX_HD void sh_basis_backward(int degree, T x, T y, T z, const T* gb, T* g_dir) {
  T gx = T(0), gy = T(0), gz = T(0);
  if (degree >= 1) {
    const T c1 = T(0.4886025119029199);
    gy -= c1 * gb[1];
    gz += c1 * gb[2];
    gx -= c1 * gb[3];
  }
  if (degree >= 2) {
    const T c20 = T(1.0925484305920792), c22 = T(0.31539156525252005), c24 = T(0.5462742152960396);
    gx += c20 * y * gb[4] - c22 * T(2) * x * gb[6] - c20 * z * gb[7] + c24 * T(2) * x * gb[8];
    gy += c20 * x * gb[4] - c20 * z * gb[5] - c22 * T(2) * y * gb[6] - c24 * T(2) * y * gb[8];
    gz += -c20 * y * gb[5] + c22 * T(4) * z * gb[6] - c20 * x * gb[7];
  }
  if (degree >= 3) {
    const T c30 = T(-0.5900435899266435), c31 = T(2.890611442640554), c32 = T(-0.4570457994644658);
    const T c33 = T(0.3731763325901154), c35 = T(1.445305721320277);
    const T xx = x * x, yy = y * y, zz = z * z;
    gx += c30 * T(6) * x * y * gb[9] + c31 * y * z * gb[10] - c32 * T(2) * x * y * gb[11] -
          c33 * T(6) * x * z * gb[12] + c32 * (T(4) * zz - T(3) * xx - yy) * gb[13] + c35 * T(2) * x * z * gb[14] +
          c30 * T(3) * (xx - yy) * gb[15];
    gy += c30 * T(3) * (xx - yy) * gb[9] + c31 * x * z * gb[10] + c32 * (T(4) * zz - xx - T(3) * yy) * gb[11] -
          c33 * T(6) * y * z * gb[12] - c32 * T(2) * x * y * gb[13] - c35 * T(2) * y * z * gb[14] -
          c30 * T(6) * x * y * gb[15];
    gz += c31 * x * y * gb[10] + c32 * T(8) * y * z * gb[11] + c33 * (T(6) * zz - T(3) * xx - T(3) * yy) * gb[12] +
          c32 * T(8) * x * z * gb[13] + c35 * (xx - yy) * gb[14];
  }
  g_dir[0] = gx;
  g_dir[1] = gy;
  g_dir[2] = gz;
}

// Unit view direction of `mean` seen from `cam_pos`; returns the (clamped) norm. Lane-generic.
template <typename T>
AVX_HD T view_direction(const T* mean, const T* cam_pos, T* unit) {
  const T d[3] = {mean[0] - cam_pos[0], mean[1] - cam_pos[1], mean[2] - cam_pos[2]};
  const T norm = max_(sqrt_(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]), fill<T>(ScalarOf<T>(DIR_NORM_MIN)));
  for (int i = 0; i < 3; ++i) unit[i] = d[i] / norm;
  return norm;
}

// sh: [K, 3] of one Gaussian. colour = max(SH + 0.5, 0). DEGREE is a template argument so the
// coefficient loops unroll; sh_colour() below picks it at run time.
template <int DEGREE, typename T>
AVX_HD void sh_colour_of_degree(const T* sh, const T* mean, const T* cam_pos, T* colour) {
  T unit[3], basis[MAX_SH_COEFFS];
  view_direction(mean, cam_pos, unit);
  sh_basis(DEGREE, unit[0], unit[1], unit[2], basis);
  constexpr int num = (DEGREE + 1) * (DEGREE + 1);
  for (int ch = 0; ch < 3; ++ch) {
    T value = T(0);
    for (int k = 0; k < num; ++k) value += basis[k] * sh[3 * k + ch];
    colour[ch] = max_(value + T(0.5), T(0));
  }
}

// Writes g_sh [K, 3] and adds the view-direction path to g_mean [3].
template <int DEGREE, typename T>
AVX_HD void sh_colour_backward_of_degree(const T* sh, const T* mean, const T* cam_pos, const T* g_colour, T* g_sh,
                                         T* g_mean) {
  constexpr int degree = DEGREE;
  T unit[3], basis[MAX_SH_COEFFS], g_basis[MAX_SH_COEFFS];
  const T norm = view_direction(mean, cam_pos, unit);
  sh_basis(degree, unit[0], unit[1], unit[2], basis);
  constexpr int num = (degree + 1) * (degree + 1);
  T g_value[3];
  for (int ch = 0; ch < 3; ++ch) {
    T value = T(0);
    for (int k = 0; k < num; ++k) value += basis[k] * sh[3 * k + ch];
    g_value[ch] = value + T(0.5) >= T(0) ? g_colour[ch] : T(0);  // torch's clamp passes the gradient at 0
  }
  for (int k = 0; k < num; ++k) {
    g_basis[k] = T(0);
    for (int ch = 0; ch < 3; ++ch) {
      g_sh[3 * k + ch] = basis[k] * g_value[ch];
      g_basis[k] += sh[3 * k + ch] * g_value[ch];
    }
  }
  if (degree < 1) return;  // the constant band does not depend on the direction
  T g_unit[3];
  sh_basis_backward(degree, unit[0], unit[1], unit[2], g_basis, g_unit);
  if (!(norm > T(DIR_NORM_MIN))) {
    for (int i = 0; i < 3; ++i) g_mean[i] += g_unit[i] / norm;
    return;
  }
  const T radial = unit[0] * g_unit[0] + unit[1] * g_unit[1] + unit[2] * g_unit[2];
  for (int i = 0; i < 3; ++i) g_mean[i] += (g_unit[i] - unit[i] * radial) / norm;
}

template <typename T>
AVX_HD void sh_colour(int degree, const T* sh, const T* mean, const T* cam_pos, T* colour) {
  switch (degree) {
    case 0: return sh_colour_of_degree<0>(sh, mean, cam_pos, colour);
    case 1: return sh_colour_of_degree<1>(sh, mean, cam_pos, colour);
    case 2: return sh_colour_of_degree<2>(sh, mean, cam_pos, colour);
    default: return sh_colour_of_degree<3>(sh, mean, cam_pos, colour);
  }
}

template <typename T>
AVX_HD void sh_colour_backward(int degree, const T* sh, const T* mean, const T* cam_pos, const T* g_colour, T* g_sh,
                               T* g_mean) {
  switch (degree) {
    case 0: return sh_colour_backward_of_degree<0>(sh, mean, cam_pos, g_colour, g_sh, g_mean);
    case 1: return sh_colour_backward_of_degree<1>(sh, mean, cam_pos, g_colour, g_sh, g_mean);
    case 2: return sh_colour_backward_of_degree<2>(sh, mean, cam_pos, g_colour, g_sh, g_mean);
    default: return sh_colour_backward_of_degree<3>(sh, mean, cam_pos, g_colour, g_sh, g_mean);
  }
}

}  // namespace splat
