// Plain float64 reference of the weight penalties and constraints (formulas in penalty_kernel.h),
// written apart from the shared rules (penalty_rule.h) so that it checks them.
#include <algorithm>
#include <cmath>
#include <vector>

#include "penalty_kernel.h"

namespace fastdnn {

namespace {

// The norm a constraint asks for, divided by (ε + the norm it has).
double reference_scale(const ConstraintSpec& c, double norm) {
  double desired = 1.0;  // UnitNorm
  if (c.kind == kMaxNorm) desired = std::min(norm, c.max_value);
  if (c.kind == kMinMaxNorm) desired = c.rate * std::min(std::max(norm, c.min_value), c.max_value) + (1.0 - c.rate) * norm;
  return desired / (1e-7 + norm);  // keras.backend.epsilon()
}

}  // namespace

double penalty_reference(const float* w, float* g, int64_t n, float l1, float l2) {
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double x = w[i];
    total += (double)l1 * std::fabs(x) + (double)l2 * x * x;
    if (g) g[i] = (float)((double)g[i] + (double)l1 * ((x > 0) - (x < 0)) + 2.0 * (double)l2 * x);
  }
  return total;
}

void constrain_reference(float* w, int64_t red, int64_t inner, int64_t o0, int64_t o1, int64_t c0,
                         int64_t c1, const ConstraintSpec& c) {
  for (int64_t o = o0; o < o1; ++o) {
    float* block = w + o * red * inner;
    for (int64_t j = c0; j < c1; ++j) {
      if (c.kind == kNonNeg) {
        for (int64_t r = 0; r < red; ++r) {
          float& x = block[r * inner + j];
          x = (float)((double)x * (x >= 0 ? 1.0 : 0.0));
        }
        continue;
      }
      double sq = 0;
      for (int64_t r = 0; r < red; ++r) sq += (double)block[r * inner + j] * block[r * inner + j];
      const double scale = reference_scale(c, std::sqrt(sq));
      for (int64_t r = 0; r < red; ++r) block[r * inner + j] = (float)(block[r * inner + j] * scale);
    }
  }
}

}  // namespace fastdnn
