// Training statistics: the reductions a gradient and activation monitor needs, in one pass each.
//
//   activation_stats  x: rows × cols (a batch of layer outputs, units on the last axis) ->
//                     Σx, Σx² (float64), the number of columns that are exactly zero on every row
//                     ("dead" units), the number of columns within `tolerance` of `low` or `high`
//                     on every row ("saturated" units), the number of saturated elements and the
//                     number of non-finite elements. With rows = 0 no column counts as dead or
//                     saturated; a negative tolerance turns the saturation test off.
//   sum_squares       tensors t_0..t_k (any shapes) -> Σ f(t_i)² per tensor (float64), where
//                     f(v) = v, or v - u for a second list u of the same shapes (the norm of an
//                     update), or clamp(v, -c, c) when clipvalue c > 0 (the norm after clipvalue);
//                     optionally copying each tensor into a given array in the same pass (a
//                     snapshot of the weights before an update, without a second pass).
//
// stats_kernel.h holds the fast loops (instantiated per ISA), stats_ref.cpp the plain float64
// reference of the "reference" table; the CpuIsa table in use (isa/isa.h) picks one.
// tests/test_monitoring.py checks both against float64 NumPy.
#pragma once
#include <cstdint>

namespace fastdnn {

struct ActivationStats {
  double sum = 0, sum_squares = 0;
  int64_t dead_units = 0, saturated_units = 0, saturated_values = 0, nonfinite = 0;
};

ActivationStats activation_stats_reference(const float* x, int64_t rows, int64_t cols, float low,
                                           float high, float tolerance);

// Σ f(v)² over elements [i0, i1) of one tensor (u may be null; clipvalue <= 0 means no clamp);
// when copy is not null, copy[i] = v[i] too.
double sum_squares_reference(const float* v, const float* u, int64_t i0, int64_t i1, float clipvalue,
                             float* copy);

}  // namespace fastdnn
