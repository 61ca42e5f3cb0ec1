// Multi-tensor optimizer step: every parameter of a model in one launch (Keras 3's rules, as
// csrc/optim/optim_op.cpp's header lists them; the rule and its coefficients are the CPU's).
//   tensors: count × {w, g, s[3], n}; chunk c covers elements [start, start + kChunk) of one
//   tensor; one block per chunk.
// Norm clipping adds one launch before: each chunk's Σg² (double, fixed order) into partial[c];
// the update then sums the partials of its tensor (clipnorm) or of all (global_clipnorm) in
// chunk order, so every block sees the same norm and no value reaches the host.
#include <cmath>

#include "chunks.h"
#include "kernels.h"
#include "runtime.h"
#include "warp.cuh"

namespace fastdnn::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void sum_squares_kernel(const OptimTensorDev* ts, const Chunk* chunks, double* partial) {
  const Chunk ch = chunks[blockIdx.x];
  const OptimTensorDev t = ts[ch.tensor];
  const int64_t end = min(t.n, ch.start + kChunk);
  double s = 0.0;
  for (int64_t i = ch.start + threadIdx.x; i < end; i += kThreads) s += (double)t.g[i] * t.g[i];
  const double total = block_sum<kThreads>(s);
  if (threadIdx.x == 0) partial[blockIdx.x] = total;
}

__global__ void update_kernel(OptimHyperDev h, const OptimTensorDev* ts, const Chunk* chunks, int nchunks,
                              const int* first_chunk, const double* partial) {
  __shared__ float s_scale;
  const Chunk ch = chunks[blockIdx.x];
  const OptimTensorDev t = ts[ch.tensor];
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
  const float lr = h.lr, eps = h.eps, cv = h.clipvalue, wd = h.weight_decay * h.lr;
  const float b1 = h.beta1, b2 = h.beta2, rho = h.rho, mu = h.momentum;
  const float c0 = h.coef[0], c1 = h.coef[1], c2 = h.coef[2];
  const int64_t end = min(t.n, ch.start + kChunk);
  float *s0 = t.s[0], *s1 = t.s[1], *s2 = t.s[2];
  for (int64_t i = ch.start + threadIdx.x; i < end; i += kThreads) {
    float g = t.g[i] * scale;
    if (cv > 0 && g == g) g = fminf(fmaxf(g, -cv), cv);  // a NaN gradient stays NaN, as on the CPU
    float w = t.w[i];
    if (wd != 0) w -= wd * w;
    switch (h.kind) {
      case 0:  // SGD
        if (mu > 0) {
          const float m = s0[i] = mu * s0[i] - lr * g;
          w += h.nesterov ? mu * m - lr * g : m;
        } else {
          w -= lr * g;
        }
        break;
      case 1: {  // Adagrad
        const float a = s0[i] = s0[i] + g * g;
        w -= lr * g / sqrtf(a + eps);
        break;
      }
      case 2: {  // RMSprop
        const float v = s0[i] = rho * s0[i] + (1 - rho) * g * g;
        float den = v + eps;
        if (h.centered) {
          float* c = mu > 0 ? s2 : s1;
          const float ci = c[i] = rho * c[i] + (1 - rho) * g;
          den = v - ci * ci + eps;
        }
        const float inc = lr * g / sqrtf(den);
        if (mu > 0) {
          const float m = s1[i] = mu * s1[i] + inc;
          w -= m;
        } else {
          w -= inc;
        }
        break;
      }
      case 3: {  // Adam
        const float m = s0[i] = s0[i] + (g - s0[i]) * (1 - b1);
        float v = s1[i] = s1[i] + (g * g - s1[i]) * (1 - b2);
        if (h.amsgrad) v = s2[i] = fmaxf(s2[i], v);
        w -= c0 * m / (sqrtf(v) + eps);
        break;
      }
      case 4: {  // Adamax
        const float m = s0[i] = s0[i] + (g - s0[i]) * (1 - b1);
        const float u = s1[i] = fmaxf(b2 * s1[i], fabsf(g));
        w -= c0 * m / (u + eps);
        break;
      }
      default: {  // Nadam
        const float m = s0[i] = s0[i] + (g - s0[i]) * (1 - b1);
        const float v = s1[i] = s1[i] + (g * g - s1[i]) * (1 - b2);
        w -= lr * (c0 * m + c1 * g) / (sqrtf(c2 * v) + eps);
        break;
      }
    }
    t.w[i] = w;
  }
}

}  // namespace

void optimizer_update(const OptimHyperDev& h, const OptimTensorDev* host_tensors, int count) {
  const ChunkTable<OptimTensorDev> table = chunk_table(host_tensors, count);
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
