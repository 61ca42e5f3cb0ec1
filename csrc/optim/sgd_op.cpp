// fastdnn._C.sgd_update: one native call updates every parameter of a model (a multi-tensor
// kernel), one pass over each tensor, split across the thread pool. Keras 3's SGD rule:
//   plain:     w -= lr·g
//   momentum:  m = momentum·m - lr·g;  w += m                       (nesterov: w += momentum·m - lr·g)
// Memory-bound, so plain loops (vectorised by the compiler) serve every ISA.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <vector>

#include "../core/arrays.h"
#include "../core/threadpool.h"

namespace fastdnn {

namespace py = pybind11;

namespace {

struct Span {
  float* w;
  const float* g;
  float* m;  // null without momentum
  int64_t n;
};

void sgd_span(const Span& s, int64_t i0, int64_t i1, float lr, float momentum, bool nesterov) {
  float* __restrict w = s.w;
  const float* __restrict g = s.g;
  if (!s.m) {
    for (int64_t i = i0; i < i1; ++i) w[i] -= lr * g[i];
    return;
  }
  float* __restrict m = s.m;
  if (nesterov) {
    for (int64_t i = i0; i < i1; ++i) {
      m[i] = momentum * m[i] - lr * g[i];
      w[i] += momentum * m[i] - lr * g[i];
    }
  } else {
    for (int64_t i = i0; i < i1; ++i) {
      m[i] = momentum * m[i] - lr * g[i];
      w[i] += m[i];
    }
  }
}

}  // namespace

void sgd_update_op(const py::list& params, const py::list& grads, py::object velocities, float lr,
                   float momentum, bool nesterov) {
  const size_t count = params.size();
  if (grads.size() != count)
    throw py::value_error("sgd_update needs one gradient per parameter. Received " + std::to_string(count) +
                          " parameters and " + std::to_string(grads.size()) + " gradients.");
  py::list vel = velocities.is_none() ? py::list() : py::reinterpret_borrow<py::list>(velocities);
  if (!velocities.is_none() && vel.size() != count)
    throw py::value_error("sgd_update needs one velocity per parameter.");
  std::vector<Span> spans;
  std::vector<py::array> keep;  // hold references while the GIL is released
  for (size_t t = 0; t < count; ++t) {
    py::array w = as_ndarray(params[t], "params"), g = as_ndarray(grads[t], "grads");
    Span s{output_f32(w, "params", shape_of(w)), input_f32(g, "grads", (int)g.ndim()), nullptr, (int64_t)w.size()};
    if (shape_of(g) != shape_of(w))
      throw py::value_error("Gradient of shape " + shape_str(g) + " does not match its parameter of shape " +
                            shape_str(w) + ".");
    keep.push_back(w);
    keep.push_back(g);
    if (!velocities.is_none()) {
      py::array m = as_ndarray(vel[t], "velocities");
      s.m = output_f32(m, "velocities", shape_of(w));
      keep.push_back(m);
    }
    spans.push_back(s);
  }
  py::gil_scoped_release nogil;
  // Chunks of 64 Ki floats across all tensors, on the thread pool; models under 256 Ki
  // parameters update inline, where waking a second thread costs more than it saves.
  constexpr int64_t kChunk = 1 << 16, kParallelMin = 1 << 18;
  int64_t total = 0;
  for (const Span& s : spans) total += s.n;
  if (total < kParallelMin) {
    for (const Span& s : spans) sgd_span(s, 0, s.n, lr, momentum, nesterov);
    return;
  }
  std::vector<std::pair<int, int64_t>> chunks;
  for (int t = 0; t < (int)spans.size(); ++t)
    for (int64_t i = 0; i < spans[t].n; i += kChunk) chunks.emplace_back(t, i);
  parallel_for((int)chunks.size(), [&](int c) {
    const Span& s = spans[chunks[c].first];
    const int64_t i0 = chunks[c].second;
    sgd_span(s, i0, std::min(s.n, i0 + kChunk), lr, momentum, nesterov);
  });
}

void bind_optimizers(py::module_& m) {
  m.def("sgd_update", &sgd_update_op, py::arg("params"), py::arg("grads"), py::arg("velocities"),
        py::arg("learning_rate"), py::arg("momentum"), py::arg("nesterov"));
}

}  // namespace fastdnn
