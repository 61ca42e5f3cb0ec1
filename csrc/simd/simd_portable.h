// Portable SIMD traits: a fixed array of 8 floats with plain loops, which the compiler
// vectorises for whatever the target offers (SSE2, NEON, ...). Compiles with any C++17 compiler.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

namespace fastdnn::simd {

struct Portable {
  static constexpr int W = 8;
  static constexpr const char* name = "portable";
  struct reg { float v[W]; };
  struct mask { bool v[W]; };

#define FDNN_LANES(expr) for (int l = 0; l < W; ++l) { expr; }
  static inline reg zero() { reg r; FDNN_LANES(r.v[l] = 0.0f) return r; }
  static inline reg set1(float x) { reg r; FDNN_LANES(r.v[l] = x) return r; }
  static inline reg load(const float* p) { reg r; std::memcpy(r.v, p, sizeof r.v); return r; }
  static inline void store(float* p, reg a) { std::memcpy(p, a.v, sizeof a.v); }
  static inline reg load_n(const float* p, int n) { reg r = zero(); for (int l = 0; l < n; ++l) r.v[l] = p[l]; return r; }
  static inline void store_n(float* p, reg a, int n) { for (int l = 0; l < n; ++l) p[l] = a.v[l]; }
  static inline reg bcast(const float* p) { return set1(*p); }

  static inline reg add(reg a, reg b) { FDNN_LANES(a.v[l] += b.v[l]) return a; }
  static inline reg sub(reg a, reg b) { FDNN_LANES(a.v[l] -= b.v[l]) return a; }
  static inline reg mul(reg a, reg b) { FDNN_LANES(a.v[l] *= b.v[l]) return a; }
  static inline reg div(reg a, reg b) { FDNN_LANES(a.v[l] /= b.v[l]) return a; }
  static inline reg fma(reg a, reg b, reg c) { FDNN_LANES(c.v[l] += a.v[l] * b.v[l]) return c; }
  // Same NaN rule as x86 max/min: the second operand wins unless a > b (resp. a < b).
  static inline reg max(reg a, reg b) { FDNN_LANES(a.v[l] = a.v[l] > b.v[l] ? a.v[l] : b.v[l]) return a; }
  static inline reg min(reg a, reg b) { FDNN_LANES(a.v[l] = a.v[l] < b.v[l] ? a.v[l] : b.v[l]) return a; }
  static inline reg abs(reg a) { FDNN_LANES(a.v[l] = std::fabs(a.v[l])) return a; }
  static inline reg neg(reg a) { FDNN_LANES(a.v[l] = -a.v[l]) return a; }
  static inline reg copysign(reg m, reg s) { FDNN_LANES(m.v[l] = std::copysign(m.v[l], s.v[l])) return m; }
  static inline mask gt(reg a, reg b) { mask m; FDNN_LANES(m.v[l] = a.v[l] > b.v[l]) return m; }
  static inline mask lt(reg a, reg b) { mask m; FDNN_LANES(m.v[l] = a.v[l] < b.v[l]) return m; }
  static inline mask isnan(reg a) { mask m; FDNN_LANES(m.v[l] = a.v[l] != a.v[l]) return m; }
  static inline reg select(mask m, reg t, reg f) { FDNN_LANES(f.v[l] = m.v[l] ? t.v[l] : f.v[l]) return f; }
  static inline float hsum(reg a) { float s = 0; for (int l = 0; l < W; ++l) s += a.v[l]; return s; }
  static inline float hmax(reg a) { float m = a.v[0]; for (int l = 1; l < W; ++l) m = a.v[l] > m ? a.v[l] : m; return m; }
  static inline reg round(reg a) { FDNN_LANES(a.v[l] = std::nearbyint(a.v[l])) return a; }
  static inline reg pow2i(reg n) {
    reg r;
    for (int l = 0; l < W; ++l) {
      uint32_t bits = (uint32_t)((int32_t)n.v[l] + 127) << 23;
      std::memcpy(&r.v[l], &bits, 4);
    }
    return r;
  }
#undef FDNN_LANES
};

}  // namespace fastdnn::simd
