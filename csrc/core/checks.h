// Scalar argument checks shared by the CPU ops (csrc/*/*_op.cpp) and the CUDA bindings
// (csrc/cuda/bind_*.cpp), so both backends reject the same values with the same message. Only
// numbers, codes and shapes are checked here, never an array type. Each check throws
// std::invalid_argument, which both modules raise as ValueError (pybind11's translation).
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "codes.h"

namespace fastdnn {

// A shape as Python prints a tuple: (), (3,), (2, 3).
inline std::string shape_str(const int64_t* dims, size_t ndim) {
  std::string s = "(";
  for (size_t i = 0; i < ndim; ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + (ndim == 1 ? ",)" : ")");
}

// An activation code of codes.h, or the valid codes listed.
inline int check_act_code(int code) {
  if (code < 0 || code >= kNumActs)
    throw std::invalid_argument("Unknown activation code " + std::to_string(code) + "; expected an integer in [0, " +
                                std::to_string(kNumActs) + "): " +
                                code_names(FASTDNN_ACTIVATIONS(FASTDNN_CODE_NAME)) + ".");
  return code;
}

// A normalization epsilon (batch normalization).
inline void check_eps(double eps) {
  if (!(eps >= 0.0) || !std::isfinite(eps))
    throw std::invalid_argument("`epsilon` must be a finite number >= 0. Received: " + std::to_string(eps));
}

// A coefficient of the dropout family's y = x·m + c.
inline void check_finite(double v, const char* name) {
  if (!std::isfinite(v))
    throw std::invalid_argument(std::string("`") + name + "` must be a finite number. Received: " + std::to_string(v));
}

// A drop rate in [0, 1).
inline void check_rate(double rate) {
  if (!(rate >= 0.0 && rate < 1.0))
    throw std::invalid_argument("Received an invalid value for `rate`, expected a float in [0, 1). Received: rate=" +
                                std::to_string(rate));
}

// The element count of one random op: Philox counters cover 2**34 values per call.
inline void check_random_size(int64_t n) {
  if (n > (int64_t(1) << 34))
    throw std::invalid_argument("Random ops take at most 2**34 elements per call. Received an array of " +
                                std::to_string(n) + " elements; split it into smaller batches.");
}

// weight_penalty's `name` list (l1 or l2): one factor per parameter, each finite and >= 0.
inline void check_factor_count(size_t received, size_t count, const char* name) {
  if (received != count)
    throw std::invalid_argument(std::string("weight_penalty needs one `") + name + "` factor per parameter. Received " +
                                std::to_string(received) + " for " + std::to_string(count) + " parameters.");
}
inline void check_factor(double x, const char* name) {
  if (!(x >= 0) || !std::isfinite(x))
    throw std::invalid_argument(std::string("`") + name + "` factors must be finite and non-negative. Received: " +
                                std::to_string(x) + ".");
}

// A constraint's kind (codes.h) and its outer × red × inner layout over a parameter of `size`
// values (`shape` as shape_str writes it).
inline void check_constraint(int kind, int64_t outer, int64_t red, int64_t inner, int64_t size,
                             const std::string& shape) {
  if (kind < 0 || kind >= kNumConstraintKinds)
    throw std::invalid_argument("Unknown constraint kind " + std::to_string(kind) + ".");
  if (outer < 0 || red < 0 || inner < 0 || outer * red * inner != size)
    throw std::invalid_argument("Constraint layout " + std::to_string(outer) + " × " + std::to_string(red) + " × " +
                                std::to_string(inner) + " does not cover a parameter of shape " + shape + ".");
}

}  // namespace fastdnn
