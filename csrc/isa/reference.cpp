// The reference kernel table: plain float64 loops beside every fast kernel, selectable with
// set_isa("reference") so tests can run the whole library on it.
#include "../activations/act_ref.h"
#include "../batchnorm/bn_kernel.h"
#include "isa.h"
#include "../penalties/penalty_kernel.h"
#include "../stats/stats.h"

namespace fastdnn {

void softmax_xent_reference(const float* logits, int64_t rows, int64_t cols, const int64_t* labels,
                            const float* targets, float* loss, float* dlogits, float grad_scale);

namespace {
struct Scalar {};  // the reference path's own instantiation of the optimizer rules
}  // namespace

const CpuIsa& isa_reference() {
  static const CpuIsa isa{"reference",
                          &gemm_reference, 1, 1, 1,
                          &act_forward_reference,
                          &act_backward_reference,
                          &softmax_forward_reference,
                          &softmax_backward_reference,
                          &softmax_xent_reference,
                          &optim_kernel::update<Scalar>,
                          &bn_kernel::stats<Scalar>,
                          &bn_kernel::affine<Scalar>,
                          &bn_kernel::backward<Scalar>,
                          &penalty_reference,
                          &noise_reference,
                          &constrain_reference,
                          &activation_stats_reference,
                          &sum_squares_reference};
  return isa;
}

}  // namespace fastdnn
