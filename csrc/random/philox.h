// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011): a
// counter-based generator. Each 128-bit counter and 64-bit key map to four independent 32-bit
// words, so every random draw is a pure function of its coordinates, with no state to carry
// between threads, calls or devices.
//
// fastdnn's coordinates for element e of a random op (csrc/dropout/):
//   key     = seed (low 32 bits, high 32 bits)
//   counter = (e / 4, stream, step low 32 bits, step high 32 bits), word e % 4 of the output
// `stream` tells layers apart and `step` counts a layer's calls, so masks depend on neither the
// thread count nor the ISA, and a CUDA kernel reproduces them from the same formula.
#pragma once
#include <cstdint>

// Functions are `static`: each ISA file compiles its own copy with its own flags, and the linker
// never swaps an AVX-512 build of one into a portable caller.

namespace fastdnn::philox {

constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;  // round multipliers
constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;  // key schedule (Weyl) increments
constexpr int kRounds = 10;

// out = Philox4x32-10(ctr, key).
static inline void philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
  uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
  uint32_t k0 = key[0], k1 = key[1];
  for (int r = 0; r < kRounds; ++r) {
    const uint64_t p0 = (uint64_t)kM0 * c0, p1 = (uint64_t)kM1 * c2;
    const uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
    c0 = n0, c1 = (uint32_t)p1, c2 = n2, c3 = (uint32_t)p0;
    k0 += kW0, k1 += kW1;
  }
  out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

// The four words of block `block` (elements 4·block .. 4·block+3) of a (seed, stream, step) draw.
static inline void block(uint64_t seed, uint32_t stream, uint64_t step, uint64_t block, uint32_t out[4]) {
  const uint32_t ctr[4] = {(uint32_t)block, stream, (uint32_t)step, (uint32_t)(step >> 32)};
  const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
  philox4x32_10(ctr, key, out);
}

// A uniform float in (0, 1] from the top 24 bits of a word (never 0, so log(u) is finite).
static inline float uniform_open0(uint32_t bits) { return (float)((bits >> 8) + 1u) * 0x1p-24f; }
// A uniform float in [0, 1) from the top 24 bits of a word.
static inline float uniform_open1(uint32_t bits) { return (float)(bits >> 8) * 0x1p-24f; }

}  // namespace fastdnn::philox
