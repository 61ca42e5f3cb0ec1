// GEMM with a fused epilogue, the op behind fastdnn.ops.matmul and fastdnn.ops.dense.
//
//   Z[M,N] = (accumulate ? C : 0) + op(A)[M,K] · op(B)[K,N] + bias[N]
//   C[M,N] = act(Z)
//
// op(A) = A (stored M×K, row stride lda) or Aᵀ (A stored K×M); likewise for B.
// All arrays are float32 and row-major. Z is written only when requested.
#pragma once
#include <cstdint>

#include "../core/codes.h"

namespace fastdnn {

struct GemmArgs {
  int64_t M = 0, N = 0, K = 0;
  const float* A = nullptr; int64_t lda = 0; bool trans_a = false;
  const float* B = nullptr; int64_t ldb = 0; bool trans_b = false;
  float* C = nullptr; int64_t ldc = 0;
  bool accumulate = false;
  const float* bias = nullptr;
  Act act = Act::kIdentity;
  float alpha = 0.0f;
  float* Z = nullptr; int64_t ldz = 0;
};

// The CPU dispatch point: validated arguments in, threads split, the kernel path in use runs.
void gemm_cpu(const GemmArgs& args);

// The plain reference kernel (gemm_ref.cpp) for rows [m0, m1) × columns [n0, n1).
void gemm_reference(const GemmArgs& args, int64_t m0, int64_t m1, int64_t n0, int64_t n1);

// Products below this many flops (2·M·N·K) run on the calling thread alone.
int64_t gemm_parallel_threshold();
void gemm_set_parallel_threshold(int64_t flops);

}  // namespace fastdnn
