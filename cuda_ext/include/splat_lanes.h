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
#if defined(__x86_64__)
#include <immintrin.h>
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

// 16 float lanes: the forward tile loop's 4 x 4 pixel blocks where the CPU has AVX-512.
typedef float f32x16 __attribute__((vector_size(64)));
typedef int32_t i32x16 __attribute__((vector_size(64)));

// Bit operations on the -1 / 0 masks: GCC compiles `m ? a : b` on 64-byte vectors lane by lane.
AVX_HD_LANE f32x16 select(i32x16 m, f32x16 a, f32x16 b) { return f32x16((i32x16(a) & m) | (i32x16(b) & ~m)); }
AVX_HD_LANE f32x4 select(i32x4 m, f32x4 a, f32x4 b) { return m ? a : b; }

// 4 double lanes: the CPU rasterizer's pixel boxes, 4 Gaussians at a time.
typedef double f64x4 __attribute__((vector_size(32)));

AVX_HD_LANE f64x4 sqrt_(f64x4 x) {
#if defined(__SSE2__)
  __m128d half[2];  // packed square roots: baseline x86-64, and no errno branch per lane
  std::memcpy(half, &x, sizeof(x));
  half[0] = _mm_sqrt_pd(half[0]);
  half[1] = _mm_sqrt_pd(half[1]);
  std::memcpy(&x, half, sizeof(x));
#else
  for (int l = 0; l < 4; ++l) x[l] = sqrt(x[l]);
#endif
  return x;
}

template <typename VF>
AVX_HD_LANE VF clamp_lanes(VF x, float lo, float hi) {
  x = select(x < lo, VF{} + lo, x);
  return select(x > hi, VF{} + hi, x);
}

#if defined(__SSE2__)
AVX_HD_LANE f32x4 clamp_lanes(f32x4 x, float lo, float hi) {
  return _mm_min_ps(_mm_max_ps(x, _mm_set1_ps(lo)), _mm_set1_ps(hi));  // one instruction each
}
#endif

// exp of float lanes (VI: the int lanes of the same width) as 2^t, t = x log2(e): t = n + f with
// n = round(t), |f| <= 1/2, 2^f by a degree-5 minimax polynomial in Estrin's form (short
// dependency chains; relative error 2.5e-7), times 2^n from the exponent bits. Rounding t costs
// |t| 6e-8 relative: under 6e-7 where the rasterizer's alpha counts (power >= -ln 255, |t| < 8).
// t is clamped to [-100, 127]: no inf, and no denormals in the result nor in its products with
// the rasterizer's opacities (>= ALPHA_MIN) and transmittances (>= TRANSMITTANCE_MIN). A denormal
// operand or result costs an x86 core a microcode assist of ~100 cycles, and the far corners of
// every long Gaussian's pixel box (power < -87) gave one per lane; their alphas stay far below
// ALPHA_MIN either way.
template <typename VF, typename VI>
AVX_HD_LANE VF exp_lanes(VF x) {
  const VF t = clamp_lanes(x * 1.44269504088896341f, -100.0f, 127.0f);
  const float round_magic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const VF shifted = t + round_magic;
  const VF f = t - (shifted - round_magic);
  const VF f2 = f * f;
  const VF p = (f * 0.6931469440f + 1.000000119f) + f2 * (f * 0.05550713465f + 0.2402212024f) +
               (f2 * f2) * (f * 0.001327645150f + 0.009675537236f);
  VI scale_bits;
  std::memcpy(&scale_bits, &shifted, sizeof(scale_bits));
  scale_bits = (scale_bits - 0x4b400000 + 127) << 23;  // bits of 1.5 * 2^23 + n, minus those of 1.5 * 2^23
  VF scale;
  std::memcpy(&scale, &scale_bits, sizeof(scale));
  return p * scale;
}

AVX_HD_LANE f32x4 exp_(f32x4 x) { return exp_lanes<f32x4, i32x4>(x); }
AVX_HD_LANE f32x8 exp_(f32x8 x) { return exp_lanes<f32x8, i32x8>(x); }
AVX_HD_LANE f32x16 exp_(f32x16 x) { return exp_lanes<f32x16, i32x16>(x); }

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
  static V offsets() { return T(0); }  // lane k sits k pixels right of the first
  static V as_value(I v) { return V(v); }
  static V keep(M m, V a) { return m ? a : V(0); }  // a where m holds, else 0
  static I select_int(M m, I a, I b) { return m ? a : b; }
  static I ids() { return 0; }
  static I fill(int32_t x) { return x; }
  static bool any(I v) { return v != 0; }  // some lane is not zero
  static V fill_value(T x) { return x; }
  static T lane(V v, int) { return v; }
  static int32_t lane_int(I v, int) { return v; }
  static T sum(V v) { return v; }
  static void sum8(const V* v, T* out) {  // out[k] = sum(v[k]), k < 8
    for (int k = 0; k < 8; ++k) out[k] = v[k];
  }
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
  static AVX_HD_LANE V offsets() {  // lane k sits k pixels right of the first
    V v;
    for (int k = 0; k < W; ++k) v[k] = float(k);
    return v;
  }
  static AVX_HD_LANE V as_value(I v) { return __builtin_convertvector(v, V); }
  // Selections as bit operations on the -1 / 0 masks: GCC compiles `m ? a : b` on 16 lanes lane by lane.
  static AVX_HD_LANE V keep(M m, V a) { return V(I(a) & m); }  // a where m holds, else 0
  static AVX_HD_LANE I select_int(M m, I a, I b) { return (a & m) | (b & ~m); }
  static AVX_HD_LANE I ids() {
    I v;
    for (int k = 0; k < W; ++k) v[k] = k;
    return v;
  }
  static AVX_HD_LANE I fill(int32_t x) { return I{} + x; }
  static AVX_HD_LANE V fill_value(float x) { return V{} + x; }
  static AVX_HD_LANE float lane(V v, int l) { return v[l]; }
  static AVX_HD_LANE int32_t lane_int(I v, int l) { return v[l]; }
  static AVX_HD_LANE bool any(I v) {  // some lane is not zero
    uint64_t words[W / 2];
    std::memcpy(words, &v, sizeof(v));
    uint64_t any_bits = 0;
    for (int k = 0; k < W / 2; ++k) any_bits |= words[k];
    return any_bits != 0;
  }
  static AVX_HD_LANE float sum(V v) {  // pairwise
    float s[W];
    std::memcpy(s, &v, sizeof(s));
    for (int half = W / 2; half > 0; half /= 2)
      for (int k = 0; k < half; ++k) s[k] += s[k + half];
    return s[0];
  }
  static AVX_HD_LANE void sum8(const V* v, float* out) {  // out[k] = sum(v[k]), k < 8
    for (int k = 0; k < 8; ++k) out[k] = sum(v[k]);
  }
};

// Sums of 8 vectors of 8 lanes as one transpose-and-add (3 rounds of shuffles) rather than 8
// separate horizontal sums. Each sum pairs lanes as (0+1)+(2+3) + (4+5)+(6+7).
AVX_HD_LANE f32x8 transposed_sum8(const f32x8* v) {
  f32x8 pairs[4], quads[2];
  for (int k = 0; k < 4; ++k)  // pairs[k]: lanes 2j, 2j+1 hold v[2k], v[2k+1]'s pair j sums
    pairs[k] = __builtin_shufflevector(v[2 * k], v[2 * k + 1], 0, 8, 2, 10, 4, 12, 6, 14) +
               __builtin_shufflevector(v[2 * k], v[2 * k + 1], 1, 9, 3, 11, 5, 13, 7, 15);
  for (int k = 0; k < 2; ++k)  // quads[k]: lanes j, 4+j hold v[4k+j]'s first and second half sums
    quads[k] = __builtin_shufflevector(pairs[2 * k], pairs[2 * k + 1], 0, 1, 8, 9, 4, 5, 12, 13) +
               __builtin_shufflevector(pairs[2 * k], pairs[2 * k + 1], 2, 3, 10, 11, 6, 7, 14, 15);
  return __builtin_shufflevector(quads[0], quads[1], 0, 1, 2, 3, 8, 9, 10, 11) +
         __builtin_shufflevector(quads[0], quads[1], 4, 5, 6, 7, 12, 13, 14, 15);
}

template <>
struct Lanes<float, 4> : VectorLanes<4, f32x4, i32x4> {
#if defined(__SSE2__)
  static AVX_HD_LANE bool any(i32x4 v) { return _mm_movemask_ps(__m128(v)) != 0; }  // masks: sign bits
#endif
};
template <>
struct Lanes<float, 8> : VectorLanes<8, f32x8, i32x8> {
  static AVX_HD_LANE void sum8(const f32x8* v, float* out) {
    const f32x8 sums = transposed_sum8(v);
    std::memcpy(out, &sums, sizeof(sums));
  }
#if defined(__x86_64__)
  // One instruction each where the generic vector code takes several. 8 lanes live in AVX2 code
  // only, where these inline (not forced: forced inlining is checked before the AVX2 caller is known).
  static inline __attribute__((target("avx2"))) bool any(i32x8 v) {  // masks: sign bits
    return _mm256_movemask_ps(__m256(v)) != 0;
  }
  static inline __attribute__((target("avx2"))) i32x8 fill(int32_t x) { return i32x8(_mm256_set1_epi32(x)); }
#endif
};
#if defined(__x86_64__)
// 16 lanes live in AVX-512 code only (the forward tile loop's 4 x 4 blocks).
template <>
struct Lanes<float, 16> : VectorLanes<16, f32x16, i32x16> {
  static inline __attribute__((target("avx512f,avx512dq"))) bool any(i32x16 v) {  // masks: sign bits
    return _mm512_movepi32_mask(__m512i(v)) != 0;
  }
  static inline __attribute__((target("avx512f"))) i32x16 fill(int32_t x) { return i32x16(_mm512_set1_epi32(x)); }
};
#endif

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
