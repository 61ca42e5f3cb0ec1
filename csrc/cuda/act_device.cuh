// Device versions of the activations (codes and formulas: csrc/core/activation.h and
// csrc/activations/act_ref.cpp): the value from the pre-activation, the derivative from the value.
#pragma once
#include <cmath>

namespace fastdnn::cuda {

constexpr float kSeluAlphaDev = 1.6732632423543772f;
constexpr float kSeluScaleDev = 1.0507009873554805f;

__device__ __forceinline__ float act_value(int act, float alpha, float x) {
  switch (act) {
    case 1: return x > 0.0f ? x : (x != x ? x : 0.0f);  // a NaN stays NaN
    case 2: return x > 0.0f ? x : alpha * x;
    case 3: return x > 0.0f ? x : alpha * expm1f(x);
    case 4: return kSeluScaleDev * (x > 0.0f ? x : kSeluAlphaDev * expm1f(x));
    case 5: return 1.0f / (1.0f + expf(-x));
    case 6: return tanhf(x);
    default: return x;
  }
}

__device__ __forceinline__ float act_grad(int act, float alpha, float y) {
  switch (act) {
    case 1: return y > 0.0f ? 1.0f : 0.0f;
    case 2: return y > 0.0f ? 1.0f : alpha;
    case 3: return y > 0.0f ? 1.0f : y + alpha;
    case 4: return y > 0.0f ? kSeluScaleDev : y + kSeluScaleDev * kSeluAlphaDev;
    case 5: return y * (1.0f - y);
    case 6: return 1.0f - y * y;
    default: return 1.0f;
  }
}

// Blocks for n elements at `threads` per block, capped (the kernels loop grid-stride).
inline unsigned grid_for(int64_t n, int threads = 256) {
  const int64_t b = (n + threads - 1) / threads;
  return (unsigned)(b < 1 ? 1 : (b > 65535 * 8 ? 65535 * 8 : b));
}

}  // namespace fastdnn::cuda
