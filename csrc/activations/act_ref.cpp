#include "act_ref.h"

#include <cmath>
#include <vector>

namespace fastdnn {

double act_reference(Act act, double alpha, double x) {
  switch (act) {
    case Act::kIdentity: return x;
    case Act::kRelu: return x > 0 ? x : (std::isnan(x) ? x : 0.0);
    case Act::kLeakyRelu: return x > 0 ? x : alpha * x;
    case Act::kElu: return x > 0 ? x : alpha * std::expm1(x);
    case Act::kSelu: return (double)kSeluScale * (x > 0 ? x : (double)kSeluAlpha * std::expm1(x));
    case Act::kSigmoid: return 1.0 / (1.0 + std::exp(-x));
    case Act::kTanh: return std::tanh(x);
  }
  return x;
}

double act_reference_grad(Act act, double alpha, double y) {
  switch (act) {
    case Act::kIdentity: return 1.0;
    case Act::kRelu: return y > 0 ? 1.0 : 0.0;
    case Act::kLeakyRelu: return y > 0 ? 1.0 : alpha;
    case Act::kElu: return y > 0 ? 1.0 : y + alpha;
    case Act::kSelu: return y > 0 ? (double)kSeluScale : y + (double)kSeluScale * kSeluAlpha;
    case Act::kSigmoid: return y * (1.0 - y);
    case Act::kTanh: return 1.0 - y * y;
  }
  return 1.0;
}

void act_forward_reference(const float* x, float* y, int64_t n, Act act, float alpha) {
  for (int64_t i = 0; i < n; ++i) y[i] = (float)act_reference(act, alpha, x[i]);
}

void act_backward_reference(const float* y, const float* dy, float* dx, int64_t rows,
                            int64_t cols, Act act, float alpha, float* dbias) {
  std::vector<double> db(dbias ? cols : 0, 0.0);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) {
      const int64_t k = i * cols + j;
      const double g = (double)dy[k] * act_reference_grad(act, alpha, y[k]);
      dx[k] = (float)g;
      if (dbias) db[j] += g;
    }
  for (int64_t j = 0; dbias && j < cols; ++j) dbias[j] = (float)db[j];
}

void softmax_forward_reference(const float* x, float* y, int64_t rows, int64_t cols) {
  for (int64_t i = 0; i < rows; ++i) {
    const float* xi = x + i * cols;
    double mx = -INFINITY, sum = 0;
    for (int64_t j = 0; j < cols; ++j) mx = std::fmax(mx, (double)xi[j]);
    for (int64_t j = 0; j < cols; ++j) sum += std::exp((double)xi[j] - mx);
    for (int64_t j = 0; j < cols; ++j) y[i * cols + j] = (float)(std::exp((double)xi[j] - mx) / sum);
  }
}

void softmax_backward_reference(const float* y, const float* dy, float* dx, int64_t rows,
                                int64_t cols) {
  for (int64_t i = 0; i < rows; ++i) {
    double dot = 0;
    for (int64_t j = 0; j < cols; ++j) dot += (double)dy[i * cols + j] * y[i * cols + j];
    for (int64_t j = 0; j < cols; ++j)
      dx[i * cols + j] = (float)((double)y[i * cols + j] * ((double)dy[i * cols + j] - dot));
  }
}

}  // namespace fastdnn
