// GEMM with a fused epilogue, the op behind fastdnn.ops.matmul and fastdnn.ops.dense.
//
//   Z[M,N] = (accumulate ? C : 0) + op(A)[M,K] · op(B)[K,N] + bias[N]
//   C[M,N] = act(Z)
//
// op(A) = A (stored M×K, row stride lda) or Aᵀ (A stored K×M); likewise for B.
// All arrays are float32 and row-major. Z is written only when requested.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "../core/activation.h"

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

// Computes the rows [m0, m1) and columns [n0, n1) of C (and Z). Called from one thread per block.
using GemmBlockFn = void (*)(const GemmArgs&, int64_t m0, int64_t m1, int64_t n0, int64_t n1);

// One CPU implementation of the op: its name, entry point, register tile (mr × nr) and vector
// width w; threads get row blocks in multiples of mr and column blocks in multiples of w.
struct GemmIsa {
  const char* name;
  GemmBlockFn fn;
  int mr;
  int nr;
  int w;
};

// Implementations, each in its own file, compiled with its own ISA flags.
const GemmIsa& gemm_isa_reference();  // gemm_ref.cpp: plain loops, float64 accumulation
const GemmIsa& gemm_isa_portable();   // gemm_portable.cpp
#if defined(FASTDNN_X86)
const GemmIsa& gemm_isa_avx2();       // gemm_avx2.cpp
const GemmIsa& gemm_isa_avx512();     // gemm_avx512.cpp
#endif

// The CPU dispatch point: validated arguments in, threads split, chosen kernel runs.
void gemm_cpu(const GemmArgs& args);

// Kernel paths this build holds and this CPU runs, best first ("avx512", "avx2", "portable",
// "reference"), and the one in use.
std::vector<std::string> gemm_available_isas();
std::string gemm_get_isa();
void gemm_set_isa(const std::string& name);  // throws std::invalid_argument if unavailable

// Products below this many flops (2·M·N·K) run on the calling thread alone.
int64_t gemm_parallel_threshold();
void gemm_set_parallel_threshold(int64_t flops);

}  // namespace fastdnn
