// Batch normalization over the last axis (formulas: csrc/batchnorm/bn_op.cpp's header).
//   x, y, dy, dx: (rows, cols), cols = features; mean, var, inv_std, gamma, beta: (cols,)
// Per-feature sums run in double, 32 features per block and 8 row groups per feature, added in
// a fixed order: the statistics are deterministic. Element-wise passes use per-feature
// coefficients, as the CPU kernels do.
#include <cmath>

#include "kernels.h"
#include "runtime.h"

namespace fastdnn::cuda {
namespace {

// Sums v(r, c) over the rows of column c for the block's 32 columns; every thread of the
// column gets the total. v is evaluated by row group ty on rows ty, ty + 8, ...
template <class F>
__device__ double column_total(int64_t rows, int64_t c, bool valid, F v, double (*part)[32]) {
  double s = 0.0;
  if (valid)
    for (int64_t r = threadIdx.y; r < rows; r += 8) s += v(r);
  part[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  double t = 0.0;
  for (int k = 0; k < 8; ++k) t += part[k][threadIdx.x];
  __syncthreads();
  return t;
}

__global__ void bn_stats_kernel(const float* x, int64_t rows, int64_t cols, float eps, float* mean, float* var,
                                float* inv_std) {
  __shared__ double part[8][32];
  const int64_t c = (int64_t)blockIdx.x * 32 + threadIdx.x;
  const bool valid = c < cols;
  const double n = rows > 0 ? (double)rows : 1.0;
  const double m = column_total(rows, c, valid, [&](int64_t r) { return (double)x[r * cols + c]; }, part) / n;
  const double v = column_total(rows, c, valid, [&](int64_t r) {
    const double d = (double)x[r * cols + c] - m;
    return d * d;
  }, part) / n;
  if (threadIdx.y == 0 && valid) {
    mean[c] = (float)m;
    var[c] = (float)v;
    inv_std[c] = (float)(1.0 / sqrt(v + (double)eps));
  }
}

// y = (x − center)·scale + shift, scale = gamma·inv_std (inv_std given, or from var and eps).
__global__ void bn_affine_kernel(const float* x, int64_t rows, int64_t cols, const float* center,
                                 const float* inv_std, const float* var, float eps, const float* gamma,
                                 const float* beta, float* y) {
  const int64_t n = rows * cols;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t c = i % cols;
    const double is = inv_std ? (double)inv_std[c] : 1.0 / sqrt((double)var[c] + (double)eps);
    const float scale = (float)((gamma ? (double)gamma[c] : 1.0) * is);
    y[i] = (x[i] - center[c]) * scale + (beta ? beta[c] : 0.0f);
  }
}

// dbeta = Σ dy, dgamma = Σ dy·(x − mean)·inv_std; k = (k1, k2, k3) with dx = k1·dy − k2 − k3·x.
__global__ void bn_backward_stats_kernel(const float* dy, const float* x, int64_t rows, int64_t cols,
                                         const float* mean, const float* inv_std, const float* gamma,
                                         bool training, float* dgamma, float* dbeta, float* k) {
  __shared__ double part[8][32];
  const int64_t c = (int64_t)blockIdx.x * 32 + threadIdx.x;
  const bool valid = c < cols;
  const double mu = valid ? (double)mean[c] : 0.0;
  const double a = column_total(rows, c, valid, [&](int64_t r) { return (double)dy[r * cols + c]; }, part);
  const double b = column_total(rows, c, valid, [&](int64_t r) {
    return (double)dy[r * cols + c] * ((double)x[r * cols + c] - mu);
  }, part);
  if (threadIdx.y != 0 || !valid) return;
  const double g = gamma ? (double)gamma[c] : 1.0, is = (double)inv_std[c];
  const double dg = b * is, cc = g * is;
  dbeta[c] = (float)a;
  dgamma[c] = (float)dg;
  if (training && rows > 0) {
    const double n = (double)rows, e = dg / n * is;
    k[c] = (float)cc;
    k[cols + c] = (float)(cc * (a / n - e * mu));
    k[2 * cols + c] = (float)(cc * e);
  } else {
    k[c] = (float)cc, k[cols + c] = 0.0f, k[2 * cols + c] = 0.0f;
  }
}

__global__ void bn_backward_apply_kernel(const float* dy, const float* x, int64_t rows, int64_t cols,
                                         const float* k, bool training, float* dx) {
  const int64_t n = rows * cols;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t c = i % cols;
    // inference: x is not read, so a NaN or inf input cannot reach dx through 0·x
    dx[i] = training ? k[c] * dy[i] - k[cols + c] - k[2 * cols + c] * x[i] : k[c] * dy[i];
  }
}

unsigned blocks_for(int64_t n) {
  const int64_t b = (n + 255) / 256;
  return (unsigned)(b < 1 ? 1 : (b > 65535 * 8 ? 65535 * 8 : b));
}

}  // namespace

void bn_forward_train(const float* x, int64_t rows, int64_t cols, const float* gamma, const float* beta, float eps,
                      float* y, float* mean, float* var, float* inv_std) {
  if (cols == 0) return;
  bn_stats_kernel<<<(unsigned)((cols + 31) / 32), dim3(32, 8), 0, stream()>>>(x, rows, cols, eps, mean, var,
                                                                              inv_std);
  check_launch("bn_stats_kernel");
  if (rows == 0) return;
  bn_affine_kernel<<<blocks_for(rows * cols), 256, 0, stream()>>>(x, rows, cols, mean, inv_std, nullptr, eps,
                                                                  gamma, beta, y);
  check_launch("bn_affine_kernel");
}

void bn_forward_infer(const float* x, int64_t rows, int64_t cols, const float* mean, const float* var,
                      const float* gamma, const float* beta, float eps, float* y) {
  if (rows * cols == 0) return;
  bn_affine_kernel<<<blocks_for(rows * cols), 256, 0, stream()>>>(x, rows, cols, mean, nullptr, var, eps, gamma,
                                                                  beta, y);
  check_launch("bn_affine_kernel");
}

void bn_backward(const float* dy, const float* x, int64_t rows, int64_t cols, const float* mean,
                 const float* inv_std, const float* gamma, bool training, float* dx, float* dgamma, float* dbeta) {
  if (cols == 0) return;
  Tensor k = empty({3 * cols});  // freed in stream order, after the kernels below
  bn_backward_stats_kernel<<<(unsigned)((cols + 31) / 32), dim3(32, 8), 0, stream()>>>(
      dy, x, rows, cols, mean, inv_std, gamma, training, dgamma, dbeta, k.f32());
  check_launch("bn_backward_stats_kernel");
  if (rows == 0) return;
  bn_backward_apply_kernel<<<blocks_for(rows * cols), 256, 0, stream()>>>(dy, x, rows, cols, k.f32(), training,
                                                                          dx);
  check_launch("bn_backward_apply_kernel");
}

}  // namespace fastdnn::cuda
