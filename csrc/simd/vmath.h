// Vector math over any SIMD traits V (simd_avx512.h, simd_avx2.h, simd_portable.h):
// exp and expm1 on x <= 0, and the activation functions used by the dense epilogue (formulas and
// constants: activations/act_rule.h, whose one-value forms use the C library's exp instead).
// Every function returns NaN for a NaN lane (IEEE propagation), never a silent 0.
// Reference: float64 NumPy of the same formulas in tests/test_dense.py.
#pragma once
#include "../activations/act_rule.h"

namespace fastdnn::vmath {

// exp and expm1 for x <= 0 share one range reduction: x = n·ln2 + r with |r| <= ln2/2, so
// exp(x) = 2^n·(1 + p) and expm1(x) = 2^n·p + (2^n - 1), where p = expm1(r) by its Taylor series
// to r^7 (truncation below 2e-8 relative). expm1 stays accurate near 0, where n = 0 and the
// result is p itself. Below -87.3, exp flushes to 0 and expm1 to -1. NaN lanes stay NaN.
template <class V>
struct ExpParts {
  typename V::reg scale, p;  // 2^n and expm1(r)
};

template <class V>
inline ExpParts<V> exp_parts(typename V::reg x) {
  using R = typename V::reg;
  const R xc = V::max(x, V::set1(-87.3365447504f));  // NaN lanes become the bound; see callers
  const R n = V::round(V::mul(xc, V::set1(1.44269504088896341f)));
  R r = V::fma(n, V::set1(-0.693359375f), xc);
  r = V::fma(n, V::set1(2.12194440e-4f), r);
  R p = V::set1(1.0f / 5040.0f);
  p = V::fma(p, r, V::set1(1.0f / 720.0f));
  p = V::fma(p, r, V::set1(1.0f / 120.0f));
  p = V::fma(p, r, V::set1(1.0f / 24.0f));
  p = V::fma(p, r, V::set1(1.0f / 6.0f));
  p = V::fma(p, r, V::set1(0.5f));
  p = V::fma(V::mul(p, r), r, r);
  return {V::pow2i(n), p};
}

// exp(x) for x <= 0.
template <class V>
inline typename V::reg exp_neg(typename V::reg x) {
  const ExpParts<V> e = exp_parts<V>(x);
  const typename V::reg y = V::fma(e.scale, e.p, e.scale);
  return V::select(V::lt(x, V::set1(-87.3365447504f)), V::zero(),
                   V::select(V::isnan(x), x, y));
}

// exp(x) - 1 for x <= 0.
template <class V>
inline typename V::reg expm1_neg(typename V::reg x) {
  const ExpParts<V> e = exp_parts<V>(x);
  const typename V::reg y = V::fma(e.scale, e.p, V::sub(e.scale, V::set1(1.0f)));
  return V::select(V::lt(x, V::set1(-87.3365447504f)), V::set1(-1.0f),
                   V::select(V::isnan(x), x, y));
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

// Activation A applied to one register. Operand order keeps NaN lanes NaN (x86 max/min return
// their second operand when either is NaN).
template <class V, Act A>
inline typename V::reg activate(typename V::reg x, float alpha) {
  using R = typename V::reg;
  const R zero = V::zero();
  if constexpr (A == Act::kIdentity) {
    return x;
  } else if constexpr (A == Act::kRelu) {
    return V::max(zero, x);
  } else if constexpr (A == Act::kLeakyRelu) {
    return V::select(V::gt(x, zero), x, V::mul(V::set1(alpha), x));
  } else if constexpr (A == Act::kElu) {
    return V::select(V::gt(x, zero), x, V::mul(V::set1(alpha), expm1_neg<V>(V::min(zero, x))));
  } else if constexpr (A == Act::kSelu) {
    const R neg = V::mul(V::set1(kSeluAlpha), expm1_neg<V>(V::min(zero, x)));
    return V::mul(V::set1(kSeluScale), V::select(V::gt(x, zero), x, neg));
  } else if constexpr (A == Act::kSigmoid) {
    return sigmoid<V>(x);
  } else {
    static_assert(A == Act::kTanh, "unhandled activation");
    return tanh<V>(x);
  }
}

// One output row of the dense epilogue: z = y + bias; optionally keep z; y = act(z).
template <class V, Act A>
inline void epilogue_row(float* y, const float* bias, float* z, int n, float alpha) {
  constexpr int W = V::W;
  int j = 0;
  for (; j + W <= n; j += W) {
    auto v = V::load(y + j);
    if (bias) v = V::add(v, V::load(bias + j));
    if (z) V::store(z + j, v);
    V::store(y + j, activate<V, A>(v, alpha));
  }
  if (j < n) {
    const int r = n - j;
    auto v = V::load_n(y + j, r);
    if (bias) v = V::add(v, V::load_n(bias + j, r));
    if (z) V::store_n(z + j, v, r);
    V::store_n(y + j, activate<V, A>(v, alpha), r);
  }
}

template <class V>
inline void epilogue_row(float* y, const float* bias, float* z, int n, Act act, float alpha) {
  switch (act) {
    case Act::kIdentity: return epilogue_row<V, Act::kIdentity>(y, bias, z, n, alpha);
    case Act::kRelu: return epilogue_row<V, Act::kRelu>(y, bias, z, n, alpha);
    case Act::kLeakyRelu: return epilogue_row<V, Act::kLeakyRelu>(y, bias, z, n, alpha);
    case Act::kElu: return epilogue_row<V, Act::kElu>(y, bias, z, n, alpha);
    case Act::kSelu: return epilogue_row<V, Act::kSelu>(y, bias, z, n, alpha);
    case Act::kSigmoid: return epilogue_row<V, Act::kSigmoid>(y, bias, z, n, alpha);
    case Act::kTanh: return epilogue_row<V, Act::kTanh>(y, bias, z, n, alpha);
  }
}

}  // namespace fastdnn::vmath
