// Launch sizes of the grid-stride kernels.
#pragma once
#include <cstdint>

namespace fastdnn::cuda {

// Blocks for n elements at `threads` per block, capped (the kernels loop grid-stride).
inline unsigned grid_for(int64_t n, int threads = 256) {
  const int64_t b = (n + threads - 1) / threads;
  return (unsigned)(b < 1 ? 1 : (b > 65535 * 8 ? 65535 * 8 : b));
}

}  // namespace fastdnn::cuda
