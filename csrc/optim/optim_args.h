// The optimizer step's arguments as Python passes them (kind, the hyperparameter dict, one slot
// list per parameter), read and checked once for the CPU binding (optim_op.cpp) and the CUDA one
// (cuda/bind_optim.cpp), so both accept the same input and reject bad input with one message.
#pragma once
#include <pybind11/pybind11.h>

#include <cstddef>
#include <string>

#include "../core/codes.h"
#include "optim_rule.h"

namespace fastdnn::optim_args {

namespace py = pybind11;

// hyper[key] as T, or a TypeError naming the key and what it holds.
template <class T>
T hyper_value(const py::dict& hyper, const char* key, const char* what) {
  py::object v = hyper[key];
  try {
    return v.cast<T>();
  } catch (const py::cast_error&) {
    throw py::type_error(std::string("Hyperparameter `") + key + "` must be " + what + ". Received: " +
                         std::string(py::repr(v)) + ".");
  }
}

// The step's settings: the optimizer kind (checked against codes.h's table) and the dict's
// hyperparameters, each absent one at Keras's default.
inline OptimHyper read_hyper(int kind, const py::dict& hyper) {
  if (kind < 0 || kind >= kNumOptimKinds)
    throw py::value_error("Unknown optimizer kind " + std::to_string(kind) + "; expected an integer in [0, " +
                          std::to_string(kNumOptimKinds) + "): " + code_names(FASTDNN_OPTIMIZERS(FASTDNN_CODE_NAME)) +
                          ".");
  OptimHyper h{};
  h.kind = kind;
  auto f = [&](const char* k, float d) { return hyper.contains(k) ? hyper_value<float>(hyper, k, "a number") : d; };
  auto b = [&](const char* k) { return hyper.contains(k) && hyper_value<bool>(hyper, k, "a bool"); };
  h.lr = f("learning_rate", 0.01f), h.beta1 = f("beta_1", 0.9f), h.beta2 = f("beta_2", 0.999f);
  h.eps = f("epsilon", 1e-7f), h.rho = f("rho", 0.9f), h.momentum = f("momentum", 0.0f);
  h.weight_decay = f("weight_decay", 0.0f), h.clipvalue = f("clipvalue", 0.0f);
  h.nesterov = b("nesterov"), h.amsgrad = b("amsgrad"), h.centered = b("centered");
  h.coef[0] = f("coef0", 0.0f), h.coef[1] = f("coef1", 0.0f), h.coef[2] = f("coef2", 0.0f);
  h.clipnorm = f("clipnorm", 0.0f), h.global_clipnorm = f("global_clipnorm", 0.0f);
  return h;
}

// One gradient and one slot list per parameter.
inline void check_counts(size_t params, size_t grads, size_t slots) {
  if (grads != params || slots != params)
    throw py::value_error("optimizer_update needs one gradient and one slot list per parameter. Received " +
                          std::to_string(params) + " parameters, " + std::to_string(grads) + " gradients and " +
                          std::to_string(slots) + " slot lists.");
}

// Parameter t's state arrays: a list or tuple of slot_count(h) of them.
inline py::sequence slot_list(const py::handle& entry, size_t t, int nslots) {
  if (!py::isinstance<py::list>(entry) && !py::isinstance<py::tuple>(entry))
    throw py::type_error("`slots` must hold one list of state arrays per parameter. Received an object of type " +
                         std::string(py::str(py::type::of(entry).attr("__name__"))) + " at index " +
                         std::to_string(t) + ".");
  py::sequence sl = py::reinterpret_borrow<py::sequence>(entry);
  if ((int)sl.size() != nslots)
    throw py::value_error("Expected " + std::to_string(nslots) + " state arrays per parameter, received " +
                          std::to_string(sl.size()) + ".");
  return sl;
}

}  // namespace fastdnn::optim_args
