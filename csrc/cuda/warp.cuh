// Warp-wide reductions (every lane gets the result; a fixed butterfly order, so deterministic),
// and the block-wide sum built on them.
#pragma once
#include <cmath>

namespace fastdnn::cuda {

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ double warp_sum(double v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// The largest of a row's `cols` values, read by the 32 lanes of a warp (one warp per row).
__device__ __forceinline__ float warp_row_max(const float* row, int64_t cols, int lane) {
  float mx = -INFINITY;
  for (int64_t j = lane; j < cols; j += 32) mx = fmaxf(mx, row[j]);
  return warp_max(mx);
}

// The sum of v over a block of kThreads threads (a multiple of 32): warp sums, then warp 0's
// partials added in warp order by thread 0. Valid in thread 0 only; every thread must call it.
template <int kThreads>
__device__ double block_sum(double v) {
  __shared__ double warps[kThreads / 32];
  v = warp_sum(v);
  if (threadIdx.x % 32 == 0) warps[threadIdx.x / 32] = v;
  __syncthreads();
  double t = 0.0;
  if (threadIdx.x == 0)
    for (int k = 0; k < kThreads / 32; ++k) t += warps[k];
  __syncthreads();  // the next call may reuse `warps`
  return t;
}

}  // namespace fastdnn::cuda
