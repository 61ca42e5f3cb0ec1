// The dropout family (dropout, alpha dropout, Gaussian dropout and noise) as one element-wise
// kernel on Philox draws (csrc/random/philox.h). x and y: n floats, any shape, flat. Element e
// uses word e % 4 of Philox block e / 4 of (seed, stream, step), so any split of [0, n) into
// ranges starting at multiples of 4 gives the same y.
//   kBernoulli: drop iff bits < threshold (P = threshold / 2^32);
//               y = keep ? x·m + c_keep : c_drop
//   kNormal:    z ~ N(0, 1) by Box-Muller from the block's two word pairs (words 0, 1 → z0 =
//               r·cos θ, z1 = r·sin θ with r = √(−2 ln u1), θ = 2π·u2; words 2, 3 likewise);
//               y = x·(m0 + m1·z) + (c0 + c1·z)
// The backward of each op is the same kernel on the gradient with other coefficients (dropout:
// g·keep·m; alpha dropout: g·keep·a; Gaussian dropout: g·(1 + σz)), so no mask is ever stored.
// Reference (one Philox call per element, no blocking, no SIMD): dropout_ref.cpp.
#pragma once
#include <cmath>
#include <cstdint>

#include "../core/codes.h"
#include "../random/philox.h"

namespace fastdnn {


struct NoiseArgs {
  const float* x;
  float* y;
  uint64_t seed;
  uint32_t stream;
  uint64_t step;
  int kind;
  uint32_t threshold;           // kBernoulli
  float m, c_keep, c_drop;      // kBernoulli
  float m0, m1, c0, c1;         // kNormal
};

// Plain per-element reference over [i0, i1) (dropout_ref.cpp).
void noise_reference(const NoiseArgs& a, int64_t i0, int64_t i1);

namespace noise_kernel {

// The four normals of one block (Box-Muller on word pairs (0, 1) and (2, 3)). Templates on the
// ISA, like everything here, so each csrc/isa/*.cpp gets its own instantiation.
template <class V>
inline void normals(const uint32_t w[4], float z[4]) {
  constexpr float kTwoPi = 6.283185307179586f;
  for (int p = 0; p < 2; ++p) {
    const float r = std::sqrt(-2.0f * std::log(philox::uniform_open0(w[2 * p])));
    const float t = kTwoPi * philox::uniform_open1(w[2 * p + 1]);
    z[2 * p] = r * std::cos(t);
    z[2 * p + 1] = r * std::sin(t);
  }
}

// Elements [i0, i1) one Philox block at a time (i0 a multiple of 4, or a ragged head).
template <class V>
inline void blocks(const NoiseArgs& a, int64_t i0, int64_t i1) {
  for (int64_t b = i0 / 4; b * 4 < i1; ++b) {
    uint32_t w[4];
    philox::block(a.seed, a.stream, a.step, (uint64_t)b, w);
    const int64_t e0 = b * 4 > i0 ? b * 4 : i0, e1 = b * 4 + 4 < i1 ? b * 4 + 4 : i1;
    if (a.kind == kBernoulli) {
      for (int64_t e = e0; e < e1; ++e)
        a.y[e] = w[e & 3] < a.threshold ? a.c_drop : a.c_keep == 0.0f ? a.x[e] * a.m : a.x[e] * a.m + a.c_keep;
    } else {
      float z[4];
      normals<V>(w, z);
      for (int64_t e = e0; e < e1; ++e)
        a.y[e] = a.x[e] * (a.m0 + a.m1 * z[e & 3]) + (a.c0 + a.c1 * z[e & 3]);
    }
  }
}

// Vector Philox: Lanes<V>::run draws V::W blocks at once (counters b .. b+W-1) and applies the
// Bernoulli rule to the 4·W elements they cover; `ok` is false where the ISA has no vector path.
template <class V>
struct Lanes {
  static constexpr bool ok = false;
  static void run(const NoiseArgs&, int64_t) {}
};

#if defined(__AVX512F__)
template <>
struct Lanes<simd::Avx512> {
  static constexpr bool ok = true;
  static inline __m512i mulhilo(__m512i a, __m512i m, __m512i* lo) {
    const __m512i even = _mm512_mul_epu32(a, m), odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);
    *lo = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
    return _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
  }
  // Bit j of x to bit 4j (16 → 64 bits).
  static inline uint64_t spread(uint64_t x) {
    x = (x | x << 24) & 0x000000FF000000FFull;
    x = (x | x << 12) & 0x000F000F000F000Full;
    x = (x | x << 6) & 0x0303030303030303ull;
    return (x | x << 3) & 0x1111111111111111ull;
  }
  // Elements [e, e + 64), e a multiple of 4.
  static inline void run(const NoiseArgs& a, int64_t e) {
    const __m512i m0 = _mm512_set1_epi32((int)philox::kM0), m1 = _mm512_set1_epi32((int)philox::kM1);
    __m512i c0 = _mm512_add_epi32(_mm512_set1_epi32((int)(uint32_t)(e / 4)),
                                  _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    __m512i c1 = _mm512_set1_epi32((int)a.stream), c2 = _mm512_set1_epi32((int)(uint32_t)a.step),
            c3 = _mm512_set1_epi32((int)(uint32_t)(a.step >> 32));
    uint32_t k0 = (uint32_t)a.seed, k1 = (uint32_t)(a.seed >> 32);
    for (int r = 0; r < philox::kRounds; ++r) {
      __m512i lo0, lo1;
      const __m512i hi0 = mulhilo(c0, m0, &lo0), hi1 = mulhilo(c2, m1, &lo1);
      c0 = _mm512_xor_si512(_mm512_xor_si512(hi1, c1), _mm512_set1_epi32((int)k0));
      c2 = _mm512_xor_si512(_mm512_xor_si512(hi0, c3), _mm512_set1_epi32((int)k1));
      c1 = lo1, c3 = lo0;
      k0 += philox::kW0, k1 += philox::kW1;
    }
    const __m512i t = _mm512_set1_epi32((int)a.threshold);
    const uint64_t drop = spread(_mm512_cmplt_epu32_mask(c0, t)) | spread(_mm512_cmplt_epu32_mask(c1, t)) << 1 |
                          spread(_mm512_cmplt_epu32_mask(c2, t)) << 2 | spread(_mm512_cmplt_epu32_mask(c3, t)) << 3;
    const __m512 m = _mm512_set1_ps(a.m), ck = _mm512_set1_ps(a.c_keep), cd = _mm512_set1_ps(a.c_drop);
    for (int q = 0; q < 4; ++q) {
      const __m512 x = _mm512_loadu_ps(a.x + e + 16 * q);
      const __m512 kept = a.c_keep == 0.0f ? _mm512_mul_ps(x, m) : _mm512_add_ps(_mm512_mul_ps(x, m), ck);
      _mm512_storeu_ps(a.y + e + 16 * q, _mm512_mask_blend_ps((__mmask16)(drop >> (16 * q)), kept, cd));
    }
  }
};
#endif

#if defined(__AVX2__) && !defined(__AVX512F__)
template <>
struct Lanes<simd::Avx2> {
  static constexpr bool ok = true;
  static inline __m256i mulhilo(__m256i a, __m256i m, __m256i* lo) {
    const __m256i even = _mm256_mul_epu32(a, m), odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
    *lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
    return _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
  }
  // Bit j of x to bit 4j (8 → 32 bits).
  static inline uint32_t spread(uint32_t x) {
    x = (x | x << 12) & 0x000F000Fu;
    x = (x | x << 6) & 0x03030303u;
    return (x | x << 3) & 0x11111111u;
  }
  static inline uint32_t below(__m256i v, __m256i t_flipped) {  // unsigned v < t, as 8 bits
    const __m256i flip = _mm256_set1_epi32((int)0x80000000u);
    return (uint32_t)_mm256_movemask_ps(
        _mm256_castsi256_ps(_mm256_cmpgt_epi32(t_flipped, _mm256_xor_si256(v, flip))));
  }
  // Elements [e, e + 32), e a multiple of 4.
  static inline void run(const NoiseArgs& a, int64_t e) {
    const __m256i m0 = _mm256_set1_epi32((int)philox::kM0), m1 = _mm256_set1_epi32((int)philox::kM1);
    __m256i c0 = _mm256_add_epi32(_mm256_set1_epi32((int)(uint32_t)(e / 4)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256i c1 = _mm256_set1_epi32((int)a.stream), c2 = _mm256_set1_epi32((int)(uint32_t)a.step),
            c3 = _mm256_set1_epi32((int)(uint32_t)(a.step >> 32));
    uint32_t k0 = (uint32_t)a.seed, k1 = (uint32_t)(a.seed >> 32);
    for (int r = 0; r < philox::kRounds; ++r) {
      __m256i lo0, lo1;
      const __m256i hi0 = mulhilo(c0, m0, &lo0), hi1 = mulhilo(c2, m1, &lo1);
      c0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), _mm256_set1_epi32((int)k0));
      c2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), _mm256_set1_epi32((int)k1));
      c1 = lo1, c3 = lo0;
      k0 += philox::kW0, k1 += philox::kW1;
    }
    const __m256i t = _mm256_set1_epi32((int)(a.threshold ^ 0x80000000u));
    const uint32_t drop = spread(below(c0, t)) | spread(below(c1, t)) << 1 | spread(below(c2, t)) << 2 |
                          spread(below(c3, t)) << 3;
    const __m256 m = _mm256_set1_ps(a.m), ck = _mm256_set1_ps(a.c_keep), cd = _mm256_set1_ps(a.c_drop);
    const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    for (int q = 0; q < 4; ++q) {
      const __m256i sel = _mm256_and_si256(_mm256_set1_epi32((int)((drop >> (8 * q)) & 0xFFu)), bit);
      const __m256 dropped = _mm256_castsi256_ps(_mm256_cmpeq_epi32(sel, bit));
      const __m256 x = _mm256_loadu_ps(a.x + e + 8 * q);
      const __m256 kept = a.c_keep == 0.0f ? _mm256_mul_ps(x, m) : _mm256_add_ps(_mm256_mul_ps(x, m), ck);
      _mm256_storeu_ps(a.y + e + 8 * q, _mm256_blendv_ps(kept, cd, dropped));
    }
  }
};
#endif

// The fast path over [i0, i1): vector Philox for Bernoulli where the ISA has it, else blocks.
template <class V>
void run(const NoiseArgs& a, int64_t i0, int64_t i1) {
  if constexpr (Lanes<V>::ok) {
    if (a.kind == kBernoulli && i0 % 4 == 0) {
      constexpr int64_t step = 4 * V::W;
      int64_t e = i0;
      for (; e + step <= i1; e += step) Lanes<V>::run(a, e);
      i0 = e;
    }
  }
  if (i0 < i1) blocks<V>(a, i0, i1);
}

}  // namespace noise_kernel
}  // namespace fastdnn
