// The CPU kernel paths. Each ISA (avx512, avx2, portable, and the plain reference) provides one
// table of kernels, compiled in its own file with its own flags (csrc/isa/*.cpp); the table in
// use is chosen once at run time from what the CPU offers, and can be forced for testing.
// Every op's dispatch (gemm.cpp, act_op.cpp, xent_op.cpp, penalty_op.cpp, stats_op.cpp, ln_op.cpp, ...)
// calls through cpu_isa().
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "../dropout/dropout_kernel.h"
#include "../gemm/gemm.h"
#include "../optim/optim_kernel.h"
#include "../penalties/penalty_kernel.h"
#include "../stats/stats.h"
#include "../core/codes.h"

namespace fastdnn {

struct CpuIsa {
  const char* name;

  // GEMM over rows [m0, m1) × columns [n0, n1) of C, and its register tile mr × nr and vector
  // width w (threads get row blocks in multiples of mr, column blocks in multiples of w).
  void (*gemm)(const GemmArgs&, int64_t m0, int64_t m1, int64_t n0, int64_t n1);
  int mr, nr, w;

  // y[i] = act(x[i]) for n values (act is not softmax).
  void (*act_forward)(const float* x, float* y, int64_t n, Act act, float alpha);
  // dx = dy · act'(z), computed from the output y = act(z), over a rows × cols array; when dbias
  // is given it receives the column sums of dx (the bias gradient of a dense layer).
  void (*act_backward)(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols,
                       Act act, float alpha, float* dbias);
  // Row-wise softmax and its backward dx = y · (dy - Σ dy·y).
  void (*softmax_forward)(const float* x, float* y, int64_t rows, int64_t cols);
  void (*softmax_backward)(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols);
  // Softmax cross-entropy from logits, per row: loss = logsumexp(x) - Σ t·x with targets t given
  // as class indices (labels) or as a dense rows × cols array (targets). When dlogits is given it
  // receives (softmax(x)·Σt - t) · grad_scale.
  void (*softmax_xent)(const float* logits, int64_t rows, int64_t cols, const int64_t* labels,
                       const float* targets, float* loss, float* dlogits, float grad_scale);
  // One optimizer rule over elements [i0, i1) of one parameter tensor (optim_kernel.h).
  void (*optimizer_update)(const OptimHyper& h, const OptimTensor& t, int64_t i0, int64_t i1);
  // Batch normalization over rows × features (bn_kernel.h): per-feature mean and biased
  // variance (float64), y = (x − center)·scale + shift, and the backward (dx, dgamma, dbeta).
  void (*bn_stats)(const float* x, int64_t rows, int64_t cols, double* mean, double* var);
  void (*bn_affine)(const float* x, float* y, int64_t rows, int64_t cols, const float* center,
                    const float* scale, const float* shift);
  void (*bn_backward)(const float* dy, const float* x, int64_t rows, int64_t cols, const float* mean,
                      const float* inv_std, const float* gamma, bool training, float* dx,
                      float* dgamma, float* dbeta);
  // L1/L2 penalty of n weights, l1·Σ|w| + l2·Σw², and g += l1·sign(w) + 2·l2·w when g is not
  // null (penalties/penalty_simd.h).
  double (*weight_penalty)(const float* w, float* g, int64_t n, float l1, float l2);
  // The dropout family over elements [i0, i1) (i0 a multiple of 4) of one flat array
  // (dropout_kernel.h): Philox draws, then y = x·m + c.
  void (*noise)(const NoiseArgs& a, int64_t i0, int64_t i1);
  // Weight constraints over columns [c0, c1) of rows [o0, o1) of an outer × red × inner tensor
  // (penalties/penalty_kernel.h).
  void (*constrain)(float* w, int64_t red, int64_t inner, int64_t o0, int64_t o1, int64_t c0,
                    int64_t c1, const ConstraintSpec& c);
  // The training statistics (stats/stats.h): one pass over a batch of activations, and Σ f(v)²
  // over elements [i0, i1) of one tensor.
  ActivationStats (*activation_stats)(const float* x, int64_t rows, int64_t cols, float low,
                                      float high, float tolerance);
  double (*sum_squares)(const float* v, const float* u, int64_t i0, int64_t i1, float clipvalue,
                        float* copy);
  // Layer normalization over the last axis of a rows × cols array, whole (layernorm/ln.h).
  void (*layernorm_forward)(const float* x, float* y, int64_t rows, int64_t cols, const float* gamma,
                            const float* beta, double eps, float* mean, float* inv_std);
  void (*layernorm_backward)(const float* dy, const float* x, int64_t rows, int64_t cols,
                             const float* mean, const float* inv_std, const float* gamma, float* dx,
                             float* dgamma, float* dbeta);
};

// Tables this build holds and this CPU runs, best first.
const CpuIsa& isa_reference();  // csrc/isa/reference.cpp
const CpuIsa& isa_portable();   // csrc/isa/portable.cpp
#if defined(FASTDNN_X86)
const CpuIsa& isa_avx2();       // csrc/isa/avx2.cpp
const CpuIsa& isa_avx512();     // csrc/isa/avx512.cpp
#endif

const CpuIsa& cpu_isa();  // the table in use
std::vector<std::string> available_isas();
std::string get_isa();
void set_isa(const std::string& name);  // throws std::invalid_argument if unavailable

}  // namespace fastdnn
