// fastdnn._cuda's cross-entropy ops (xent.cu): softmax cross-entropy from logits, sparse
// cross-entropy from probabilities.
#include "bind_args.h"

namespace fastdnn::cuda {

namespace {

// Labels for the cross-entropy: a device int64 array, or host int64 labels uploaded.
Tensor labels_arg(const py::object& o, int64_t rows, int64_t cols) {
  Tensor t;
  if (py::isinstance<Tensor>(o)) {
    t = o.cast<const Tensor&>();
    if (t.dtype != DType::kI64) throw py::type_error("`labels` must be int64 class indices.");
  } else {
    py::array a = py::array::ensure(o);
    if (!a || !a.dtype().equal(py::dtype::of<int64_t>()) || !(a.flags() & py::array::c_style))
      throw py::type_error("`labels` must be a 1-D C-contiguous int64 array.");
    const int64_t* p = static_cast<const int64_t*>(a.data());
    for (py::ssize_t r = 0; r < a.size(); ++r)
      if (p[r] < 0 || p[r] >= cols)
        throw py::value_error("Labels must be class indices in [0, " + std::to_string(cols) + "). Received " +
                              std::to_string(p[r]) + " at index " + std::to_string(r) + ".");
    t = from_numpy(a);
  }
  if (t.ndim() != 1 || t.shape[0] != rows)
    throw py::value_error("`labels` has shape " + shape_str(t.shape) + " but the logits have " + std::to_string(rows) +
                          " rows.");
  return t;
}

py::tuple softmax_xent_op(const py::object& logits_, const py::object& labels, const py::object& targets,
                          float grad_scale, bool want_grad) {
  const Tensor& x = f32(logits_, "logits", 2);
  const int64_t rows = x.shape[0], cols = x.shape[1];
  if (labels.is_none() == targets.is_none())
    throw py::value_error("Pass exactly one of `labels` (class indices) and `targets` (one row per sample).");
  Tensor lab, tgt;
  if (!labels.is_none()) {
    lab = labels_arg(labels, rows, cols);
  } else if (py::isinstance<Tensor>(targets)) {
    tgt = f32(targets, "targets", 2);
  } else {
    tgt = from_numpy(py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(targets));
  }
  if (tgt.storage && tgt.shape != x.shape)
    throw py::value_error("`targets` has shape " + shape_str(tgt.shape) + " but the logits have shape " +
                          shape_str(x.shape) + ".");
  Tensor loss = empty({rows});
  py::object grad = py::none();
  Tensor g;
  if (want_grad) g = empty({rows, cols});
  softmax_xent(x.f32(), rows, cols, lab.storage ? lab.i64() : nullptr, tgt.storage ? tgt.f32() : nullptr, loss.f32(),
               want_grad ? g.f32() : nullptr, grad_scale);
  if (want_grad) grad = py::cast(std::move(g));
  return py::make_tuple(py::cast(std::move(loss)), grad);
}

Tensor sparse_xent_probs_op(const py::object& p_, const py::object& labels, float eps) {
  const Tensor& p = f32(p_, "probabilities", 2);
  Tensor lab = labels_arg(labels, p.shape[0], p.shape[1]);
  Tensor loss = empty({p.shape[0]});
  sparse_xent_probs(p.f32(), p.shape[0], p.shape[1], lab.i64(), eps, loss.f32());
  return loss;
}

}  // namespace

void bind_cuda_xent(py::module_& m) {
  m.def("softmax_xent", &softmax_xent_op, py::arg("logits"), py::arg("labels"), py::arg("targets"),
        py::arg("grad_scale"), py::arg("want_grad"));
  m.def("sparse_xent_probs", &sparse_xent_probs_op, py::arg("probabilities"), py::arg("labels"), py::arg("epsilon"));
}

}  // namespace fastdnn::cuda
