// The optimizer update rules (Keras 3's, keras/src/optimizers/*.py), one element at a time, for
// the host and the GPU (core/hd.h): the CPU kernels (optim_kernel.h) loop over them, the CUDA
// kernel (cuda/optim.cu) runs one per thread. Step-dependent scalars (bias corrections, Nadam's
// momentum schedule) arrive precomputed in coef[0..2] from Python:
//   SGD      m = μm - lr·g; w += m (nesterov: w += μm - lr·g); μ = 0: w -= lr·g
//   Adagrad  a += g²; w -= lr·g / √(a + ε)
//   RMSprop  v = ρv + (1-ρ)g²; [c = ρc + (1-ρ)g; d = v - c² + ε | d = v + ε];
//            Δ = lr·g/√d; [m = μm + Δ; w -= m | w -= Δ]
//   Adam     m += (g-m)(1-β1); v += (g²-v)(1-β2); [v̂ = max(v̂, v)]; w -= coef0·m / (√v + ε)
//   Adamax   m += (g-m)(1-β1); u = max(β2·u, |g|); w -= coef0·m / (u + ε)
//   Nadam    m, v as Adam; w -= lr·(coef0·m + coef1·g) / (√(coef2·v) + ε)
// Before the rule: g scaled by the norm clipping's factor, then clamped to ±clipvalue (when
// > 0); w -= lr·wd·w (decoupled weight decay). The independent float64 reference is
// optim_ref.cpp.
#pragma once
#include <cmath>
#include <cstdint>

#include "../core/codes.h"
#include "../core/hd.h"

namespace fastdnn {

// One optimizer step's settings, as the bindings read them from Python's dict.
struct OptimHyper {
  int kind;  // OptimKind
  float lr, beta1, beta2, eps, rho, momentum, weight_decay, clipvalue, clipnorm, global_clipnorm;
  bool nesterov, amsgrad, centered;
  float coef[3];
};

// One parameter tensor: weights, gradient and the rule's state arrays (slot_count of them).
struct OptimTensor {
  float* w;
  const float* g;
  float* s[3];
  int64_t n;
  float scale;  // the gradient's norm-clipping factor on the CPU (the CUDA kernel finds its own)
};

// State arrays per parameter: SGD m (with momentum); Adagrad a; RMSprop v [, m] [, c];
// Adam m, v [, v̂]; Adamax m, u; Nadam m, v.
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

namespace optim_rule {

// std::max and std::min's choice, host and device: the first operand unless the second is
// larger (smaller), so max(a, NaN) is a and max(NaN, b) is NaN.
FASTDNN_HD inline float max_of(float a, float b) { return a < b ? b : a; }
FASTDNN_HD inline float min_of(float a, float b) { return b < a ? b : a; }

// A rule with its flags as compile-time constants: Flag1 is SGD's and RMSprop's momentum and
// Adam's amsgrad, Flag2 SGD's nesterov and RMSprop's centered.
template <int K, bool Flag1, bool Flag2>
struct Rule {
  static constexpr int kind = K;
  static constexpr bool flag1 = Flag1, flag2 = Flag2;
};

// Calls f(Rule<...>{}) with h's rule, so that f instantiates one branch-free body per rule.
template <class F>
FASTDNN_HD inline void with_rule(const OptimHyper& h, F&& f) {
  const bool mom = h.momentum > 0;
  switch (h.kind) {
    case kSgd:
      if (!mom) return f(Rule<kSgd, false, false>{});
      return h.nesterov ? f(Rule<kSgd, true, true>{}) : f(Rule<kSgd, true, false>{});
    case kAdagrad: return f(Rule<kAdagrad, false, false>{});
    case kRmsprop:
      if (mom) return h.centered ? f(Rule<kRmsprop, true, true>{}) : f(Rule<kRmsprop, true, false>{});
      return h.centered ? f(Rule<kRmsprop, false, true>{}) : f(Rule<kRmsprop, false, false>{});
    case kAdam: return h.amsgrad ? f(Rule<kAdam, true, false>{}) : f(Rule<kAdam, false, false>{});
    case kAdamax: return f(Rule<kAdamax, false, false>{});
    case kNadam: return f(Rule<kNadam, false, false>{});
  }
}

// Element i: its gradient scaled by `scale` and clipped, weight decay, then rule K on w[i] and
// the state s0..s2 (only those the rule has are touched). Isa only keeps the copies of the CPU
// files compiled with different ISA flags (csrc/isa/*.cpp) distinct, should one not be inlined.
template <int K, bool Flag1, bool Flag2, class Isa = void>
FASTDNN_HD inline void step(const OptimHyper& h, float scale, float* w, const float* gp, float* s0, float* s1,
                            float* s2, int64_t i) {
  const float lr = h.lr, eps = h.eps, cv = h.clipvalue, wd = h.weight_decay * h.lr;
  const float b1 = h.beta1, b2 = h.beta2, rho = h.rho, mu = h.momentum;
  const float c0 = h.coef[0], c1 = h.coef[1], c2 = h.coef[2];
  float g = gp[i] * scale;
  if (cv > 0) g = min_of(max_of(g, -cv), cv);  // this operand order keeps a NaN gradient NaN
  float wi = w[i];
  if (wd != 0) wi -= wd * wi;
  if constexpr (K == kSgd) {
    if constexpr (Flag1) {
      const float m = s0[i] = mu * s0[i] - lr * g;
      wi += Flag2 ? mu * m - lr * g : m;
    } else {
      wi -= lr * g;
    }
  } else if constexpr (K == kAdagrad) {
    const float a = s0[i] = s0[i] + g * g;
    wi -= lr * g / sqrtf(a + eps);
  } else if constexpr (K == kRmsprop) {
    const float v = s0[i] = rho * s0[i] + (1 - rho) * g * g;
    float den = v + eps;
    if constexpr (Flag2) {
      float* c = Flag1 ? s2 : s1;
      const float ci = c[i] = rho * c[i] + (1 - rho) * g;
      den = v - ci * ci + eps;
    }
    const float inc = lr * g / sqrtf(den);
    if constexpr (Flag1) {
      const float m = s1[i] = mu * s1[i] + inc;
      wi -= m;
    } else {
      wi -= inc;
    }
  } else if constexpr (K == kAdam) {
    const float m = s0[i] = s0[i] + (g - s0[i]) * (1 - b1);
    float v = s1[i] = s1[i] + (g * g - s1[i]) * (1 - b2);
    if constexpr (Flag1) v = s2[i] = max_of(s2[i], v);
    wi -= c0 * m / (sqrtf(v) + eps);
  } else if constexpr (K == kAdamax) {
    const float m = s0[i] = s0[i] + (g - s0[i]) * (1 - b1);
    const float u = s1[i] = max_of(b2 * s1[i], fabsf(g));
    wi -= c0 * m / (u + eps);
  } else {
    static_assert(K == kNadam, "unhandled optimizer");
    const float m = s0[i] = s0[i] + (g - s0[i]) * (1 - b1);
    const float v = s1[i] = s1[i] + (g * g - s1[i]) * (1 - b2);
    wi -= lr * (c0 * m + c1 * g) / (sqrtf(c2 * v) + eps);
  }
  w[i] = wi;
}

}  // namespace optim_rule
}  // namespace fastdnn
