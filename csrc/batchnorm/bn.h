// The CPU batch normalization forward over rows × features, written once for the Python entry
// points (bn_op.cpp) and the training plan (plan/train_plan.cpp). The kernels it runs are the
// ISA table's (bn_kernel.h); the formulas are in bn_op.cpp's header comment.
#pragma once
#include <cstdint>

namespace fastdnn {

// Per-feature work space of one call: `cols` values each.
struct BnScratch {
  double *mean, *var, *inv_std;
  float *center, *scale, *shift;
};

// Training: y from the batch's statistics; mean, var (biased) and inv_std as float32.
void bn_forward_train(const float* x, int64_t rows, int64_t cols, const float* gamma, const float* beta,
                      double eps, float* y, float* mean, float* var, float* inv_std, const BnScratch& s);

// Inference: y from given (moving) statistics.
void bn_forward_infer(const float* x, int64_t rows, int64_t cols, const float* moving_mean,
                      const float* moving_var, const float* gamma, const float* beta, double eps, float* y,
                      const BnScratch& s);

}  // namespace fastdnn
