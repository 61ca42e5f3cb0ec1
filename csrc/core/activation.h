// Activation kinds shared by the dense epilogue and the element-wise kernels: the codes are
// core/codes.h's (exported to Python as fastdnn._C.Activation).
//   leaky_relu  x > 0 ? x : alpha * x
//   elu         x > 0 ? x : alpha * (exp(x) - 1)
//   selu        scale * (x > 0 ? x : alpha * (exp(x) - 1)), fixed alpha and scale
#pragma once
#include "codes.h"

namespace fastdnn {

constexpr float kSeluAlpha = 1.6732632423543772f;
constexpr float kSeluScale = 1.0507009873554805f;

}  // namespace fastdnn
