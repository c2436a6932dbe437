// EWA projection of one 3D Gaussian and its derivative, with the exact semantics of
// avatar/splat/projection.py (operation order copied so float32 rounds alike):
//   t = R_wc mean + t_wc; culled unless near < t.z <= far (then z := 1 as a safe divisor);
//   J = pinhole Jacobian at (z u, z v, z), u = t.x / z and v = t.y / z clamped to the frustum
//   widened by FRUSTUM_MARGIN tan(half-fov) (gsplat `_persp_proj`);
//   A = (J R_wc)(R_q diag(s)); cov2d = A A^T + LOW_PASS_PX2 I; conic = cov2d^-1;
//   mean2d = (fx t.x / z + cx, fy t.y / z + cy);
//   radius = ceil(sqrt(2 ln(opacity / ALPHA_MIN)) sqrt(lambda_max(cov2d))), 0 when culled.
// Colours (SH) live in splat_sh.h, per-pixel compositing in splat_raster.h.
#pragma once

#include <stdint.h>

#include "splat_scalar.h"
#include "splat_sh.h"
#include "splat_raster.h"

namespace splat {

template <typename T>
struct PinholeCamera {
  T R[9];  // world -> camera rotation, row-major
  T t[3];
  T fx, fy, cx, cy;
  T lim_x_pos, lim_x_neg, lim_y_pos, lim_y_neg;  // Jacobian clamp limits on t.x / z, t.y / z
  T near, far;
  T pos[3];  // camera centre in world space (SH view directions)
  int width, height;
};

// w2c: 16 row-major values, K: 9, pos: 3, each rounded to T here (as the reference rounds them).
template <typename T>
inline PinholeCamera<T> make_camera(const double* w2c, const double* K, const double* pos, int width, int height,
                                    double near, double far) {
  PinholeCamera<T> cam;
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) cam.R[3 * r + c] = T(w2c[4 * r + c]);
    cam.t[r] = T(w2c[4 * r + 3]);
    cam.pos[r] = T(pos[r]);
  }
  cam.fx = T(K[0]);
  cam.fy = T(K[4]);
  cam.cx = T(K[2]);
  cam.cy = T(K[5]);
  const T tan_x = T(0.5 * width) / cam.fx, tan_y = T(0.5 * height) / cam.fy;
  cam.lim_x_pos = (T(width) - cam.cx) / cam.fx + T(FRUSTUM_MARGIN) * tan_x;
  cam.lim_x_neg = cam.cx / cam.fx + T(FRUSTUM_MARGIN) * tan_x;
  cam.lim_y_pos = (T(height) - cam.cy) / cam.fy + T(FRUSTUM_MARGIN) * tan_y;
  cam.lim_y_neg = cam.cy / cam.fy + T(FRUSTUM_MARGIN) * tan_y;
  cam.near = T(near);
  cam.far = T(far);
  cam.width = width;
  cam.height = height;
  return cam;
}

// Normalised quaternion qn (w, x, y, z) and its rotation matrix R (row-major).
template <typename T>
AVX_HD_LANE void quat_to_rotmat(const T* quat, T* qn, T& norm, T* R) {
  using S = ScalarOf<T>;
  norm = sqrt_(quat[0] * quat[0] + quat[1] * quat[1] + quat[2] * quat[2] + quat[3] * quat[3]);
  for (int i = 0; i < 4; ++i) qn[i] = quat[i] / norm;
  const T w = qn[0], x = qn[1], y = qn[2], z = qn[3];
  R[0] = S(1) - S(2) * (y * y + z * z);
  R[1] = S(2) * (x * y - w * z);
  R[2] = S(2) * (x * z + w * y);
  R[3] = S(2) * (x * y + w * z);
  R[4] = S(1) - S(2) * (x * x + z * z);
  R[5] = S(2) * (y * z - w * x);
  R[6] = S(2) * (x * z - w * y);
  R[7] = S(2) * (y * z + w * x);
  R[8] = S(1) - S(2) * (x * x + y * y);
}

// d loss / d quat (unnormalised input) from d loss / d R.
template <typename T>
AVX_HD_LANE void quat_to_rotmat_backward(const T* qn, T norm, const T* gR, T* g_quat) {
  using S = ScalarOf<T>;
  const T w = qn[0], x = qn[1], y = qn[2], z = qn[3];
  T gw = S(2) * (-z * gR[1] + y * gR[2] + z * gR[3] - x * gR[5] - y * gR[6] + x * gR[7]);
  T gx = S(2) * (y * gR[1] + z * gR[2] + y * gR[3] - w * gR[5] + z * gR[6] + w * gR[7]) -
         S(4) * x * (gR[4] + gR[8]);
  T gy = S(2) * (x * gR[1] + w * gR[2] + x * gR[3] + z * gR[5] - w * gR[6] + z * gR[7]) -
         S(4) * y * (gR[0] + gR[8]);
  T gz = S(2) * (-w * gR[1] + x * gR[2] + w * gR[3] + y * gR[5] + x * gR[6] + y * gR[7]) -
         S(4) * z * (gR[0] + gR[4]);
  // qn = q / |q|: project out the radial component.
  const T radial = w * gw + x * gx + y * gy + z * gz;
  g_quat[0] = (gw - w * radial) / norm;
  g_quat[1] = (gx - x * radial) / norm;
  g_quat[2] = (gy - y * radial) / norm;
  g_quat[3] = (gz - z * radial) / norm;
}

template <typename T>
struct Projection {
  T t[3];  // camera-space mean
  T z;  // safe depth: t.z inside the depth range, 1 outside
  MaskOf<T> in_range;
  MaskOf<T> clamp_x, clamp_y;  // the Jacobian used a clamped t.x / z, t.y / z
  T tx, ty;  // clamped z u, z v
  T J[4];  // J00, J02, J11, J12 (the other two are 0)
  T JW[6];  // J R_wc, 2 x 3
  T M[9];  // R_q diag(s), 3 x 3
  T A[6];  // JW M, 2 x 3
  T cov[3];  // xx, xy, yy, low-pass included
  T conic[3];  // a, b, c
  T mean2d[2];
};

template <typename T>
AVX_HD_LANE void project(const PinholeCamera<ScalarOf<T>>& cam, const T* mean, const T* quat, const T* scale,
                         Projection<T>& p, T* qn, T& qnorm, T* Rq) {
  using S = ScalarOf<T>;
  for (int r = 0; r < 3; ++r)
    p.t[r] = cam.R[3 * r] * mean[0] + cam.R[3 * r + 1] * mean[1] + cam.R[3 * r + 2] * mean[2] + cam.t[r];
  p.in_range = (p.t[2] > cam.near) & (p.t[2] <= cam.far);
  const T z = select(p.in_range, p.t[2], fill<T>(S(1)));
  p.z = z;
  const T u = p.t[0] / z, v = p.t[1] / z;
  const T uc = min_(max_(u, fill<T>(-cam.lim_x_neg)), fill<T>(cam.lim_x_pos));
  const T vc = min_(max_(v, fill<T>(-cam.lim_y_neg)), fill<T>(cam.lim_y_pos));
  p.clamp_x = uc != u;
  p.clamp_y = vc != v;
  p.tx = z * uc;
  p.ty = z * vc;
  p.J[0] = cam.fx / z;
  p.J[1] = -cam.fx * p.tx / (z * z);
  p.J[2] = cam.fy / z;
  p.J[3] = -cam.fy * p.ty / (z * z);
  for (int c = 0; c < 3; ++c) {
    p.JW[c] = p.J[0] * cam.R[c] + p.J[1] * cam.R[6 + c];
    p.JW[3 + c] = p.J[2] * cam.R[3 + c] + p.J[3] * cam.R[6 + c];
  }
  quat_to_rotmat(quat, qn, qnorm, Rq);
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) p.M[3 * r + c] = Rq[3 * r + c] * scale[c];
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 3; ++c)
      p.A[3 * r + c] = p.JW[3 * r] * p.M[c] + p.JW[3 * r + 1] * p.M[3 + c] + p.JW[3 * r + 2] * p.M[6 + c];
  const T* a0 = p.A;
  const T* a1 = p.A + 3;
  p.cov[0] = a0[0] * a0[0] + a0[1] * a0[1] + a0[2] * a0[2] + S(LOW_PASS_PX2);
  p.cov[1] = a0[0] * a1[0] + a0[1] * a1[1] + a0[2] * a1[2];
  p.cov[2] = a1[0] * a1[0] + a1[1] * a1[1] + a1[2] * a1[2] + S(LOW_PASS_PX2);
  const T det = p.cov[0] * p.cov[2] - p.cov[1] * p.cov[1];
  p.conic[0] = p.cov[2] / det;
  p.conic[1] = -p.cov[1] / det;
  p.conic[2] = p.cov[0] / det;
  p.mean2d[0] = cam.fx * p.t[0] / z + cam.cx;
  p.mean2d[1] = cam.fy * p.t[1] / z + cam.cy;
}

// Pixel radius of the alpha >= ALPHA_MIN region, 0 when the Gaussian is culled.
template <typename T>
AVX_HD int opacity_aware_radius(const PinholeCamera<T>& cam, const Projection<T>& p, T opacity) {
  const T extent_sq = T(2) * log_(max_(opacity, T(ALPHA_MIN)) / T(ALPHA_MIN));
  const T mid = T(0.5) * (p.cov[0] + p.cov[2]);
  const T lambda_max = mid + sqrt_(max_(mid * mid - (p.cov[0] * p.cov[2] - p.cov[1] * p.cov[1]), T(0)));
  const T radius = ceil_(sqrt_(extent_sq * lambda_max));
  const T mx = p.mean2d[0], my = p.mean2d[1];
  const bool inside = mx + radius > T(0) && mx - radius < T(cam.width) && my + radius > T(0) &&
                      my - radius < T(cam.height);
  if (!(p.in_range && opacity >= T(ALPHA_MIN) && inside && is_finite_(radius))) return 0;
  return radius < T(2147483647.0) ? int(radius) : 2147483647;
}

// d loss / d (mean, quat, scale) from d loss / d (mean2d, conic, depth = t.z); g_mean is written.
template <typename T>
AVX_HD_LANE void project_backward(const PinholeCamera<ScalarOf<T>>& cam, const T* mean, const T* quat,
                                  const T* scale, const T* g_mean2d, const T* g_conic, T g_depth, T* g_mean,
                                  T* g_quat, T* g_scale) {
  using S = ScalarOf<T>;
  Projection<T> p;
  T qn[4], qnorm, Rq[9];
  project(cam, mean, quat, scale, p, qn, qnorm, Rq);
  const T z = p.z;
  T g_t[3] = {T{}, T{}, g_depth};
  T g_z = T{};  // through the safe depth, reaches t.z only inside the depth range

  g_t[0] += g_mean2d[0] * cam.fx / z;
  g_t[1] += g_mean2d[1] * cam.fy / z;
  g_z -= (g_mean2d[0] * cam.fx * p.t[0] + g_mean2d[1] * cam.fy * p.t[1]) / (z * z);

  // conic = (c22, -c12, c11) / det as a function of (c11, c12, c22).
  const T c11 = p.cov[0], c12 = p.cov[1], c22 = p.cov[2];
  const T det = c11 * c22 - c12 * c12;
  const T inv_det2 = S(1) / (det * det);
  const T ga = g_conic[0], gb = g_conic[1], gc = g_conic[2];
  const T g_c11 = (-ga * c22 * c22 + gb * c12 * c22 - gc * c12 * c12) * inv_det2;
  const T g_c12 = (S(2) * ga * c12 * c22 - gb * (c11 * c22 + c12 * c12) + S(2) * gc * c12 * c11) * inv_det2;
  const T g_c22 = (-ga * c12 * c12 + gb * c12 * c11 - gc * c11 * c11) * inv_det2;

  // cov = A A^T.
  T gA[6];
  for (int c = 0; c < 3; ++c) {
    gA[c] = S(2) * g_c11 * p.A[c] + g_c12 * p.A[3 + c];
    gA[3 + c] = S(2) * g_c22 * p.A[3 + c] + g_c12 * p.A[c];
  }
  // A = JW M.
  T gJW[6], gM[9];
  for (int r = 0; r < 2; ++r)
    for (int k = 0; k < 3; ++k)
      gJW[3 * r + k] = gA[3 * r] * p.M[3 * k] + gA[3 * r + 1] * p.M[3 * k + 1] + gA[3 * r + 2] * p.M[3 * k + 2];
  for (int k = 0; k < 3; ++k)
    for (int c = 0; c < 3; ++c) gM[3 * k + c] = p.JW[k] * gA[c] + p.JW[3 + k] * gA[3 + c];
  // M = R_q diag(s).
  T gRq[9];
  for (int c = 0; c < 3; ++c) {
    g_scale[c] = gM[c] * Rq[c] + gM[3 + c] * Rq[3 + c] + gM[6 + c] * Rq[6 + c];
    for (int r = 0; r < 3; ++r) gRq[3 * r + c] = gM[3 * r + c] * scale[c];
  }
  quat_to_rotmat_backward(qn, qnorm, gRq, g_quat);

  // JW = J R_wc with J = [[J00, 0, J02], [0, J11, J12]].
  T gJ00 = T{}, gJ02 = T{}, gJ11 = T{}, gJ12 = T{};
  for (int c = 0; c < 3; ++c) {
    gJ00 += gJW[c] * cam.R[c];
    gJ02 += gJW[c] * cam.R[6 + c];
    gJ11 += gJW[3 + c] * cam.R[3 + c];
    gJ12 += gJW[3 + c] * cam.R[6 + c];
  }
  const T z2 = z * z, z3 = z2 * z;
  g_z += -gJ00 * cam.fx / z2 - gJ11 * cam.fy / z2 + S(2) * (gJ02 * cam.fx * p.tx + gJ12 * cam.fy * p.ty) / z3;
  const T g_tx = -gJ02 * cam.fx / z2, g_ty = -gJ12 * cam.fy / z2;
  // tx = z clamp(t.x / z): the clamped ratio is a constant, the free one passes to t.x and z.
  g_z += g_tx * (p.tx / z) + g_ty * (p.ty / z);
  g_t[0] = select(p.clamp_x, g_t[0], g_t[0] + g_tx);
  g_z = select(p.clamp_x, g_z, g_z - g_tx * p.t[0] / z);
  g_t[1] = select(p.clamp_y, g_t[1], g_t[1] + g_ty);
  g_z = select(p.clamp_y, g_z, g_z - g_ty * p.t[1] / z);
  g_t[2] = select(p.in_range, g_t[2] + g_z, g_t[2]);
  for (int c = 0; c < 3; ++c) g_mean[c] = cam.R[c] * g_t[0] + cam.R[3 + c] * g_t[1] + cam.R[6 + c] * g_t[2];
}

// Gaussian i of the projection op, forward: what the CPU loop and the CUDA kernel both run.
// sh: [N, K, 3] with K = (degree + 1)^2.
template <typename T>
AVX_HD void project_gaussian(const PinholeCamera<T>& cam, int degree, int64_t i, const T* means, const T* quats,
                             const T* scales, const T* opacities, const T* sh, T* means2d, T* conics, T* depths,
                             T* colours, int32_t* radii) {
  const int64_t sh_stride = 3 * (degree + 1) * (degree + 1);
  Projection<T> p;
  T qn[4], qnorm, Rq[9];
  project(cam, means + 3 * i, quats + 4 * i, scales + 3 * i, p, qn, qnorm, Rq);
  means2d[2 * i] = p.mean2d[0];
  means2d[2 * i + 1] = p.mean2d[1];
  for (int k = 0; k < 3; ++k) conics[3 * i + k] = p.conic[k];
  depths[i] = p.t[2];
  radii[i] = opacity_aware_radius(cam, p, opacities[i]);
  sh_colour(degree, sh + sh_stride * i, means + 3 * i, cam.pos, colours + 3 * i);
}

// Gaussian i of the projection op, backward: writes its rows of g_means, g_quats, g_scales, g_sh.
template <typename T>
AVX_HD void project_gaussian_backward(const PinholeCamera<T>& cam, int degree, int64_t i, const T* means,
                                      const T* quats, const T* scales, const T* sh, const T* g_means2d,
                                      const T* g_conics, const T* g_depths, const T* g_colours, T* g_means,
                                      T* g_quats, T* g_scales, T* g_sh) {
  const int64_t sh_stride = 3 * (degree + 1) * (degree + 1);
  project_backward(cam, means + 3 * i, quats + 4 * i, scales + 3 * i, g_means2d + 2 * i, g_conics + 3 * i,
                   g_depths[i], g_means + 3 * i, g_quats + 4 * i, g_scales + 3 * i);
  sh_colour_backward(degree, sh + sh_stride * i, means + 3 * i, cam.pos, g_colours + 3 * i, g_sh + sh_stride * i,
                     g_means + 3 * i);
}

}  // namespace splat
