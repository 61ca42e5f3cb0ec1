// The float64 reference of the optimizer update (optim_ref.cpp), the "reference" kernel
// table's entry beside optim_kernel::update.
#pragma once
#include <cstdint>

#include "optim_rule.h"  // OptimHyper and OptimTensor only: the reference computes its own steps

namespace fastdnn {

void optim_reference(const OptimHyper& h, const OptimTensor& t, int64_t i0, int64_t i1);

}  // namespace fastdnn
