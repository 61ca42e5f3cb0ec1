// Activation kinds shared by the dense epilogue and the element-wise kernels.
// The numeric codes are part of the binding ABI (python/fastdnn/ops.py keeps the same table).
#pragma once

namespace fastdnn {

enum class Act : int {
  kIdentity = 0,
  kRelu = 1,
  kLeakyRelu = 2,  // x > 0 ? x : alpha * x
  kElu = 3,        // x > 0 ? x : alpha * (exp(x) - 1)
  kSelu = 4,       // scale * (x > 0 ? x : alpha * (exp(x) - 1)), fixed alpha and scale
  kSigmoid = 5,
  kTanh = 6,
};
constexpr int kNumActs = 7;

constexpr float kSeluAlpha = 1.6732632423543772f;
constexpr float kSeluScale = 1.0507009873554805f;

}  // namespace fastdnn
