// Batch normalization over the last axis (fastdnn._C.batchnorm_forward_train,
// batchnorm_forward_infer, batchnorm_backward, batchnorm_reference_forward).
// An input of any shape is seen as (rows, features) with features = last axis; every statistic is
// per feature, over the rows. Shape checks and output allocation happen in the entry points, with
// the GIL held; the kernels run without it. Statistics are accumulated in float64 (two passes:
// mean, then the centred sum of squares, which is numerically safe), element-wise passes in
// float32 with per-feature coefficients, so the inner loops vectorise over the features at -O3.
//   train:  mean, var (biased) of the batch; x_hat = (x - mean)·inv_std, inv_std = 1/sqrt(var + eps);
//           y = gamma·x_hat + beta
//   infer:  y = gamma·(x - moving_mean)/sqrt(moving_var + eps) + beta
//   backward: dbeta = Σ dy, dgamma = Σ dy·x_hat (one pass), then (one pass)
//           training:  dx = gamma·inv_std/N · (N·dy − dbeta − x_hat·dgamma)
//           inference: dx = gamma·inv_std · dy   (the statistics are constants)
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cmath>
#include <string>
#include <vector>

#include "../core/arrays.h"
#include "../core/checks.h"
#include "../isa/isa.h"
#include "bn.h"

namespace fastdnn {

namespace py = pybind11;

namespace {

// Scratch of `cols` values per field, owned by the caller's vectors.
struct BnVectors {
  std::vector<double> d;
  std::vector<float> f;
  explicit BnVectors(int64_t cols) : d(3 * cols), f(3 * cols) {}
  BnScratch scratch(int64_t cols) {
    return {d.data(), d.data() + cols, d.data() + 2 * cols, f.data(), f.data() + cols, f.data() + 2 * cols};
  }
};

// Plain float64 reference of the training forward: textbook formulas, no shared code with the
// kernels of bn_forward.cpp (an independent check for the tests).
void bn_reference_forward(const double* x, int64_t rows, int64_t cols, const double* gamma,
                          const double* beta, double eps, double* y, double* mean, double* var) {
  for (int64_t j = 0; j < cols; ++j) {
    double s = 0.0;
    for (int64_t i = 0; i < rows; ++i) s += x[i * cols + j];
    const double m = rows ? s / (double)rows : 0.0;
    double q = 0.0;
    for (int64_t i = 0; i < rows; ++i) q += (x[i * cols + j] - m) * (x[i * cols + j] - m);
    const double v = rows ? q / (double)rows : 0.0;
    mean[j] = m, var[j] = v;
    for (int64_t i = 0; i < rows; ++i)
      y[i * cols + j] = (gamma ? gamma[j] : 1.0) * (x[i * cols + j] - m) / std::sqrt(v + eps) +
                        (beta ? beta[j] : 0.0);
  }
}

// ---- argument checks ---------------------------------------------------------------------------

// An optional per-feature float32 vector of length `cols` (None → nullptr).
const float* feature_vec(const py::object& obj, const char* name, int64_t cols) {
  if (obj.is_none()) return nullptr;
  py::array a = as_ndarray(obj, name);
  const float* p = input_f32(a, name, 1);
  if (a.shape(0) != cols)
    throw py::value_error(std::string("`") + name + "` must have shape (" + std::to_string(cols) +
                          ",), one value per feature of the last axis. Received shape " + shape_str(a) + ".");
  return p;
}

py::array vec_f32(int64_t n) { return py::array_t<float>(std::vector<py::ssize_t>{(py::ssize_t)n}); }

float* mut(py::array& a) { return static_cast<float*>(a.mutable_data()); }

}  // namespace

// ---- entry points ------------------------------------------------------------------------------

// (y, mean, var, inv_std): y normalised with the batch statistics; mean/var/inv_std float32 (cols,).
py::tuple batchnorm_forward_train_op(const py::array& x, py::object gamma, py::object beta, double eps) {
  const float* xp = input_f32_nd(x, "x", 1);
  check_eps(eps);
  int64_t rows, cols;
  rows_cols(x, &rows, &cols);
  const float* gp = feature_vec(gamma, "gamma", cols);
  const float* bp = feature_vec(beta, "beta", cols);
  py::array y = py::array_t<float>(std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
  py::array mean = vec_f32(cols), var = vec_f32(cols), inv_std = vec_f32(cols);
  float *yp = mut(y), *mp = mut(mean), *vp = mut(var), *ip = mut(inv_std);
  {
    py::gil_scoped_release nogil;
    BnVectors scratch(cols);
    bn_forward_train(xp, rows, cols, gp, bp, eps, yp, mp, vp, ip, scratch.scratch(cols));
  }
  return py::make_tuple(y, mean, var, inv_std);
}

// y normalised with given (moving) statistics.
py::array batchnorm_forward_infer_op(const py::array& x, const py::array& mean, const py::array& var,
                                     py::object gamma, py::object beta, double eps) {
  const float* xp = input_f32_nd(x, "x", 1);
  check_eps(eps);
  int64_t rows, cols;
  rows_cols(x, &rows, &cols);
  const float* mp = feature_vec(mean, "moving_mean", cols);
  const float* vp = feature_vec(var, "moving_variance", cols);
  const float* gp = feature_vec(gamma, "gamma", cols);
  const float* bp = feature_vec(beta, "beta", cols);
  py::array y = py::array_t<float>(std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
  float* yp = mut(y);
  py::gil_scoped_release nogil;
  BnVectors scratch(cols);
  bn_forward_infer(xp, rows, cols, mp, vp, gp, bp, eps, yp, scratch.scratch(cols));
  return y;
}

// (dx, dgamma, dbeta) from dy, the forward's input x and its statistics (mean, inv_std).
py::tuple batchnorm_backward_op(const py::array& dy, const py::array& x, const py::array& mean,
                                const py::array& inv_std, py::object gamma, bool training) {
  const float* dyp = input_f32_nd(dy, "dy", 1);
  const float* xp = input_f32_nd(x, "x", 1);
  if (shape_of(dy) != shape_of(x))
    throw py::value_error("`dy` and `x` must have the same shape. Received " + shape_str(dy) + " and " +
                          shape_str(x) + ".");
  int64_t rows, cols;
  rows_cols(x, &rows, &cols);
  const float* mp = feature_vec(mean, "mean", cols);
  const float* ip = feature_vec(inv_std, "inv_std", cols);
  const float* gp = feature_vec(gamma, "gamma", cols);
  py::array dx = py::array_t<float>(std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
  py::array dgamma = vec_f32(cols), dbeta = vec_f32(cols);
  float *dxp = mut(dx), *dgp = mut(dgamma), *dbp = mut(dbeta);
  {
    py::gil_scoped_release nogil;
    cpu_isa().bn_backward(dyp, xp, rows, cols, mp, ip, gp, training, dxp, dgp, dbp);
  }
  return py::make_tuple(dx, dgamma, dbeta);
}

// Float64 reference: (y, mean, var) of the training forward, for tests.
py::tuple batchnorm_reference_forward_op(py::array_t<double, py::array::c_style | py::array::forcecast> x,
                                         py::object gamma, py::object beta, double eps) {
  if (x.ndim() < 1) throw py::value_error("`x` must have at least 1 dimension.");
  int64_t rows, cols;
  rows_cols(x, &rows, &cols);
  using D = py::array_t<double, py::array::c_style | py::array::forcecast>;
  D g, b;
  if (!gamma.is_none()) g = D(gamma);
  if (!beta.is_none()) b = D(beta);
  if ((!gamma.is_none() && g.size() != cols) || (!beta.is_none() && b.size() != cols))
    throw py::value_error("`gamma` and `beta` must have one value per feature.");
  D y(std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
  D mean(std::vector<py::ssize_t>{(py::ssize_t)cols}), var(std::vector<py::ssize_t>{(py::ssize_t)cols});
  bn_reference_forward(x.data(), rows, cols, gamma.is_none() ? nullptr : g.data(),
                       beta.is_none() ? nullptr : b.data(), eps, y.mutable_data(), mean.mutable_data(),
                       var.mutable_data());
  return py::make_tuple(y, mean, var);
}

void bind_batchnorm(py::module_& m) {
  m.def("batchnorm_forward_train", &batchnorm_forward_train_op, py::arg("x"), py::arg("gamma"),
        py::arg("beta"), py::arg("epsilon"));
  m.def("batchnorm_forward_infer", &batchnorm_forward_infer_op, py::arg("x"), py::arg("moving_mean"),
        py::arg("moving_variance"), py::arg("gamma"), py::arg("beta"), py::arg("epsilon"));
  m.def("batchnorm_backward", &batchnorm_backward_op, py::arg("dy"), py::arg("x"), py::arg("mean"),
        py::arg("inv_std"), py::arg("gamma"), py::arg("training"));
  m.def("batchnorm_reference_forward", &batchnorm_reference_forward_op, py::arg("x"), py::arg("gamma"),
        py::arg("beta"), py::arg("epsilon"));
}

}  // namespace fastdnn
