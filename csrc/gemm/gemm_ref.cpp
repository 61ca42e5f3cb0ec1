// Reference SGEMM: the formula in gemm.h as plain loops, accumulating in float64.
// Slow on purpose; the fast kernels are checked against it and against NumPy.
#include "../activations/act_ref.h"
#include "gemm.h"

namespace fastdnn {

void gemm_reference(const GemmArgs& g, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  for (int64_t i = m0; i < m1; ++i) {
    for (int64_t j = n0; j < n1; ++j) {
      double acc = g.accumulate ? g.C[i * g.ldc + j] : 0.0;
      for (int64_t k = 0; k < g.K; ++k) {
        const double a = g.trans_a ? g.A[k * g.lda + i] : g.A[i * g.lda + k];
        const double b = g.trans_b ? g.B[j * g.ldb + k] : g.B[k * g.ldb + j];
        acc += a * b;
      }
      if (g.bias) acc += g.bias[j];
      if (g.Z) g.Z[i * g.ldz + j] = (float)acc;
      g.C[i * g.ldc + j] = (float)act_reference(g.act, g.alpha, acc);
    }
  }
}

}  // namespace fastdnn
