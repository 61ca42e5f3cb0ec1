// Weight penalties (L1/L2 regularization) and weight constraints, element loops over one range.
//
// Penalty over w[i0, i1):   returns Σ l1·|w| + l2·w²  (float64 sum);  g += l1·sign(w) + 2·l2·w
//   (sign(0) = 0, as the gradient of |w| at 0 in Keras's backends; g may be null: value only).
// Constraint over a tensor seen as outer × red × inner (C order), with norms over `red`, one per
// (outer, inner) pair, as Keras 3's constraints (keras/src/constraints/constraints.py), ε = 1e-7:
//   MaxNorm     w ·= clip(‖w‖, 0, max) / (ε + ‖w‖)
//   UnitNorm    w ·= 1 / (ε + ‖w‖)
//   MinMaxNorm  w ·= (rate·clip(‖w‖, min, max) + (1 − rate)·‖w‖) / (ε + ‖w‖)
//   NonNeg      w ·= (w >= 0)
// The per-element parts, shared by the CPU and CUDA kernels: penalty_rule.h. Fast float32
// kernels per ISA (penalty_simd.h, constrain_simd.h); the independent float64 reference of the
// same formulas is penalty_ref.cpp, the "reference" table's (isa/reference.cpp).
#pragma once
#include <cmath>
#include <cstdint>

#include "penalty_rule.h"

namespace fastdnn {

// The float64 reference of the penalty over n values (the vectorised one is penalty_simd.h).
double penalty_reference(const float* w, float* g, int64_t n, float l1, float l2);

// Constrains columns [c0, c1) of rows [o0, o1) of an outer × red × inner tensor (the per-ISA
// kernel is constrain_simd.h).
void constrain_reference(float* w, int64_t red, int64_t inner, int64_t o0, int64_t o1, int64_t c0,
                         int64_t c1, const ConstraintSpec& c);

}  // namespace fastdnn
