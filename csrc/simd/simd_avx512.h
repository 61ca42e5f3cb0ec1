// SIMD traits for AVX-512 (16 float lanes). Included only by files compiled with -mavx512f.
#pragma once
#include <immintrin.h>
#include <cstdint>

namespace fastdnn::simd {

struct Avx512 {
  static constexpr int W = 16;
  static constexpr const char* name = "avx512";
  using reg = __m512;
  using mask = __mmask16;

  static inline reg zero() { return _mm512_setzero_ps(); }
  static inline reg set1(float x) { return _mm512_set1_ps(x); }
  static inline reg load(const float* p) { return _mm512_loadu_ps(p); }
  static inline void store(float* p, reg v) { _mm512_storeu_ps(p, v); }
  static inline mask tail(int n) { return (mask)((1u << n) - 1u); }
  static inline reg load_n(const float* p, int n) { return _mm512_maskz_loadu_ps(tail(n), p); }
  static inline void store_n(float* p, reg v, int n) { _mm512_mask_storeu_ps(p, tail(n), v); }
  static inline reg bcast(const float* p) { return _mm512_set1_ps(*p); }

  static inline reg add(reg a, reg b) { return _mm512_add_ps(a, b); }
  static inline reg sub(reg a, reg b) { return _mm512_sub_ps(a, b); }
  static inline reg mul(reg a, reg b) { return _mm512_mul_ps(a, b); }
  static inline reg div(reg a, reg b) { return _mm512_div_ps(a, b); }
  static inline reg fma(reg a, reg b, reg c) { return _mm512_fmadd_ps(a, b, c); }
  // max/min return the second operand when either is NaN (x86 semantics).
  static inline reg max(reg a, reg b) { return _mm512_max_ps(a, b); }
  static inline reg min(reg a, reg b) { return _mm512_min_ps(a, b); }
  static inline reg abs(reg a) { return _mm512_abs_ps(a); }
  static inline reg neg(reg a) { return _mm512_xor_ps(a, _mm512_set1_ps(-0.0f)); }
  static inline reg copysign(reg mag, reg sgn) {
    const __m512 s = _mm512_set1_ps(-0.0f);
    return _mm512_or_ps(_mm512_andnot_ps(s, mag), _mm512_and_ps(s, sgn));
  }
  static inline mask gt(reg a, reg b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
  static inline mask lt(reg a, reg b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
  static inline mask isnan(reg a) { return _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q); }
  static inline reg select(mask m, reg if_true, reg if_false) {
    return _mm512_mask_blend_ps(m, if_false, if_true);
  }
  static inline float hsum(reg a) { return _mm512_reduce_add_ps(a); }
  static inline float hmax(reg a) { return _mm512_reduce_max_ps(a); }
  static inline reg round(reg a) {
    return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  // 2^n for integral-valued n in [-126, 127].
  static inline reg pow2i(reg n) {
    __m512i i = _mm512_cvtps_epi32(n);
    i = _mm512_slli_epi32(_mm512_add_epi32(i, _mm512_set1_epi32(127)), 23);
    return _mm512_castsi512_ps(i);
  }
};

}  // namespace fastdnn::simd
