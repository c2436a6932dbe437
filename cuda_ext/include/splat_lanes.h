// Lanes for the CPU rasterizer: it evaluates W pixels of one image row at once through the same
// lane-generic pair math as CUDA (splat_raster.h). W = 4 float32 lanes use GCC/Clang vector
// extensions (SSE2, always available on x86-64; NEON on ARM); W = 8 float32 lanes are for code
// compiled for AVX2 + FMA (the rasterizer picks them at run time, see splat_raster_cpu.cpp);
// W = 1 is plain scalars (float64). Host-only: the CUDA build never includes this file.
#pragma once

#if !defined(__CUDACC__)

#include <cstdint>
#include <cstring>

#include "common.h"
#include "splat_scalar.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace splat {

typedef float f32x4 __attribute__((vector_size(16)));
typedef int32_t i32x4 __attribute__((vector_size(16)));

// 8-lane vectors are only computed inside AVX2 code (everything here is forced inline there), so
// GCC's note that passing them by value outside AVX code would change the ABI does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"
typedef float f32x8 __attribute__((vector_size(32)));
typedef int32_t i32x8 __attribute__((vector_size(32)));

// 8 float lanes as the T of the lane-generic projection maths (splat_math.h, splat_scalar.h).
template <>
struct LaneTraits<f32x8> {
  using Scalar = float;
  using Mask = i32x8;
};
template <>
AVX_HD_LANE f32x8 fill<f32x8>(float x) { return f32x8{} + x; }
AVX_HD_LANE f32x8 select(i32x8 m, f32x8 a, f32x8 b) { return m ? a : b; }
AVX_HD_LANE f32x8 sqrt_(f32x8 x) {  // per lane: the callers are generic templates, not AVX2 code
  for (int l = 0; l < 8; ++l) x[l] = sqrtf(x[l]);
  return x;
}

template <typename VF>
AVX_HD_LANE VF clamp_lanes(VF x, float lo, float hi) {
  x = x < lo ? VF{} + lo : x;
  return x > hi ? VF{} + hi : x;
}

#if defined(__SSE2__)
AVX_HD_LANE f32x4 clamp_lanes(f32x4 x, float lo, float hi) {
  return _mm_min_ps(_mm_max_ps(x, _mm_set1_ps(lo)), _mm_set1_ps(hi));  // one instruction each
}
#endif

// exp of float lanes (VI: the int lanes of the same width): x = n ln2 + r with n = round(x / ln2)
// (|r| <= ln2 / 2), e^r by Cephes' degree-7 polynomial evaluated in Estrin's form (short
// dependency chains), times 2^n from the exponent bits. Relative error ~1e-7, like expf. Inputs
// are clamped to [-87, 88] (no denormals, no inf).
template <typename VF, typename VI>
AVX_HD_LANE VF exp_lanes(VF x) {
  x = clamp_lanes(x, -87.0f, 88.0f);
  const float round_magic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const VF shifted = x * 1.44269504088896341f + round_magic;
  const VF n = shifted - round_magic;
  const VF r = x - n * 0.693359375f - n * -2.12194440e-4f;
  const VF r2 = r * r;
  const VF r4 = r2 * r2;
  const VF p = (r * 1.6666665459e-1f + 5.0000001201e-1f) + r2 * (r * 8.3334519073e-3f + 4.1665795894e-2f) +
               r4 * (r * 1.9875691500e-4f + 1.3981999507e-3f);
  const VF e_r = p * r2 + r + 1.0f;
  VI scale_bits;
  std::memcpy(&scale_bits, &shifted, sizeof(scale_bits));
  scale_bits = (scale_bits - 0x4b400000 + 127) << 23;  // bits of 1.5 * 2^23 + n, minus those of 1.5 * 2^23
  VF scale;
  std::memcpy(&scale, &scale_bits, sizeof(scale));
  return e_r * scale;
}

AVX_HD_LANE f32x4 exp_(f32x4 x) { return exp_lanes<f32x4, i32x4>(x); }
AVX_HD_LANE f32x8 exp_(f32x8 x) { return exp_lanes<f32x8, i32x8>(x); }

template <typename T, int W>
struct Lanes;

template <typename T>
struct Lanes<T, 1> {
  using V = T;
  using M = bool;
  using I = int32_t;
  static V load(const T* p) { return *p; }
  static void store(T* p, V v) { *p = v; }
  static I load_int(const int32_t* p) { return *p; }
  static void store_int(int32_t* p, I v) { *p = v; }
  static V offsets() { return T(0); }  // lane k sits k pixels right of the first
  static I ids() { return 0; }
  static I fill(int32_t x) { return x; }
  static void tally(I& counts, M m) { counts += m ? 1 : 0; }  // counts true lanes into counts
  static int total(I counts) { return counts; }
  static T sum(V v) { return v; }
};

// W float32 lanes held in GCC/Clang vectors VF / VI (masks are -1 where true).
template <int W, typename VF, typename VI>
struct VectorLanes {
  using V = VF;
  using M = VI;
  using I = VI;
  static AVX_HD_LANE V load(const float* p) {
    V v;
    std::memcpy(&v, p, sizeof(v));
    return v;
  }
  static AVX_HD_LANE void store(float* p, V v) { std::memcpy(p, &v, sizeof(v)); }
  static AVX_HD_LANE I load_int(const int32_t* p) {
    I v;
    std::memcpy(&v, p, sizeof(v));
    return v;
  }
  static AVX_HD_LANE void store_int(int32_t* p, I v) { std::memcpy(p, &v, sizeof(v)); }
  static AVX_HD_LANE V offsets() {  // lane k sits k pixels right of the first
    V v;
    for (int k = 0; k < W; ++k) v[k] = float(k);
    return v;
  }
  static AVX_HD_LANE I ids() {
    I v;
    for (int k = 0; k < W; ++k) v[k] = k;
    return v;
  }
  static AVX_HD_LANE I fill(int32_t x) { return I{} + x; }
  static AVX_HD_LANE void tally(I& counts, M m) { counts -= m; }  // counts true lanes, per lane
  static AVX_HD_LANE int total(I counts) {  // horizontal: slow, call it rarely
    int c = 0;
    for (int k = 0; k < W; ++k) c += counts[k];
    return c;
  }
  static AVX_HD_LANE float sum(V v) {  // pairwise
    float s[W];
    std::memcpy(s, &v, sizeof(s));
    for (int half = W / 2; half > 0; half /= 2)
      for (int k = 0; k < half; ++k) s[k] += s[k + half];
    return s[0];
  }
};

template <>
struct Lanes<float, 4> : VectorLanes<4, f32x4, i32x4> {};
template <>
struct Lanes<float, 8> : VectorLanes<8, f32x8, i32x8> {};

// Float32 rasterizes 4 pixels at a time; float64 (the exactness tests) stays scalar.
template <typename T>
struct LaneWidth {
  static constexpr int value = 1;
};
template <>
struct LaneWidth<float> {
  static constexpr int value = 4;
};

}  // namespace splat

#endif  // !defined(__CUDACC__)
