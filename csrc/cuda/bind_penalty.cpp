// fastdnn._cuda's weight penalties and constraints (penalty.cu).
#include "bind_args.h"

namespace fastdnn::cuda {

namespace {

// The signatures of fastdnn._C.weight_penalty and apply_constraints (csrc/penalties/penalty_op.cpp).
double weight_penalty_op(const py::list& params, const py::object& grads, const py::list& l1, const py::list& l2) {
  const size_t count = params.size();
  check_factor_count(l1.size(), count, "l1");
  for (const auto& v : l1) check_factor(v.cast<double>(), "l1");
  check_factor_count(l2.size(), count, "l2");
  for (const auto& v : l2) check_factor(v.cast<double>(), "l2");
  const bool with_grads = !grads.is_none();
  py::list glist = with_grads ? py::reinterpret_borrow<py::list>(grads) : py::list();
  if (with_grads && glist.size() != count)
    throw py::value_error("weight_penalty needs one gradient per parameter. Received " +
                          std::to_string(glist.size()) + " gradients for " + std::to_string(count) + " parameters.");
  std::vector<PenaltyTensorDev> ts(count);
  for (size_t t = 0; t < count; ++t) {
    const Tensor& w = f32(params[t], "params");
    const double a = l1[t].cast<double>(), b = l2[t].cast<double>();
    ts[t] = PenaltyTensorDev{w.f32(), nullptr, w.size(), (float)a, (float)b};
    if (with_grads) {
      const Tensor& g = f32(glist[t], "grads");
      same_shape(g, "grads", w, "params");
      if (w.size() && g.data() == w.data()) throw py::value_error("A gradient shares memory with its parameter; pass a copy.");
      ts[t].g = g.f32();
    }
  }
  return weight_penalty(ts.data(), (int)count);
}

void apply_constraints_op(const py::list& params, const py::list& specs) {
  if (specs.size() != params.size())
    throw py::value_error("apply_constraints needs one spec per parameter. Received " + std::to_string(specs.size()) +
                          " for " + std::to_string(params.size()) + " parameters.");
  for (size_t t = 0; t < params.size(); ++t) {
    const Tensor& w = f32(params[t], "params");
    py::tuple s = py::reinterpret_borrow<py::tuple>(specs[t]);
    if (s.size() != 7)
      throw py::value_error("A constraint spec is (kind, min_value, max_value, rate, outer, red, inner).");
    const ConstraintSpec c{s[0].cast<int>(), s[1].cast<double>(), s[2].cast<double>(), s[3].cast<double>()};
    const int64_t outer = s[4].cast<int64_t>(), red = s[5].cast<int64_t>(), inner = s[6].cast<int64_t>();
    check_constraint(c.kind, outer, red, inner, w.size(), shape_str(w.shape));
    constrain(w.f32(), outer, red, inner, c);
  }
}

}  // namespace

void bind_cuda_penalty(py::module_& m) {
  m.def("weight_penalty", &weight_penalty_op, py::arg("params"), py::arg("grads"), py::arg("l1"), py::arg("l2"));
  m.def("apply_constraints", &apply_constraints_op, py::arg("params"), py::arg("specs"));
}

}  // namespace fastdnn::cuda
