// fastdnn._cuda's batch-normalization ops (bn.cu): training and inference forwards, the backward,
// and the moving-statistics update.
#include "bind_args.h"

namespace fastdnn::cuda {

namespace {

py::tuple bn_train_op(const py::object& x_, const py::object& gamma, const py::object& beta, double eps) {
  const Tensor& x = f32(x_, "x", -1, 1);
  check_eps(eps);
  const int64_t cols = x.cols();
  const float* g = opt_vec(gamma, "gamma", cols);
  const float* b = opt_vec(beta, "beta", cols);
  Tensor y = empty(x.shape), mean = empty({cols}), var = empty({cols}), inv_std = empty({cols});
  bn_forward_train(x.f32(), x.rows(), cols, g, b, (float)eps, y.f32(), mean.f32(), var.f32(), inv_std.f32());
  return py::make_tuple(py::cast(std::move(y)), py::cast(std::move(mean)), py::cast(std::move(var)),
                        py::cast(std::move(inv_std)));
}

Tensor bn_infer_op(const py::object& x_, const py::object& mean, const py::object& var, const py::object& gamma,
                   const py::object& beta, double eps) {
  const Tensor& x = f32(x_, "x", -1, 1);
  check_eps(eps);
  const int64_t cols = x.cols();
  const float* m = opt_vec(mean, "moving_mean", cols);
  const float* v = opt_vec(var, "moving_variance", cols);
  if (!m || !v) throw py::value_error("`moving_mean` and `moving_variance` are required.");
  Tensor y = empty(x.shape);
  bn_forward_infer(x.f32(), x.rows(), cols, m, v, opt_vec(gamma, "gamma", cols), opt_vec(beta, "beta", cols),
                   (float)eps, y.f32());
  return y;
}

py::tuple bn_backward_op(const py::object& dy_, const py::object& x_, const py::object& mean,
                         const py::object& inv_std, const py::object& gamma, bool training) {
  const Tensor& dy = f32(dy_, "dy", -1, 1);
  const Tensor& x = f32(x_, "x", -1, 1);
  same_shape(dy, "dy", x, "x");
  const int64_t cols = x.cols();
  const float* m = opt_vec(mean, "mean", cols);
  const float* is = opt_vec(inv_std, "inv_std", cols);
  if (!m || !is) throw py::value_error("`mean` and `inv_std` are required.");
  Tensor dx = empty(x.shape), dg = empty({cols}), db = empty({cols});
  bn_backward(dy.f32(), x.f32(), x.rows(), cols, m, is, opt_vec(gamma, "gamma", cols), training, dx.f32(), dg.f32(),
              db.f32());
  return py::make_tuple(py::cast(std::move(dx)), py::cast(std::move(dg)), py::cast(std::move(db)));
}

void moving_average_op(const py::object& m_, const py::object& b_, float momentum) {
  const Tensor& m = f32(m_, "moving");
  const Tensor& b = f32(b_, "batch");
  same_shape(m, "moving", b, "batch");
  moving_average(m.f32(), b.f32(), m.size(), momentum);
}

}  // namespace

void bind_cuda_bn(py::module_& m) {
  m.def("batchnorm_forward_train", &bn_train_op, py::arg("x"), py::arg("gamma"), py::arg("beta"), py::arg("epsilon"));
  m.def("batchnorm_forward_infer", &bn_infer_op, py::arg("x"), py::arg("moving_mean"), py::arg("moving_variance"),
        py::arg("gamma"), py::arg("beta"), py::arg("epsilon"));
  m.def("batchnorm_backward", &bn_backward_op, py::arg("dy"), py::arg("x"), py::arg("mean"), py::arg("inv_std"),
        py::arg("gamma"), py::arg("training"));
  m.def("moving_average", &moving_average_op, py::arg("moving"), py::arg("batch"), py::arg("momentum"));
}

}  // namespace fastdnn::cuda
