// Float64 reference of layer normalization over the last axis (rows × cols, row-wise
// statistics): the textbook formulas the fast kernels (ln_kernel.h) must match, written without
// any of their code. The "reference" CpuIsa table runs them (ln.h's float32 entries) and
// ln_op.cpp binds them for the tests (layernorm_reference_forward, layernorm_reference_backward).
#pragma once
#include <cstdint>

namespace fastdnn {

// mean = Σx/n, var = Σ(x − mean)²/n (two passes), y = gamma·(x − mean)/sqrt(var + eps) + beta;
// gamma/beta may be null (1 and 0).
void ln_reference_forward(const double* x, int64_t rows, int64_t cols, const double* gamma,
                          const double* beta, double eps, double* y, double* mean, double* var);

// dx_j = inv_std/n · (n·g_j − Σg − x_hat_j·Σ(g·x_hat)), g = gamma·dy, x_hat = (x − mean)·inv_std;
// dgamma = Σ_rows dy·x_hat, dbeta = Σ_rows dy (overwritten).
void ln_reference_backward(const double* dy, const double* x, int64_t rows, int64_t cols,
                           const double* mean, const double* inv_std, const double* gamma,
                           double* dx, double* dgamma, double* dbeta);

}  // namespace fastdnn
