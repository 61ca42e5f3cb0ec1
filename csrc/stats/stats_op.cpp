// Entry points of the training statistics (fastdnn._C.activation_stats, sum_squares): input
// checks here, once; then the kernels of the CpuIsa table in use (the per-ISA loops of
// stats_kernel.h, or the float64 reference of stats_ref.cpp), run without the GIL.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "../core/arrays.h"
#include "../isa/isa.h"
#include "../core/threadpool.h"
#include "stats.h"

namespace fastdnn {

namespace py = pybind11;

py::dict activation_stats_op(const py::array& x, float low, float high, float tolerance) {
  const float* xp = input_f32_nd(x, "x", 1);
  if (std::isnan(tolerance) || (tolerance >= 0 && !(std::isfinite(low) && std::isfinite(high))))
    throw py::value_error("activation_stats needs a finite `low` and `high` and a tolerance that is not NaN "
                          "(a negative tolerance turns the saturation test off). Received: low=" +
                          std::to_string(low) + ", high=" + std::to_string(high) +
                          ", tolerance=" + std::to_string(tolerance) + ".");
  int64_t rows, cols;
  rows_cols(x, &rows, &cols);
  ActivationStats s;
  {
    py::gil_scoped_release nogil;
    s = cpu_isa().activation_stats(xp, rows, cols, low, high, tolerance);
  }
  py::dict d;
  d["count"] = rows * cols;
  d["units"] = cols;
  d["sum"] = s.sum;
  d["sum_squares"] = s.sum_squares;
  d["dead_units"] = s.dead_units;
  d["saturated_units"] = s.saturated_units;
  d["saturated_values"] = s.saturated_values;
  d["nonfinite"] = s.nonfinite;
  return d;
}

py::array sum_squares_op(const py::list& tensors, py::object others, float clipvalue, py::object copy_to) {
  if (!(clipvalue >= 0) || std::isinf(clipvalue))
    throw py::value_error("`clipvalue` must be a finite number >= 0 (0 turns clamping off). Received: clipvalue=" +
                          std::to_string(clipvalue) + ".");
  const size_t count = tensors.size();
  py::list second;
  if (!others.is_none()) {
    if (!py::isinstance<py::list>(others))
      throw py::type_error("`others` must be a list of arrays or None.");
    second = py::reinterpret_borrow<py::list>(others);
    if (second.size() != count)
      throw py::value_error("`others` must hold one array per tensor. Received " + std::to_string(count) +
                            " tensors and " + std::to_string(second.size()) + " others.");
  }
  py::list copies;
  if (!copy_to.is_none()) {
    if (!py::isinstance<py::list>(copy_to))
      throw py::type_error("`copy_to` must be a list of arrays (or None entries) or None.");
    copies = py::reinterpret_borrow<py::list>(copy_to);
    if (copies.size() != count)
      throw py::value_error("`copy_to` must hold one entry per tensor. Received " + std::to_string(count) +
                            " tensors and " + std::to_string(copies.size()) + " entries.");
  }
  std::vector<const float*> v(count), u(count, nullptr);
  std::vector<float*> dst(count, nullptr);
  std::vector<int64_t> n(count);
  std::vector<py::array> keep;  // references held while the GIL is released
  for (size_t t = 0; t < count; ++t) {
    py::array a = as_ndarray(tensors[t], "tensors");
    v[t] = input_f32(a, "tensors", (int)a.ndim());
    n[t] = (int64_t)a.size();
    keep.push_back(a);
    if (!others.is_none()) {
      py::array b = as_ndarray(second[t], "others");
      if (shape_of(b) != shape_of(a))
        throw py::value_error("`others[" + std::to_string(t) + "]` has shape " + shape_str(b) +
                              " but its tensor has shape " + shape_str(a) + ".");
      u[t] = input_f32(b, "others", (int)b.ndim());
      keep.push_back(b);
    }
    if (!copy_to.is_none() && !copies[t].is_none()) {
      py::array c = as_ndarray(copies[t], "copy_to");
      dst[t] = output_f32(c, "copy_to", shape_of(a));
      if (overlaps(a, c)) throw py::value_error("`copy_to[" + std::to_string(t) + "]` overlaps its tensor.");
      keep.push_back(c);
    }
  }
  py::array_t<double> result(std::vector<py::ssize_t>{(py::ssize_t)count});
  double* out = result.mutable_data();
  {
    py::gil_scoped_release nogil;
    const auto kernel = cpu_isa().sum_squares;
    // Chunks of 64 Ki values over all tensors, split across the pool only from 4 Mi values: a
    // pass over a few MB is memory-bound and takes tens of microseconds on one core, and on a
    // busy machine waking a second thread costs more than that (measured on the chapter's
    // 266 Ki-parameter model: 150 us per call on one thread against 340 us on two under load).
    constexpr int64_t kChunk = 1 << 16, kParallelMin = 1 << 22;
    std::vector<std::pair<size_t, int64_t>> chunks;
    int64_t total = 0;
    for (size_t t = 0; t < count; ++t) {
      total += n[t];
      for (int64_t i = 0; i < n[t]; i += kChunk) chunks.emplace_back(t, i);
    }
    std::vector<double> partial(chunks.size());
    auto run = [&](int c) {
      const size_t t = chunks[c].first;
      const int64_t i0 = chunks[c].second;
      partial[c] = kernel(v[t], u[t], i0, std::min(n[t], i0 + kChunk), clipvalue, dst[t]);
    };
    if (total < kParallelMin) {
      for (int c = 0; c < (int)chunks.size(); ++c) run(c);
    } else {
      parallel_for((int)chunks.size(), run);
    }
    std::fill(out, out + count, 0.0);
    for (size_t c = 0; c < chunks.size(); ++c) out[chunks[c].first] += partial[c];
  }
  return result;
}

void bind_stats(py::module_& m) {
  m.def("activation_stats", &activation_stats_op, py::arg("x"), py::arg("low"), py::arg("high"),
        py::arg("tolerance"));
  m.def("sum_squares", &sum_squares_op, py::arg("tensors"), py::arg("others") = py::none(),
        py::arg("clipvalue") = 0.0f, py::arg("copy_to") = py::none());
}

}  // namespace fastdnn
