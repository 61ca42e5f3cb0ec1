// The CPU dispatch point for GEMM: splits C into one block per thread and runs the kernel path
// in use (isa/isa.h) on each block on the thread pool. Arguments arrive validated (gemm_op.cpp).
#include "gemm.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <stdexcept>

#include "../isa/isa.h"
#include "../core/threadpool.h"
#include "../core/workspace.h"

namespace fastdnn {
namespace {

// Below this many flops a product runs on one thread: the fork/join costs more than it saves.
// On a 2-core Zen 4, 2 threads break even near 0.3-0.6 MFLOP (benchmarks/gemm.py --threshold).
std::atomic<int64_t> g_parallel_threshold{1 << 19};

int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// Splits M×N into tm×tn blocks (tm·tn = nt), choosing the split whose largest block costs least:
// its padded multiply-adds, plus (weighted as about 3 multiply-adds per float) the operand
// floats it streams from shared cache and, for a transposed B, the floats it packs.
// Returns false when no split into nt non-empty blocks exists.
bool choose_grid(const GemmArgs& g, const CpuIsa& isa, int nt, int* tm, int* tn) {
  double best = -1;
  for (int a = 1; a <= nt; ++a) {
    if (nt % a) continue;
    const int b = nt / a;
    const int64_t mb = round_up((g.M + a - 1) / a, isa.mr), nb = round_up((g.N + b - 1) / b, isa.w);
    if (mb * (a - 1) >= g.M || nb * (b - 1) >= g.N) continue;  // would leave a block empty
    const double traffic = 3.0 * (double)g.K * (mb + nb + (g.trans_b ? nb : 0));
    const double cost = (double)mb * nb * g.K + traffic;
    if (best < 0 || cost < best) best = cost, *tm = a, *tn = b;
  }
  return best >= 0;
}

// A product with few rows and a transposed B, such as a dense layer's input gradient
// dX = dZ·Wᵀ at the batch sizes of training: there the kernel would pack all of Bᵀ (a strided
// gather) for the few row slivers that reuse it. The transposed problem Cᵀ = B·op(A)ᵀ reads B in
// place and packs only the small A. Every element is the same sequence of multiply-adds (the
// depth blocking depends on K alone, and a·b + c does not depend on the order of a and b), so
// the result is the direct product's, bit for bit (tests/test_gemm.py checks it).
bool small_m_transposed_b(const GemmArgs& g) {
  return g.trans_b && !g.trans_a && !g.accumulate && !g.bias && !g.Z && g.act == Act::kIdentity &&
         g.M <= 128 && g.N > g.M && g.K >= 16;
}

// dst[i*ldd + j] = src[j*rows + i] for i < rows, j < cols, in cache-sized tiles.
void transpose_into(const float* src, int64_t rows, int64_t cols, float* dst, int64_t ldd) {
  constexpr int64_t kTile = 32;
  for (int64_t j0 = 0; j0 < cols; j0 += kTile)
    for (int64_t i0 = 0; i0 < rows; i0 += kTile) {
      const int64_t i1 = std::min(rows, i0 + kTile), j1 = std::min(cols, j0 + kTile);
      for (int64_t i = i0; i < i1; ++i)
        for (int64_t j = j0; j < j1; ++j) dst[i * ldd + j] = src[j * rows + i];
    }
}

}  // namespace

int64_t gemm_parallel_threshold() { return g_parallel_threshold.load(); }
void gemm_set_parallel_threshold(int64_t flops) { g_parallel_threshold.store(std::max<int64_t>(0, flops)); }

void gemm_cpu(const GemmArgs& g) {
  if (g.M == 0 || g.N == 0) return;
  if (small_m_transposed_b(g)) {  // Cᵀ = B·op(A)ᵀ into a scratch, then transposed into C
    float* t = workspace(Workspace::kTranspose, (size_t)(g.M * g.N));
    GemmArgs h;
    h.M = g.N, h.N = g.M, h.K = g.K;
    h.A = g.B, h.lda = g.ldb, h.trans_a = false;
    h.B = g.A, h.ldb = g.lda, h.trans_b = true;
    h.C = t, h.ldc = g.M;
    gemm_cpu(h);  // h.M >= h.N: never this branch again
    transpose_into(t, g.M, g.N, g.C, g.ldc);
    return;
  }
  const CpuIsa& isa = cpu_isa();
  const double flops = 2.0 * g.M * g.N * std::max<int64_t>(g.K, 1);
  int nt = get_num_threads();
  if (flops < (double)g_parallel_threshold.load()) nt = 1;
  // Give each thread at least a few register tiles.
  const int64_t tiles = ((g.M + isa.mr - 1) / isa.mr) * ((g.N + isa.nr - 1) / isa.nr);
  nt = (int)std::min<int64_t>(nt, std::max<int64_t>(1, tiles / 2));
  int tm = 1, tn = 1;
  while (nt > 1 && !choose_grid(g, isa, nt, &tm, &tn)) --nt;
  if (nt == 1) {
    isa.gemm(g, 0, g.M, 0, g.N);
    return;
  }
  const int64_t mb = round_up((g.M + tm - 1) / tm, isa.mr), nb = round_up((g.N + tn - 1) / tn, isa.w);
  parallel_for(tm * tn, [&](int t) {
    const int64_t m0 = (t / tn) * mb, n0 = (t % tn) * nb;
    isa.gemm(g, m0, std::min(g.M, m0 + mb), n0, std::min(g.N, n0 + nb));
  });
}

}  // namespace fastdnn
