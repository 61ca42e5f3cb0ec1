// Reference activations in float64: the formulas the fast kernels (act_kernel.h) must match.
#pragma once
#include <cstdint>

#include "act_rule.h"  // Act and the SELU constants only: the reference computes its own values

namespace fastdnn {

double act_reference(Act act, double alpha, double x);
// act'(z) expressed through the output y = act(z), as the fast backward computes it.
double act_reference_grad(Act act, double alpha, double y);

void act_forward_reference(const float* x, float* y, int64_t n, Act act, float alpha);
void act_backward_reference(const float* y, const float* dy, float* dx, int64_t rows,
                            int64_t cols, Act act, float alpha, float* dbias);
void softmax_forward_reference(const float* x, float* y, int64_t rows, int64_t cols);
void softmax_backward_reference(const float* y, const float* dy, float* dx, int64_t rows,
                                int64_t cols);

}  // namespace fastdnn
