// Reference of the dropout-family kernel (dropout_kernel.h): one Philox call per element, no
// blocking and no vectors, the formulas written out once more. The 'reference' ISA runs it, and
// the tests compare every other path with it and with a NumPy Philox.
#include <cmath>

#include "dropout_kernel.h"

namespace fastdnn {

void noise_reference(const NoiseArgs& a, int64_t i0, int64_t i1) {
  const double two_pi = 6.283185307179586;
  for (int64_t e = i0; e < i1; ++e) {
    uint32_t w[4];
    philox::block(a.seed, a.stream, a.step, (uint64_t)(e / 4), w);
    const int j = (int)(e % 4);
    if (a.kind == kBernoulli) {
      const bool keep = w[j] >= a.threshold;
      a.y[e] = keep ? (a.c_keep == 0.0f ? a.x[e] * a.m : a.x[e] * a.m + a.c_keep) : a.c_drop;
    } else {
      const int p = j / 2;  // word pair (0, 1) or (2, 3); cos for the first word, sin for the second
      const double u1 = philox::uniform_open0(w[2 * p]), u2 = philox::uniform_open1(w[2 * p + 1]);
      const double r = std::sqrt(-2.0 * std::log(u1)), t = two_pi * u2;
      const float z = (float)(j % 2 == 0 ? r * std::cos(t) : r * std::sin(t));
      a.y[e] = a.x[e] * (a.m0 + a.m1 * z) + (a.c0 + a.c1 * z);
    }
  }
}

}  // namespace fastdnn
