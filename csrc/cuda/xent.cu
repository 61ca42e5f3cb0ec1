// Fused softmax cross-entropy, one warp per row (formula: csrc/losses/xent_ref.cpp).
//   logits (rows, cols); labels (rows,) int64 in [0, cols) or targets (rows, cols)
//   loss (rows,) = Σ_j t_j·(lse − x_j);  dlogits (rows, cols) = (softmax·Σt − t)·grad_scale
// A row without a finite logit has no distribution: its loss and gradient are NaN, as on the CPU.
// sparse_xent_probs: Keras's cross-entropy on probabilities p (rows, cols):
//   loss = −log(clip(p_label / Σp, eps, 1 − eps)).
#include <cmath>

#include "kernels.h"
#include "runtime.h"
#include "warp.cuh"

namespace fastdnn::cuda {
namespace {

__global__ void softmax_xent_kernel(const float* logits, int64_t rows, int64_t cols, const int64_t* labels,
                                    const float* targets, float* loss, float* dlogits, float grad_scale) {
  const int64_t r = blockIdx.x * (int64_t)(blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (r >= rows) return;
  const float* x = logits + r * cols;
  const float mx = warp_row_max(x, cols, lane);
  if (!isfinite(mx) || cols == 0) {
    if (lane == 0) loss[r] = NAN;
    for (int64_t j = lane; dlogits && j < cols; j += 32) dlogits[r * cols + j] = NAN;
    return;
  }
  double s = 0.0;
  for (int64_t j = lane; j < cols; j += 32) s += exp((double)x[j] - mx);
  s = warp_sum(s);
  const double lse = mx + log(s);
  const int64_t label = labels ? labels[r] : -1;
  double l = 0.0, tsum = 0.0;
  if (labels) {
    l = lse - x[label], tsum = 1.0;
  } else {
    for (int64_t j = lane; j < cols; j += 32) {
      const double t = targets[r * cols + j];
      l += t * (lse - x[j]);
      tsum += t;
    }
    l = warp_sum(l), tsum = warp_sum(tsum);
  }
  if (lane == 0) loss[r] = (float)l;
  if (!dlogits) return;
  for (int64_t j = lane; j < cols; j += 32) {
    const double t = labels ? (j == label ? 1.0 : 0.0) : (double)targets[r * cols + j];
    dlogits[r * cols + j] = (float)((exp((double)x[j] - mx) / s * tsum - t) * grad_scale);
  }
}

__global__ void sparse_xent_probs_kernel(const float* p, int64_t rows, int64_t cols, const int64_t* labels,
                                         float eps, float* loss) {
  const int64_t r = blockIdx.x * (int64_t)(blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (r >= rows) return;
  float s = 0.0f;
  for (int64_t j = lane; j < cols; j += 32) s += p[r * cols + j];
  s = warp_sum(s);
  if (lane == 0) {
    const float q = fminf(fmaxf(p[r * cols + labels[r]] / s, eps), 1.0f - eps);
    loss[r] = -logf(q);
  }
}

}  // namespace

void softmax_xent(const float* logits, int64_t rows, int64_t cols, const int64_t* labels, const float* targets,
                  float* loss, float* dlogits, float grad_scale) {
  if (rows == 0) return;
  softmax_xent_kernel<<<(unsigned)((rows + 7) / 8), 256, 0, stream()>>>(logits, rows, cols, labels, targets,
                                                                       loss, dlogits, grad_scale);
  check_launch("softmax_xent_kernel");
}

void sparse_xent_probs(const float* probs, int64_t rows, int64_t cols, const int64_t* labels, float eps,
                       float* loss) {
  if (rows == 0) return;
  sparse_xent_probs_kernel<<<(unsigned)((rows + 7) / 8), 256, 0, stream()>>>(probs, rows, cols, labels, eps, loss);
  check_launch("sparse_xent_probs_kernel");
}

}  // namespace fastdnn::cuda
