// Layer normalization over the last axis (fastdnn._C.layernorm_forward, layernorm_backward,
// layernorm_reference_forward, layernorm_reference_backward).
//
//   x: (..., cols) float32, seen as rows × cols; gamma, beta: (cols,) or None
//   forward:  (y like x, mean, inv_std), mean and inv_std of shape x.shape[:-1]
//             y = gamma·(x − mean)·inv_std + beta, inv_std = 1/sqrt(var + epsilon), var biased
//   backward: (dx like x, dgamma (cols,), dbeta (cols,)) from dy, x and the forward's mean, inv_std
//
// Shape checks and output allocation happen here with the GIL held; the kernels run without it,
// from the CpuIsa table in use (isa/isa.h): the fast float32 path (ln_fast.cpp), or the float64
// reference (ln_ref.cpp) while set_isa("reference") is active.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "../core/arrays.h"
#include "../isa/isa.h"
#include "ln.h"
#include "ln_ref.h"

namespace fastdnn {

namespace py = pybind11;

namespace {

// The leading shape (everything but the last axis) and its number of rows.
std::vector<py::ssize_t> row_shape(const py::array& x, int64_t* rows) {
  std::vector<py::ssize_t> shape(x.shape(), x.shape() + x.ndim() - 1);
  int64_t n = 1;
  for (py::ssize_t d : shape) n *= (int64_t)d;
  *rows = n;
  return shape;
}

const float* feature_vec(const py::object& obj, const char* name, int64_t cols) {
  if (obj.is_none()) return nullptr;
  py::array a = as_ndarray(obj, name);
  const float* p = input_f32(a, name, 1);
  if (a.shape(0) != cols)
    throw py::value_error(std::string("`") + name + "` must have shape (" + std::to_string(cols) +
                          ",), one value per feature of the last axis. Received shape " + shape_str(a) + ".");
  return p;
}

const float* row_vec(const py::array& a, const char* name, const std::vector<py::ssize_t>& shape) {
  const float* p = input_f32(a, name, (int)shape.size());
  if (std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim()) != shape)
    throw py::value_error(std::string("`") + name + "` must have the shape of x without its last axis "
                          "(one value per row). Received shape " + shape_str(a) + ".");
  return p;
}

void check_ln_eps(double eps) {  // names the argument in its message, unlike core/checks.h's check_eps
  if (!(eps >= 0.0) || !std::isfinite(eps))
    throw py::value_error("`epsilon` must be a finite number >= 0. Received: epsilon=" + std::to_string(eps));
}

py::array f32(const std::vector<py::ssize_t>& shape) { return py::array_t<float>(shape); }
float* mut(py::array& a) { return static_cast<float*>(a.mutable_data()); }

using F64 = py::array_t<double, py::array::c_style | py::array::forcecast>;

const double* optional_f64(const py::object& obj, F64* holder, int64_t cols, const char* name) {
  if (obj.is_none()) return nullptr;
  *holder = F64(obj);
  if (holder->ndim() != 1 || holder->shape(0) != cols)
    throw py::value_error(std::string("`") + name + "` must have shape (" + std::to_string(cols) + ",).");
  return holder->data();
}

}  // namespace

// ---- entry points ------------------------------------------------------------------------------

py::tuple layernorm_forward_op(const py::array& x, py::object gamma, py::object beta, double eps) {
  const float* xp = input_f32_nd(x, "x", 1);
  check_ln_eps(eps);
  const int64_t cols = x.shape(x.ndim() - 1);
  int64_t rows;
  std::vector<py::ssize_t> stats_shape = row_shape(x, &rows);
  const float* gp = feature_vec(gamma, "gamma", cols);
  const float* bp = feature_vec(beta, "beta", cols);
  py::array y = f32(std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
  py::array mean = f32(stats_shape), inv_std = f32(stats_shape);
  float *yp = mut(y), *mp = mut(mean), *ip = mut(inv_std);
  {
    py::gil_scoped_release nogil;
    cpu_isa().layernorm_forward(xp, yp, rows, cols, gp, bp, eps, mp, ip);
  }
  return py::make_tuple(y, mean, inv_std);
}

py::tuple layernorm_backward_op(const py::array& dy, const py::array& x, const py::array& mean,
                                const py::array& inv_std, py::object gamma) {
  const float* dyp = input_f32_nd(dy, "dy", 1);
  const float* xp = input_f32_nd(x, "x", 1);
  if (shape_of(dy) != shape_of(x))
    throw py::value_error("`dy` and `x` must have the same shape. Received " + shape_str(dy) + " and " +
                          shape_str(x) + ".");
  const int64_t cols = x.shape(x.ndim() - 1);
  int64_t rows;
  std::vector<py::ssize_t> stats_shape = row_shape(x, &rows);
  const float* mp = row_vec(mean, "mean", stats_shape);
  const float* ip = row_vec(inv_std, "inv_std", stats_shape);
  const float* gp = feature_vec(gamma, "gamma", cols);
  py::array dx = f32(std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
  py::array dgamma = f32({(py::ssize_t)cols}), dbeta = f32({(py::ssize_t)cols});
  float *dxp = mut(dx), *dgp = mut(dgamma), *dbp = mut(dbeta);
  {
    py::gil_scoped_release nogil;
    cpu_isa().layernorm_backward(dyp, xp, rows, cols, mp, ip, gp, dxp, dgp, dbp);
  }
  return py::make_tuple(dx, dgamma, dbeta);
}

// Float64 reference of the forward, for tests: (y, mean, var) in float64.
py::tuple layernorm_reference_forward_op(F64 x, py::object gamma, py::object beta, double eps) {
  if (x.ndim() < 1) throw py::value_error("`x` must have at least 1 dimension.");
  check_ln_eps(eps);
  const int64_t cols = x.shape(x.ndim() - 1);
  int64_t rows;
  std::vector<py::ssize_t> stats_shape = row_shape(x, &rows);
  F64 g, b;
  const double* gp = optional_f64(gamma, &g, cols, "gamma");
  const double* bp = optional_f64(beta, &b, cols, "beta");
  F64 y(std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim())), mean(stats_shape), var(stats_shape);
  ln_reference_forward(x.data(), rows, cols, gp, bp, eps, y.mutable_data(), mean.mutable_data(),
                       var.mutable_data());
  return py::make_tuple(y, mean, var);
}

// Float64 reference of the backward, for tests: (dx, dgamma, dbeta), the statistics recomputed
// from x by the reference forward.
py::tuple layernorm_reference_backward_op(F64 dy, F64 x, py::object gamma, double eps) {
  if (x.ndim() < 1) throw py::value_error("`x` must have at least 1 dimension.");
  if (dy.ndim() != x.ndim() || !std::equal(x.shape(), x.shape() + x.ndim(), dy.shape()))
    throw py::value_error("`dy` and `x` must have the same shape.");
  check_ln_eps(eps);
  const int64_t cols = x.shape(x.ndim() - 1);
  int64_t rows;
  row_shape(x, &rows);
  F64 g;
  const double* gp = optional_f64(gamma, &g, cols, "gamma");
  std::vector<double> y((size_t)(rows * cols)), mean(rows), var(rows), inv_std(rows);
  ln_reference_forward(x.data(), rows, cols, gp, nullptr, eps, y.data(), mean.data(), var.data());
  for (int64_t i = 0; i < rows; ++i) inv_std[i] = 1.0 / std::sqrt(var[i] + eps);
  F64 dx(std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
  F64 dgamma(std::vector<py::ssize_t>{(py::ssize_t)cols}), dbeta(std::vector<py::ssize_t>{(py::ssize_t)cols});
  ln_reference_backward(dy.data(), x.data(), rows, cols, mean.data(), inv_std.data(), gp, dx.mutable_data(),
                        dgamma.mutable_data(), dbeta.mutable_data());
  return py::make_tuple(dx, dgamma, dbeta);
}

void bind_layernorm(py::module_& m) {
  m.def("layernorm_forward", &layernorm_forward_op, py::arg("x"), py::arg("gamma"), py::arg("beta"),
        py::arg("epsilon"));
  m.def("layernorm_backward", &layernorm_backward_op, py::arg("dy"), py::arg("x"), py::arg("mean"),
        py::arg("inv_std"), py::arg("gamma"));
  m.def("layernorm_reference_forward", &layernorm_reference_forward_op, py::arg("x"), py::arg("gamma"),
        py::arg("beta"), py::arg("epsilon"));
  m.def("layernorm_reference_backward", &layernorm_reference_backward_op, py::arg("dy"), py::arg("x"),
        py::arg("gamma"), py::arg("epsilon"));
}

}  // namespace fastdnn
