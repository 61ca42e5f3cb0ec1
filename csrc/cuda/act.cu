// Element-wise activations (the rules of activations/act_rule.h), the bias gradient (column
// sums) and the row softmax.
//   act_forward / act_backward: x, y, dy, dx of n elements, any shape
//   column_sums: x (rows, cols) -> (cols,), double accumulation in a fixed order (deterministic)
//   softmax_forward / softmax_backward: (rows, cols), over the last axis; one warp per row
#include "../activations/act_rule.h"
#include "grid.cuh"
#include "kernels.h"
#include "runtime.h"
#include "warp.cuh"

namespace fastdnn::cuda {
namespace {

__global__ void act_forward_kernel(const float* x, float* y, int64_t n, int act, float alpha) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    y[i] = act_rule::value(Act(act), alpha, x[i]);
}

__global__ void act_backward_kernel(const float* y, const float* dy, float* dx, int64_t n, int act, float alpha) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    dx[i] = dy[i] * act_rule::grad(Act(act), alpha, y[i]);
}

// Block (32, 8): 32 columns; row group ty sums rows ty, ty + 8, ...; the 8 partial sums are then
// added in order of ty.
__global__ void column_sums_kernel(const float* x, int64_t rows, int64_t cols, float* out) {
  __shared__ double part[8][32];
  const int64_t c = (int64_t)blockIdx.x * 32 + threadIdx.x;
  double s = 0.0;
  if (c < cols)
    for (int64_t r = threadIdx.y; r < rows; r += 8) s += (double)x[r * cols + c];
  part[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y == 0 && c < cols) {
    double t = 0.0;
    for (int k = 0; k < 8; ++k) t += part[k][threadIdx.x];
    out[c] = (float)t;
  }
}

__global__ void softmax_forward_kernel(const float* x, float* y, int64_t rows, int64_t cols) {
  const int64_t r = blockIdx.x * (int64_t)(blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (r >= rows) return;
  const float* xr = x + r * cols;
  const float mx = warp_row_max(xr, cols, lane);
  float s = 0.0f;
  for (int64_t j = lane; j < cols; j += 32) s += expf(xr[j] - mx);
  s = warp_sum(s);
  const float inv = 1.0f / s;
  for (int64_t j = lane; j < cols; j += 32) y[r * cols + j] = expf(xr[j] - mx) * inv;
}

__global__ void softmax_backward_kernel(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols) {
  const int64_t r = blockIdx.x * (int64_t)(blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (r >= rows) return;
  const int64_t o = r * cols;
  float dot = 0.0f;
  for (int64_t j = lane; j < cols; j += 32) dot += dy[o + j] * y[o + j];
  dot = warp_sum(dot);
  for (int64_t j = lane; j < cols; j += 32) dx[o + j] = y[o + j] * (dy[o + j] - dot);
}

unsigned row_blocks(int64_t rows) { return (unsigned)((rows + 7) / 8); }  // 8 warps per block

}  // namespace

void act_forward(const float* x, float* y, int64_t n, int act, float alpha) {
  if (n == 0) return;
  act_forward_kernel<<<grid_for(n), 256, 0, stream()>>>(x, y, n, act, alpha);
  check_launch("act_forward_kernel");
}

void act_backward(const float* y, const float* dy, float* dx, int64_t n, int act, float alpha) {
  if (n == 0) return;
  act_backward_kernel<<<grid_for(n), 256, 0, stream()>>>(y, dy, dx, n, act, alpha);
  check_launch("act_backward_kernel");
}

void column_sums(const float* x, int64_t rows, int64_t cols, float* out) {
  if (cols == 0) return;
  column_sums_kernel<<<(unsigned)((cols + 31) / 32), dim3(32, 8), 0, stream()>>>(x, rows, cols, out);
  check_launch("column_sums_kernel");
}

void softmax_forward(const float* x, float* y, int64_t rows, int64_t cols) {
  if (rows * cols == 0) return;
  softmax_forward_kernel<<<row_blocks(rows), 256, 0, stream()>>>(x, y, rows, cols);
  check_launch("softmax_forward_kernel");
}

void softmax_backward(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols) {
  if (rows * cols == 0) return;
  softmax_backward_kernel<<<row_blocks(rows), 256, 0, stream()>>>(y, dy, dx, rows, cols);
  check_launch("softmax_backward_kernel");
}

}  // namespace fastdnn::cuda
