// Layer normalization's entries of the CpuIsa table (isa/isa.h), over rows × cols float32 data
// with every statistic per row:
//   forward   x, gamma, beta (cols,) or null, eps -> y, mean (rows,), inv_std (rows,)
//   backward  dy, x, mean, inv_std, gamma or null -> dx, dgamma (cols,), dbeta (cols,)
// The fast path (ln_fast.cpp, over ln_kernel.h) serves every SIMD table; the float64 reference
// (ln_ref.cpp) serves the "reference" table.
#pragma once
#include <cstdint>

namespace fastdnn {

void ln_forward_fast(const float* x, float* y, int64_t rows, int64_t cols, const float* gamma,
                     const float* beta, double eps, float* mean, float* inv_std);
void ln_backward_fast(const float* dy, const float* x, int64_t rows, int64_t cols, const float* mean,
                      const float* inv_std, const float* gamma, float* dx, float* dgamma, float* dbeta);

void ln_forward_reference(const float* x, float* y, int64_t rows, int64_t cols, const float* gamma,
                          const float* beta, double eps, float* mean, float* inv_std);
void ln_backward_reference(const float* dy, const float* x, int64_t rows, int64_t cols,
                           const float* mean, const float* inv_std, const float* gamma, float* dx,
                           float* dgamma, float* dbeta);

}  // namespace fastdnn
