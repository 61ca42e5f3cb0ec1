// Float64 reference of layer normalization (ln_ref.h): plain loops, one quantity at a time.
#include "ln_ref.h"

#include <cmath>
#include <limits>

namespace fastdnn {

void ln_reference_forward(const double* x, int64_t rows, int64_t cols, const double* gamma,
                          const double* beta, double eps, double* y, double* mean, double* var) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (int64_t i = 0; i < rows; ++i) {
    const double* row = x + i * cols;
    double total = 0.0;
    for (int64_t j = 0; j < cols; ++j) total += row[j];
    const double m = cols ? total / (double)cols : nan;
    double squares = 0.0;
    for (int64_t j = 0; j < cols; ++j) squares += (row[j] - m) * (row[j] - m);
    const double v = cols ? squares / (double)cols : nan;
    mean[i] = m, var[i] = v;
    const double denom = std::sqrt(v + eps);
    for (int64_t j = 0; j < cols; ++j) {
      const double g = gamma ? gamma[j] : 1.0;
      const double b = beta ? beta[j] : 0.0;
      y[i * cols + j] = g * (row[j] - m) / denom + b;
    }
  }
}

void ln_reference_backward(const double* dy, const double* x, int64_t rows, int64_t cols,
                           const double* mean, const double* inv_std, const double* gamma,
                           double* dx, double* dgamma, double* dbeta) {
  for (int64_t j = 0; j < cols; ++j) dgamma[j] = 0.0, dbeta[j] = 0.0;
  const double n = (double)cols;
  for (int64_t i = 0; i < rows; ++i) {
    const double is = inv_std[i];
    double sum_g = 0.0, sum_g_xhat = 0.0;
    for (int64_t j = 0; j < cols; ++j) {
      const double xhat = (x[i * cols + j] - mean[i]) * is;
      const double g = dy[i * cols + j] * (gamma ? gamma[j] : 1.0);
      sum_g += g;
      sum_g_xhat += g * xhat;
      dgamma[j] += dy[i * cols + j] * xhat;
      dbeta[j] += dy[i * cols + j];
    }
    for (int64_t j = 0; j < cols; ++j) {
      const double xhat = (x[i * cols + j] - mean[i]) * is;
      const double g = dy[i * cols + j] * (gamma ? gamma[j] : 1.0);
      dx[i * cols + j] = is / n * (n * g - sum_g - xhat * sum_g_xhat);
    }
  }
}

}  // namespace fastdnn
