// Which instruction set the CPU module's hot loops run: AVX2 + FMA where the CPU has them, else
// the portable (SSE2) build. The module is compiled without -march flags so one build travels;
// the AVX2 variants are functions with __attribute__((target("avx2,fma"))), picked at run time.
// AVATAR_EXT_SIMD=sse2 forces the portable loops, =avx2 leaves out AVX-512 (the tests run all three).
#pragma once

#include <c10/util/Exception.h>

#include <cstdlib>
#include <cstring>

#include "tensor_checks.h"

namespace simd {

// AVATAR_EXT_SIMD: "sse2" (the portable loops), "avx2" (no AVX-512), or "auto" / unset.
inline const char* simd_request() {
  const char* simd = std::getenv("AVATAR_EXT_SIMD");
  const bool known = simd == nullptr || std::strcmp(simd, "") == 0 || std::strcmp(simd, "auto") == 0 ||
                     std::strcmp(simd, "sse2") == 0 || std::strcmp(simd, "avx2") == 0;
  AVATAR_CHECK_VALUE(known, "AVATAR_EXT_SIMD is '", simd, "'; use 'sse2' (the portable loops), 'avx2' (no AVX-512) "
                     "or 'auto'");
  return simd == nullptr ? "" : simd;
}

inline bool use_avx2() {
  const bool portable = std::strcmp(simd_request(), "sse2") == 0;
#if defined(__x86_64__)
  return !portable && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

// AVX-512 (F + DQ) for the loops that have a 16-lane version (the forward tile loop).
inline bool use_avx512() {
#if defined(__x86_64__)
  return use_avx2() && std::strcmp(simd_request(), "avx2") != 0 && __builtin_cpu_supports("avx512f") &&
         __builtin_cpu_supports("avx512dq");
#else
  return false;
#endif
}

// widest<&fn>(): fn itself or, where use_avx2(), a copy of fn compiled for AVX2 + FMA: `flatten`
// inlines fn's body and everything it calls into the copy, which takes the copy's instruction
// set. fn must not open an OpenMP region: that body is outlined before inlining and would keep
// the baseline instruction set. Call the result once per range of work, not per element.
template <auto Fn>
struct Widest;

template <typename... Args, void (*Fn)(Args...)>
struct Widest<Fn> {
#if defined(__x86_64__)
  __attribute__((target("avx2,fma"), flatten)) static void avx2(Args... args) { Fn(args...); }
#endif
  static void (*pick())(Args...) {
#if defined(__x86_64__)
    if (use_avx2()) return &avx2;
#endif
    return Fn;
  }
};

template <auto Fn>
auto widest() {
  return Widest<Fn>::pick();
}

}  // namespace simd
