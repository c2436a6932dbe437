// Lanes for the CPU rasterizer: it evaluates W pixels of one image row at once through the same
// lane-generic pair math as CUDA (splat_raster.h). W = 4 float32 lanes use GCC/Clang vector
// extensions (SSE2, always available on x86-64; NEON on ARM); W = 1 is plain scalars (float64).
// Host-only: the CUDA build never includes this file.
#pragma once

#if !defined(__CUDACC__)

#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace splat {

typedef float f32x4 __attribute__((vector_size(16)));
typedef int32_t i32x4 __attribute__((vector_size(16)));

inline f32x4 clamp_lanes(f32x4 x, float lo, float hi) {
#if defined(__SSE2__)
  return _mm_min_ps(_mm_max_ps(x, _mm_set1_ps(lo)), _mm_set1_ps(hi));  // one instruction each
#else
  x = x < lo ? f32x4{} + lo : x;
  return x > hi ? f32x4{} + hi : x;
#endif
}

// exp of 4 floats: x = n ln2 + r with n = round(x / ln2) (|r| <= ln2 / 2), e^r by Cephes' degree-7
// polynomial evaluated in Estrin's form (short dependency chains), times 2^n from the exponent
// bits. Relative error ~1e-7, like expf. Inputs are clamped to [-87, 88] (no denormals, no inf).
inline f32x4 exp_(f32x4 x) {
  x = clamp_lanes(x, -87.0f, 88.0f);
  const float round_magic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const f32x4 shifted = x * 1.44269504088896341f + round_magic;
  const f32x4 n = shifted - round_magic;
  const f32x4 r = x - n * 0.693359375f - n * -2.12194440e-4f;
  const f32x4 r2 = r * r;
  const f32x4 r4 = r2 * r2;
  const f32x4 p = (r * 1.6666665459e-1f + 5.0000001201e-1f) + r2 * (r * 8.3334519073e-3f + 4.1665795894e-2f) +
                  r4 * (r * 1.9875691500e-4f + 1.3981999507e-3f);
  const f32x4 e_r = p * r2 + r + 1.0f;
  i32x4 scale_bits;
  std::memcpy(&scale_bits, &shifted, sizeof(scale_bits));
  scale_bits = (scale_bits - 0x4b400000 + 127) << 23;  // bits of 1.5 * 2^23 + n, minus those of 1.5 * 2^23
  f32x4 scale;
  std::memcpy(&scale, &scale_bits, sizeof(scale));
  return e_r * scale;
}

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
  static bool any(M m) { return m; }
  static int count(M m) { return m ? 1 : 0; }
  static T sum(V v) { return v; }
};

template <>
struct Lanes<float, 4> {
  using V = f32x4;
  using M = i32x4;  // -1 where true
  using I = i32x4;
  static V load(const float* p) {
    V v;
    std::memcpy(&v, p, sizeof(v));
    return v;
  }
  static void store(float* p, V v) { std::memcpy(p, &v, sizeof(v)); }
  static I load_int(const int32_t* p) {
    I v;
    std::memcpy(&v, p, sizeof(v));
    return v;
  }
  static void store_int(int32_t* p, I v) { std::memcpy(p, &v, sizeof(v)); }
  static V offsets() { return V{0.0f, 1.0f, 2.0f, 3.0f}; }
  static I ids() { return I{0, 1, 2, 3}; }
  static I fill(int32_t x) { return I{} + x; }
  static bool any(M m) { return (m[0] | m[1] | m[2] | m[3]) != 0; }
  static int count(M m) { return -(m[0] + m[1] + m[2] + m[3]); }
  static float sum(V v) { return (v[0] + v[1]) + (v[2] + v[3]); }
};

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
