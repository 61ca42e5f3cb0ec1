// Fast loops of the training statistics (stats.h), compiled once per ISA: each csrc/isa/*.cpp
// instantiates them with its own flags (isa_table.h); V (that file's SIMD traits) only gives each
// ISA its own instantiation. Both are one streaming pass over memory: the inner loops run across
// independent lanes (columns, or 16 partial sums), which the compiler vectorises at -O3, and
// float partial sums are flushed to float64 every kBlock rows or elements so the totals keep
// float64-like accuracy (error ~kBlock·eps relative per block instead of n·eps).
#pragma once
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <vector>

#include "stats.h"

namespace fastdnn {
namespace stats_kernel {

constexpr int64_t kBlock = 256;  // rows (or 16-element groups) per float partial sum
constexpr int kLanes = 16;

template <class V>
ActivationStats activation_stats(const float* x, int64_t rows, int64_t cols, float low, float high,
                                 float tolerance) {
  ActivationStats s;
  if (rows <= 0 || cols <= 0) return s;
  const bool check_saturation = tolerance >= 0;
  std::vector<float> sum(cols), sq(cols);
  std::vector<uint8_t> nonzero(cols, 0), unsaturated(cols, check_saturation ? 0 : 1);
  std::vector<int32_t> sat_count(cols, 0), bad_count(cols, 0);
  for (int64_t r0 = 0; r0 < rows; r0 += kBlock) {
    std::fill(sum.begin(), sum.end(), 0.0f);
    std::fill(sq.begin(), sq.end(), 0.0f);
    const int64_t r1 = std::min(rows, r0 + kBlock);
    for (int64_t r = r0; r < r1; ++r) {
      const float* row = x + r * cols;
      for (int64_t c = 0; c < cols; ++c) {
        const float v = row[c];
        sum[c] += v;
        sq[c] += v * v;
        nonzero[c] |= (uint8_t)(v != 0.0f);
        bad_count[c] += !(std::fabs(v) <= FLT_MAX);
        if (check_saturation) {
          const int saturated = (std::fabs(v - low) <= tolerance) | (std::fabs(v - high) <= tolerance);
          sat_count[c] += saturated;
          unsaturated[c] |= (uint8_t)!saturated;
        }
      }
    }
    for (int64_t c = 0; c < cols; ++c) s.sum += sum[c], s.sum_squares += sq[c];
  }
  for (int64_t c = 0; c < cols; ++c) {
    s.dead_units += !nonzero[c];
    s.saturated_units += !unsaturated[c];
    s.saturated_values += sat_count[c];
    s.nonfinite += bad_count[c];
  }
  return s;
}

// One branch-free loop per case, so the 16 lanes vectorise: v² (no flag), (v - u)² (kDiff),
// clamp(v, -c, c)² (kClip; NaN stays NaN); kCopy also writes v to dst in the same pass. No
// d·d + acc is fused (FMA): it would chain the 16 lanes through the FMA's longer latency (two
// AVX2 registers, ~8% slower) and round differently on each ISA.
template <class V, bool kDiff, bool kClip, bool kCopy>
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("fp-contract=off")))
#endif
double sum_squares_loop(const float* v, const float* u, int64_t i0, int64_t i1, float c, float* dst) {
  double total = 0;
  float acc[kLanes];
  int64_t i = i0;
  while (i1 - i >= kLanes) {
    std::fill(acc, acc + kLanes, 0.0f);
    const int64_t end = i + std::min<int64_t>((i1 - i) / kLanes, kBlock) * kLanes;
    for (; i < end; i += kLanes) {
      for (int j = 0; j < kLanes; ++j) {
        const float x = v[i + j];
        if (kCopy) dst[i + j] = x;
        float d = kDiff ? x - u[i + j] : x;
        if (kClip) d = std::min(std::max(d, -c), c);
        acc[j] += d * d;
      }
    }
    for (int j = 0; j < kLanes; ++j) total += acc[j];
  }
  for (; i < i1; ++i) {
    if (kCopy) dst[i] = v[i];
    double d = kDiff ? (double)v[i] - (double)u[i] : (double)v[i];
    if (kClip) d = d < -c ? -(double)c : d > c ? (double)c : d;
    total += d * d;
  }
  return total;
}

template <class V>
double sum_squares(const float* v, const float* u, int64_t i0, int64_t i1, float clipvalue, float* copy) {
  if (copy) {
    if (u || clipvalue > 0) std::copy(v + i0, v + i1, copy + i0);  // combinations the monitor never asks
    else return sum_squares_loop<V, false, false, true>(v, u, i0, i1, 0, copy);
  }
  if (clipvalue > 0)
    return u ? sum_squares_loop<V, true, true, false>(v, u, i0, i1, clipvalue, nullptr)
             : sum_squares_loop<V, false, true, false>(v, u, i0, i1, clipvalue, nullptr);
  return u ? sum_squares_loop<V, true, false, false>(v, u, i0, i1, 0, nullptr)
           : sum_squares_loop<V, false, false, false>(v, u, i0, i1, 0, nullptr);
}

}  // namespace stats_kernel
}  // namespace fastdnn
