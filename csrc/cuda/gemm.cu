// The tiled GEMM of the CUDA backend, used where cuBLASLt is not loaded, and the bias+activation
// epilogue for activations cuBLASLt has no epilogue for.
//   A: (M, K) row-major, or (K, M) with trans_a;  B: (K, N), or (N, K) with trans_b
//   C: (M, N) = op(A)·op(B) [+ C];  Z = C + bias;  C = act(Z)
// Each 256-thread block computes a 64×64 tile of C, 4×4 values per thread, over K in steps of
// 16 through shared memory; the epilogue runs on the tile in registers.
#include "../activations/act_rule.h"
#include "grid.cuh"
#include "kernels.h"
#include "runtime.h"

namespace fastdnn::cuda {
namespace {

constexpr int kTile = 64, kStep = 16, kThreads = 256;

__global__ void gemm_tiled_kernel(GemmArgs g) {
  __shared__ float As[kStep][kTile + 1];  // As[k][m]
  __shared__ float Bs[kStep][kTile + 1];  // Bs[k][n]
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  const int64_t m0 = (int64_t)blockIdx.y * kTile, n0 = (int64_t)blockIdx.x * kTile;
  float acc[4][4] = {};
  for (int64_t k0 = 0; k0 < g.K; k0 += kStep) {
    for (int i = threadIdx.x; i < kStep * kTile; i += kThreads) {
      const int kk = i / kTile, mm = i % kTile;
      const int64_t m = m0 + mm, k = k0 + kk;
      float a = 0.0f;
      if (m < g.M && k < g.K) a = g.trans_a ? g.A[k * g.lda + m] : g.A[m * g.lda + k];
      As[kk][mm] = a;
      const int64_t n = n0 + mm;
      float b = 0.0f;
      if (n < g.N && k < g.K) b = g.trans_b ? g.B[n * g.ldb + k] : g.B[k * g.ldb + n];
      Bs[kk][mm] = b;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kStep; ++kk) {
      float a[4], b[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) a[i] = As[kk][ty + 16 * i], b[i] = Bs[kk][tx + 16 * i];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int64_t m = m0 + ty + 16 * i;
    if (m >= g.M) continue;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int64_t n = n0 + tx + 16 * j;
      if (n >= g.N) continue;
      float c = acc[i][j];
      if (g.accumulate) c += g.C[m * g.ldc + n];
      if (g.bias) c += g.bias[n];
      if (g.Z) g.Z[m * g.N + n] = c;
      g.C[m * g.ldc + n] = act_rule::value(Act(g.act), g.alpha, c);
    }
  }
}

__global__ void bias_act_kernel(float* C, float* Z, const float* bias, int64_t rows, int64_t cols, int act,
                                float alpha) {
  const int64_t n = rows * cols;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    float c = C[i];
    if (bias) c += bias[i % cols];
    if (Z) Z[i] = c;
    C[i] = act_rule::value(Act(act), alpha, c);
  }
}

}  // namespace

void gemm_tiled(const GemmArgs& g) {
  if (g.M == 0 || g.N == 0) return;
  const dim3 grid((unsigned)((g.N + kTile - 1) / kTile), (unsigned)((g.M + kTile - 1) / kTile));
  gemm_tiled_kernel<<<grid, kThreads, 0, stream()>>>(g);
  check_launch("gemm_tiled_kernel");
}

void bias_act(float* C, float* Z, const float* bias, int64_t rows, int64_t cols, int act, float alpha) {
  if (rows * cols == 0 || (!bias && !Z && act == 0)) return;
  bias_act_kernel<<<grid_for(rows * cols), 256, 0, stream()>>>(C, Z, bias, rows, cols, act, alpha);
  check_launch("bias_act_kernel");
}

}  // namespace fastdnn::cuda
