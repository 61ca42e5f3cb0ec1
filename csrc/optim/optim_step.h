// One multi-tensor optimizer step on the CPU: gradient clipping (at most one kind, as Keras),
// then the update rule over every tensor, split across the thread pool. The Python binding
// (optim_op.cpp) builds one per call; a training plan (plan/train_plan.cpp) builds one and
// replays it every step.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "optim_rule.h"

namespace fastdnn {

class OptimStep {
 public:
  // The tensors of the step, in the order of the model's trainable weights (global_clipnorm
  // sums their norms in this order). Call split() after filling it.
  std::vector<OptimTensor> tensors;

  // Splits the work into chunks for the thread pool.
  void split();
  // Runs the step; no allocation, no Python (call it without the GIL).
  void run(const OptimHyper& h);

 private:
  std::vector<std::pair<int, int64_t>> chunks_;
  std::vector<double> sq_;
  int64_t total_ = 0;
};

}  // namespace fastdnn
