// fastdnn._C.weight_penalty and fastdnn._C.apply_constraints: one native call each per training
// step, over every regularized (constrained) parameter of a model (multi-tensor, like
// optimizer_update). Shapes and formulas: penalty_kernel.h.
//   weight_penalty(params, grads or None, l1, l2) -> Σ_t l1_t·Σ|w_t| + l2_t·Σw_t², and
//     grads[t] += l1_t·sign(w_t) + 2·l2_t·w_t in place
//   apply_constraints(params, specs), specs[t] = (kind, min_value, max_value, rate, outer, red,
//     inner): params[t] seen as outer × red × inner, constrained in place
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "../core/arrays.h"
#include "../core/checks.h"
#include "../isa/isa.h"
#include "../core/threadpool.h"
#include "penalty_kernel.h"

namespace fastdnn {

namespace py = pybind11;

namespace {

// Ranges of 64 Ki values; under 256 Ki values in all, the call stays on one thread.
constexpr int64_t kChunk = 1 << 16, kParallelMin = 1 << 18;

std::vector<float> factors(const py::list& values, size_t count, const char* name) {
  check_factor_count(values.size(), count, name);
  std::vector<float> out;
  for (const auto& v : values) {
    const double x = v.cast<double>();
    check_factor(x, name);
    out.push_back((float)x);
  }
  return out;
}

}  // namespace

double weight_penalty_op(const py::list& params, const py::object& grads, const py::list& l1,
                         const py::list& l2) {
  const size_t count = params.size();
  const std::vector<float> f1 = factors(l1, count, "l1"), f2 = factors(l2, count, "l2");
  const bool with_grads = !grads.is_none();
  py::list glist = with_grads ? py::reinterpret_borrow<py::list>(grads) : py::list();
  if (with_grads && glist.size() != count)
    throw py::value_error("weight_penalty needs one gradient per parameter. Received " +
                          std::to_string(glist.size()) + " gradients for " + std::to_string(count) + " parameters.");
  std::vector<const float*> ws(count);
  std::vector<float*> gs(count, nullptr);
  std::vector<int64_t> ns(count);
  std::vector<py::array> keep;
  for (size_t t = 0; t < count; ++t) {
    py::array w = as_ndarray(params[t], "params");
    ws[t] = input_f32(w, "params", (int)w.ndim());
    ns[t] = (int64_t)w.size();
    keep.push_back(w);
    if (with_grads) {
      py::array g = as_ndarray(glist[t], "grads");
      gs[t] = output_f32(g, "grads", shape_of(w));
      if (overlaps(w, g)) throw py::value_error("A gradient shares memory with its parameter; pass a copy.");
      keep.push_back(g);
    }
  }
  const auto kernel = cpu_isa().weight_penalty;
  std::vector<std::pair<int, int64_t>> chunks;
  int64_t total = 0;
  for (size_t t = 0; t < count; ++t) {
    total += ns[t];
    for (int64_t i = 0; i < ns[t]; i += kChunk) chunks.emplace_back((int)t, i);
  }
  std::vector<double> partial(chunks.size());
  py::gil_scoped_release nogil;
  auto run = [&](int c) {
    const int t = chunks[c].first;
    const int64_t i0 = chunks[c].second;
    partial[c] = kernel(ws[t] + i0, gs[t] ? gs[t] + i0 : nullptr, std::min(ns[t] - i0, kChunk), f1[t], f2[t]);
  };
  if (total < kParallelMin)
    for (int c = 0; c < (int)chunks.size(); ++c) run(c);
  else
    parallel_for((int)chunks.size(), run);
  double sum = 0;
  for (double p : partial) sum += p;  // in chunk order: the same total on any thread count
  return sum;
}

void apply_constraints_op(const py::list& params, const py::list& specs) {
  const size_t count = params.size();
  if (specs.size() != count)
    throw py::value_error("apply_constraints needs one spec per parameter. Received " +
                          std::to_string(specs.size()) + " for " + std::to_string(count) + " parameters.");
  struct Item { float* w; int64_t red, inner, o0, o1, c0, c1; ConstraintSpec spec; };
  std::vector<Item> items;
  std::vector<py::array> keep;
  int64_t total = 0;
  for (size_t t = 0; t < count; ++t) {
    py::array w = as_ndarray(params[t], "params");
    float* data = output_f32(w, "params", shape_of(w));
    keep.push_back(w);
    py::tuple s = py::reinterpret_borrow<py::tuple>(specs[t]);
    if (s.size() != 7) throw py::value_error("A constraint spec is (kind, min_value, max_value, rate, outer, red, inner).");
    const ConstraintSpec spec{s[0].cast<int>(), s[1].cast<double>(), s[2].cast<double>(), s[3].cast<double>()};
    const int64_t outer = s[4].cast<int64_t>(), red = s[5].cast<int64_t>(), inner = s[6].cast<int64_t>();
    check_constraint(spec.kind, outer, red, inner, (int64_t)w.size(), shape_str(w));
    total += (int64_t)w.size();
    if (w.size() == 0) continue;
    // Work items of about kChunk values: column blocks when the norms run down columns, else
    // blocks of rows.
    const int64_t per_column = std::max<int64_t>(1, red);
    const int64_t cols = std::max<int64_t>(1, kChunk / per_column);
    if (inner > 1) {
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t c = 0; c < inner; c += cols)
          items.push_back({data, red, inner, o, o + 1, c, std::min(inner, c + cols), spec});
    } else {
      for (int64_t o = 0; o < outer; o += cols)
        items.push_back({data, red, inner, o, std::min(outer, o + cols), 0, 1, spec});
    }
  }
  const auto kernel = cpu_isa().constrain;
  py::gil_scoped_release nogil;
  auto run = [&](int i) {
    const Item& it = items[i];
    kernel(it.w, it.red, it.inner, it.o0, it.o1, it.c0, it.c1, it.spec);
  };
  if (total < kParallelMin)
    for (int i = 0; i < (int)items.size(); ++i) run(i);
  else
    parallel_for((int)items.size(), run);
}

void bind_penalties(py::module_& m) {
  m.def("weight_penalty", &weight_penalty_op, py::arg("params"), py::arg("grads"), py::arg("l1"),
        py::arg("l2"));
  m.def("apply_constraints", &apply_constraints_op, py::arg("params"), py::arg("specs"));
}

}  // namespace fastdnn
