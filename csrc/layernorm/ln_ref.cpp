// Float64 reference of layer normalization (ln_ref.h): plain loops, one quantity at a time.
#include "ln_ref.h"

#include <vector>

#include "ln.h"

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

namespace {

std::vector<double> widen(const float* p, int64_t n) {
  return p ? std::vector<double>(p, p + n) : std::vector<double>();
}

}  // namespace

// The float32 entries of the "reference" table (ln.h): widen, run the float64 formulas, round once.
void ln_forward_reference(const float* x, float* y, int64_t rows, int64_t cols, const float* gamma,
                          const float* beta, double eps, float* mean, float* inv_std) {
  std::vector<double> x64 = widen(x, rows * cols), g64 = widen(gamma, cols), b64 = widen(beta, cols);
  std::vector<double> y64(rows * cols), m64(rows), v64(rows);
  ln_reference_forward(x64.data(), rows, cols, gamma ? g64.data() : nullptr, beta ? b64.data() : nullptr,
                       eps, y64.data(), m64.data(), v64.data());
  for (int64_t k = 0; k < rows * cols; ++k) y[k] = (float)y64[k];
  for (int64_t i = 0; i < rows; ++i) mean[i] = (float)m64[i], inv_std[i] = (float)(1.0 / std::sqrt(v64[i] + eps));
}

void ln_backward_reference(const float* dy, const float* x, int64_t rows, int64_t cols,
                           const float* mean, const float* inv_std, const float* gamma, float* dx,
                           float* dgamma, float* dbeta) {
  std::vector<double> dy64 = widen(dy, rows * cols), x64 = widen(x, rows * cols);
  std::vector<double> m64 = widen(mean, rows), i64 = widen(inv_std, rows), g64 = widen(gamma, cols);
  std::vector<double> dx64(rows * cols), dg64(cols), db64(cols);
  ln_reference_backward(dy64.data(), x64.data(), rows, cols, m64.data(), i64.data(),
                        gamma ? g64.data() : nullptr, dx64.data(), dg64.data(), db64.data());
  for (int64_t k = 0; k < rows * cols; ++k) dx[k] = (float)dx64[k];
  for (int64_t j = 0; j < cols; ++j) dgamma[j] = (float)dg64[j], dbeta[j] = (float)db64[j];
}

}  // namespace fastdnn
