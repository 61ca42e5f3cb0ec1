// The CPU dispatch of the dropout family (dropout_op.cpp), shared with the training plan:
// the drop threshold of a rate, and one noise pass over n values split over the thread pool
// at multiples of 64 elements (a split that cannot change the result: every element is a pure
// function of its index).
#pragma once
#include <cstdint>

#include "dropout_kernel.h"

namespace fastdnn {

// P(bits < threshold) = threshold / 2^32 ≈ rate (checks 0 <= rate < 1).
uint32_t drop_threshold(double rate);

// a.x → a.y over n values (n at most 2^34, checked by the caller).
void noise_cpu(const NoiseArgs& a, int64_t n);

}  // namespace fastdnn
