// fastdnn._cuda's reductions (reduce.cu): sums over broadcast axes, and the scaled total.
#include "bind_args.h"

namespace fastdnn::cuda {

namespace {

// Sums of x over the axes where `shape` (x's rank) has 1 and x does not.
Tensor reduce_to_op(const py::object& x_, const py::handle& shape_) {
  const Tensor& x = f32(x_, "x");
  const std::vector<int64_t> shape = shape_arg(shape_);
  bool ok = shape.size() == x.shape.size();
  for (size_t d = 0; ok && d < shape.size(); ++d) ok = shape[d] == x.shape[d] || shape[d] == 1;
  if (!ok)
    throw py::value_error("reduce_to needs a shape of x's rank with x's size or 1 on each axis. Received " +
                          shape_str(shape) + " for x of shape " + shape_str(x.shape) + ".");
  Tensor y = empty(shape);
  Strided s = strided(x.shape);
  const std::vector<int64_t> st = contiguous_strides(x.shape);
  int64_t per_output = 1;
  for (int d = 0; d < s.ndim; ++d) {
    s.stride_a[d] = st[d];
    const bool summed = shape[d] == 1 && x.shape[d] != 1;
    s.stride_b[d] = summed ? 0 : 1;
    if (summed) per_output *= x.shape[d];
  }
  if (per_output > 0 || y.size() == 0) reduce_to(x.f32(), y.f32(), y.size(), per_output, s);
  else fill(y.f32(), y.size(), 0.0f);  // a sum over an empty axis
  return y;
}

Tensor sum_all_op(const py::object& x_, double scale) {
  const Tensor& x = f32(x_, "x");
  Tensor out = empty({});
  sum_all(x.f32(), x.size(), scale, out.f32());
  return out;
}

}  // namespace

void bind_cuda_reduce(py::module_& m) {
  m.def("reduce_to", &reduce_to_op, py::arg("x"), py::arg("shape"));
  m.def("sum_all", &sum_all_op, py::arg("x"), py::arg("scale"));
}

}  // namespace fastdnn::cuda
