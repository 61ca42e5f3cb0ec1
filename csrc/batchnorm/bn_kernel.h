// Batch-normalization kernels over (rows × features) float32 data, instantiated per ISA
// (csrc/isa/*.cpp) so the compiler vectorises the per-feature loops with that ISA's registers
// (V only keeps each file's instantiation distinct). Formulas: bn_op.cpp's header.
#pragma once
#include <cstdint>
#include <vector>

namespace fastdnn::bn_kernel {

// Per-feature batch mean and biased variance of x (rows × cols), accumulated in float64.
template <class V>
void stats(const float* __restrict x, int64_t rows, int64_t cols, double* __restrict mean,
              double* __restrict var) {
  for (int64_t j = 0; j < cols; ++j) mean[j] = 0.0, var[j] = 0.0;
  if (rows == 0) return;
  for (int64_t i = 0; i < rows; ++i) {
    const float* __restrict xr = x + i * cols;
    for (int64_t j = 0; j < cols; ++j) mean[j] += (double)xr[j];
  }
  const double inv_n = 1.0 / (double)rows;
  for (int64_t j = 0; j < cols; ++j) mean[j] *= inv_n;
  for (int64_t i = 0; i < rows; ++i) {
    const float* __restrict xr = x + i * cols;
    for (int64_t j = 0; j < cols; ++j) {
      const double d = (double)xr[j] - mean[j];
      var[j] += d * d;
    }
  }
  for (int64_t j = 0; j < cols; ++j) var[j] *= inv_n;
}

// y = (x − center)·scale + shift, per feature.
template <class V>
void affine(const float* __restrict x, float* __restrict y, int64_t rows, int64_t cols,
            const float* __restrict center, const float* __restrict scale, const float* __restrict shift) {
  for (int64_t i = 0; i < rows; ++i) {
    const float* __restrict xr = x + i * cols;
    float* __restrict yr = y + i * cols;
    for (int64_t j = 0; j < cols; ++j) yr[j] = (xr[j] - center[j]) * scale[j] + shift[j];
  }
}

template <class V>
void backward(const float* __restrict dy, const float* __restrict x, int64_t rows, int64_t cols,
                 const float* __restrict mean, const float* __restrict inv_std, const float* gamma,
                 bool training, float* __restrict dx, float* __restrict dgamma, float* __restrict dbeta) {
  std::vector<double> sdy(cols, 0.0), sdyx(cols, 0.0);
  double* __restrict a = sdy.data();
  double* __restrict b = sdyx.data();
  for (int64_t i = 0; i < rows; ++i) {
    const float* __restrict dr = dy + i * cols;
    const float* __restrict xr = x + i * cols;
    for (int64_t j = 0; j < cols; ++j) {
      const double d = (double)dr[j];
      a[j] += d;
      b[j] += d * ((double)xr[j] - (double)mean[j]);
    }
  }
  std::vector<float> k1(cols), k2(cols), k3(cols);  // dx = k1·dy − k2 − k3·x  (per feature)
  for (int64_t j = 0; j < cols; ++j) {
    const double g = gamma ? (double)gamma[j] : 1.0;
    const double is = (double)inv_std[j];
    const double db = a[j], dg = b[j] * is;
    dbeta[j] = (float)db;
    dgamma[j] = (float)dg;
    const double c = g * is;
    if (training && rows > 0) {
      // dx = c·(dy − db/N − x_hat·dg/N), x_hat = (x − mean)·is
      const double n = (double)rows;
      const double e = dg / n * is;  // coefficient of (x − mean)
      k1[j] = (float)c;
      k3[j] = (float)(c * e);
      k2[j] = (float)(c * (db / n - e * (double)mean[j]));
    } else {
      k1[j] = (float)c, k2[j] = 0.0f, k3[j] = 0.0f;
    }
  }
  const float* __restrict p1 = k1.data();
  const float* __restrict p2 = k2.data();
  const float* __restrict p3 = k3.data();
  for (int64_t i = 0; i < rows; ++i) {
    const float* __restrict dr = dy + i * cols;
    const float* __restrict xr = x + i * cols;
    float* __restrict o = dx + i * cols;
    if (training) {
      for (int64_t j = 0; j < cols; ++j) o[j] = p1[j] * dr[j] - p2[j] - p3[j] * xr[j];
    } else {  // x is not read: a NaN or inf input must not reach dx through 0·x
      for (int64_t j = 0; j < cols; ++j) o[j] = p1[j] * dr[j];
    }
  }
}

}  // namespace fastdnn::bn_kernel
