// One-value SIMD traits: Lane<T> has the operations of the SIMD traits (simd_portable.h) that
// the per-element rules use, on a single float or double, host and device (core/hd.h). A rule
// written over traits V (activations/act_rule.h's derivative, penalties/penalty_rule.h's L1/L2
// gradient) thus runs on a CPU vector register and on one CUDA thread's value alike.
// fma(a, b, c) is a·b + c, contracted or not as the compiler does for that expression.
#pragma once
#include <cmath>

#include "../core/hd.h"

namespace fastdnn::simd {

template <class T>
struct Lane {
  using reg = T;
  using mask = bool;
  FASTDNN_HD static reg zero() { return T(0); }
  FASTDNN_HD static reg set1(T x) { return x; }
  FASTDNN_HD static reg add(reg a, reg b) { return a + b; }
  FASTDNN_HD static reg sub(reg a, reg b) { return a - b; }
  FASTDNN_HD static reg mul(reg a, reg b) { return a * b; }
  FASTDNN_HD static reg fma(reg a, reg b, reg c) { return a * b + c; }
  FASTDNN_HD static reg neg(reg a) { return -a; }
  FASTDNN_HD static reg abs(reg a) {
    if constexpr (sizeof(T) == sizeof(float)) return fabsf(a);
    else return fabs(a);
  }
  FASTDNN_HD static reg copysign(reg m, reg s) {
    if constexpr (sizeof(T) == sizeof(float)) return copysignf(m, s);
    else return ::copysign(m, s);
  }
  FASTDNN_HD static mask gt(reg a, reg b) { return a > b; }
  FASTDNN_HD static reg select(mask m, reg t, reg f) { return m ? t : f; }
};

}  // namespace fastdnn::simd
