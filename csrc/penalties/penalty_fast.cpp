// Fast float32 weight penalties and constraints (formulas in penalty_kernel.h). Loops are
// written over fixed-width lane arrays so the compiler vectorises them without -ffast-math;
// sums go to float64 every block, so long tensors lose no accuracy.
#include <algorithm>
#include <cmath>
#include <vector>

#include "penalty_kernel.h"

namespace fastdnn {

namespace {
constexpr int kLanes = 16;
constexpr int64_t kBlock = 4096;  // values summed in float32 lanes before a float64 flush
}  // namespace

double penalty_fast(const float* __restrict w, float* __restrict g, int64_t i0, int64_t i1, float l1,
                    float l2) {
  const float two_l2 = 2.0f * l2;
  double abs_sum = 0, sq_sum = 0;
  int64_t i = i0;
  while (i + kLanes <= i1) {
    float a[kLanes] = {}, s[kLanes] = {};
    const int64_t end = std::min(i1, i + kBlock);
    for (; i + kLanes <= end; i += kLanes) {
      for (int j = 0; j < kLanes; ++j) {
        const float x = w[i + j];
        a[j] += std::fabs(x);
        s[j] += x * x;
      }
      if (g)
        for (int j = 0; j < kLanes; ++j) {
          const float x = w[i + j];
          const float sign = (float)(x > 0.0f) - (float)(x < 0.0f);
          g[i + j] += l1 * sign + two_l2 * x;
        }
    }
    float ab = 0, sb = 0;
    for (int j = 0; j < kLanes; ++j) ab += a[j], sb += s[j];
    abs_sum += ab, sq_sum += sb;
  }
  for (; i < i1; ++i) {
    const float x = w[i];
    abs_sum += std::fabs(x), sq_sum += (double)x * x;
    if (g) g[i] += l1 * ((float)(x > 0.0f) - (float)(x < 0.0f)) + two_l2 * x;
  }
  return (double)l1 * abs_sum + (double)l2 * sq_sum;
}

void constrain_fast(float* __restrict w, int64_t red, int64_t inner, int64_t o0, int64_t o1, int64_t c0,
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
    for (int64_t j = 0; j < width; ++j) scale[j] = (float)constraint_scale(c, std::sqrt(sq[j]));
    for (int64_t r = 0; r < red; ++r) {
      float* row = block + r * inner + c0;
      for (int64_t j = 0; j < width; ++j) row[j] *= scale[j];
    }
  }
}

}  // namespace fastdnn
