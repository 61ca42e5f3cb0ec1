// Softmax cross-entropy from logits, fused and numerically stable, over SIMD traits V;
// instantiated per ISA (csrc/isa/*.cpp). Per row r of logits x[rows, cols]:
//   lse = max + log Σ exp(x - max)
//   loss[r] = lse - x[label]                 (class indices)
//           = Σ_j t_j (lse - x_j)            (dense targets t)
//   dlogits[r, :] = (softmax(x)·Σt - t) · grad_scale
// Reference: xent_ref.cpp (float64).
#pragma once
#include <cmath>
#include <cstdint>

#include "../activations/act_kernel.h"

namespace fastdnn::xent_kernel {

template <class V>
void softmax_xent(const float* logits, int64_t rows, int64_t cols, const int64_t* labels,
                  const float* targets, float* loss, float* dlogits, float grad_scale) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = logits + r * cols;
    const float* t = targets ? targets + r * cols : nullptr;
    const float mx = act_kernel::row_max<V>(x, cols);
    float* p = dlogits ? dlogits + r * cols : nullptr;
    if (!std::isfinite(mx) || cols == 0) {
      loss[r] = NAN;
      for (int64_t j = 0; p && j < cols; ++j) p[j] = NAN;
      continue;
    }
    double sum = 0;
    if (p) {
      sum = act_kernel::exp_shifted_row<V>(x, p, cols, mx);
    } else {
      for (int64_t j = 0; j < cols; ++j) sum += std::exp((double)x[j] - mx);
    }
    const double lse = mx + std::log(sum);
    double tsum = 1.0;
    if (labels) {
      loss[r] = (float)(lse - x[labels[r]]);
    } else {
      double l = 0;
      tsum = 0;
      for (int64_t j = 0; j < cols; ++j) l += (double)t[j] * (lse - x[j]), tsum += t[j];
      loss[r] = (float)l;
    }
    if (p) {
      act_kernel::scale_row<V>(p, cols, (float)(tsum / sum * grad_scale));
      if (labels) p[labels[r]] -= grad_scale;
      else for (int64_t j = 0; j < cols; ++j) p[j] -= t[j] * grad_scale;
    }
  }
}

}  // namespace fastdnn::xent_kernel
