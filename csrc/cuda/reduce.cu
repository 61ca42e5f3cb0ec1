// Reductions and small element-wise helpers of the backend.
//   sum_all: x (n,) -> out[0] = scale·Σx; a fixed grid of 256 blocks sums strided slices in
//            double, then one block adds the 256 partials in order: deterministic bits.
//   fill, add, scale_by_scalar (s a device scalar: no host round trip), scale_rows, moving_average
#include "grid.cuh"
#include "kernels.h"
#include "runtime.h"
#include "warp.cuh"

namespace fastdnn::cuda {
namespace {

constexpr int kPartials = 256, kThreads = 256;

__global__ void partial_sums_kernel(const float* x, int64_t n, double* partial) {
  double s = 0.0;
  for (int64_t i = blockIdx.x * (int64_t)kThreads + threadIdx.x; i < n; i += (int64_t)kPartials * kThreads)
    s += (double)x[i];
  const double t = block_sum<kThreads>(s);
  if (threadIdx.x == 0) partial[blockIdx.x] = t;
}

__global__ void final_sum_kernel(const double* partial, double scale, float* out) {
  const double t = block_sum<kThreads>(threadIdx.x < kPartials ? partial[threadIdx.x] : 0.0);
  if (threadIdx.x == 0) out[0] = (float)(t * scale);
}

__global__ void fill_kernel(float* y, int64_t n, float v) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) y[i] = v;
}

__global__ void add_kernel(const float* a, const float* b, float* y, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    y[i] = a[i] + b[i];
}

__global__ void scale_scalar_kernel(const float* x, const float* s, float c, float* y, int64_t n) {
  const float k = s[0] * c;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    y[i] = x[i] * k;
}

__global__ void scale_rows_kernel(const float* x, const float* s, float* y, int64_t rows, int64_t cols) {
  const int64_t n = rows * cols;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    y[i] = x[i] * s[i / cols];
}

__global__ void moving_average_kernel(float* m, const float* b, int64_t n, float momentum) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    m[i] = __fadd_rn(__fmul_rn(m[i], momentum), __fmul_rn(b[i], 1.0f - momentum));  // the CPU's roundings
}

}  // namespace

void sum_all(const float* x, int64_t n, double scale, float* out) {
  Tensor partial = empty({kPartials}, DType::kI64);  // doubles
  double* p = reinterpret_cast<double*>(partial.data());
  partial_sums_kernel<<<kPartials, kThreads, 0, stream()>>>(x, n, p);
  check_launch("partial_sums_kernel");
  final_sum_kernel<<<1, kThreads, 0, stream()>>>(p, scale, out);
  check_launch("final_sum_kernel");
}

void fill(float* y, int64_t n, float value) {
  if (n == 0) return;
  fill_kernel<<<grid_for(n), 256, 0, stream()>>>(y, n, value);
  check_launch("fill_kernel");
}

void add(const float* a, const float* b, float* y, int64_t n) {
  if (n == 0) return;
  add_kernel<<<grid_for(n), 256, 0, stream()>>>(a, b, y, n);
  check_launch("add_kernel");
}

void scale_by_scalar(const float* x, const float* s, float c, float* y, int64_t n) {
  if (n == 0) return;
  scale_scalar_kernel<<<grid_for(n), 256, 0, stream()>>>(x, s, c, y, n);
  check_launch("scale_scalar_kernel");
}

void scale_rows(const float* x, const float* s, float* y, int64_t rows, int64_t cols) {
  if (rows * cols == 0) return;
  scale_rows_kernel<<<grid_for(rows * cols), 256, 0, stream()>>>(x, s, y, rows, cols);
  check_launch("scale_rows_kernel");
}

void moving_average(float* m, const float* b, int64_t n, float momentum) {
  if (n == 0) return;
  moving_average_kernel<<<grid_for(n), 256, 0, stream()>>>(m, b, n, momentum);
  check_launch("moving_average_kernel");
}

}  // namespace fastdnn::cuda
