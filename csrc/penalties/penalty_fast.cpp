// Fast float32 weight penalties and constraints (formulas in penalty_kernel.h). The penalty's
// sums are OpenMP simd reductions (this file is built with -fopenmp-simd: vectorised without
// -ffast-math, no OpenMP runtime), flushed to float64 every block, so long tensors lose no
// accuracy.
#include <algorithm>
#include <cmath>
#include <vector>

#include "penalty_kernel.h"

namespace fastdnn {

namespace {
constexpr int64_t kBlock = 4096;  // values summed in float32 lanes before a float64 flush
}  // namespace

// Σ|w| and Σw² of n values in float32 (vectorised as an OpenMP simd reduction), added to the
// float64 sums; with G, also g += l1·sign(w) + 2·l2·w.
template <bool G>
void penalty_block(const float* __restrict w, float* __restrict g, int64_t n, float l1, float two_l2,
                   double* abs_sum, double* sq_sum) {
  float a = 0, s = 0;
#pragma omp simd simdlen(16) reduction(+ : a, s)
  for (int64_t i = 0; i < n; ++i) {
    const float x = w[i];
    a += std::fabs(x);
    s += x * x;
    if (G) g[i] += l1 * ((float)(x > 0.0f) - (float)(x < 0.0f)) + two_l2 * x;
  }
  *abs_sum += a, *sq_sum += s;
}

double penalty_fast(const float* w, float* g, int64_t i0, int64_t i1, float l1, float l2) {
  const float two_l2 = 2.0f * l2;
  double abs_sum = 0, sq_sum = 0;
  for (int64_t i = i0; i < i1; i += kBlock) {
    const int64_t n = std::min(kBlock, i1 - i);
    if (g)
      penalty_block<true>(w + i, g + i, n, l1, two_l2, &abs_sum, &sq_sum);
    else
      penalty_block<false>(w + i, nullptr, n, l1, two_l2, &abs_sum, &sq_sum);
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
