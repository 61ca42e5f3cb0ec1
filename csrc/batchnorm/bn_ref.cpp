// Plain float64 reference of the batch-normalization kernels (Ioffe & Szegedy 2015), written
// apart from bn_kernel.h so that it checks them: one feature (column) at a time, every
// quantity in double, each output rounded to float32 once. Contracts as bn_kernel.h and
// isa/isa.h: rows × cols float32 data, statistics over the rows of each column.
//   stats:    mean = Σx/N, var = Σ(x − mean)²/N (biased); zeros when N = 0
//   affine:   y = (x − center)·scale + shift
//   backward: x̂ = (x − mean)·inv_std; dβ = Σdy, dγ = Σdy·x̂;
//             training:  dx = γ·inv_std/N · (N·dy − dβ − x̂·dγ)
//             inference: dx = γ·inv_std·dy, x not read (a NaN or inf in x stays out of dx)
#include "bn_ref.h"

namespace fastdnn {

void bn_stats_reference(const float* x, int64_t rows, int64_t cols, double* mean, double* var) {
  for (int64_t j = 0; j < cols; ++j) {
    double total = 0.0;
    for (int64_t i = 0; i < rows; ++i) total += (double)x[i * cols + j];
    const double m = rows ? total / (double)rows : 0.0;
    double squares = 0.0;
    for (int64_t i = 0; i < rows; ++i) {
      const double d = (double)x[i * cols + j] - m;
      squares += d * d;
    }
    mean[j] = m;
    var[j] = rows ? squares / (double)rows : 0.0;
  }
}

void bn_affine_reference(const float* x, float* y, int64_t rows, int64_t cols, const float* center,
                         const float* scale, const float* shift) {
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      y[i * cols + j] = (float)(((double)x[i * cols + j] - (double)center[j]) * (double)scale[j] + (double)shift[j]);
}

void bn_backward_reference(const float* dy, const float* x, int64_t rows, int64_t cols, const float* mean,
                           const float* inv_std, const float* gamma, bool training, float* dx,
                           float* dgamma, float* dbeta) {
  const double n = (double)rows;
  for (int64_t j = 0; j < cols; ++j) {
    const double g = gamma ? (double)gamma[j] : 1.0;
    const double is = inv_std[j], m = mean[j];
    double sum_dy = 0.0, sum_dy_xhat = 0.0;
    for (int64_t i = 0; i < rows; ++i) {
      const double d = dy[i * cols + j];
      sum_dy += d;
      sum_dy_xhat += d * (((double)x[i * cols + j] - m) * is);
    }
    dbeta[j] = (float)sum_dy;
    dgamma[j] = (float)sum_dy_xhat;
    for (int64_t i = 0; i < rows; ++i) {
      const double d = dy[i * cols + j];
      if (training) {
        const double xhat = ((double)x[i * cols + j] - m) * is;
        dx[i * cols + j] = (float)(g * is / n * (n * d - sum_dy - xhat * sum_dy_xhat));
      } else {
        dx[i * cols + j] = (float)(g * is * d);
      }
    }
  }
}

}  // namespace fastdnn
