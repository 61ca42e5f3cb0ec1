// Vector math over any SIMD traits V (simd_avx512.h, simd_avx2.h, simd_portable.h):
// exp on x <= 0, expm1 on x <= 0, and the activation functions used by the dense epilogue.
// Every function returns NaN for a NaN lane (IEEE propagation), never a silent 0.
// Reference: float64 NumPy of the same formulas in tests/test_dense.py.
#pragma once
#include "../core/activation.h"

namespace fastdnn::vmath {

// exp(x) for x <= 0 (Cephes polynomial, about 1 ulp). Below -87.33 the result flushes to 0.
template <class V>
inline typename V::reg exp_neg(typename V::reg x) {
  using R = typename V::reg;
  const R lo = V::set1(-87.3365447504f);
  R xc = V::max(x, lo);  // NaN lanes become lo here and are restored below
  R n = V::round(V::mul(xc, V::set1(1.44269504088896341f)));
  R r = V::fma(n, V::set1(-0.693359375f), xc);
  r = V::fma(n, V::set1(2.12194440e-4f), r);
  R p = V::set1(1.9875691500e-4f);
  p = V::fma(p, r, V::set1(1.3981999507e-3f));
  p = V::fma(p, r, V::set1(8.3334519073e-3f));
  p = V::fma(p, r, V::set1(4.1665795894e-2f));
  p = V::fma(p, r, V::set1(1.6666665459e-1f));
  p = V::fma(p, r, V::set1(5.0000001201e-1f));
  p = V::fma(p, V::mul(r, r), r);
  p = V::add(p, V::set1(1.0f));
  R y = V::mul(p, V::pow2i(n));
  y = V::select(V::lt(x, lo), V::zero(), y);
  return V::select(V::isnan(x), x, y);
}

// exp(x) - 1 for x <= 0, accurate near 0 (Taylor series where exp(x) - 1 would cancel).
template <class V>
inline typename V::reg expm1_neg(typename V::reg x) {
  using R = typename V::reg;
  R big = V::sub(exp_neg<V>(x), V::set1(1.0f));
  R p = V::set1(1.0f / 5040.0f);
  p = V::fma(p, x, V::set1(1.0f / 720.0f));
  p = V::fma(p, x, V::set1(1.0f / 120.0f));
  p = V::fma(p, x, V::set1(1.0f / 24.0f));
  p = V::fma(p, x, V::set1(1.0f / 6.0f));
  p = V::fma(p, x, V::set1(0.5f));
  R small = V::fma(V::mul(p, x), x, x);
  return V::select(V::gt(x, V::set1(-0.25f)), small, big);
}

template <class V>
inline typename V::reg sigmoid(typename V::reg x) {
  using R = typename V::reg;
  R e = exp_neg<V>(V::neg(V::abs(x)));          // exp(-|x|) in (0, 1]
  R s = V::div(V::set1(1.0f), V::add(V::set1(1.0f), e));
  return V::select(V::lt(x, V::zero()), V::mul(e, s), s);
}

template <class V>
inline typename V::reg tanh(typename V::reg x) {
  using R = typename V::reg;
  R ax = V::abs(x);
  R t = exp_neg<V>(V::mul(ax, V::set1(-2.0f)));
  R big = V::div(V::sub(V::set1(1.0f), t), V::add(V::set1(1.0f), t));
  // Odd Taylor series below 0.2, where 1 - exp(-2|x|) loses relative precision.
  R x2 = V::mul(ax, ax);
  R p = V::set1(62.0f / 2835.0f);
  p = V::fma(p, x2, V::set1(-17.0f / 315.0f));
  p = V::fma(p, x2, V::set1(2.0f / 15.0f));
  p = V::fma(p, x2, V::set1(-1.0f / 3.0f));
  R small = V::fma(V::mul(p, x2), ax, ax);
  R y = V::select(V::lt(ax, V::set1(0.2f)), small, big);
  return V::copysign(y, x);
}

// Applies activation `act` to one register. Operand order keeps NaN lanes NaN
// (x86 max/min return their second operand when either is NaN).
template <class V>
inline typename V::reg activate(Act act, float alpha, typename V::reg x) {
  using R = typename V::reg;
  const R zero = V::zero();
  switch (act) {
    case Act::kIdentity: return x;
    case Act::kRelu: return V::max(zero, x);
    case Act::kLeakyRelu: return V::select(V::gt(x, zero), x, V::mul(V::set1(alpha), x));
    case Act::kElu:
      return V::select(V::gt(x, zero), x, V::mul(V::set1(alpha), expm1_neg<V>(V::min(zero, x))));
    case Act::kSelu: {
      R neg = V::mul(V::set1(kSeluAlpha), expm1_neg<V>(V::min(zero, x)));
      return V::mul(V::set1(kSeluScale), V::select(V::gt(x, zero), x, neg));
    }
    case Act::kSigmoid: return sigmoid<V>(x);
    case Act::kTanh: return tanh<V>(x);
  }
  return x;
}

// One output row of the dense epilogue: z = y + bias; optionally keep z; y = act(z).
template <class V>
inline void epilogue_row(float* y, const float* bias, float* z, int n, Act act, float alpha) {
  constexpr int W = V::W;
  int j = 0;
  for (; j + W <= n; j += W) {
    auto v = V::load(y + j);
    if (bias) v = V::add(v, V::load(bias + j));
    if (z) V::store(z + j, v);
    V::store(y + j, activate<V>(act, alpha, v));
  }
  if (j < n) {
    const int r = n - j;
    auto v = V::load_n(y + j, r);
    if (bias) v = V::add(v, V::load_n(bias + j, r));
    if (z) V::store_n(z + j, v, r);
    V::store_n(y + j, activate<V>(act, alpha, v), r);
  }
}

}  // namespace fastdnn::vmath
