// fastdnn._cuda's element-wise arithmetic with broadcasting (elementwise.cu): binary and unary
// ops, broadcast_to, and the scalings by a device scalar or per row.
#include "bind_args.h"

namespace fastdnn::cuda {

namespace {

Tensor binary_op(int op, const py::object& a_, const py::object& b_) {
  if (op < 0 || op >= kNumBinaryOps) throw py::value_error("Unknown binary op code " + std::to_string(op) + ".");
  const Tensor& a = f32(a_, "a");
  const Tensor& b = f32(b_, "b");
  std::vector<int64_t> shape(std::max(a.shape.size(), b.shape.size()));
  for (size_t i = 0; i < shape.size(); ++i) {  // NumPy's rule, from the last axis
    const int64_t da = i < a.shape.size() ? a.shape[a.shape.size() - 1 - i] : 1;
    const int64_t db = i < b.shape.size() ? b.shape[b.shape.size() - 1 - i] : 1;
    if (da != db && da != 1 && db != 1)
      throw py::value_error("operands could not be broadcast together with shapes " + shape_str(a.shape) + " " +
                            shape_str(b.shape));
    shape[shape.size() - 1 - i] = da == 1 ? db : da;
  }
  Tensor y = empty(shape);
  Strided s = strided(shape);
  if (a.shape == b.shape) {  // no broadcasting: one flat axis
    s.ndim = 1, s.shape[0] = y.size(), s.stride_a[0] = s.stride_b[0] = 1;
  } else {
    broadcast_strides(a.shape, shape, s.stride_a);
    broadcast_strides(b.shape, shape, s.stride_b);
  }
  binary(op, a.f32(), b.f32(), y.f32(), y.size(), s);
  return y;
}

Tensor broadcast_to_op(const py::object& x_, const py::handle& shape_) {
  const Tensor& x = f32(x_, "x");
  const std::vector<int64_t> shape = shape_arg(shape_);
  bool ok = shape.size() >= x.shape.size() && std::all_of(shape.begin(), shape.end(), [](int64_t d) { return d >= 0; });
  for (size_t i = 0; ok && i < x.shape.size(); ++i) {
    const int64_t dx = x.shape[x.shape.size() - 1 - i], ds = shape[shape.size() - 1 - i];
    ok = dx == ds || dx == 1;
  }
  if (!ok)
    throw py::value_error("Cannot broadcast an array of shape " + shape_str(x.shape) + " to " + shape_str(shape) + ".");
  Tensor y = empty(shape);
  Strided s = strided(shape);
  broadcast_strides(x.shape, shape, s.stride_b);  // kSecond reads b only; a's strides stay 0
  binary(kSecond, x.f32(), x.f32(), y.f32(), y.size(), s);
  return y;
}

Tensor unary_op(int op, const py::object& x_, float p0, float p1) {
  if (op < 0 || op >= kNumUnaryOps) throw py::value_error("Unknown unary op code " + std::to_string(op) + ".");
  const Tensor& x = f32(x_, "x");
  Tensor y = empty(x.shape);
  unary(op, x.f32(), y.f32(), x.size(), p0, p1);
  return y;
}

Tensor scale_by_scalar_op(const py::object& x_, const py::object& s_, float c) {
  const Tensor& x = f32(x_, "x");
  const Tensor& s = f32(s_, "scale");
  if (s.size() != 1) throw py::value_error("`scale` must hold one value. Received shape " + shape_str(s.shape) + ".");
  Tensor y = empty(x.shape);
  scale_by_scalar(x.f32(), s.f32(), c, y.f32(), x.size());
  return y;
}

Tensor scale_rows_op(const py::object& x_, const py::object& s_) {
  const Tensor& x = f32(x_, "x", 2);
  const Tensor& s = f32(s_, "scale");
  if (s.size() != x.shape[0])
    throw py::value_error("`scale` must hold one value per row (" + std::to_string(x.shape[0]) + "). Received shape " +
                          shape_str(s.shape) + ".");
  Tensor y = empty(x.shape);
  scale_rows(x.f32(), s.f32(), y.f32(), x.shape[0], x.shape[1]);
  return y;
}

}  // namespace

void bind_cuda_elementwise(py::module_& m) {
  m.def("binary", &binary_op, py::arg("op"), py::arg("a"), py::arg("b"));
  m.def("unary", &unary_op, py::arg("op"), py::arg("x"), py::arg("p0") = 0.0f, py::arg("p1") = 0.0f);
  m.def("broadcast_to", &broadcast_to_op, py::arg("x"), py::arg("shape"));
  m.def("scale_by_scalar", &scale_by_scalar_op, py::arg("x"), py::arg("scale"), py::arg("factor") = 1.0f);
  m.def("scale_rows", &scale_rows_op, py::arg("x"), py::arg("scale"));
}

}  // namespace fastdnn::cuda
