// Entry points of the dropout family (fastdnn._C.noise_bernoulli, noise_normal): argument checks
// and output allocation here, with the GIL held; then the kernel path in use (dropout_kernel.h)
// runs without it, large arrays split over the thread pool at multiples of 64 elements, a split
// that cannot change the result (every element is a pure function of its index).
//   noise_bernoulli: y = keep ? x·scale + c_keep : c_drop, P(drop) = rate (to 2^-32)
//   noise_normal:    y = x·(m0 + m1·z) + (c0 + c1·z), z ~ N(0, 1)
// x: float32, C-contiguous, any shape, at most 2^34 elements (the counter's block word is 32 bits).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "../core/arrays.h"
#include "../core/checks.h"
#include "../isa/isa.h"
#include "../core/threadpool.h"
#include "dropout_kernel.h"
#include "noise.h"

namespace fastdnn {

namespace py = pybind11;

uint32_t drop_threshold(double rate) {
  check_rate(rate);
  return (uint32_t)std::min(std::nearbyint(rate * 4294967296.0), 4294967295.0);
}

void noise_cpu(const NoiseArgs& a, int64_t n) {
  const CpuIsa& isa = cpu_isa();
  constexpr int64_t kChunk = 1 << 15;  // a multiple of 64: chunks start on vector boundaries
  if (n <= kChunk || get_num_threads() == 1) {
    isa.noise(a, 0, n);
    return;
  }
  const int chunks = (int)((n + kChunk - 1) / kChunk);
  parallel_for(chunks, [&](int c) {
    const int64_t i0 = (int64_t)c * kChunk;
    isa.noise(a, i0, std::min(n, i0 + kChunk));
  });
}

namespace {

py::array launch(const py::array& x, py::object out, NoiseArgs a) {
  a.x = input_f32_nd(x, "x", 0);
  check_random_size((int64_t)x.size());
  py::array y = output_or_new(out, shape_of(x), &a.y);
  const int64_t n = x.size();
  py::gil_scoped_release nogil;
  noise_cpu(a, n);
  return y;
}

}  // namespace

py::array noise_bernoulli_op(const py::array& x, double rate, uint64_t seed, uint32_t stream, uint64_t step,
                             double scale, double c_keep, double c_drop, py::object out) {
  check_finite(scale, "scale"), check_finite(c_keep, "c_keep"), check_finite(c_drop, "c_drop");
  NoiseArgs a{};
  a.seed = seed, a.stream = stream, a.step = step, a.kind = kBernoulli;
  a.threshold = drop_threshold(rate);
  a.m = (float)scale, a.c_keep = (float)c_keep, a.c_drop = (float)c_drop;
  return launch(x, std::move(out), a);
}

py::array noise_normal_op(const py::array& x, uint64_t seed, uint32_t stream, uint64_t step, double m0,
                          double m1, double c0, double c1, py::object out) {
  check_finite(m0, "m0"), check_finite(m1, "m1"), check_finite(c0, "c0"), check_finite(c1, "c1");
  NoiseArgs a{};
  a.seed = seed, a.stream = stream, a.step = step, a.kind = kNormal;
  a.m0 = (float)m0, a.m1 = (float)m1, a.c0 = (float)c0, a.c1 = (float)c1;
  return launch(x, std::move(out), a);
}

void bind_dropout(py::module_& m) {
  m.def("noise_bernoulli", &noise_bernoulli_op, py::arg("x"), py::arg("rate"), py::arg("seed"),
        py::arg("stream"), py::arg("step"), py::arg("scale"), py::arg("c_keep") = 0.0,
        py::arg("c_drop") = 0.0, py::arg("out") = py::none(),
        "y = keep ? x*scale + c_keep : c_drop, keep ~ Bernoulli(1 - rate) from Philox(seed, stream, step).");
  m.def("noise_normal", &noise_normal_op, py::arg("x"), py::arg("seed"), py::arg("stream"),
        py::arg("step"), py::arg("m0"), py::arg("m1"), py::arg("c0"), py::arg("c1"),
        py::arg("out") = py::none(),
        "y = x*(m0 + m1*z) + (c0 + c1*z), z ~ N(0, 1) from Philox(seed, stream, step) by Box-Muller.");
}

}  // namespace fastdnn
