// The optimizer update over one tensor range on the CPU, instantiated per ISA (csrc/isa/*.cpp)
// so the compiler vectorises it with that ISA's registers: a loop over optim_rule.h's element
// step, one loop per rule and flags, so each is branch-free.
// Entry point and clipping: optim_op.cpp. Reference: optim_ref.cpp (float64).
#pragma once
#include <cstdint>

#include "optim_rule.h"

namespace fastdnn::optim_kernel {

template <int K, bool Flag1, bool Flag2, class V>
void rule(const OptimHyper& hyper, const OptimTensor& t, int64_t i0, int64_t i1) {
  const OptimHyper h = hyper;  // a local copy: no store through w can reach it, so it stays in registers
  float* __restrict w = t.w;
  const float* __restrict g = t.g;
  float* __restrict s0 = t.s[0];
  float* __restrict s1 = t.s[1];
  float* __restrict s2 = t.s[2];
  const float scale = t.scale;
  for (int64_t i = i0; i < i1; ++i) optim_rule::step<K, Flag1, Flag2, V>(h, scale, w, g, s0, s1, s2, i);
}

// Applies h's rule to elements [i0, i1) of one tensor. V (the ISA's SIMD traits) only keeps
// each ISA file's instantiation distinct; the loops are vectorised by the compiler.
template <class V>
void update(const OptimHyper& h, const OptimTensor& t, int64_t i0, int64_t i1) {
  optim_rule::with_rule(h, [&](auto r) {
    using R = decltype(r);
    rule<R::kind, R::flag1, R::flag2, V>(h, t, i0, i1);
  });
}

}  // namespace fastdnn::optim_kernel
