// The float64 reference of the batch-normalization kernels (bn_ref.cpp), the "reference"
// kernel table's entries beside bn_kernel::stats, affine and backward (same contracts).
#pragma once
#include <cstdint>

namespace fastdnn {

void bn_stats_reference(const float* x, int64_t rows, int64_t cols, double* mean, double* var);
void bn_affine_reference(const float* x, float* y, int64_t rows, int64_t cols, const float* center,
                         const float* scale, const float* shift);
void bn_backward_reference(const float* dy, const float* x, int64_t rows, int64_t cols, const float* mean,
                           const float* inv_std, const float* gamma, bool training, float* dx,
                           float* dgamma, float* dbeta);

}  // namespace fastdnn
