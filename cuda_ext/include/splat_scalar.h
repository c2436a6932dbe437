// Scalar helpers and constants of the splat op, overloaded for float and double so the same
// templates compile on the host (plain C++) and on the device (CUDA) without std:: calls.
#pragma once

#include "common.h"
#include "scalar_math.h"

namespace splat {

constexpr int TILE = 16;  // CUDA tiles are TILE x TILE pixels (one thread each; the CPU's are larger)
constexpr int TILE_PIXELS = TILE * TILE;
constexpr double LOW_PASS_PX2 = 0.3;  // added to the 2D covariance diagonal
constexpr double FRUSTUM_MARGIN = 0.3;  // Jacobian clamp margin, fraction of tan(half-fov)
constexpr double ALPHA_MIN = 1.0 / 255.0;  // a pair contributes only from this alpha on
constexpr double ALPHA_MAX = 0.99;  // alpha cap
constexpr double TRANSMITTANCE_MIN = 1e-4;  // a pixel stops before T would drop below this
constexpr double ELLIPSE_SLACK_PX = 1e-3;  // widens enumerated ellipses so rounding never drops a pair
constexpr double DIR_NORM_MIN = 1e-12;  // SH view directions: norm clamped from below

using scalar_math::ceil_;
using scalar_math::exp_;
using scalar_math::log_;
using scalar_math::sqrt_;

template <typename T>
AVX_HD T min_(T a, T b) { return b < a ? b : a; }

template <typename T>
AVX_HD T max_(T a, T b) { return a < b ? b : a; }

template <typename T>
AVX_HD bool is_finite_(T x) { return x - x == x - x; }  // false for inf and NaN, no libm needed

// The projection maths (splat_math.h) is lane-generic: T is a scalar (CUDA, the CPU's scalar
// loops) or a vector of float lanes (the CPU's AVX2 loop, splat_lanes.h). ScalarOf<T> is its
// element type (constants, the camera), MaskOf<T> what its comparisons give; fill broadcasts a
// scalar, select(m, a, b) takes a where m holds. For scalars they are the identity and `?:`.
template <typename T>
struct LaneTraits {
  using Scalar = T;
  using Mask = bool;
};
template <typename T>
using ScalarOf = typename LaneTraits<T>::Scalar;
template <typename T>
using MaskOf = typename LaneTraits<T>::Mask;

template <typename T>
AVX_HD T fill(ScalarOf<T> x) { return x; }

template <typename T>
AVX_HD T select(bool m, T a, T b) { return m ? a : b; }

}  // namespace splat
