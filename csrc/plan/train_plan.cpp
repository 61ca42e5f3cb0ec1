// The training plan's executor (train_plan.h). Each kernel call mirrors the tape path's call
// for the same layer: fastdnn/ops/nn.py (dense, activations, softmax, the fused cross-entropy),
// fastdnn/ops/normalization.py and layers/normalization.py (batch normalization and its moving
// statistics), backend/cpu.py (dense_backward) and optimizers.py (the step).
#include "train_plan.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "../activations/act.h"
#include "../batchnorm/bn.h"
#include "../dropout/noise.h"
#include "../gemm/gemm.h"
#include "../isa/isa.h"

namespace fastdnn {

namespace {

// C[M,N] = op(A)·op(B) (+ bias, then act), A stored with row length lda and B with ldb, as
// fastdnn._C.gemm sets them up (gemm_op.cpp).
void product(const float* a, int64_t lda, bool ta, const float* b, int64_t ldb, bool tb, float* c,
             int64_t m, int64_t n, int64_t k, const float* bias = nullptr, Act act = Act::kIdentity,
             float alpha = 0.0f) {
  GemmArgs g;
  g.A = a, g.lda = lda, g.trans_a = ta;
  g.B = b, g.ldb = ldb, g.trans_b = tb;
  g.M = m, g.N = n, g.K = k;
  g.C = c, g.ldc = n;
  g.bias = bias, g.act = act, g.alpha = alpha;
  gemm_cpu(g);
}

// moving = moving·momentum + batch·(1 − momentum), in float32, as backend/cpu.py's
// moving_average computes it with NumPy (two rounded steps; this file is built without
// floating-point contraction, so no FMA merges them).
void moving_average(float* moving, const float* batch, int64_t n, float momentum) {
  const float rest = 1.0f - momentum;
  for (int64_t j = 0; j < n; ++j) {
    moving[j] *= momentum;
    moving[j] += batch[j] * rest;
  }
}

// The index of a row's largest value, as NumPy's argmax gives it: the first of equal maxima,
// and the first NaN where there is one (metrics/accuracy_metrics.py compares it to the label).
int64_t argmax_row(const float* r, int64_t n) {
  int64_t best = 0;
  for (int64_t j = 0; j < n; ++j) {
    if (std::isnan(r[j])) return j;
    if (r[j] > r[best]) best = j;
  }
  return best;
}

}  // namespace

TrainPlan::TrainPlan(std::vector<PlanLayer> layers, int64_t max_rows, bool loss, bool input_grad)
    : layers_(std::move(layers)), max_rows_(max_rows), loss_(loss), input_grad_wanted_(input_grad) {
  // Sizes first, then one allocation, then the pointers.
  size_t floats = (size_t)max_rows;  // per-row losses
  int64_t widest = 0;
  bool first_trainable_seen = input_grad;  // the input's gradient: every layer's backward runs
  for (PlanLayer& l : layers_) {
    widest = std::max({widest, l.in, l.out});
    floats += (size_t)(max_rows * l.out);
    const bool trainable = l.want_dkernel || l.want_dbias || l.want_dgamma_dbeta;
    l.need_dx = first_trainable_seen;
    first_trainable_seen = first_trainable_seen || trainable;
    l.backward = first_trainable_seen;
    if (l.kind == PlanLayerKind::kDense) {
      if (l.want_dkernel) floats += (size_t)(l.in * l.out);
      if (l.want_dbias) floats += (size_t)l.out;
    } else if (l.kind == PlanLayerKind::kBatchNorm) {
      floats += (size_t)(5 * l.out);  // mean, var, inv_std, dgamma, dbeta
    }
  }
  widest_ = widest;
  floats += (size_t)(2 * max_rows * widest);  // the backward's two gradient buffers
  floats += (size_t)(3 * widest);             // BnScratch's float32 fields
  arena_.assign(floats, 0.0f);
  bn_double_.assign((size_t)(3 * widest), 0.0);

  float* p = arena_.data();
  auto take = [&p](int64_t n) { float* q = p; p += n; return q; };
  losses_ = take(max_rows);
  for (PlanLayer& l : layers_) {
    l.y = take(max_rows * l.out);
    if (l.kind == PlanLayerKind::kDense) {
      l.dkernel = l.want_dkernel ? take(l.in * l.out) : nullptr;
      l.dbias = l.want_dbias ? take(l.out) : nullptr;
    } else if (l.kind == PlanLayerKind::kBatchNorm) {
      l.mean = take(l.out), l.var = take(l.out), l.inv_std = take(l.out);
      l.dgamma = take(l.out), l.dbeta = take(l.out);  // the kernel writes both, wanted or not
    }
  }
  grad_a_ = take(max_rows * widest);
  grad_b_ = take(max_rows * widest);
  bn_float_ = take(3 * widest);
}

float* TrainPlan::grad_of(const float* weight) const {
  for (const PlanLayer& l : layers_) {
    if (l.kind == PlanLayerKind::kDense) {
      if (weight == l.kernel) return l.dkernel;
      if (weight == l.bias) return l.dbias;
    } else if (l.kind == PlanLayerKind::kBatchNorm && l.want_dgamma_dbeta) {
      if (weight == l.gamma) return l.dgamma;
      if (weight == l.beta) return l.dbeta;
    }
  }
  return nullptr;
}

int TrainPlan::noise_layers() const {
  int n = 0;
  for (const PlanLayer& l : layers_) n += l.kind == PlanLayerKind::kNoise;
  return n;
}

int64_t TrainPlan::forward_backward(const float* x, const int64_t* labels, int64_t rows,
                                    const NoiseCoords* coords) {
  forward(x, rows, coords);
  int64_t correct = 0;
  const float* out = output();
  for (int64_t r = 0; r < rows; ++r) correct += argmax_row(out + r * classes(), classes()) == labels[r];
  backward(x, labels, rows);
  return correct;
}

void TrainPlan::forward(const float* x, int64_t rows, const NoiseCoords* coords) {
  const CpuIsa& isa = cpu_isa();
  const BnScratch scratch{bn_double_.data(), bn_double_.data() + widest_, bn_double_.data() + 2 * widest_,
                          bn_float_, bn_float_ + widest_, bn_float_ + 2 * widest_};
  const float* in = x;
  for (PlanLayer& l : layers_) {
    switch (l.kind) {
      case PlanLayerKind::kDense:
        product(in, l.in, false, l.kernel, l.out, false, l.y, rows, l.out, l.in, l.bias, l.act, l.alpha);
        break;
      case PlanLayerKind::kBatchNorm:
        if (l.training) {
          bn_forward_train(in, rows, l.out, l.gamma, l.beta, l.eps, l.y, l.mean, l.var, l.inv_std, scratch);
          moving_average(l.moving_mean, l.mean, l.out, l.momentum);
          moving_average(l.moving_var, l.var, l.out, l.momentum);
        } else {
          bn_forward_infer(in, rows, l.out, l.moving_mean, l.moving_var, l.gamma, l.beta, l.eps, l.y, scratch);
          // The backward's statistics, as backend/cpu.py's inv_std computes them.
          for (int64_t j = 0; j < l.out; ++j)
            l.mean[j] = l.moving_mean[j], l.inv_std[j] = (float)(1.0 / std::sqrt((double)l.moving_var[j] + l.eps));
        }
        break;
      case PlanLayerKind::kActivation:
        act_forward_cpu(in, l.y, rows * l.out, l.act, l.alpha);
        break;
      case PlanLayerKind::kSoftmax:
        isa.softmax_forward(in, l.y, rows, l.out);
        break;
      case PlanLayerKind::kNoise: {
        const NoiseCoords& c = *coords++;
        for (NoiseArgs* a : {&l.noise_forward, &l.noise_backward})
          a->seed = c.seed, a->stream = c.stream, a->step = c.step;
        l.noise_forward.x = in, l.noise_forward.y = l.y;
        noise_cpu(l.noise_forward, rows * l.out);
        break;
      }
    }
    in = l.y;
  }
}

void TrainPlan::backward(const float* x, const int64_t* labels, int64_t rows) {
  const CpuIsa& isa = cpu_isa();
  const int n = (int)layers_.size();
  // The loss: its logits are the last layer's output, or the input of a final softmax.
  const bool softmax_last = layers_.back().kind == PlanLayerKind::kSoftmax;
  const int top = softmax_last ? n - 2 : n - 1;  // the layer whose output gets dlogits
  const float* logits = top >= 0 ? layers_[top].y : x;
  isa.softmax_xent(logits, rows, classes(), labels, nullptr, losses_, grad_a_,
                   rows ? (float)(1.0 / (double)rows) : 0.0f);
  backward_layers(x, top, rows, grad_a_, grad_b_);
}

void TrainPlan::backward_from(const float* x, const float* dy, int64_t rows) {
  std::copy_n(dy, (size_t)(rows * classes()), grad_a_);
  backward_layers(x, (int)layers_.size() - 1, rows, grad_a_, grad_b_);
}

void TrainPlan::backward_layers(const float* x, int top, int64_t rows, float* dy, float* other) {
  const CpuIsa& isa = cpu_isa();
  for (int i = top; i >= 0 && layers_[i].backward; --i) {
    PlanLayer& l = layers_[i];
    const float* in = i > 0 ? layers_[i - 1].y : x;
    switch (l.kind) {
      case PlanLayerKind::kDense: {
        // act_backward gives dz (and the bias gradient); then dx = dz·Wᵀ and dW = xᵀ·dz.
        isa.act_backward(l.y, dy, other, rows, l.out, l.act, l.alpha, l.dbias);
        if (l.need_dx) product(other, l.out, false, l.kernel, l.out, true, dy, rows, l.in, l.out);
        if (l.dkernel) product(in, l.in, true, other, l.out, false, l.dkernel, l.in, l.out, rows);
        break;  // dx is in dy's buffer
      }
      case PlanLayerKind::kBatchNorm:
        isa.bn_backward(dy, in, rows, l.out, l.mean, l.inv_std, l.gamma, l.training, other, l.dgamma, l.dbeta);
        std::swap(dy, other);
        break;
      case PlanLayerKind::kActivation:
        isa.act_backward(l.y, dy, other, rows, l.out, l.act, l.alpha, nullptr);
        std::swap(dy, other);
        break;
      case PlanLayerKind::kNoise:
        if (!l.noise_grad_identity) {  // the forward's draws, regenerated, applied to dy
          l.noise_backward.x = dy, l.noise_backward.y = other;
          noise_cpu(l.noise_backward, rows * l.out);
          std::swap(dy, other);
        }
        break;
      case PlanLayerKind::kSoftmax:  // only last, handled by the loss
        break;
    }
  }
  input_grad_ = input_grad_wanted_ ? dy : nullptr;  // every layer ran: dy is the input's gradient
}

}  // namespace fastdnn
