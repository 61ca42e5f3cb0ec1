// The activations of core/codes.h element by element, for the host and the GPU (core/hd.h):
// the value from the pre-activation z, the derivative from the output y = act(z), so a layer
// keeps only its output for the backward pass.
//   identity  z                                   1
//   relu      z > 0 ? z : 0 (a NaN stays NaN)     y > 0 ? 1 : 0
//   leaky     z > 0 ? z : α·z                     y > 0 ? 1 : α
//   elu       z > 0 ? z : α·(exp(z) − 1)          y > 0 ? 1 : y + α            (α > 0)
//   selu      λ·(z > 0 ? z : a·(exp(z) − 1))      y > 0 ? λ : y + λ·a          (λ, a below)
//   sigmoid   1 / (1 + exp(−z))                   y·(1 − y)
//   tanh      tanh(z)                             1 − y²
// grad is written over SIMD traits V: the CPU kernels (act_kernel.h) run it on vector registers,
// the CUDA kernels on one value (simd::Lane). value is the one-value form with the C library's
// exp, expm1 and tanh (CUDA kernels); the CPU's vector forms, with their own exp, are
// simd/vmath.h's activate. The independent float64 reference is act_ref.cpp.
#pragma once
#include <cmath>

#include "../core/codes.h"
#include "../core/hd.h"
#include "../simd/lane.h"

namespace fastdnn {

// SELU's fixed constants (Klambauer et al. 2017), as Keras: in double for fastdnn._C.SELU_ALPHA
// and SELU_SCALE (Python's alpha-dropout coefficients), rounded to float for the kernels.
constexpr double kSeluAlpha64 = 1.6732632423543772848170429916717;
constexpr double kSeluScale64 = 1.0507009873554804934193349852946;
constexpr float kSeluAlpha = (float)kSeluAlpha64;
constexpr float kSeluScale = (float)kSeluScale64;

namespace act_rule {

// act'(z) from y = act(z), on each lane of y.
template <class V, Act A>
FASTDNN_HD inline typename V::reg grad(typename V::reg y, float alpha) {
  using R = typename V::reg;
  const R one = V::set1(1.0f), zero = V::zero();
  if constexpr (A == Act::kIdentity) return one;
  else if constexpr (A == Act::kRelu) return V::select(V::gt(y, zero), one, zero);
  else if constexpr (A == Act::kLeakyRelu) return V::select(V::gt(y, zero), one, V::set1(alpha));
  else if constexpr (A == Act::kElu) return V::select(V::gt(y, zero), one, V::add(y, V::set1(alpha)));
  else if constexpr (A == Act::kSelu)
    return V::select(V::gt(y, zero), V::set1(kSeluScale), V::add(y, V::set1(kSeluScale * kSeluAlpha)));
  else if constexpr (A == Act::kSigmoid) return V::mul(y, V::sub(one, y));
  else return V::fma(V::neg(y), y, one);  // tanh
}

// act(x) of one value.
template <Act A>
FASTDNN_HD inline float value(float x, float alpha) {
  if constexpr (A == Act::kIdentity) return x;
  else if constexpr (A == Act::kRelu) return x > 0.0f ? x : (x != x ? x : 0.0f);
  else if constexpr (A == Act::kLeakyRelu) return x > 0.0f ? x : alpha * x;
  else if constexpr (A == Act::kElu) return x > 0.0f ? x : alpha * expm1f(x);
  else if constexpr (A == Act::kSelu) return kSeluScale * (x > 0.0f ? x : kSeluAlpha * expm1f(x));
  else if constexpr (A == Act::kSigmoid) return 1.0f / (1.0f + expf(-x));
  else return tanhf(x);
}

// The same with the code chosen at run time (codes checked by the bindings).
FASTDNN_HD inline float value(Act act, float alpha, float x) {
  switch (act) {
    case Act::kIdentity: return value<Act::kIdentity>(x, alpha);
    case Act::kRelu: return value<Act::kRelu>(x, alpha);
    case Act::kLeakyRelu: return value<Act::kLeakyRelu>(x, alpha);
    case Act::kElu: return value<Act::kElu>(x, alpha);
    case Act::kSelu: return value<Act::kSelu>(x, alpha);
    case Act::kSigmoid: return value<Act::kSigmoid>(x, alpha);
    case Act::kTanh: return value<Act::kTanh>(x, alpha);
  }
  return x;
}

FASTDNN_HD inline float grad(Act act, float alpha, float y) {
  using L = simd::Lane<float>;
  switch (act) {
    case Act::kIdentity: return grad<L, Act::kIdentity>(y, alpha);
    case Act::kRelu: return grad<L, Act::kRelu>(y, alpha);
    case Act::kLeakyRelu: return grad<L, Act::kLeakyRelu>(y, alpha);
    case Act::kElu: return grad<L, Act::kElu>(y, alpha);
    case Act::kSelu: return grad<L, Act::kSelu>(y, alpha);
    case Act::kSigmoid: return grad<L, Act::kSigmoid>(y, alpha);
    case Act::kTanh: return grad<L, Act::kTanh>(y, alpha);
  }
  return 1.0f;
}

}  // namespace act_rule
}  // namespace fastdnn
