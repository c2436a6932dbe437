// OpenMP helper of the CPU module: work split into fixed-size ranges spread over the threads.
#pragma once

#include <algorithm>
#include <cstdint>

namespace cpu_parallel {

// fn(begin, end) for consecutive ranges of `range` items covering [0, n), in parallel (static
// schedule). fn runs the per-item loop itself, so a simd::widest copy is called once per range.
template <typename Fn>
void ranges(int64_t n, int64_t range, Fn fn) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < (n + range - 1) / range; ++r) fn(r * range, std::min(n, (r + 1) * range));
}

}  // namespace cpu_parallel
