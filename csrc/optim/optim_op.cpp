// fastdnn._C.optimizer_update: one native call applies an optimizer step to every parameter of
// a model (a multi-tensor kernel): gradient clipping, decoupled weight decay and the update
// rule, one pass over each tensor after the norms, split across the thread pool.
//
// The rules are Keras 3's, element by element in optim_rule.h (shared with the CUDA kernel).
// Clipping (at most one, as Keras): clipnorm scales each tensor to norm <= c; global_clipnorm
// scales all by min(1, c/‖g‖); clipvalue clamps each element. Weight decay: w -= lr·wd·w first.
// References: optim_ref.cpp (float64, the "reference" kernel path) and the float64 NumPy
// transcription in tests/test_optimizers.py.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "../core/arrays.h"
#include "../isa/isa.h"
#include "../core/threadpool.h"
#include "optim_args.h"
#include "optim_kernel.h"

namespace fastdnn {

namespace py = pybind11;

namespace {

double sum_squares(const float* g, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += (double)g[i] * g[i];
  return s;
}

}  // namespace

void optimizer_update_op(int kind, const py::list& params, const py::list& grads,
                         const py::list& slots, const py::dict& hyper) {
  const OptimHyper h = optim_args::read_hyper(kind, hyper);
  const size_t count = params.size();
  optim_args::check_counts(count, grads.size(), slots.size());
  const int nslots = slot_count(h);
  std::vector<OptimTensor> ts;
  std::vector<py::array> keep;  // references held while the GIL is released
  for (size_t t = 0; t < count; ++t) {
    py::array w = as_ndarray(params[t], "params"), g = as_ndarray(grads[t], "grads");
    const auto shape = shape_of(w);
    OptimTensor x{output_f32(w, "params", shape), input_f32(g, "grads", (int)g.ndim()), {}, (int64_t)w.size(), 1.0f};
    if (shape_of(g) != shape)
      throw py::value_error("`grads[" + std::to_string(t) + "]` of shape " + shape_str(g) +
                            " does not match its parameter of shape " + shape_str(w) +
                            "; pass one gradient per parameter, in the same order and shape.");
    py::sequence sl = optim_args::slot_list(slots[t], t, nslots);
    for (int k = 0; k < nslots; ++k) {
      py::array s = as_ndarray(sl[k], "slots");
      x.s[k] = output_f32(s, "slots", shape);
      keep.push_back(s);
    }
    keep.push_back(w);
    keep.push_back(g);
    ts.push_back(x);
  }

  py::gil_scoped_release nogil;
  if (h.clipnorm > 0 || h.global_clipnorm > 0) {
    std::vector<double> sq(ts.size());
    parallel_for((int)ts.size(), [&](int t) { sq[t] = sum_squares(ts[t].g, ts[t].n); });
    if (h.clipnorm > 0) {  // each tensor to norm <= clipnorm
      for (size_t t = 0; t < ts.size(); ++t) {
        const double norm = std::sqrt(sq[t]);
        ts[t].scale = norm > h.clipnorm ? (float)(h.clipnorm / norm) : 1.0f;
      }
    } else {  // all tensors together to norm <= global_clipnorm
      double total = 0;
      for (double s : sq) total += s;
      const double norm = std::sqrt(total);
      const float scale = norm > h.global_clipnorm ? (float)(h.global_clipnorm / norm) : 1.0f;
      for (OptimTensor& t : ts) t.scale = scale;
    }
  }
  // Chunks of 64 Ki values; models under 256 Ki parameters update inline, where waking a
  // second thread costs more than it saves.
  constexpr int64_t kChunk = 1 << 16, kParallelMin = 1 << 18;
  int64_t total = 0;
  for (const OptimTensor& t : ts) total += t.n;
  const auto update = cpu_isa().optimizer_update;
  if (total < kParallelMin) {
    for (const OptimTensor& t : ts) update(h, t, 0, t.n);
    return;
  }
  std::vector<std::pair<int, int64_t>> chunks;
  for (int t = 0; t < (int)ts.size(); ++t)
    for (int64_t i = 0; i < ts[t].n; i += kChunk) chunks.emplace_back(t, i);
  parallel_for((int)chunks.size(), [&](int c) {
    const OptimTensor& t = ts[chunks[c].first];
    const int64_t i0 = chunks[c].second;
    update(h, t, i0, std::min(t.n, i0 + kChunk));
  });
}

void bind_optimizers(py::module_& m) {
  m.def("optimizer_update", &optimizer_update_op, py::arg("kind"), py::arg("params"),
        py::arg("grads"), py::arg("slots"), py::arg("hyper"));
}

}  // namespace fastdnn
