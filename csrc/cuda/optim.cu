// Multi-tensor optimizer step: every parameter of a model in one launch, each thread running the
// CPU's element step (csrc/optim/optim_rule.h) on its elements.
//   tensors: count × {w, g, s[3], n}; chunk c covers elements [start, start + kChunk) of one
//   tensor; one block per chunk.
// Norm clipping adds one launch before: each chunk's Σg² (double, fixed order) into partial[c];
// the update then sums the partials of its tensor (clipnorm) or of all (global_clipnorm) in
// chunk order, so every block sees the same norm and no value reaches the host.
#include <cmath>

#include "../optim/optim_rule.h"
#include "chunks.h"
#include "kernels.h"
#include "runtime.h"
#include "warp.cuh"

namespace fastdnn::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void sum_squares_kernel(const OptimTensor* ts, const Chunk* chunks, double* partial) {
  const Chunk ch = chunks[blockIdx.x];
  const OptimTensor t = ts[ch.tensor];
  const int64_t end = min(t.n, ch.start + kChunk);
  double s = 0.0;
  for (int64_t i = ch.start + threadIdx.x; i < end; i += kThreads) s += (double)t.g[i] * t.g[i];
  const double total = block_sum<kThreads>(s);
  if (threadIdx.x == 0) partial[blockIdx.x] = total;
}

__global__ void update_kernel(OptimHyper h, const OptimTensor* ts, const Chunk* chunks, int nchunks,
                              const int* first_chunk, const double* partial) {
  __shared__ float s_scale;
  const Chunk ch = chunks[blockIdx.x];
  const OptimTensor t = ts[ch.tensor];
  if (threadIdx.x == 0) {
    float scale = 1.0f;
    if (partial) {
      const bool global = h.global_clipnorm > 0;
      const int c0 = global ? 0 : first_chunk[ch.tensor], c1 = global ? nchunks : first_chunk[ch.tensor + 1];
      double sq = 0.0;
      for (int c = c0; c < c1; ++c) sq += partial[c];
      const double norm = sqrt(sq), limit = global ? h.global_clipnorm : h.clipnorm;
      scale = norm > limit ? (float)(limit / norm) : 1.0f;
    }
    s_scale = scale;
  }
  __syncthreads();
  const float scale = s_scale;
  const int64_t end = min(t.n, ch.start + kChunk);
  optim_rule::with_rule(h, [&](auto r) {
    using R = decltype(r);
    for (int64_t i = ch.start + threadIdx.x; i < end; i += kThreads)
      optim_rule::step<R::kind, R::flag1, R::flag2>(h, scale, t.w, t.g, t.s[0], t.s[1], t.s[2], i);
  });
}

}  // namespace

void optimizer_update(const OptimHyper& h, const OptimTensor* host_tensors, int count) {
  const ChunkTable<OptimTensor> table = chunk_table(host_tensors, count);
  if (table.nchunks == 0) return;
  Tensor partial;
  if (h.clipnorm > 0 || h.global_clipnorm > 0) {
    partial = empty({table.nchunks}, DType::kI64);  // doubles: 8 bytes each
    sum_squares_kernel<<<table.nchunks, kThreads, 0, stream()>>>(table.tensors, table.chunks,
                                                                 reinterpret_cast<double*>(partial.data()));
    check_launch("sum_squares_kernel");
  }
  update_kernel<<<table.nchunks, kThreads, 0, stream()>>>(
      h, table.tensors, table.chunks, table.nchunks, table.first,
      partial.storage ? reinterpret_cast<const double*>(partial.data()) : nullptr);
  check_launch("update_kernel");
}

}  // namespace fastdnn::cuda
