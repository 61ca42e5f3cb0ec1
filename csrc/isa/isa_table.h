// Builds one ISA's kernel table from the kernel templates; included once by each csrc/isa/*.cpp,
// after its SIMD traits, so every instantiation carries that file's ISA flags.
#pragma once
#include "../activations/act_kernel.h"
#include "../batchnorm/bn_kernel.h"
#include "isa.h"
#include "../dropout/dropout_kernel.h"
#include "../gemm/gemm_kernel.h"
#include "../layernorm/ln.h"
#include "../losses/xent_kernel.h"
#include "../optim/optim_kernel.h"
#include "../penalties/constrain_simd.h"
#include "../penalties/penalty_simd.h"
#include "../stats/stats_kernel.h"

namespace fastdnn {

template <class V, class Gemm>
CpuIsa make_isa(int mr) {
  return CpuIsa{V::name,
                &Gemm::run, mr, Gemm::NR, V::W,
                &act_kernel::forward<V>,
                &act_kernel::backward<V>,
                &act_kernel::softmax_forward<V>,
                &act_kernel::softmax_backward<V>,
                &xent_kernel::softmax_xent<V>,
                &optim_kernel::update<V>,
                &bn_kernel::stats<V>,
                &bn_kernel::affine<V>,
                &bn_kernel::backward<V>,
                &penalty_kernel::weight_penalty<V>,
                &noise_kernel::run<V>,
                &penalty_kernel::constrain<V>,
                &stats_kernel::activation_stats<V>,
                &stats_kernel::sum_squares<V>,
                &ln_forward_fast,  // scalar loops, one build for every ISA
                &ln_backward_fast};
}

}  // namespace fastdnn
