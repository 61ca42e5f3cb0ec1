// The CPU batch normalization forward (bn.h): statistics in float64, then one float32 pass
// y = (x − center)·scale + shift with per-feature coefficients.
#include "bn.h"

#include <cmath>

#include "../isa/isa.h"

namespace fastdnn {

namespace {

// Per-feature center = mean, scale = gamma·inv_std and shift = beta, for y = (x − center)·scale
// + shift (centering first: a constant feature gives exactly beta, with no cancellation).
void bn_coefficients(const double* mean, const double* inv_std, const float* gamma, const float* beta,
                     int64_t cols, float* center, float* scale, float* shift) {
  for (int64_t j = 0; j < cols; ++j) {
    center[j] = (float)mean[j];
    scale[j] = (float)((gamma ? (double)gamma[j] : 1.0) * inv_std[j]);
    shift[j] = beta ? beta[j] : 0.0f;
  }
}

}  // namespace

void bn_forward_train(const float* x, int64_t rows, int64_t cols, const float* gamma, const float* beta,
                      double eps, float* y, float* mean, float* var, float* inv_std, const BnScratch& s) {
  cpu_isa().bn_stats(x, rows, cols, s.mean, s.var);
  for (int64_t j = 0; j < cols; ++j) s.inv_std[j] = 1.0 / std::sqrt(s.var[j] + eps);
  bn_coefficients(s.mean, s.inv_std, gamma, beta, cols, s.center, s.scale, s.shift);
  cpu_isa().bn_affine(x, y, rows, cols, s.center, s.scale, s.shift);
  for (int64_t j = 0; j < cols; ++j)
    mean[j] = (float)s.mean[j], var[j] = (float)s.var[j], inv_std[j] = (float)s.inv_std[j];
}

void bn_forward_infer(const float* x, int64_t rows, int64_t cols, const float* moving_mean,
                      const float* moving_var, const float* gamma, const float* beta, double eps, float* y,
                      const BnScratch& s) {
  for (int64_t j = 0; j < cols; ++j)
    s.mean[j] = moving_mean[j], s.inv_std[j] = 1.0 / std::sqrt((double)moving_var[j] + eps);
  bn_coefficients(s.mean, s.inv_std, gamma, beta, cols, s.center, s.scale, s.shift);
  cpu_isa().bn_affine(x, y, rows, cols, s.center, s.scale, s.shift);
}

}  // namespace fastdnn
