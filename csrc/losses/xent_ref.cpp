// Reference softmax cross-entropy in float64 (the formula in xent_kernel.h).
#include <cmath>
#include <cstdint>

namespace fastdnn {

void softmax_xent_reference(const float* logits, int64_t rows, int64_t cols, const int64_t* labels,
                            const float* targets, float* loss, float* dlogits, float grad_scale) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = logits + r * cols;
    double mx = -INFINITY, sum = 0, tsum = 0, l = 0;
    for (int64_t j = 0; j < cols; ++j) mx = std::fmax(mx, (double)x[j]);
    if (!std::isfinite(mx) || cols == 0) {  // as the kernels: no finite logit, no distribution
      loss[r] = NAN;
      for (int64_t j = 0; dlogits && j < cols; ++j) dlogits[r * cols + j] = NAN;
      continue;
    }
    for (int64_t j = 0; j < cols; ++j) sum += std::exp((double)x[j] - mx);
    const double lse = mx + std::log(sum);
    for (int64_t j = 0; j < cols; ++j) {
      const double t = labels ? (labels[r] == j ? 1.0 : 0.0) : (double)targets[r * cols + j];
      // a class index picks one term: the others (0 · (lse − x), NaN for x = −inf) are skipped
      if (!labels || labels[r] == j) l += t * (lse - x[j]);
      tsum += t;
    }
    loss[r] = (float)l;
    for (int64_t j = 0; dlogits && j < cols; ++j) {
      const double t = labels ? (labels[r] == j ? 1.0 : 0.0) : (double)targets[r * cols + j];
      dlogits[r * cols + j] = (float)((std::exp((double)x[j] - mx) / sum * tsum - t) * grad_scale);
    }
  }
}

}  // namespace fastdnn
