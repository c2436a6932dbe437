// The CPU rasterizer's forward tile loop (semantics in include/splat_raster.h). Each tile's
// Gaussians are dealt to blocks of pixels (one pixel per lane), and each block composites the
// Gaussians whose box reaches it front to back with its pixels' state in registers, stopping as
// soon as all its pixels have. (Gaussian after Gaussian over the whole tile, the backward's order,
// the state would go through memory at every step, and a tile whose edge never becomes opaque
// could never stop early.) Square blocks fit the small, many Gaussians of trained avatars in fewer
// steps than rows of pixels: on a phone avatar at 512 px, 4 x 4 blocks take half the steps of
// 8 x 1 rows. Blocks are 4 x 4 with AVX-512 (its own loop, below), 4 x 2 with AVX2, 4 x 1 with
// SSE2 and single pixels in float64. Used by splat_raster_cpu.cpp only.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "splat_cpu_tiles.h"

namespace splat_cpu {

// What the forward writes.
template <typename T>
struct ForwardArgs : TileGrid<T> {
  T *rgb, *alpha, *depth, *final_transmittance;
  int32_t* last_entry;
};

// How many records ahead the forward's gather prefetches.
constexpr int kGatherAhead = 16;

// One tile's Gaussians dealt to its blocks of pixels; kept per thread and reused tile after tile.
template <typename T>
struct ForwardScratch {
  std::vector<TileGaussian<T>> gaussians;  // the tile's records, in its front-to-back order
  // Bit sets over `gaussians`, `words` 64-bit words each: one per row of blocks, then one per
  // column of blocks; bit i is set where Gaussian i's pixel box reaches that row or column.
  std::vector<uint64_t> masks;
  int words = 0, block_rows = 0;

  const uint64_t* row(int block_row) const { return masks.data() + block_row * words; }
  const uint64_t* column(int block_col) const { return masks.data() + (block_rows + block_col) * words; }

  // Gathers tile `tile`'s records (the only scattered reads of the pass) and deals them to its
  // bw x bh blocks.
  void deal(const ForwardArgs<T>& a, int tile, int bw, int bh) {
    int x0, y0, x1, y1;
    a.bounds(tile, x0, y0, x1, y1);
    const int32_t start = a.offsets[tile], count = a.offsets[tile + 1] - start;
    words = (count + 63) / 64;
    block_rows = CPU_TILE / bh;
    gaussians.resize(static_cast<size_t>(count));
    masks.assign(static_cast<size_t>(block_rows + CPU_TILE / bw) * words, 0);
    uint64_t* rows = masks.data();
    uint64_t* columns = rows + block_rows * words;
    for (int32_t i = 0; i < count; ++i) {
      // Nothing else in the loop waits on memory: fetch far enough ahead to keep many misses in flight.
      if (i + kGatherAhead < count) {
        const char* next = reinterpret_cast<const char*>(a.gs + a.entries[start + i + kGatherAhead]);
        __builtin_prefetch(next);
        __builtin_prefetch(next + sizeof(TileGaussian<T>) - 1);  // a record may straddle two cache lines
      }
      const TileGaussian<T>& g = gaussians[i] = a.gs[a.entries[start + i]];
      const uint64_t bit = uint64_t(1) << (i % 64);
      for (int r = (std::max(g.v_lo, y0) - y0) / bh; r <= (std::min(g.v_hi, y1 - 1) - y0) / bh; ++r)
        rows[r * words + i / 64] |= bit;
      for (int c = (std::max(g.u_lo, x0) - x0) / bw; c <= (std::min(g.u_hi, x1 - 1) - x0) / bw; ++c)
        columns[c * words + i / 64] |= bit;
    }
  }
};

// The outputs of pixel (u, v) from its final state.
template <typename T>
inline void write_pixel(const ForwardArgs<T>& a, int u, int v, T t, T r, T g, T b, T d, int32_t last) {
  const int64_t pix = int64_t(v) * a.width + u;
  a.rgb[3 * pix] = r + t * a.background[0];
  a.rgb[3 * pix + 1] = g + t * a.background[1];
  a.rgb[3 * pix + 2] = b + t * a.background[2];
  a.alpha[pix] = T(1) - t;  // = sum of weights
  a.depth[pix] = d;
  a.final_transmittance[pix] = t;
  a.last_entry[pix] = last;
}

// One tile, blocks of BW x (W / BW) pixels on the W lanes of splat::Lanes<T, W>.
// composite_step's arithmetic, rearranged so that only t * (1 - alpha) lies on the chain from one
// Gaussian to the next: a pixel stops once, so the test for it is a branch almost never taken
// rather than a select on every step.
template <typename T, int W, int BW>
AVX_HD_LANE void forward_tile(const ForwardArgs<T>& a, int tile, ForwardScratch<T>& dealt) {
  using L = splat::Lanes<T, W>;
  using V = typename L::V;
  using M = typename L::M;
  using I = typename L::I;
  constexpr int BH = W / BW;
  static_assert(W % BW == 0 && CPU_TILE % BW == 0 && CPU_TILE % BH == 0, "blocks must tile the tile");
  int x0, y0, x1, y1;
  a.bounds(tile, x0, y0, x1, y1);
  dealt.deal(a, tile, BW, BH);
  const I lane_col = L::ids() % BW, lane_row = L::ids() / BW;  // each lane's pixel inside the block
  for (int br = 0; br < CPU_TILE / BH && y0 + br * BH < y1; ++br) {
    for (int bc = 0; bc < CPU_TILE / BW && x0 + bc * BW < x1; ++bc) {
      const uint64_t *row = dealt.row(br), *column = dealt.column(bc);
      const I us = lane_col + (x0 + bc * BW), vs = lane_row + (y0 + br * BH);  // the lanes' pixels
      const V centre_x = L::as_value(us) + T(0.5), centre_y = L::as_value(vs) + T(0.5);
      V t = L::fill_value(T(1)), r = V{}, g = V{}, b = V{}, d = V{};
      I last = L::fill(-1);
      M alive = M(us < x1) & M(vs < y1);  // lanes past the image's edge start stopped
      for (int word = 0; word < dealt.words; ++word) {
        for (uint64_t bits = row[word] & column[word]; bits != 0; bits &= bits - 1) {
          const int32_t i = word * 64 + __builtin_ctzll(bits);
          const TileGaussian<T>& s = dealt.gaussians[i];
          const auto pa = splat::pair_alpha(s.a, s.b, s.c, s.opacity, centre_x - s.mx, centre_y - s.my);
          M live = pa.counts & alive & M(us >= s.u_lo) & M(us <= s.u_hi) & M(vs >= s.v_lo) & M(vs <= s.v_hi);
          V alpha = L::keep(live, pa.alpha);
          V next = t * (T(1) - alpha);  // = t where the pair does not contribute
          const M stops = live & M(next < T(splat::TRANSMITTANCE_MIN));
          if (L::any(stops)) {  // these pixels stop here, without this pair
            live = live & ~stops;
            alive = alive & ~stops;
            alpha = L::keep(live, pa.alpha);
            next = t * (T(1) - alpha);
          }
          const V w = alpha * t;
          t = next;
          r += w * s.colour[0];
          g += w * s.colour[1];
          b += w * s.colour[2];
          d += w * s.depth;
          last = L::select_int(live, L::fill(i), last);
          if (L::any(stops) && !L::any(alive)) goto composited;
        }
      }
    composited:
      for (int l = 0; l < W; ++l) {
        const int u = L::lane_int(us, l), v = L::lane_int(vs, l);
        if (u < x1 && v < y1)
          write_pixel(a, u, v, L::lane(t, l), L::lane(r, l), L::lane(g, l), L::lane(b, l), L::lane(d, l),
                      L::lane_int(last, l));
      }
    }
  }
}

template <typename T, int W, int BW>
void forward_tiles(const ForwardArgs<T>& a) {
#pragma omp parallel
  {
    ForwardScratch<T> scratch;
#pragma omp for schedule(dynamic, 2)
    for (int tile = 0; tile < a.num_tiles(); ++tile) forward_tile<T, W, BW>(a, tile, scratch);
  }
}

#if defined(__x86_64__)
// The float32 loop compiled for AVX2 + FMA, 4 x 2 blocks. The OpenMP body must sit in this
// target-attributed function (the tile body and the pair math are forced inline into it) for all
// of it to compile for these instruction sets.
__attribute__((target("avx2,fma"))) inline void forward_tiles_avx2(const ForwardArgs<float>& a) {
#pragma omp parallel
  {
    ForwardScratch<float> scratch;
#pragma omp for schedule(dynamic, 2)
    for (int tile = 0; tile < a.num_tiles(); ++tile) forward_tile<float, 8, 4>(a, tile, scratch);
  }
}

// The same loop on AVX-512's 16 lanes (4 x 4 blocks), in intrinsics: GCC compiles the generic
// vector code of 64-byte lanes lane by lane when it is not written inside the AVX-512 function
// itself. The arithmetic is splat::pair_alpha's and splat_lanes.h's exp, step by step; results
// agree with the other loops up to rounding (FMA contractions).
#define AVX512_TARGET __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")))

// splat::exp_lanes on 16 lanes.
AVX512_TARGET inline __m512 exp16(__m512 x) {
  const __m512 t = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                               _mm512_set1_ps(-100.0f)), _mm512_set1_ps(127.0f));
  const __m512 magic = _mm512_set1_ps(12582912.0f);
  const __m512 shifted = _mm512_add_ps(t, magic);
  const __m512 f = _mm512_sub_ps(t, _mm512_sub_ps(shifted, magic));
  const __m512 f2 = _mm512_mul_ps(f, f);
  const __m512 p01 = _mm512_fmadd_ps(f, _mm512_set1_ps(0.6931469440f), _mm512_set1_ps(1.000000119f));
  const __m512 p23 = _mm512_fmadd_ps(f, _mm512_set1_ps(0.05550713465f), _mm512_set1_ps(0.2402212024f));
  const __m512 p45 = _mm512_fmadd_ps(f, _mm512_set1_ps(0.001327645150f), _mm512_set1_ps(0.009675537236f));
  const __m512 p = _mm512_fmadd_ps(_mm512_mul_ps(f2, f2), p45, _mm512_fmadd_ps(f2, p23, p01));
  const __m512i bits = _mm512_slli_epi32(
      _mm512_add_epi32(_mm512_sub_epi32(_mm512_castps_si512(shifted), _mm512_set1_epi32(0x4b400000)),
                       _mm512_set1_epi32(127)), 23);
  return _mm512_mul_ps(p, _mm512_castsi512_ps(bits));
}

AVX512_TARGET inline void forward_tile_avx512(const ForwardArgs<float>& a, int tile, ForwardScratch<float>& dealt) {
  constexpr int BW = 4, BH = 4;
  int x0, y0, x1, y1;
  a.bounds(tile, x0, y0, x1, y1);
  dealt.deal(a, tile, BW, BH);
  const __m512i ids = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i lane_col = _mm512_and_si512(ids, _mm512_set1_epi32(BW - 1)), lane_row = _mm512_srli_epi32(ids, 2);
  const __m512 one = _mm512_set1_ps(1.0f), zero = _mm512_setzero_ps();
  for (int br = 0; br < CPU_TILE / BH && y0 + br * BH < y1; ++br) {
    for (int bc = 0; bc < CPU_TILE / BW && x0 + bc * BW < x1; ++bc) {
      const uint64_t *row = dealt.row(br), *column = dealt.column(bc);
      const __m512i us = _mm512_add_epi32(lane_col, _mm512_set1_epi32(x0 + bc * BW));
      const __m512i vs = _mm512_add_epi32(lane_row, _mm512_set1_epi32(y0 + br * BH));
      const __m512 centre_x = _mm512_add_ps(_mm512_cvtepi32_ps(us), _mm512_set1_ps(0.5f));
      const __m512 centre_y = _mm512_add_ps(_mm512_cvtepi32_ps(vs), _mm512_set1_ps(0.5f));
      __m512 t = one, r = zero, g = zero, b = zero, d = zero;
      __m512i last = _mm512_set1_epi32(-1);
      __mmask16 alive = _mm512_cmplt_epi32_mask(us, _mm512_set1_epi32(x1)) &
                        _mm512_cmplt_epi32_mask(vs, _mm512_set1_epi32(y1));
      for (int word = 0; word < dealt.words; ++word) {
        for (uint64_t bits = row[word] & column[word]; bits != 0; bits &= bits - 1) {
          const int32_t i = word * 64 + __builtin_ctzll(bits);
          const TileGaussian<float>& s = dealt.gaussians[i];
          // splat::pair_alpha: power = -1/2 (a dx^2 + c dy^2) - b dx dy, alpha = min(ALPHA_MAX, opacity exp(power)).
          const __m512 dx = _mm512_sub_ps(centre_x, _mm512_set1_ps(s.mx));
          const __m512 dy = _mm512_sub_ps(centre_y, _mm512_set1_ps(s.my));
          // As a polynomial in dx: (-a/2 dx - b dy) dx - c/2 dy^2 (the same value; other roundings).
          const __m512 slope = _mm512_mul_ps(_mm512_set1_ps(-s.b), dy);
          const __m512 constant = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(-0.5f * s.c), dy), dy);
          const __m512 power = _mm512_fmadd_ps(_mm512_fmadd_ps(_mm512_set1_ps(-0.5f * s.a), dx, slope), dx, constant);
          const __m512 raw = _mm512_mul_ps(_mm512_set1_ps(s.opacity), exp16(power));
          const __m512 capped = _mm512_min_ps(raw, _mm512_set1_ps(float(splat::ALPHA_MAX)));  // NaN -> the cap
          __mmask16 live = alive & _mm512_cmp_ps_mask(power, zero, _CMP_LE_OQ) &
                           _mm512_cmp_ps_mask(capped, _mm512_set1_ps(float(splat::ALPHA_MIN)), _CMP_GE_OQ) &
                           _mm512_cmpge_epi32_mask(us, _mm512_set1_epi32(s.u_lo)) &
                           _mm512_cmple_epi32_mask(us, _mm512_set1_epi32(s.u_hi)) &
                           _mm512_cmpge_epi32_mask(vs, _mm512_set1_epi32(s.v_lo)) &
                           _mm512_cmple_epi32_mask(vs, _mm512_set1_epi32(s.v_hi));
          __m512 alpha = _mm512_maskz_mov_ps(live, capped);
          __m512 next = _mm512_mul_ps(t, _mm512_sub_ps(one, alpha));
          const __mmask16 stops =
              live & _mm512_cmp_ps_mask(next, _mm512_set1_ps(float(splat::TRANSMITTANCE_MIN)), _CMP_LT_OQ);
          if (stops) {  // these pixels stop here, without this pair
            live &= ~stops;
            alive &= ~stops;
            alpha = _mm512_maskz_mov_ps(live, capped);
            next = _mm512_mul_ps(t, _mm512_sub_ps(one, alpha));
          }
          const __m512 w = _mm512_mul_ps(alpha, t);
          t = next;
          r = _mm512_fmadd_ps(w, _mm512_set1_ps(s.colour[0]), r);
          g = _mm512_fmadd_ps(w, _mm512_set1_ps(s.colour[1]), g);
          b = _mm512_fmadd_ps(w, _mm512_set1_ps(s.colour[2]), b);
          d = _mm512_fmadd_ps(w, _mm512_set1_ps(s.depth), d);
          last = _mm512_mask_mov_epi32(last, live, _mm512_set1_epi32(i));
          if (stops && !alive) goto composited;
        }
      }
    composited:
      alignas(64) float ts[16], rs[16], gs[16], bs[16], ds[16];
      alignas(64) int32_t lasts[16];
      _mm512_store_ps(ts, t);
      _mm512_store_ps(rs, r);
      _mm512_store_ps(gs, g);
      _mm512_store_ps(bs, b);
      _mm512_store_ps(ds, d);
      _mm512_store_si512(lasts, last);
      for (int l = 0; l < 16; ++l) {
        const int u = x0 + bc * BW + l % BW, v = y0 + br * BH + l / BW;
        if (u < x1 && v < y1) write_pixel(a, u, v, ts[l], rs[l], gs[l], bs[l], ds[l], lasts[l]);
      }
    }
  }
}

AVX512_TARGET inline void forward_tiles_avx512(const ForwardArgs<float>& a) {
#pragma omp parallel
  {
    ForwardScratch<float> scratch;
#pragma omp for schedule(dynamic, 2)
    for (int tile = 0; tile < a.num_tiles(); ++tile) forward_tile_avx512(a, tile, scratch);
  }
}
#undef AVX512_TARGET
#endif

// The forward over every tile with the widest lanes available for T.
template <typename T>
void run_forward(const ForwardArgs<T>& a) {
  if constexpr (std::is_same<T, float>::value) {
#if defined(__x86_64__)
    if (simd::use_avx512()) return forward_tiles_avx512(a);
    if (simd::use_avx2()) return forward_tiles_avx2(a);
#endif
    return forward_tiles<float, 4, 4>(a);
  } else {
    return forward_tiles<T, splat::LaneWidth<T>::value, 1>(a);
  }
}

}  // namespace splat_cpu
