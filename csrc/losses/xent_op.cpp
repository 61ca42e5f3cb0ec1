// Entry point of the fused softmax cross-entropy (fastdnn._C.softmax_xent): checks logits,
// targets and labels (class indices must lie in [0, classes)), allocates, then runs the kernel
// path in use without the GIL.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "../core/arrays.h"
#include "../isa/isa.h"

namespace fastdnn {

namespace py = pybind11;

// Returns (loss per row, dlogits or None).
py::tuple softmax_xent_op(const py::array& logits, py::object labels, py::object targets,
                          float grad_scale, bool want_grad) {
  const float* xp = input_f32(logits, "logits", 2);
  const int64_t rows = logits.shape(0), cols = logits.shape(1);
  const int64_t* lp = nullptr;
  const float* tp = nullptr;
  py::array lab, tgt;
  if (labels.is_none() == targets.is_none())
    throw py::value_error("Pass exactly one of `labels` (class indices) and `targets` (one row per sample).");
  if (!labels.is_none()) {
    lab = as_ndarray(labels, "labels");
    if (!lab.dtype().equal(py::dtype::of<int64_t>()) || lab.ndim() != 1 || !(lab.flags() & py::array::c_style))
      throw py::type_error("`labels` must be a 1-D C-contiguous int64 array.");
    if (lab.shape(0) != rows)
      throw py::value_error("`labels` has " + std::to_string(lab.shape(0)) + " entries but the logits have " +
                            std::to_string(rows) + " rows.");
    lp = static_cast<const int64_t*>(lab.data());
    for (int64_t r = 0; r < rows; ++r)
      if (lp[r] < 0 || lp[r] >= cols)
        throw py::value_error("Labels must be class indices in [0, " + std::to_string(cols) +
                              "). Received " + std::to_string(lp[r]) + " at index " + std::to_string(r) + ".");
  } else {
    tgt = as_ndarray(targets, "targets");
    tp = input_f32(tgt, "targets", 2);
    if (tgt.shape(0) != rows || tgt.shape(1) != cols)
      throw py::value_error("`targets` has shape " + shape_str(tgt) + " but the logits have shape " +
                            shape_str(logits) + ".");
  }
  py::array loss = py::array_t<float>(std::vector<py::ssize_t>{rows});
  float* lossp = static_cast<float*>(loss.mutable_data());
  py::object grad = py::none();
  float* gp = nullptr;
  if (want_grad) {
    py::array g = py::array_t<float>(std::vector<py::ssize_t>{rows, cols});
    gp = static_cast<float*>(g.mutable_data());
    grad = g;
  }
  {
    py::gil_scoped_release nogil;
    cpu_isa().softmax_xent(xp, rows, cols, lp, tp, lossp, gp, grad_scale);
  }
  return py::make_tuple(loss, grad);
}

void bind_losses(py::module_& m) {
  m.def("softmax_xent", &softmax_xent_op, py::arg("logits"), py::arg("labels"), py::arg("targets"),
        py::arg("grad_scale"), py::arg("want_grad"));
}

}  // namespace fastdnn
