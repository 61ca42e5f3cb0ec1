// The dropout family on the GPU, with the CPU's Philox4x32-10 coordinates (csrc/random/philox.h,
// csrc/dropout/dropout_kernel.h): thread b draws block b of (seed, stream, step) and writes
// elements 4b .. 4b+3, so a seed gives the same Bernoulli mask here as on the CPU, bit for bit.
//   x, y: n floats (any shape, flat)
//   bernoulli: y = bits < threshold ? c_drop : x·m + c_keep
//   normal:    y = x·(m0 + m1·z) + (c0 + c1·z), z by Box-Muller from word pairs (0, 1), (2, 3)
#include <cstdint>

#include "grid.cuh"
#include "kernels.h"
#include "runtime.h"

namespace fastdnn::cuda {
namespace {

constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u, kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;

__device__ __forceinline__ uint4 philox_block(uint64_t seed, uint32_t stream, uint64_t step, uint64_t block) {
  uint32_t c0 = (uint32_t)block, c1 = stream, c2 = (uint32_t)step, c3 = (uint32_t)(step >> 32);
  uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
#pragma unroll
  for (int r = 0; r < 10; ++r) {
    const uint32_t hi0 = __umulhi(kM0, c0), lo0 = kM0 * c0;
    const uint32_t hi1 = __umulhi(kM1, c2), lo1 = kM1 * c2;
    const uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
    c0 = n0, c1 = lo1, c2 = n2, c3 = lo0;
    k0 += kW0, k1 += kW1;
  }
  return make_uint4(c0, c1, c2, c3);
}

__device__ __forceinline__ uint32_t word(const uint4& w, int i) {
  return i == 0 ? w.x : i == 1 ? w.y : i == 2 ? w.z : w.w;
}

__global__ void bernoulli_kernel(const float* x, float* y, int64_t n, uint64_t seed, uint32_t stream, uint64_t step,
                                 uint32_t threshold, float m, float c_keep, float c_drop) {
  const int64_t blocks = (n + 3) / 4;
  for (int64_t b = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; b < blocks; b += (int64_t)gridDim.x * blockDim.x) {
    const uint4 w = philox_block(seed, stream, step, (uint64_t)b);
    for (int i = 0; i < 4; ++i) {
      const int64_t e = 4 * b + i;
      if (e >= n) break;
      // as the CPU: c_keep == 0 multiplies only, so x·m keeps its sign of zero
      y[e] = word(w, i) < threshold ? c_drop : (c_keep == 0.0f ? x[e] * m : x[e] * m + c_keep);
    }
  }
}

__global__ void bernoulli_broadcast_kernel(const float* x, float* y, int64_t n, Strided s, uint64_t seed,
                                           uint32_t stream, uint64_t step, uint32_t threshold, float m, float c_keep,
                                           float c_drop) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t r = i, e = 0;  // e: the mask element this input element reads
    for (int d = s.ndim - 1; d >= 0; --d) {
      e += r % s.shape[d] * s.stride_b[d];
      r /= s.shape[d];
    }
    const uint4 w = philox_block(seed, stream, step, (uint64_t)(e / 4));
    y[i] = word(w, (int)(e % 4)) < threshold ? c_drop : (c_keep == 0.0f ? x[i] * m : x[i] * m + c_keep);
  }
}

__global__ void normal_kernel(const float* x, float* y, int64_t n, uint64_t seed, uint32_t stream, uint64_t step,
                              float m0, float m1, float c0, float c1) {
  const int64_t blocks = (n + 3) / 4;
  for (int64_t b = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; b < blocks; b += (int64_t)gridDim.x * blockDim.x) {
    const uint4 w = philox_block(seed, stream, step, (uint64_t)b);
    float z[4];
    for (int p = 0; p < 2; ++p) {
      const float u1 = (float)((word(w, 2 * p) >> 8) + 1u) * 0x1p-24f;  // (0, 1]
      const float u2 = (float)(word(w, 2 * p + 1) >> 8) * 0x1p-24f;     // [0, 1)
      const float r = sqrtf(-2.0f * logf(u1)), t = 6.283185307179586f * u2;
      z[2 * p] = r * cosf(t);
      z[2 * p + 1] = r * sinf(t);
    }
    for (int i = 0; i < 4; ++i) {
      const int64_t e = 4 * b + i;
      if (e >= n) break;
      y[e] = x[e] * (m0 + m1 * z[i]) + (c0 + c1 * z[i]);
    }
  }
}

unsigned grid_blocks(int64_t n) {
  const int64_t b = ((n + 3) / 4 + 255) / 256;
  return (unsigned)(b < 1 ? 1 : (b > 65535 * 8 ? 65535 * 8 : b));
}

}  // namespace

void noise_bernoulli(const float* x, float* y, int64_t n, uint64_t seed, uint32_t stream, uint64_t step,
                     uint32_t threshold, float m, float c_keep, float c_drop) {
  if (n == 0) return;
  bernoulli_kernel<<<grid_blocks(n), 256, 0, cuda::stream()>>>(x, y, n, seed, stream, step, threshold, m, c_keep,
                                                               c_drop);
  check_launch("bernoulli_kernel");
}

void noise_bernoulli_broadcast(const float* x, float* y, int64_t n, const Strided& s, uint64_t seed,
                               uint32_t stream, uint64_t step, uint32_t threshold, float m, float c_keep,
                               float c_drop) {
  if (n == 0) return;
  bernoulli_broadcast_kernel<<<grid_for(n), 256, 0, cuda::stream()>>>(x, y, n, s, seed, stream, step, threshold, m,
                                                                      c_keep, c_drop);
  check_launch("bernoulli_broadcast_kernel");
}

void noise_normal(const float* x, float* y, int64_t n, uint64_t seed, uint32_t stream, uint64_t step, float m0,
                  float m1, float c0, float c1) {
  if (n == 0) return;
  normal_kernel<<<grid_blocks(n), 256, 0, cuda::stream()>>>(x, y, n, seed, stream, step, m0, m1, c0, c1);
  check_launch("normal_kernel");
}

}  // namespace fastdnn::cuda
