// The per-element parts of the weight penalties and constraints (formulas: penalty_kernel.h),
// for the host and the GPU (core/hd.h): the CPU kernels (penalty_simd.h, penalty_fast.cpp) and
// the CUDA kernels (cuda/penalty.cu) call these. The independent float64 reference is
// penalty_ref.cpp.
#pragma once
#include <cmath>

#include "../core/codes.h"
#include "../core/hd.h"
#include "../simd/lane.h"

namespace fastdnn {

constexpr double kConstraintEpsilon = 1e-7;  // keras.backend.epsilon()

struct ConstraintSpec {
  int kind;  // ConstraintKind
  double min_value, max_value, rate;
};

namespace penalty_rule {

// The L1/L2 gradient l1·sign(x) + 2·l2·x on each lane of x, over SIMD traits V (simd::Lane
// for one value), with sign(0) = 0 as the gradient of |x| at 0 in Keras's backends (and 0 for a
// NaN, whose gradient is NaN through 2·l2·x).
template <class V>
FASTDNN_HD inline typename V::reg l1l2_grad(typename V::reg x, typename V::reg l1, typename V::reg two_l2) {
  const typename V::reg zero = V::zero();
  return V::fma(two_l2, x, V::select(V::gt(V::abs(x), zero), V::copysign(l1, x), zero));
}

// The factor a column of norm `norm` is multiplied by (MaxNorm, UnitNorm, MinMaxNorm; NonNeg
// has none), in float64.
FASTDNN_HD inline double constraint_scale(const ConstraintSpec& c, double norm) {
  double desired;
  switch (c.kind) {
    case kMaxNorm: desired = fmin(fmax(norm, 0.0), c.max_value); break;
    case kUnitNorm: desired = 1.0; break;
    default: desired = c.rate * fmin(fmax(norm, c.min_value), c.max_value) + (1.0 - c.rate) * norm;
  }
  return desired / (kConstraintEpsilon + norm);
}

}  // namespace penalty_rule
}  // namespace fastdnn
