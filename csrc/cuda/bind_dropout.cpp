// fastdnn._cuda's dropout-family noise ops (dropout.cu): Bernoulli masks (optionally broadcast)
// and Gaussian noise, both from Philox counters.
#include "bind_args.h"

namespace fastdnn::cuda {

namespace {

// With mask_shape (broadcast against x, NumPy's rule), one draw per element of the mask.
Tensor bernoulli_op(const py::object& x_, double rate, uint64_t seed, uint32_t stream, uint64_t step, double scale,
                    double c_keep, double c_drop, const py::object& out, const py::object& mask_shape) {
  const Tensor& x = f32(x_, "x");
  check_rate(rate);
  check_finite(scale, "scale"), check_finite(c_keep, "c_keep"), check_finite(c_drop, "c_drop");
  check_random_size(x.size());
  const uint32_t threshold = (uint32_t)std::min(std::nearbyint(rate * 4294967296.0), 4294967295.0);
  Tensor y = output(out, x.shape);
  if (!mask_shape.is_none() && shape_arg(mask_shape) != x.shape) {
    const std::vector<int64_t> mask = shape_arg(mask_shape);
    bool ok = mask.size() == x.shape.size();
    for (size_t d = 0; ok && d < mask.size(); ++d) ok = mask[d] == x.shape[d] || mask[d] == 1;
    if (!ok)
      throw py::value_error("A mask of shape " + shape_str(mask) + " does not broadcast over inputs of shape " +
                            shape_str(x.shape) + ": each entry must be 1 or the input's size.");
    Strided s = strided(x.shape);
    broadcast_strides(mask, x.shape, s.stride_b);
    noise_bernoulli_broadcast(x.f32(), y.f32(), x.size(), s, seed, stream, step, threshold, (float)scale,
                              (float)c_keep, (float)c_drop);
    return y;
  }
  noise_bernoulli(x.f32(), y.f32(), x.size(), seed, stream, step, threshold, (float)scale, (float)c_keep,
                  (float)c_drop);
  return y;
}

Tensor normal_op(const py::object& x_, uint64_t seed, uint32_t stream, uint64_t step, double m0, double m1, double c0,
                 double c1, const py::object& out) {
  const Tensor& x = f32(x_, "x");
  check_finite(m0, "m0"), check_finite(m1, "m1"), check_finite(c0, "c0"), check_finite(c1, "c1");
  check_random_size(x.size());
  Tensor y = output(out, x.shape);
  noise_normal(x.f32(), y.f32(), x.size(), seed, stream, step, (float)m0, (float)m1, (float)c0, (float)c1);
  return y;
}

}  // namespace

void bind_cuda_dropout(py::module_& m) {
  m.def("noise_bernoulli", &bernoulli_op, py::arg("x"), py::arg("rate"), py::arg("seed"), py::arg("stream"),
        py::arg("step"), py::arg("scale"), py::arg("c_keep") = 0.0, py::arg("c_drop") = 0.0,
        py::arg("out") = py::none(), py::arg("mask_shape") = py::none());
  m.def("noise_normal", &normal_op, py::arg("x"), py::arg("seed"), py::arg("stream"), py::arg("step"), py::arg("m0"),
        py::arg("m1"), py::arg("c0"), py::arg("c1"), py::arg("out") = py::none());
}

}  // namespace fastdnn::cuda
