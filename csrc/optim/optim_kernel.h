// Optimizer update rules (Keras 3's), element-wise over one tensor range, instantiated per ISA
// (csrc/isa/*.cpp) so the compiler vectorises them with that ISA's registers. The rule is a
// template parameter and the flags are hoisted, so each loop is branch-free.
// Entry point and clipping: optim_op.cpp. Reference: tests/test_optimizers.py (float64).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "../core/codes.h"

namespace fastdnn {

struct OptimHyper {
  int kind;
  float lr, beta1, beta2, eps, rho, momentum, weight_decay, clipvalue;
  bool nesterov, amsgrad, centered;
  float coef[3];
};

struct OptimTensor {
  float* w;
  const float* g;
  float* s[3];  // optimizer state, by kind (see slot_count)
  int64_t n;
  float scale;  // gradient scale from norm clipping
};

inline int slot_count(const OptimHyper& h) {
  switch (h.kind) {
    case kSgd: return h.momentum > 0 ? 1 : 0;
    case kAdagrad: return 1;
    case kRmsprop: return 1 + (h.momentum > 0) + h.centered;
    case kAdam: return 2 + h.amsgrad;
    case kAdamax: return 2;
    case kNadam: return 2;
  }
  return 0;
}

}  // namespace fastdnn

namespace fastdnn::optim_kernel {

template <int K, bool Flag1, bool Flag2, class V>
void rule(const OptimHyper& h, const OptimTensor& t, int64_t i0, int64_t i1) {
  float* __restrict w = t.w;
  const float* __restrict gp = t.g;
  float* __restrict s0 = t.s[0];
  float* __restrict s1 = t.s[1];
  float* __restrict s2 = t.s[2];
  const float lr = h.lr, eps = h.eps, cv = h.clipvalue, wd = h.weight_decay * h.lr, scale = t.scale;
  const float b1 = h.beta1, b2 = h.beta2, rho = h.rho, mu = h.momentum;
  const float c0 = h.coef[0], c1 = h.coef[1], c2 = h.coef[2];
  const bool clipping = cv > 0, decaying = wd != 0;
  for (int64_t i = i0; i < i1; ++i) {
    float g = gp[i] * scale;
    if (clipping) g = std::min(std::max(g, -cv), cv);  // this operand order keeps a NaN gradient NaN
    float wi = w[i];
    if (decaying) wi -= wd * wi;
    if constexpr (K == kSgd) {  // Flag1: momentum, Flag2: nesterov
      if constexpr (Flag1) {
        const float m = s0[i] = mu * s0[i] - lr * g;
        wi += Flag2 ? mu * m - lr * g : m;
      } else {
        wi -= lr * g;
      }
    } else if constexpr (K == kAdagrad) {
      const float a = s0[i] = s0[i] + g * g;
      wi -= lr * g / std::sqrt(a + eps);
    } else if constexpr (K == kRmsprop) {  // Flag1: momentum, Flag2: centered
      const float v = s0[i] = rho * s0[i] + (1 - rho) * g * g;
      float den = v + eps;
      if constexpr (Flag2) {
        float* c = Flag1 ? s2 : s1;
        const float ci = c[i] = rho * c[i] + (1 - rho) * g;
        den = v - ci * ci + eps;
      }
      const float inc = lr * g / std::sqrt(den);
      if constexpr (Flag1) {
        const float m = s1[i] = mu * s1[i] + inc;
        wi -= m;
      } else {
        wi -= inc;
      }
    } else if constexpr (K == kAdam) {  // Flag1: amsgrad
      const float m = s0[i] = s0[i] + (g - s0[i]) * (1 - b1);
      float v = s1[i] = s1[i] + (g * g - s1[i]) * (1 - b2);
      if constexpr (Flag1) v = s2[i] = std::max(s2[i], v);
      wi -= c0 * m / (std::sqrt(v) + eps);
    } else if constexpr (K == kAdamax) {
      const float m = s0[i] = s0[i] + (g - s0[i]) * (1 - b1);
      const float u = s1[i] = std::max(b2 * s1[i], std::fabs(g));
      wi -= c0 * m / (u + eps);
    } else {  // Nadam
      const float m = s0[i] = s0[i] + (g - s0[i]) * (1 - b1);
      const float v = s1[i] = s1[i] + (g * g - s1[i]) * (1 - b2);
      wi -= lr * (c0 * m + c1 * g) / (std::sqrt(c2 * v) + eps);
    }
    w[i] = wi;
  }
}

// Applies h's rule to elements [i0, i1) of one tensor. V (the ISA's SIMD traits) only keeps
// each ISA file's instantiation distinct; the loops are vectorised by the compiler.
template <class V>
void update(const OptimHyper& h, const OptimTensor& t, int64_t i0, int64_t i1) {
  const bool mom = h.momentum > 0;
  switch (h.kind) {
    case kSgd:
      return mom ? (h.nesterov ? rule<kSgd, true, true, V>(h, t, i0, i1) : rule<kSgd, true, false, V>(h, t, i0, i1))
                 : rule<kSgd, false, false, V>(h, t, i0, i1);
    case kAdagrad: return rule<kAdagrad, false, false, V>(h, t, i0, i1);
    case kRmsprop:
      if (mom) return h.centered ? rule<kRmsprop, true, true, V>(h, t, i0, i1) : rule<kRmsprop, true, false, V>(h, t, i0, i1);
      return h.centered ? rule<kRmsprop, false, true, V>(h, t, i0, i1) : rule<kRmsprop, false, false, V>(h, t, i0, i1);
    case kAdam: return h.amsgrad ? rule<kAdam, true, false, V>(h, t, i0, i1) : rule<kAdam, false, false, V>(h, t, i0, i1);
    case kAdamax: return rule<kAdamax, false, false, V>(h, t, i0, i1);
    case kNadam: return rule<kNadam, false, false, V>(h, t, i0, i1);
  }
}

}  // namespace fastdnn::optim_kernel
