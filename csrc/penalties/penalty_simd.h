// The L1/L2 penalty over one range, vectorised over SIMD traits V (formula in penalty_kernel.h):
//   returns l1·Σ|w| + l2·Σw² (float64), and with g: g += l1·sign(w) + 2·l2·w (penalty_rule.h's
//   l1l2_grad on vector registers).
// Sums run in float32 lanes (four accumulators of V::W lanes) and are flushed to float64 every
// kFlush values, so a long tensor keeps float64-like accuracy at float32 speed.
#pragma once
#include <cstdint>

#include "penalty_rule.h"

namespace fastdnn {
namespace penalty_kernel {

constexpr int64_t kFlush = 4096;

template <class V>
double weight_penalty(const float* w, float* g, int64_t n, float l1, float l2) {
  using R = typename V::reg;
  const R vl1 = V::set1(l1), vtwo_l2 = V::set1(2.0f * l2), zero = V::zero();
  double abs_sum = 0, sq_sum = 0;
  for (int64_t b = 0; b < n; b += kFlush) {
    const int64_t end = b + kFlush < n ? b + kFlush : n;
    R a0 = zero, a1 = zero, s0 = zero, s1 = zero;
    int64_t i = b;
    auto grad = [&](int64_t at, R x) {
      V::store(g + at, V::add(V::load(g + at), penalty_rule::l1l2_grad<V>(x, vl1, vtwo_l2)));
    };
    for (; i + 2 * V::W <= end; i += 2 * V::W) {
      const R x0 = V::load(w + i), x1 = V::load(w + i + V::W);
      a0 = V::add(a0, V::abs(x0)), a1 = V::add(a1, V::abs(x1));
      s0 = V::fma(x0, x0, s0), s1 = V::fma(x1, x1, s1);
      if (g) grad(i, x0), grad(i + V::W, x1);
    }
    for (; i < end; i += V::W) {
      const int k = end - i < V::W ? (int)(end - i) : V::W;
      const R x = V::load_n(w + i, k);  // zeros past the end add nothing
      a0 = V::add(a0, V::abs(x)), s0 = V::fma(x, x, s0);
      if (g) V::store_n(g + i, V::add(V::load_n(g + i, k), penalty_rule::l1l2_grad<V>(x, vl1, vtwo_l2)), k);
    }
    abs_sum += (double)V::hsum(V::add(a0, a1));
    sq_sum += (double)V::hsum(V::add(s0, s1));
  }
  return (double)l1 * abs_sum + (double)l2 * sq_sum;
}

}  // namespace penalty_kernel
}  // namespace fastdnn
