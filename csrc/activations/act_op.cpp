// Entry points of the activation ops (fastdnn._C.act_forward, act_backward, softmax,
// softmax_backward): shape checks and output allocation here, once; then the kernel path in use
// runs without the GIL. Arrays of any shape; softmax and the bias gradient work on the last axis.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>

#include "../core/arrays.h"
#include "act.h"
#include "../isa/isa.h"
#include "../core/threadpool.h"

namespace fastdnn {

namespace py = pybind11;

namespace {

void same_shape(const py::array& a, const char* an, const py::array& b, const char* bn) {
  if (shape_of(a) != shape_of(b))
    throw py::value_error(std::string("`") + an + "` and `" + bn + "` must have the same shape. Received " +
                          shape_str(a) + " and " + shape_str(b) + ".");
}

}  // namespace

void act_forward_cpu(const float* x, float* y, int64_t n, Act act, float alpha) {
  const CpuIsa& isa = cpu_isa();
  constexpr int64_t kChunk = 1 << 16;  // large arrays are split across the thread pool
  if (n <= kChunk || get_num_threads() == 1) {
    isa.act_forward(x, y, n, act, alpha);
  } else {
    const int chunks = (int)((n + kChunk - 1) / kChunk);
    parallel_for(chunks, [&](int c) {
      const int64_t i0 = c * kChunk;
      isa.act_forward(x + i0, y + i0, std::min(kChunk, n - i0), act, alpha);
    });
  }
}

py::array act_forward_op(const py::array& x, int activation, float alpha, py::object out) {
  const float* xp = input_f32_nd(x, "x", 0);
  const Act act = checked_act(activation);
  float* yp;
  py::array y = output_or_new(out, shape_of(x), &yp);
  py::gil_scoped_release nogil;
  act_forward_cpu(xp, yp, x.size(), act, alpha);
  return y;
}

py::tuple act_backward_op(const py::array& y, const py::array& dy, int activation, float alpha,
                          bool want_dbias) {
  const float* yp = input_f32_nd(y, "y", want_dbias ? 1 : 0);
  const float* dyp = input_f32_nd(dy, "dy", 0);
  same_shape(y, "y", dy, "dy");
  const Act act = checked_act(activation);
  int64_t rows, cols;
  rows_cols(y, &rows, &cols);
  py::array dx = py::array_t<float>(std::vector<py::ssize_t>(y.shape(), y.shape() + y.ndim()));
  py::object db = py::none();
  float* dbp = nullptr;
  if (want_dbias) {
    py::array d = py::array_t<float>(std::vector<py::ssize_t>{cols});
    dbp = static_cast<float*>(d.mutable_data());
    db = d;
  }
  float* dxp = static_cast<float*>(dx.mutable_data());
  {
    py::gil_scoped_release nogil;
    cpu_isa().act_backward(yp, dyp, dxp, rows, cols, act, alpha, dbp);
  }
  return py::make_tuple(dx, db);
}

py::array softmax_op(const py::array& x, py::object out) {
  const float* xp = input_f32_nd(x, "x", 1);
  float* yp;
  py::array y = output_or_new(out, shape_of(x), &yp);
  int64_t rows, cols;
  rows_cols(x, &rows, &cols);
  py::gil_scoped_release nogil;
  cpu_isa().softmax_forward(xp, yp, rows, cols);
  return y;
}

py::array softmax_backward_op(const py::array& y, const py::array& dy) {
  const float* yp = input_f32_nd(y, "y", 1);
  const float* dyp = input_f32_nd(dy, "dy", 1);
  same_shape(y, "y", dy, "dy");
  int64_t rows, cols;
  rows_cols(y, &rows, &cols);
  py::array dx = py::array_t<float>(std::vector<py::ssize_t>(y.shape(), y.shape() + y.ndim()));
  float* dxp = static_cast<float*>(dx.mutable_data());
  py::gil_scoped_release nogil;
  cpu_isa().softmax_backward(yp, dyp, dxp, rows, cols);
  return dx;
}

void bind_activations(py::module_& m) {
  m.def("act_forward", &act_forward_op, py::arg("x"), py::arg("activation"), py::arg("alpha"),
        py::arg("out") = py::none());
  m.def("act_backward", &act_backward_op, py::arg("y"), py::arg("dy"), py::arg("activation"),
        py::arg("alpha"), py::arg("want_dbias"));
  m.def("softmax", &softmax_op, py::arg("x"), py::arg("out") = py::none());
  m.def("softmax_backward", &softmax_backward_op, py::arg("y"), py::arg("dy"));
}

}  // namespace fastdnn
