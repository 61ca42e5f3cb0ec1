// Element-wise activation kernels over SIMD traits V, instantiated per ISA (csrc/isa/*.cpp).
//
//   forward:  y[n] = act(x[n])
//   backward: dx[rows, cols] = dy · act'(z), from the output y = act(z); dbias[cols] = Σ_rows dx
//   softmax:  y[r, :] = exp(x[r, :] - max) / Σ exp(x[r, :] - max);  dx = y · (dy - Σ dy·y)
// The backward reads y, not z: act'(z) from the output y, act_rule.h's grad on vector registers
// (the CUDA kernels run the same rule on one value).
// Reference: act_ref.cpp (float64), and float64 NumPy in tests/test_activations_native.py.
#pragma once
#include <cmath>
#include <cstdint>

#include "../simd/vmath.h"
#include "act_rule.h"

namespace fastdnn::act_kernel {

template <class V, Act A>
void forward_t(const float* x, float* y, int64_t n, float alpha) {
  constexpr int W = V::W;
  int64_t i = 0;
  for (; i + W <= n; i += W) V::store(y + i, vmath::activate<V, A>(V::load(x + i), alpha));
  if (i < n) V::store_n(y + i, vmath::activate<V, A>(V::load_n(x + i, (int)(n - i)), alpha), (int)(n - i));
}

template <class V, Act A>
void backward_t(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols, float alpha,
                float* dbias) {
  constexpr int W = V::W;
  for (int64_t j = 0; dbias && j < cols; ++j) dbias[j] = 0.0f;
  for (int64_t r = 0; r < rows; ++r) {
    const float *yr = y + r * cols, *dyr = dy + r * cols;
    float* dxr = dx + r * cols;
    int64_t j = 0;
    for (; j + W <= cols; j += W) {
      const auto g = V::mul(V::load(dyr + j), act_rule::grad<V, A>(V::load(yr + j), alpha));
      V::store(dxr + j, g);
      if (dbias) V::store(dbias + j, V::add(V::load(dbias + j), g));
    }
    if (j < cols) {
      const int t = (int)(cols - j);
      const auto g = V::mul(V::load_n(dyr + j, t), act_rule::grad<V, A>(V::load_n(yr + j, t), alpha));
      V::store_n(dxr + j, g, t);
      if (dbias) V::store_n(dbias + j, V::add(V::load_n(dbias + j, t), g), t);
    }
  }
}

#define FASTDNN_ACT_SWITCH(act, F, ...)                                  \
  switch (act) {                                                         \
    case Act::kIdentity: return F<V, Act::kIdentity>(__VA_ARGS__);       \
    case Act::kRelu: return F<V, Act::kRelu>(__VA_ARGS__);               \
    case Act::kLeakyRelu: return F<V, Act::kLeakyRelu>(__VA_ARGS__);     \
    case Act::kElu: return F<V, Act::kElu>(__VA_ARGS__);                 \
    case Act::kSelu: return F<V, Act::kSelu>(__VA_ARGS__);               \
    case Act::kSigmoid: return F<V, Act::kSigmoid>(__VA_ARGS__);         \
    case Act::kTanh: return F<V, Act::kTanh>(__VA_ARGS__);               \
  }

template <class V>
void forward(const float* x, float* y, int64_t n, Act act, float alpha) {
  FASTDNN_ACT_SWITCH(act, forward_t, x, y, n, alpha)
}

template <class V>
void backward(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols, Act act,
              float alpha, float* dbias) {
  FASTDNN_ACT_SWITCH(act, backward_t, y, dy, dx, rows, cols, alpha, dbias)
}
#undef FASTDNN_ACT_SWITCH

// exp(x - mx) for the row into y; returns the row's sum. Lanes past the end are never stored.
template <class V>
float exp_shifted_row(const float* x, float* y, int64_t cols, float mx) {
  constexpr int W = V::W;
  const auto m = V::set1(mx);
  auto acc = V::zero();
  int64_t j = 0;
  for (; j + W <= cols; j += W) {
    const auto e = vmath::exp_neg<V>(V::sub(V::load(x + j), m));
    V::store(y + j, e);
    acc = V::add(acc, e);
  }
  float sum = V::hsum(acc);
  if (j < cols) {
    const int t = (int)(cols - j);
    V::store_n(y + j, vmath::exp_neg<V>(V::sub(V::load_n(x + j, t), m)), t);
    for (int l = 0; l < t; ++l) sum += y[j + l];
  }
  return sum;
}

template <class V>
float row_max(const float* x, int64_t cols) {
  constexpr int W = V::W;
  float mx = -INFINITY;
  int64_t j = 0;
  if (cols >= W) {
    auto acc = V::load(x);
    for (j = W; j + W <= cols; j += W) acc = V::max(V::load(x + j), acc);
    mx = V::hmax(acc);
  }
  for (; j < cols; ++j) mx = x[j] > mx ? x[j] : mx;
  return mx;
}

template <class V>
void scale_row(float* y, int64_t cols, float s) {
  constexpr int W = V::W;
  int64_t j = 0;
  for (; j + W <= cols; j += W) V::store(y + j, V::mul(V::load(y + j), V::set1(s)));
  for (; j < cols; ++j) y[j] *= s;
}

template <class V>
void softmax_forward(const float* x, float* y, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    const float mx = row_max<V>(xr, cols);
    if (!std::isfinite(mx)) {  // all -inf, or a +inf: inf - inf, as IEEE says
      for (int64_t j = 0; j < cols; ++j) yr[j] = NAN;
      continue;
    }
    const float sum = exp_shifted_row<V>(xr, yr, cols, mx);  // NaN inputs make the sum NaN
    scale_row<V>(yr, cols, 1.0f / sum);
  }
}

template <class V>
void softmax_backward(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols) {
  constexpr int W = V::W;
  for (int64_t r = 0; r < rows; ++r) {
    const float *yr = y + r * cols, *dyr = dy + r * cols;
    float* dxr = dx + r * cols;
    auto acc = V::zero();
    int64_t j = 0;
    for (; j + W <= cols; j += W) acc = V::fma(V::load(dyr + j), V::load(yr + j), acc);
    float dot = V::hsum(acc);
    for (int64_t k = j; k < cols; ++k) dot += dyr[k] * yr[k];
    const auto d = V::set1(dot);
    for (j = 0; j + W <= cols; j += W)
      V::store(dxr + j, V::mul(V::load(yr + j), V::sub(V::load(dyr + j), d)));
    for (; j < cols; ++j) dxr[j] = yr[j] * (dyr[j] - dot);
  }
}

}  // namespace fastdnn::act_kernel
