// The reference kernel table: plain float64 loops beside every fast kernel, selectable with
// set_isa("reference") so tests can run the whole library on it. No entry instantiates a fast
// kernel template, so a test that runs both paths checks one against the other: GEMM
// gemm_ref.cpp, activations and softmax act_ref.cpp, cross-entropy xent_ref.cpp, optimizers
// optim_ref.cpp (Keras 3's rules in double, not optim_rule.h's steps), batch normalization
// bn_ref.cpp (the textbook formulas in double, not bn_kernel.h), penalties and constraints
// penalty_ref.cpp, the dropout family dropout_ref.cpp, activation statistics stats_ref.cpp,
// layer normalization ln_ref.cpp.
#include "../activations/act_ref.h"
#include "../batchnorm/bn_ref.h"
#include "isa.h"
#include "../layernorm/ln.h"
#include "../optim/optim_ref.h"
#include "../penalties/penalty_kernel.h"
#include "../stats/stats.h"

namespace fastdnn {

void softmax_xent_reference(const float* logits, int64_t rows, int64_t cols, const int64_t* labels,
                            const float* targets, float* loss, float* dlogits, float grad_scale);

const CpuIsa& isa_reference() {
  static const CpuIsa isa{"reference",
                          &gemm_reference, 1, 1, 1,
                          &act_forward_reference,
                          &act_backward_reference,
                          &softmax_forward_reference,
                          &softmax_backward_reference,
                          &softmax_xent_reference,
                          &optim_reference,
                          &bn_stats_reference,
                          &bn_affine_reference,
                          &bn_backward_reference,
                          &penalty_reference,
                          &noise_reference,
                          &constrain_reference,
                          &activation_stats_reference,
                          &sum_squares_reference,
                          &ln_forward_reference,
                          &ln_backward_reference};
  return isa;
}

}  // namespace fastdnn
