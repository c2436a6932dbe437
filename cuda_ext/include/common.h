// Shared by every kernel: the same math compiles as plain C++ (CPU/OpenMP module) and as CUDA.
#pragma once

#if defined(__CUDACC__)
#define AVX_HD __host__ __device__ __forceinline__
#define AVX_HD_LANE AVX_HD
#else
#define AVX_HD inline
// The per-pixel math of the CPU tile loops is forced inline: it then compiles with the instruction
// set of the loop it lands in (an AVX2 loop calling an out-of-line SSE2 copy would gain nothing).
#define AVX_HD_LANE inline __attribute__((always_inline))
#endif

// ceil / floor of a double within int range through truncation: no libm call where the target
// has no rounding instruction (baseline x86-64).
AVX_HD int ceil_int(double x) {
  const int t = int(x);
  return t + (double(t) < x);
}
AVX_HD int floor_int(double x) {
  const int t = int(x);
  return t - (double(t) > x);
}
