// Float64 reference of the training statistics (stats.h): one plain loop per quantity.
#include <cmath>
#include <vector>

#include "stats.h"

namespace fastdnn {

ActivationStats activation_stats_reference(const float* x, int64_t rows, int64_t cols, float low,
                                           float high, float tolerance) {
  ActivationStats s;
  const double lo = low, hi = high, tol = tolerance;
  for (int64_t c = 0; c < cols && rows > 0; ++c) {
    bool all_zero = true, all_saturated = tolerance >= 0;
    for (int64_t r = 0; r < rows; ++r) {
      const double v = x[r * cols + c];
      s.sum += v;
      s.sum_squares += v * v;
      if (!std::isfinite(v)) ++s.nonfinite;
      if (v != 0) all_zero = false;
      const bool saturated = tolerance >= 0 && (std::fabs(v - lo) <= tol || std::fabs(v - hi) <= tol);
      if (saturated) ++s.saturated_values;
      else all_saturated = false;
    }
    s.dead_units += all_zero;
    s.saturated_units += all_saturated;
  }
  return s;
}

double sum_squares_reference(const float* v, const float* u, int64_t i0, int64_t i1, float clipvalue,
                             float* copy) {
  double s = 0;
  for (int64_t i = i0; i < i1; ++i) {
    if (copy) copy[i] = v[i];
    double d = u ? (double)v[i] - (double)u[i] : (double)v[i];
    if (clipvalue > 0) d = d < -clipvalue ? -(double)clipvalue : d > clipvalue ? (double)clipvalue : d;  // NaN stays NaN
    s += d * d;
  }
  return s;
}

}  // namespace fastdnn
