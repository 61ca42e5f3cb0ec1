// fastdnn._cuda's activation ops (act.cu): element-wise activations, softmax and their backwards.
#include "bind_args.h"

namespace fastdnn::cuda {

namespace {

Tensor act_forward_op(const py::object& x_, int act, float alpha, const py::object& out) {
  const Tensor& x = f32(x_, "x");
  Tensor y = output(out, x.shape);
  act_forward(x.f32(), y.f32(), x.size(), checked_act(act), alpha);
  return y;
}

py::tuple act_backward_op(const py::object& y_, const py::object& dy_, int act, float alpha, bool want_db) {
  const Tensor& y = f32(y_, "y", -1, want_db ? 1 : 0);
  const Tensor& dy = f32(dy_, "dy");
  same_shape(y, "y", dy, "dy");
  Tensor dx = empty(y.shape);
  act_backward(y.f32(), dy.f32(), dx.f32(), y.size(), checked_act(act), alpha);
  py::object db = py::none();
  if (want_db) {
    Tensor d = empty({y.cols()});
    column_sums(dx.f32(), y.rows(), y.cols(), d.f32());
    db = py::cast(std::move(d));
  }
  return py::make_tuple(py::cast(std::move(dx)), db);
}

Tensor softmax_op(const py::object& x_, const py::object& out) {
  const Tensor& x = f32(x_, "x", -1, 1);
  Tensor y = output(out, x.shape);
  softmax_forward(x.f32(), y.f32(), x.rows(), x.cols());
  return y;
}

Tensor softmax_backward_op(const py::object& y_, const py::object& dy_) {
  const Tensor& y = f32(y_, "y", -1, 1);
  const Tensor& dy = f32(dy_, "dy", -1, 1);
  same_shape(y, "y", dy, "dy");
  Tensor dx = empty(y.shape);
  softmax_backward(y.f32(), dy.f32(), dx.f32(), y.rows(), y.cols());
  return dx;
}

}  // namespace

void bind_cuda_act(py::module_& m) {
  m.def("act_forward", &act_forward_op, py::arg("x"), py::arg("activation"), py::arg("alpha"),
        py::arg("out") = py::none());
  m.def("act_backward", &act_backward_op, py::arg("y"), py::arg("dy"), py::arg("activation"), py::arg("alpha"),
        py::arg("want_dbias"));
  m.def("softmax", &softmax_op, py::arg("x"), py::arg("out") = py::none());
  m.def("softmax_backward", &softmax_backward_op, py::arg("y"), py::arg("dy"));
}

}  // namespace fastdnn::cuda
