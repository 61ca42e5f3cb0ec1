// The CPU activation forward over n values, large arrays split across the thread pool: the
// dispatch of fastdnn._C.act_forward (act_op.cpp), shared with the training plan.
#pragma once
#include <cstdint>

#include "../core/codes.h"

namespace fastdnn {

void act_forward_cpu(const float* x, float* y, int64_t n, Act act, float alpha);

}  // namespace fastdnn
