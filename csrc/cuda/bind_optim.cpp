// fastdnn._cuda's multi-tensor optimizer step (optim.cu).
#include "../optim/optim_args.h"
#include "bind_args.h"

namespace fastdnn::cuda {

namespace {

void optimizer_update_op(int kind, const py::list& params, const py::list& grads, const py::list& slots,
                         const py::dict& hyper) {
  const OptimHyper h = optim_args::read_hyper(kind, hyper);
  const size_t count = params.size();
  optim_args::check_counts(count, grads.size(), slots.size());
  const int nslots = fastdnn::slot_count(h);
  std::vector<OptimTensor> ts(count);
  for (size_t t = 0; t < count; ++t) {
    const Tensor& w = f32(params[t], "params");
    const Tensor& g = f32(grads[t], "grads");
    if (g.shape != w.shape)
      throw py::value_error("`grads[" + std::to_string(t) + "]` of shape " + shape_str(g.shape) +
                            " does not match its parameter of shape " + shape_str(w.shape) +
                            "; pass one gradient per parameter, in the same order and shape.");
    py::sequence sl = optim_args::slot_list(slots[t], t, nslots);
    ts[t] = OptimTensor{w.f32(), g.f32(), {nullptr, nullptr, nullptr}, w.size(), 1.0f};
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
