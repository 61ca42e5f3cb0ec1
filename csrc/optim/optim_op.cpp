// fastdnn._C.optimizer_update: one native call applies an optimizer step to every parameter of
// a model (a multi-tensor kernel, optim_step.h): gradient clipping, decoupled weight decay and
// the update rule, one pass over each tensor after the norms, split across the thread pool.
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
#include "optim_step.h"

namespace fastdnn {

namespace py = pybind11;

void optimizer_update_op(int kind, const py::list& params, const py::list& grads,
                         const py::list& slots, const py::dict& hyper) {
  const OptimHyper h = optim_args::read_hyper(kind, hyper);
  const size_t count = params.size();
  optim_args::check_counts(count, grads.size(), slots.size());
  const int nslots = slot_count(h);
  OptimStep step;
  std::vector<OptimTensor>& ts = step.tensors;
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

  step.split();
  py::gil_scoped_release nogil;
  step.run(h);
}

void bind_optimizers(py::module_& m) {
  m.def("optimizer_update", &optimizer_update_op, py::arg("kind"), py::arg("params"),
        py::arg("grads"), py::arg("slots"), py::arg("hyper"));
}

}  // namespace fastdnn
