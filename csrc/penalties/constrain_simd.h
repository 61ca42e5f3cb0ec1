// Fast float32 weight constraints (formulas in penalty_kernel.h), compiled once per ISA: each
// csrc/isa/*.cpp instantiates constrain<V> with its own flags (isa_table.h), as the penalty's
// vectorised kernel (penalty_simd.h).
#pragma once
#include <algorithm>
#include <cmath>
#include <vector>

#include "penalty_kernel.h"

namespace fastdnn {
namespace penalty_kernel {

// Constrains columns [c0, c1) of rows [o0, o1) of an outer × red × inner tensor. The column
// loops over `inner` vectorise with the including file's ISA flags; V (that file's SIMD traits)
// only gives each ISA its own instantiation.
template <class V>
void constrain(float* __restrict w, int64_t red, int64_t inner, int64_t o0, int64_t o1, int64_t c0,
               int64_t c1, const ConstraintSpec& c) {
  const int64_t width = c1 - c0;
  if (c.kind == kNonNeg) {
    for (int64_t o = o0; o < o1; ++o)
      for (int64_t r = 0; r < red; ++r) {
        float* row = w + (o * red + r) * inner;
        for (int64_t j = c0; j < c1; ++j) row[j] *= row[j] >= 0.0f ? 1.0f : 0.0f;
      }
    return;
  }
  std::vector<double> sq(width);
  std::vector<float> scale(width);
  for (int64_t o = o0; o < o1; ++o) {
    float* block = w + o * red * inner;
    std::fill(sq.begin(), sq.end(), 0.0);
    for (int64_t r = 0; r < red; ++r) {  // squares summed down the reduced axis, rows in order
      const float* row = block + r * inner + c0;
      for (int64_t j = 0; j < width; ++j) sq[j] += (double)row[j] * row[j];
    }
    for (int64_t j = 0; j < width; ++j) scale[j] = (float)penalty_rule::constraint_scale(c, std::sqrt(sq[j]));
    for (int64_t r = 0; r < red; ++r) {
      float* row = block + r * inner + c0;
      for (int64_t j = 0; j < width; ++j) row[j] *= scale[j];
    }
  }
}

}  // namespace penalty_kernel
}  // namespace fastdnn
