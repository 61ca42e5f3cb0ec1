// Layer-normalization kernels over (rows × cols) float32 data, every statistic per row (the last
// axis). Included once, by ln_fast.cpp, which splits the rows across the thread pool; the float64
// reference of the same formulas is ln_ref.cpp.
//
//   forward   x (rows × cols), gamma, beta (cols,) or null, eps ->
//             y (rows × cols), mean (rows,), inv_std (rows,) = 1/sqrt(var + eps), var biased
//   backward  dy, x (rows × cols), mean, inv_std (rows,), gamma (cols,) or null ->
//             dx (rows × cols); dgamma += Σ_rows dy·x_hat, dbeta += Σ_rows dy (float64, cols)
//
// The statistics come from one pass over the row: Σ(x − s) and Σ(x − s)² in float64 around a
// shift s = x[row, 0], so var = Σd²/n − (Σd/n)² does not cancel when |mean| >> std (the shift
// keeps d of the size of the spread). Eight independent accumulators per sum let the compiler
// vectorise the float64 reductions without reassociating a single sum.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>

namespace fastdnn::ln_kernel {

constexpr int kLanes = 8;

// Σ(v[j] − s) and Σ(v[j] − s)² over j < n, in float64.
inline void shifted_sums(const float* __restrict v, int64_t n, double s, double* sum, double* sum_sq) {
  double a[kLanes] = {0}, b[kLanes] = {0};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    for (int l = 0; l < kLanes; ++l) {
      const double d = (double)v[j + l] - s;
      a[l] += d;
      b[l] += d * d;
    }
  }
  double sa = 0.0, sb = 0.0;
  for (; j < n; ++j) {
    const double d = (double)v[j] - s;
    sa += d;
    sb += d * d;
  }
  for (int l = 0; l < kLanes; ++l) sa += a[l], sb += b[l];
  *sum = sa, *sum_sq = sb;
}

// Rows [r0, r1) of the forward.
inline void forward(const float* __restrict x, float* __restrict y, int64_t r0, int64_t r1, int64_t cols,
                    const float* __restrict gamma, const float* __restrict beta, double eps,
                    float* __restrict mean, float* __restrict inv_std) {
  const double n = (double)cols;
  for (int64_t i = r0; i < r1; ++i) {
    const float* __restrict xr = x + i * cols;
    float* __restrict yr = y + i * cols;
    if (cols == 0) {  // the statistics of nothing, as NumPy's mean of an empty axis
      mean[i] = inv_std[i] = std::numeric_limits<float>::quiet_NaN();
      continue;
    }
    const double s = (double)xr[0];
    double sum, sum_sq;
    shifted_sums(xr, cols, s, &sum, &sum_sq);
    const double dm = sum / n;
    double var = sum_sq / n - dm * dm;
    if (var < 0.0) var = 0.0;  // rounding of a (nearly) constant row
    const float m = (float)(s + dm);
    const float is = (float)(1.0 / std::sqrt(var + eps));
    mean[i] = m, inv_std[i] = is;
    if (gamma && beta) {
      for (int64_t j = 0; j < cols; ++j) yr[j] = (xr[j] - m) * is * gamma[j] + beta[j];
    } else if (gamma) {
      for (int64_t j = 0; j < cols; ++j) yr[j] = (xr[j] - m) * is * gamma[j];
    } else if (beta) {
      for (int64_t j = 0; j < cols; ++j) yr[j] = (xr[j] - m) * is + beta[j];
    } else {
      for (int64_t j = 0; j < cols; ++j) yr[j] = (xr[j] - m) * is;
    }
  }
}

// Rows [r0, r1) of the backward: dx = inv_std·(g − mean(g) − x_hat·mean(g·x_hat)), g = gamma·dy,
// x_hat = (x − mean)·inv_std; dgamma and dbeta (float64, cols) accumulate these rows' terms.
inline void backward(const float* __restrict dy, const float* __restrict x, int64_t r0, int64_t r1,
                     int64_t cols, const float* __restrict mean, const float* __restrict inv_std,
                     const float* __restrict gamma, float* __restrict dx, double* __restrict dgamma,
                     double* __restrict dbeta) {
  if (cols == 0) return;
  const double inv_n = 1.0 / (double)cols;
  for (int64_t i = r0; i < r1; ++i) {
    const float* __restrict dr = dy + i * cols;
    const float* __restrict xr = x + i * cols;
    float* __restrict o = dx + i * cols;
    const float m = mean[i], is = inv_std[i];
    double a[kLanes] = {0}, b[kLanes] = {0};  // Σ g and Σ g·x_hat
    int64_t j = 0;
    for (; j + kLanes <= cols; j += kLanes) {
      for (int l = 0; l < kLanes; ++l) {
        const float xh = (xr[j + l] - m) * is;
        const float d = dr[j + l];
        const float g = gamma ? d * gamma[j + l] : d;
        a[l] += (double)g;
        b[l] += (double)g * (double)xh;
        dbeta[j + l] += (double)d;
        dgamma[j + l] += (double)d * (double)xh;
      }
    }
    double sa = 0.0, sb = 0.0;
    for (; j < cols; ++j) {
      const float xh = (xr[j] - m) * is;
      const float d = dr[j];
      const float g = gamma ? d * gamma[j] : d;
      sa += (double)g;
      sb += (double)g * (double)xh;
      dbeta[j] += (double)d;
      dgamma[j] += (double)d * (double)xh;
    }
    for (int l = 0; l < kLanes; ++l) sa += a[l], sb += b[l];
    // dx = is·g − is·mean(g) − is²·mean(g·x_hat)·(x − m)
    const float k0 = (float)(-(double)is * sa * inv_n);
    const float k2 = (float)(-(double)is * (double)is * sb * inv_n);
    if (gamma) {
      for (int64_t k = 0; k < cols; ++k) o[k] = is * (dr[k] * gamma[k]) + k0 + k2 * (xr[k] - m);
    } else {
      for (int64_t k = 0; k < cols; ++k) o[k] = is * dr[k] + k0 + k2 * (xr[k] - m);
    }
  }
}

}  // namespace fastdnn::ln_kernel
