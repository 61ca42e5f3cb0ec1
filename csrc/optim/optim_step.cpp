// The CPU multi-tensor optimizer step (optim_step.h).
//
// Clipping: clipnorm scales each tensor to norm <= c; global_clipnorm scales all by
// min(1, c/‖g‖); clipvalue clamps each element (in the rule). The norms are summed in float64.
#include "optim_step.h"

#include <algorithm>
#include <cmath>

#include "../core/threadpool.h"
#include "../isa/isa.h"

namespace fastdnn {

namespace {

double sum_squares(const float* g, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += (double)g[i] * g[i];
  return s;
}

// Chunks of 64 Ki values; models under 256 Ki parameters update inline, where waking a second
// thread costs more than it saves.
constexpr int64_t kChunk = 1 << 16, kParallelMin = 1 << 18;

}  // namespace

void OptimStep::split() {
  chunks_.clear();
  total_ = 0;
  for (int t = 0; t < (int)tensors.size(); ++t) {
    total_ += tensors[t].n;
    for (int64_t i = 0; i < tensors[t].n; i += kChunk) chunks_.emplace_back(t, i);
  }
  sq_.assign(tensors.size(), 0.0);
}

void OptimStep::run(const OptimHyper& h) {
  std::vector<OptimTensor>& ts = tensors;
  for (OptimTensor& t : ts) t.scale = 1.0f;
  if (h.clipnorm > 0 || h.global_clipnorm > 0) {
    parallel_for((int)ts.size(), [&](int t) { sq_[t] = sum_squares(ts[t].g, ts[t].n); });
    if (h.clipnorm > 0) {  // each tensor to norm <= clipnorm
      for (size_t t = 0; t < ts.size(); ++t) {
        const double norm = std::sqrt(sq_[t]);
        ts[t].scale = norm > h.clipnorm ? (float)(h.clipnorm / norm) : 1.0f;
      }
    } else {  // all tensors together to norm <= global_clipnorm
      double total = 0;
      for (double s : sq_) total += s;
      const double norm = std::sqrt(total);
      const float scale = norm > h.global_clipnorm ? (float)(h.global_clipnorm / norm) : 1.0f;
      for (OptimTensor& t : ts) t.scale = scale;
    }
  }
  const auto update = cpu_isa().optimizer_update;
  if (total_ < kParallelMin) {
    for (const OptimTensor& t : ts) update(h, t, 0, t.n);
    return;
  }
  parallel_for((int)chunks_.size(), [&](int c) {
    const OptimTensor& t = ts[chunks_[c].first];
    const int64_t i0 = chunks_[c].second;
    update(h, t, i0, std::min(t.n, i0 + kChunk));
  });
}

}  // namespace fastdnn
