// Per-pixel compositing of the splat op and its derivative, as avatar/splat/reference.py:
// per pixel, front to back over Gaussians sorted by depth (ties: lower index first), T = 1:
//   power = -1/2 (a dx^2 + c dy^2) - b dx dy;  alpha = min(ALPHA_MAX, opacity exp(power))
//   skip if power > 0 or alpha < ALPHA_MIN; stop WITHOUT adding if T (1 - alpha) < TRANSMITTANCE_MIN
//   w = alpha T; rgb += w colour; acc += w; depth += w z; T *= 1 - alpha
// and rgb += (1 - acc) background. Pixel (u, v) is sampled at (u + 0.5, v + 0.5). The kernels
// output acc as 1 - T_final (the same sum, up to rounding) and keep T_final for the backward.
// Which pixels a Gaussian can reach (its alpha >= ALPHA_MIN ellipse, widened by ELLIPSE_SLACK_PX)
// is computed in double exactly as the reference enumerates them.
#pragma once

#include "splat_scalar.h"
#include "splat_lanes.h"

namespace splat {

// First pixel whose centre (i + 0.5) is >= coord, in [0, size].
AVX_HD int pixel_at_or_after(double coord, int size) {
  return min_(max_(ceil_int(min_(max_(coord, -1.0), size + 1.0) - 0.5), 0), size);
}

// Last pixel whose centre (i + 0.5) is <= coord, in [-1, size - 1].
AVX_HD int pixel_at_or_before(double coord, int size) {
  return min_(max_(floor_int(min_(max_(coord, -1.0), size + 1.0) - 0.5), -1), size - 1);
}

// The alpha >= ALPHA_MIN ellipse a dx^2 + 2 b dx dy + c dy^2 <= k of one Gaussian, and its pixel box.
struct Ellipse {
  double mx, my, a, b, c, k;
  int u_lo, u_hi, v_lo, v_hi;  // inclusive pixel box, empty when lo > hi
};

// Half width and height, in pixels and widened by ELLIPSE_SLACK_PX, of the ellipse
// a dx^2 + 2 b dx dy + c dy^2 <= k: from the covariance = conic^-1. D: double or double lanes.
template <typename D>
AVX_HD_LANE void ellipse_half_extents(D a, D b, D c, D k, D& half_w, D& half_h) {
  const D det = a * c - b * b;
  half_w = sqrt_(k * c / det) + ELLIPSE_SLACK_PX;
  half_h = sqrt_(k * a / det) + ELLIPSE_SLACK_PX;
}

// k of the alpha >= ALPHA_MIN ellipse of a Gaussian with this opacity (see Ellipse).
AVX_HD double alpha_ellipse_k(double opacity) { return 2.0 * log(max_(opacity, ALPHA_MIN) / ALPHA_MIN); }

template <typename T>
AVX_HD Ellipse alpha_ellipse(const T* mean2d, const T* conic, T opacity, int width, int height) {
  Ellipse e;
  e.mx = double(mean2d[0]);
  e.my = double(mean2d[1]);
  e.a = double(conic[0]);
  e.b = double(conic[1]);
  e.c = double(conic[2]);
  e.k = alpha_ellipse_k(double(opacity));
  double half_w, half_h;
  ellipse_half_extents(e.a, e.b, e.c, e.k, half_w, half_h);
  e.u_lo = pixel_at_or_after(e.mx - half_w, width);
  e.u_hi = pixel_at_or_before(e.mx + half_w, width);
  e.v_lo = pixel_at_or_after(e.my - half_h, height);
  e.v_hi = pixel_at_or_before(e.my + half_h, height);
  return e;
}

// Inclusive pixel columns [lo, hi] of the ellipse on image row y (empty when lo > hi).
AVX_HD void ellipse_row_span(const Ellipse& e, int y, int width, int& lo, int& hi) {
  const double dy = y + 0.5 - e.my;
  const double disc = (e.b * dy) * (e.b * dy) - e.a * (e.c * dy * dy - e.k);
  const double half = sqrt(max_(disc, 0.0)) / e.a + ELLIPSE_SLACK_PX;
  const double centre = e.mx - e.b * dy / e.a;
  lo = pixel_at_or_after(centre - half, width);
  hi = pixel_at_or_before(centre + half, width);
}

// Rectangle [tx0, tx1] x [ty0, ty1] (inclusive) of `tile` x `tile`-pixel tiles touched by the
// inclusive pixel box [u_lo, u_hi] x [v_lo, v_hi]; false when the box is empty.
AVX_HD bool box_tiles(int tile, int u_lo, int u_hi, int v_lo, int v_hi, int& tx0, int& tx1, int& ty0, int& ty1) {
  if (u_lo > u_hi || v_lo > v_hi) return false;
  tx0 = u_lo / tile;
  tx1 = u_hi / tile;
  ty0 = v_lo / tile;
  ty1 = v_hi / tile;
  return true;
}

// TILE x TILE tiles (the CUDA grid) touched by the ellipse's pixel box; false when none.
AVX_HD bool ellipse_tiles(const Ellipse& e, int& tx0, int& tx1, int& ty0, int& ty1) {
  return box_tiles(TILE, e.u_lo, e.u_hi, e.v_lo, e.v_hi, tx0, tx1, ty0, ty1);
}

// What compositing reads of one screen-space Gaussian (the rasterizer inputs of index i).
template <typename T>
struct ScreenGaussian {
  T mx, my, a, b, c, opacity, depth, colour[3];
};

template <typename T>
AVX_HD void load_screen_gaussian(const T* means2d, const T* conics, const T* colours, const T* opacities,
                                 const T* depths, int64_t i, ScreenGaussian<T>& s) {
  s.mx = means2d[2 * i];
  s.my = means2d[2 * i + 1];
  s.a = conics[3 * i];
  s.b = conics[3 * i + 1];
  s.c = conics[3 * i + 2];
  s.opacity = opacities[i];
  s.depth = depths[i];
  for (int k = 0; k < 3; ++k) s.colour[k] = colours[3 * i + k];
}

// The pair math below is lane-generic: V is the scalar T (CUDA, float64 CPU) or a vector of T
// (float32 CPU, splat_lanes.h) and M is bool or the matching lane mask. `dy` may be a scalar.
template <typename V, typename M>
struct PairAlpha {
  V alpha;  // min(ALPHA_MAX, opacity gauss)
  V gauss;  // exp(power)
  M uncapped;  // opacity gauss <= ALPHA_MAX: alpha depends on opacity and power
  M counts;  // power <= 0 and alpha >= ALPHA_MIN
};

template <typename T, typename V, typename DY>
AVX_HD_LANE auto pair_alpha(T a, T b, T c, T opacity, V dx, DY dy) -> PairAlpha<V, decltype(dx < T(0))> {
  const V power = T(-0.5) * (a * dx * dx + c * dy * dy) - b * dx * dy;
  PairAlpha<V, decltype(dx < T(0))> r;
  r.gauss = exp_(power);
  const V raw = opacity * r.gauss;
  r.uncapped = raw <= T(ALPHA_MAX);
  r.alpha = select(r.uncapped, raw, V{} + T(ALPHA_MAX));
  r.counts = (power <= T(0)) & (r.alpha >= T(ALPHA_MIN));
  return r;
}

// One step of the front-to-back loop on the `alive` (not yet stopped) pixels. Returns where the
// pair contributes, with its weight there (0 elsewhere); `stopped` gets where the pixel stops.
template <typename T, typename V, typename M>
AVX_HD_LANE M composite_step(const PairAlpha<V, M>& pa, M alive, V& transmittance, V& weight, M& stopped) {
  const M live = pa.counts & alive;
  const V next = transmittance * (T(1) - pa.alpha);
  stopped = live & (next < T(TRANSMITTANCE_MIN));
  const M contributes = live & (next >= T(TRANSMITTANCE_MIN));
  weight = contributes ? pa.alpha * transmittance : V{};
  transmittance = contributes ? next : transmittance;
  return contributes;
}

// Gradients one pair (or a sum of pairs) sends to its Gaussian.
template <typename V>
struct PairGrad {
  V mean2d[2], conic[3], opacity, colour[3], depth;
};

template <typename V>
AVX_HD_LANE void pair_grad_zero(PairGrad<V>& g) {
  g.mean2d[0] = g.mean2d[1] = V{};
  g.conic[0] = g.conic[1] = g.conic[2] = V{};
  g.opacity = V{};
  g.colour[0] = g.colour[1] = g.colour[2] = V{};
  g.depth = V{};
}

// Upstream gradients of one pixel.
template <typename V>
struct PixelGrad {
  V rgb[3], alpha, depth, rgb_dot_background;  // the last: sum_ch rgb[ch] background[ch]
};

// One contributing pair, visited back to front, where `active`. `transmittance` holds T after
// the pair and becomes T before it; `suffix` = sum over the later pairs of (d loss / d w) w.
template <typename T, typename V, typename DY, typename M>
AVX_HD_LANE void pair_backward(M active, const PairAlpha<V, M>& pa, T a, T b, T c, V dx, DY dy, const T* colour, T depth,
                          const PixelGrad<V>& pg, V& transmittance, V& suffix, PairGrad<V>& g) {
  const V keep = T(1) - pa.alpha;
  const V t_before = transmittance / keep;
  const V w = active ? pa.alpha * t_before : V{};
  // d loss / d w: rgb = sum w colour + (1 - sum w) background, alpha = sum w, depth = sum w z.
  const V g_w = colour[0] * pg.rgb[0] + colour[1] * pg.rgb[1] + colour[2] * pg.rgb[2] - pg.rgb_dot_background +
                pg.alpha + depth * pg.depth;
  for (int ch = 0; ch < 3; ++ch) g.colour[ch] += w * pg.rgb[ch];
  g.depth += w * pg.depth;
  // Every later weight carries the factor (1 - alpha).
  const V g_alpha = (active & pa.uncapped) ? g_w * t_before - suffix / keep : V{};
  suffix = active ? suffix + g_w * w : suffix;
  transmittance = active ? t_before : transmittance;
  g.opacity += g_alpha * pa.gauss;
  const V g_power = g_alpha * pa.alpha;
  g.conic[0] += T(-0.5) * dx * dx * g_power;
  g.conic[1] -= dx * dy * g_power;
  g.conic[2] += T(-0.5) * dy * dy * g_power;
  // d power / d mean = -(d power / d dx, d power / d dy).
  g.mean2d[0] += (a * dx + b * dy) * g_power;
  g.mean2d[1] += (c * dy + b * dx) * g_power;
}

}  // namespace splat
