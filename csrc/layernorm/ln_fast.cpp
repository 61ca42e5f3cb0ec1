// The fast layer-normalization path of every SIMD CpuIsa table (ln.h): ln_kernel.h's row loops
// split over the thread pool by rows. The backward's dgamma and dbeta are sums over rows: each
// of G row groups (G fixed by the shape alone, never by the thread count) sums its rows in
// float64, and the groups are added in order, so every thread count gives the same bits.
#include <algorithm>
#include <vector>

#include "../core/threadpool.h"
#include "ln.h"
#include "ln_kernel.h"

namespace fastdnn {

namespace {

constexpr int64_t kChunk = 1 << 15;  // elements per parallel task (rows rounded up)
constexpr int kMaxGroups = 64;       // row groups of the backward's parameter sums

// fn(r0, r1) over all rows, in tasks of about kChunk elements once the array is large enough.
template <class Fn>
void over_rows(int64_t rows, int64_t cols, const Fn& fn) {
  const int64_t per = std::max<int64_t>(1, kChunk / std::max<int64_t>(cols, 1));
  const int64_t tasks = (rows + per - 1) / per;
  if (tasks <= 1 || get_num_threads() == 1) {
    fn(0, rows);
    return;
  }
  parallel_for((int)tasks, [&](int t) { fn(t * per, std::min(rows, (t + 1) * per)); });
}

}  // namespace

void ln_forward_fast(const float* x, float* y, int64_t rows, int64_t cols, const float* gamma,
                     const float* beta, double eps, float* mean, float* inv_std) {
  over_rows(rows, cols, [&](int64_t r0, int64_t r1) {
    ln_kernel::forward(x, y, r0, r1, cols, gamma, beta, eps, mean, inv_std);
  });
}

void ln_backward_fast(const float* dy, const float* x, int64_t rows, int64_t cols, const float* mean,
                      const float* inv_std, const float* gamma, float* dx, float* dgamma, float* dbeta) {
  const int64_t groups = std::max<int64_t>(1, std::min<int64_t>({(int64_t)kMaxGroups, rows,
                                                                  (rows * cols + kChunk - 1) / kChunk}));
  std::vector<double> partial((size_t)(2 * groups * cols), 0.0);
  auto run = [&](int g) {
    const int64_t r0 = rows * g / groups, r1 = rows * (g + 1) / groups;
    double* dg = partial.data() + 2 * g * cols;
    ln_kernel::backward(dy, x, r0, r1, cols, mean, inv_std, gamma, dx, dg, dg + cols);
  };
  if (groups == 1 || get_num_threads() == 1) {
    for (int g = 0; g < (int)groups; ++g) run(g);
  } else {
    parallel_for((int)groups, run);
  }
  for (int64_t j = 0; j < cols; ++j) {
    double sg = 0.0, sb = 0.0;
    for (int64_t g = 0; g < groups; ++g) sg += partial[2 * g * cols + j], sb += partial[(2 * g + 1) * cols + j];
    dgamma[j] = (float)sg, dbeta[j] = (float)sb;
  }
}

}  // namespace fastdnn
