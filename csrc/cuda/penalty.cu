// Weight penalties (L1/L2 regularization) and weight constraints on the GPU; formulas, and the
// CPU kernels they match, in csrc/penalties/penalty_kernel.h; the L1/L2 gradient and the
// constraint's scale are the CPU's (csrc/penalties/penalty_rule.h), here in double.
//   weight_penalty: every regularized tensor in one launch (chunk table: chunks.h); each chunk
//     adds l1·sign(w) + 2·l2·w to g (when given) and its Σ l1·|w| + l2·w² (double) into
//     partial[c]; one thread then adds the partials in chunk order: a deterministic total.
//   constrain: w seen as outer × red × inner; one thread per (outer, inner) column, its norm
//     over `red` in double.
#include <cmath>

#include "../penalties/penalty_rule.h"
#include "chunks.h"
#include "grid.cuh"
#include "kernels.h"
#include "runtime.h"
#include "warp.cuh"

namespace fastdnn::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void penalty_kernel(const PenaltyTensorDev* ts, const Chunk* chunks, double* partial) {
  const Chunk ch = chunks[blockIdx.x];
  const PenaltyTensorDev t = ts[ch.tensor];
  const int64_t end = min(t.n, ch.start + kChunk);
  const double l1 = t.l1, l2 = t.l2;
  double s = 0.0;
  for (int64_t i = ch.start + threadIdx.x; i < end; i += kThreads) {
    const double x = t.w[i];
    s += l1 * fabs(x) + l2 * x * x;
    if (t.g) t.g[i] = (float)((double)t.g[i] + penalty_rule::l1l2_grad<simd::Lane<double>>(x, l1, 2.0 * l2));
  }
  const double total = block_sum<kThreads>(s);
  if (threadIdx.x == 0) partial[blockIdx.x] = total;
}

__global__ void ordered_sum_kernel(const double* partial, int n, double* out) {
  double s = 0.0;
  for (int c = 0; c < n; ++c) s += partial[c];
  out[0] = s;
}

__global__ void constrain_kernel(float* w, int64_t outer, int64_t red, int64_t inner, ConstraintSpec c) {
  const int64_t columns = outer * inner;
  for (int64_t q = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; q < columns;
       q += (int64_t)gridDim.x * blockDim.x) {
    float* col = w + q / inner * red * inner + q % inner;
    if (c.kind == kNonNeg) {
      for (int64_t r = 0; r < red; ++r) col[r * inner] = (float)((double)col[r * inner] * (col[r * inner] >= 0 ? 1.0 : 0.0));
      continue;
    }
    double sq = 0.0;
    for (int64_t r = 0; r < red; ++r) sq += (double)col[r * inner] * col[r * inner];
    const double scale = penalty_rule::constraint_scale(c, sqrt(sq));
    for (int64_t r = 0; r < red; ++r) col[r * inner] = (float)(col[r * inner] * scale);
  }
}

}  // namespace

double weight_penalty(const PenaltyTensorDev* host_tensors, int count) {
  const ChunkTable<PenaltyTensorDev> table = chunk_table(host_tensors, count);
  if (table.nchunks == 0) return 0.0;
  Tensor partial = empty({table.nchunks + 1}, DType::kI64);  // doubles; the last holds the total
  double* p = reinterpret_cast<double*>(partial.data());
  penalty_kernel<<<table.nchunks, kThreads, 0, stream()>>>(table.tensors, table.chunks, p);
  check_launch("penalty_kernel");
  ordered_sum_kernel<<<1, 1, 0, stream()>>>(p, table.nchunks, p + table.nchunks);
  check_launch("ordered_sum_kernel");
  Tensor total = partial;
  total.offset = sizeof(double) * table.nchunks;
  total.shape = {1};
  double out = 0.0;
  download(total, &out);
  return out;
}

void constrain(float* w, int64_t outer, int64_t red, int64_t inner, const ConstraintSpec& c) {
  if (outer * inner == 0) return;
  constrain_kernel<<<grid_for(outer * inner), 256, 0, stream()>>>(w, outer, red, inner, c);
  check_launch("constrain_kernel");
}

}  // namespace fastdnn::cuda
