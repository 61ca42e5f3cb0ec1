// The CPU dispatch point for GEMM: splits C into one block per thread and runs the kernel path
// in use (isa/isa.h) on each block on the thread pool. Arguments arrive validated (gemm_op.cpp).
#include "gemm.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <stdexcept>

#include "../isa/isa.h"
#include "../core/threadpool.h"

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

}  // namespace

int64_t gemm_parallel_threshold() { return g_parallel_threshold.load(); }
void gemm_set_parallel_threshold(int64_t flops) { g_parallel_threshold.store(std::max<int64_t>(0, flops)); }

void gemm_cpu(const GemmArgs& g) {
  if (g.M == 0 || g.N == 0) return;
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
