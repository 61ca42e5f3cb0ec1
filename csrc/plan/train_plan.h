// A training step compiled once and replayed natively: the forward pass, the loss, the
// backward pass and the optimizer update of a chain of built-in layers, as a fixed list of
// kernel calls over buffers that live in one arena. No Python runs between the kernels and no
// buffer is allocated per step.
//
// Each call is the one the tape path (fastdnn/ops, fastdnn/autodiff.py) makes for the same
// layer, with the same arguments, so on one thread the plan's weights after N steps are the
// tape's, bit for bit (tests/test_native_step.py).
//
//   forward:  dense   y = act(x·W + b)                 (gemm with its epilogue)
//             bn      y = BN(x) (batch statistics; the moving ones updated), or the frozen form
//             act     y = act(x)
//             noise   y = the dropout family's draw    (Philox at the layer's coordinates)
//             softmax y = softmax(x)                   (only last, its input the loss's logits)
//   loss:     sparse softmax cross-entropy per row; dlogits = (softmax − onehot) / rows
//   metric:   the rows whose arg-max output is the label (sparse categorical accuracy)
//   backward: in reverse, from the last layer down to the first that holds a trainable weight
//             (or to the input, for layers below the chain that the plan does not run)
//   update:   the multi-tensor optimizer step (optim_step.h) over the trainable weights
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "../core/codes.h"
#include "../dropout/dropout_kernel.h"
#include "../optim/optim_step.h"

namespace fastdnn {

enum class PlanLayerKind { kDense, kBatchNorm, kActivation, kSoftmax, kNoise };

// Where a noise layer's draws come from this step: its NoiseStream's (seed, stream, step).
struct NoiseCoords {
  uint64_t seed;
  uint32_t stream;
  uint64_t step;
};

// One layer of the chain. The weight pointers are the model's own arrays (updated in place);
// the `want_*` flags say which gradients the step needs (the trainable weights), and the plan
// points the `d*` fields at gradient buffers in its arena.
struct PlanLayer {
  PlanLayerKind kind = PlanLayerKind::kDense;
  int64_t in = 0, out = 0;  // features of the input and the output
  // dense
  const float* kernel = nullptr;
  const float* bias = nullptr;
  Act act = Act::kIdentity;
  float alpha = 0.0f;
  bool want_dkernel = false, want_dbias = false;
  float *dkernel = nullptr, *dbias = nullptr;
  // batch normalization
  const float *gamma = nullptr, *beta = nullptr;
  float *moving_mean = nullptr, *moving_var = nullptr;
  double eps = 1e-3;
  float momentum = 0.99f;
  bool training = true;  // false: a frozen layer, normalised with its moving statistics
  bool want_dgamma_dbeta = false;
  float *dgamma = nullptr, *dbeta = nullptr;
  float *mean = nullptr, *var = nullptr, *inv_std = nullptr;  // this step's statistics
  // the dropout family: y = noise(x) and dx = noise'(dy), both drawn from this step's
  // coordinates (the backward regenerates the mask); x, y and the coordinates set per call
  NoiseArgs noise_forward{}, noise_backward{};
  bool noise_grad_identity = false;  // GaussianNoise: dx = dy
  // every layer
  float* y = nullptr;       // output, max_rows × out
  bool backward = false;    // recorded: it or a layer below holds a trainable weight
  bool need_dx = false;     // a layer below holds a trainable weight
};

class TrainPlan {
 public:
  // `layers` with kind, sizes and weight pointers set; the plan sizes its arena for batches
  // of up to `max_rows` rows and points every buffer into it. `loss`: the chain ends in the
  // loss (forward_backward); else it is a segment below layers the plan does not run, and
  // its backward starts from their input gradient (backward_from). `input_grad`: the
  // backward also gives the gradient of the chain's input (for layers below it).
  TrainPlan(std::vector<PlanLayer> layers, int64_t max_rows, bool loss = true, bool input_grad = false);

  // Forward, loss and backward of a batch: x is rows × in_features, labels rows class
  // indices (checked by the caller), coords one entry per noise layer, in order. Leaves the
  // per-row losses, the output and the gradients in the arena. Returns how many rows the
  // output's arg-max classifies as their label.
  int64_t forward_backward(const float* x, const int64_t* labels, int64_t rows, const NoiseCoords* coords);
  // The forward pass alone (a segment without the loss): the output is left in the arena.
  void forward(const float* x, int64_t rows, const NoiseCoords* coords);
  // The backward pass of a segment without the loss, from dy (rows × out_features), the
  // gradient of its output; x is the input its forward took.
  void backward_from(const float* x, const float* dy, int64_t rows);
  int noise_layers() const;

  // The optimizer step over the bound tensors.
  void update(const OptimHyper& h) { optim_.run(h); }

  // Binds the optimizer: one tensor per trainable weight (its gradient pointer found with
  // grad_of), in the model's order.
  OptimStep& optimizer() { return optim_; }
  // The gradient buffer of a weight array (kernel, bias, gamma or beta), or null.
  float* grad_of(const float* weight) const;

  const std::vector<PlanLayer>& layers() const { return layers_; }
  int64_t max_rows() const { return max_rows_; }
  int64_t in_features() const { return layers_.front().in; }
  int64_t classes() const { return layers_.back().out; }
  bool has_loss() const { return loss_; }
  bool has_input_grad() const { return input_grad_wanted_; }
  float* losses() const { return losses_; }
  float* output() const { return layers_.back().y; }
  // The input's gradient after a backward (with `input_grad`), rows × in_features.
  const float* input_grad() const { return input_grad_; }
  size_t arena_bytes() const { return arena_.size() * sizeof(float); }

 private:
  void backward(const float* x, const int64_t* labels, int64_t rows);
  // The layers' backward from layer `top` down, dy holding the gradient of its output.
  void backward_layers(const float* x, int top, int64_t rows, float* dy, float* other);

  std::vector<PlanLayer> layers_;
  int64_t max_rows_;
  bool loss_, input_grad_wanted_;
  const float* input_grad_ = nullptr;
  std::vector<float> arena_;   // every buffer below points into it
  float *losses_ = nullptr, *grad_a_ = nullptr, *grad_b_ = nullptr;
  std::vector<double> bn_double_;  // BnScratch's float64 fields (3 × widest)
  float* bn_float_ = nullptr;      // and its float32 ones, in the arena
  int64_t widest_ = 0;
  OptimStep optim_;
};

}  // namespace fastdnn
