// fastdnn._cuda's multi-tensor optimizer step (optim.cu).
#include "bind_args.h"

namespace fastdnn::cuda {

namespace {

int slot_count(const OptimHyperDev& h) {
  switch (h.kind) {
    case 0: return h.momentum > 0 ? 1 : 0;
    case 1: return 1;
    case 2: return 1 + (h.momentum > 0) + h.centered;
    case 3: return 2 + h.amsgrad;
    default: return 2;
  }
}

void optimizer_update_op(int kind, const py::list& params, const py::list& grads, const py::list& slots,
                         const py::dict& hyper) {
  if (kind < 0 || kind > 5)
    throw py::value_error("Unknown optimizer kind " + std::to_string(kind) + "; expected an integer in [0, 5].");
  OptimHyperDev h{};
  h.kind = kind;
  auto f = [&](const char* k, float d) { return hyper.contains(k) ? hyper[k].cast<float>() : d; };
  auto b = [&](const char* k) { return hyper.contains(k) && hyper[k].cast<bool>(); };
  h.lr = f("learning_rate", 0.01f), h.beta1 = f("beta_1", 0.9f), h.beta2 = f("beta_2", 0.999f);
  h.eps = f("epsilon", 1e-7f), h.rho = f("rho", 0.9f), h.momentum = f("momentum", 0.0f);
  h.weight_decay = f("weight_decay", 0.0f), h.clipvalue = f("clipvalue", 0.0f);
  h.clipnorm = f("clipnorm", 0.0f), h.global_clipnorm = f("global_clipnorm", 0.0f);
  h.nesterov = b("nesterov"), h.amsgrad = b("amsgrad"), h.centered = b("centered");
  h.coef[0] = f("coef0", 0.0f), h.coef[1] = f("coef1", 0.0f), h.coef[2] = f("coef2", 0.0f);
  const size_t count = params.size();
  if (grads.size() != count || slots.size() != count)
    throw py::value_error("optimizer_update needs one gradient and one slot list per parameter. Received " +
                          std::to_string(count) + " parameters, " + std::to_string(grads.size()) + " gradients and " +
                          std::to_string(slots.size()) + " slot lists.");
  const int nslots = slot_count(h);
  std::vector<OptimTensorDev> ts(count);
  for (size_t t = 0; t < count; ++t) {
    const Tensor& w = f32(params[t], "params");
    const Tensor& g = f32(grads[t], "grads");
    if (g.shape != w.shape)
      throw py::value_error("`grads[" + std::to_string(t) + "]` of shape " + shape_str(g.shape) +
                            " does not match its parameter of shape " + shape_str(w.shape) + ".");
    py::sequence sl = py::reinterpret_borrow<py::sequence>(slots[t]);
    if ((int)sl.size() != nslots)
      throw py::value_error("Expected " + std::to_string(nslots) + " state arrays per parameter, received " +
                            std::to_string(sl.size()) + ".");
    ts[t] = OptimTensorDev{w.f32(), g.f32(), {nullptr, nullptr, nullptr}, w.size()};
    for (int k = 0; k < nslots; ++k) {
      const Tensor& s = f32(sl[k], "slots");
      if (s.shape != w.shape) throw py::value_error("A state array does not match its parameter's shape.");
      ts[t].s[k] = s.f32();
    }
  }
  optimizer_update(h, ts.data(), (int)count);
}

}  // namespace

void bind_cuda_optim(py::module_& m) {
  m.def("optimizer_update", &optimizer_update_op, py::arg("kind"), py::arg("params"), py::arg("grads"),
        py::arg("slots"), py::arg("hyper"));
}

}  // namespace fastdnn::cuda
