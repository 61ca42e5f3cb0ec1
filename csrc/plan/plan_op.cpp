// fastdnn._C.TrainPlan: the training plan (train_plan.h) as a Python object. Its layers are
// described once, as dicts (fastdnn/trainers/native_step.py builds them from a model); each
// later step is one call to forward_backward and one to update, each without the GIL.
//
// Every array crossing here is checked (dtype, shape, contiguity, writability), so bad input
// raises a Python exception, never a crash. The plan keeps references to the model's weight
// and optimizer-state arrays and writes them in place.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <vector>

#include "../core/arrays.h"
#include "../core/checks.h"
#include "../dropout/noise.h"
#include "../optim/optim_args.h"
#include "train_plan.h"

namespace fastdnn {

namespace py = pybind11;

namespace {

struct PyTrainPlan {
  std::unique_ptr<TrainPlan> plan;
  std::vector<py::object> keep;  // the weight and state arrays the plan points into
  std::vector<float*> grads;     // the bound optimizer's gradients, in its order
  std::vector<int64_t> grad_sizes;
  std::vector<std::vector<int64_t>> grad_shapes;
  int kind = -1, nslots = 0;
  std::vector<NoiseCoords> coords;  // this step's noise coordinates (capacity kept across steps)
};

// A weight array of `shape` from a layer dict (None allowed when `optional`).
float* weight(const py::dict& d, const char* key, const std::vector<int64_t>& shape, bool optional,
              std::vector<py::object>& keep) {
  if (!d.contains(key) || d[key].is_none()) {
    if (optional) return nullptr;
    throw py::value_error(std::string("TrainPlan: the layer needs `") + key + "`.");
  }
  py::object obj = d[key];
  py::array a = as_ndarray(obj, key);
  float* p = output_f32(a, key, shape);
  keep.push_back(obj);
  return p;
}

template <class T>
T get(const py::dict& d, const char* key, T fallback) {
  return d.contains(key) ? d[key].cast<T>() : fallback;
}

PlanLayer read_layer(const py::dict& d, int64_t in, std::vector<py::object>& keep) {
  PlanLayer l;
  const std::string kind = d["kind"].cast<std::string>();
  l.in = in;
  l.out = in;
  if (kind == "dense") {
    l.kind = PlanLayerKind::kDense;
    l.out = d["units"].cast<int64_t>();
    if (l.out < 1) throw py::value_error("TrainPlan: a dense layer needs units >= 1.");
    l.kernel = weight(d, "kernel", {in, l.out}, false, keep);
    l.bias = weight(d, "bias", {l.out}, true, keep);
    l.act = checked_act(get<int>(d, "activation", 0));
    l.alpha = get<float>(d, "alpha", 0.0f);
    l.want_dkernel = get<bool>(d, "train_kernel", false);
    l.want_dbias = l.bias && get<bool>(d, "train_bias", false);
  } else if (kind == "batchnorm") {
    l.kind = PlanLayerKind::kBatchNorm;
    l.gamma = weight(d, "gamma", {in}, true, keep);
    l.beta = weight(d, "beta", {in}, true, keep);
    l.moving_mean = weight(d, "moving_mean", {in}, false, keep);
    l.moving_var = weight(d, "moving_variance", {in}, false, keep);
    l.eps = get<double>(d, "epsilon", 1e-3);
    check_eps(l.eps);
    l.momentum = (float)get<double>(d, "momentum", 0.99);
    l.training = get<bool>(d, "training", true);
    l.want_dgamma_dbeta = l.training && get<bool>(d, "train_gamma_beta", false);
  } else if (kind == "activation") {
    l.kind = PlanLayerKind::kActivation;
    l.act = checked_act(get<int>(d, "activation", 0));
    l.alpha = get<float>(d, "alpha", 0.0f);
  } else if (kind == "noise") {
    // {"noise": "bernoulli", "rate", "scale", "c_keep", "c_drop", "grad_scale"} or
    // {"noise": "normal", "m0", "m1", "c0", "c1", "grad": "same" | "identity"}: the arguments the
    // tape path gives fastdnn._C.noise_bernoulli / noise_normal (fastdnn/ops/noise.py).
    l.kind = PlanLayerKind::kNoise;
    const std::string noise = d["noise"].cast<std::string>();
    NoiseArgs& f = l.noise_forward;
    NoiseArgs& b = l.noise_backward;
    auto finite = [&](const char* key, double fallback) {
      const double v = get<double>(d, key, fallback);
      check_finite(v, key);
      return (float)v;
    };
    if (noise == "bernoulli") {
      f.kind = b.kind = kBernoulli;
      f.threshold = b.threshold = drop_threshold(d["rate"].cast<double>());
      f.m = finite("scale", 1.0), f.c_keep = finite("c_keep", 0.0), f.c_drop = finite("c_drop", 0.0);
      b.m = finite("grad_scale", 1.0), b.c_keep = b.c_drop = 0.0f;
    } else if (noise == "normal") {
      f.kind = b.kind = kNormal;
      f.m0 = finite("m0", 1.0), f.m1 = finite("m1", 0.0), f.c0 = finite("c0", 0.0), f.c1 = finite("c1", 0.0);
      l.noise_grad_identity = get<std::string>(d, "grad", "same") == "identity";
      b.m0 = f.m0, b.m1 = f.m1, b.c0 = f.c0, b.c1 = f.c1;
    } else {
      throw py::value_error("TrainPlan: unknown noise '" + noise + "'; expected 'bernoulli' or 'normal'.");
    }
  } else if (kind == "softmax") {
    l.kind = PlanLayerKind::kSoftmax;
  } else {
    throw py::value_error("TrainPlan: unknown layer kind '" + kind +
                          "'; expected 'dense', 'batchnorm', 'activation', 'noise' or 'softmax'.");
  }
  return l;
}

// A float32 view of `rows` × `cols` values at p, kept alive by the plan object `owner`.
py::array view(float* p, std::vector<int64_t> shape, const py::object& owner) {
  std::vector<py::ssize_t> dims(shape.begin(), shape.end()), strides(shape.size());
  py::ssize_t step = sizeof(float);
  for (size_t i = shape.size(); i-- > 0;) strides[i] = step, step *= dims[i];
  return py::array(py::dtype::of<float>(), dims, strides, p, owner);
}

int64_t checked_rows(const PyTrainPlan& p, int64_t rows) {
  if (rows < 1 || rows > p.plan->max_rows())
    throw py::value_error("TrainPlan: a batch of " + std::to_string(rows) + " rows; this plan takes 1 to " +
                          std::to_string(p.plan->max_rows()) + ".");
  return rows;
}

// x as the plan's input: rows × in_features float32; returns its rows.
int64_t checked_x(const PyTrainPlan& p, const py::array& x, const float** data) {
  *data = input_f32(x, "x", 2);
  if (x.shape(1) != p.plan->in_features())
    throw py::value_error("TrainPlan: `x` has " + std::to_string(x.shape(1)) + " features; the plan takes " +
                          std::to_string(p.plan->in_features()) + ".");
  return checked_rows(p, x.shape(0));
}

// Each noise layer's (seed, stream, step) into p.coords.
void read_coords(PyTrainPlan& p, const py::list& noise) {
  if ((int)noise.size() != p.plan->noise_layers())
    throw py::value_error("TrainPlan: pass one (seed, stream, step) per noise layer: " +
                          std::to_string(p.plan->noise_layers()) + " expected, " +
                          std::to_string(noise.size()) + " received.");
  std::vector<NoiseCoords>& coords = p.coords;
  coords.clear();
  for (const py::handle& c : noise) {
    const auto t = c.cast<py::tuple>();
    if (t.size() != 3) throw py::value_error("TrainPlan: noise coordinates are (seed, stream, step).");
    coords.push_back({t[0].cast<uint64_t>(), t[1].cast<uint32_t>(), t[2].cast<uint64_t>()});
  }
}

}  // namespace

void bind_plan(py::module_& m) {
  py::class_<PyTrainPlan>(m, "TrainPlan",
                          "A compiled training step of a chain of built-in layers (csrc/plan/train_plan.h).")
      .def(py::init([](const py::list& layers, int64_t in_features, int64_t max_rows, bool loss, bool input_grad) {
             if (layers.size() == 0) throw py::value_error("TrainPlan needs at least one layer.");
             if (in_features < 1 || max_rows < 1)
               throw py::value_error("TrainPlan needs in_features >= 1 and max_rows >= 1.");
             auto p = std::make_unique<PyTrainPlan>();
             std::vector<PlanLayer> ls;
             int64_t in = in_features;
             for (size_t i = 0; i < layers.size(); ++i) {
               ls.push_back(read_layer(layers[i].cast<py::dict>(), in, p->keep));
               if (ls.back().kind == PlanLayerKind::kSoftmax && (!loss || i + 1 != layers.size()))
                 throw py::value_error("TrainPlan: a softmax layer must come last, in a plan with the loss "
                                       "(its input is the loss's logits).");
               in = ls.back().out;
               check_random_size(max_rows * in);  // the noise kernels' counter range
             }
             p->plan = std::make_unique<TrainPlan>(std::move(ls), max_rows, loss, input_grad);
             return p;
           }),
           py::arg("layers"), py::arg("in_features"), py::arg("max_rows"), py::arg("loss") = true,
           py::arg("input_grad") = false,
           "loss: the layers end in the sparse softmax cross-entropy (forward_backward); else they are a "
           "segment below layers the plan does not run (forward, then backward from their gradient). "
           "input_grad: the backward also gives the gradient of the input (input_gradient).")
      .def("bind_optimizer",
           [](PyTrainPlan& p, int kind, const py::list& params, const py::list& slots) {
             optim_args::read_hyper(kind, py::dict());  // checks the kind
             optim_args::check_counts(params.size(), params.size(), slots.size());
             const int nslots = slots.size() ? (int)py::len(slots[0]) : 0;
             if (nslots > 3) throw py::value_error("TrainPlan: at most 3 state arrays per parameter.");
             OptimStep& step = p.plan->optimizer();
             step.tensors.clear();
             p.grads.clear(), p.grad_sizes.clear(), p.grad_shapes.clear();
             for (size_t t = 0; t < params.size(); ++t) {
               py::array w = as_ndarray(params[t], "params");
               const auto shape = shape_of(w);
               float* wp = output_f32(w, "params", shape);
               float* g = p.plan->grad_of(wp);
               if (!g)
                 throw py::value_error("TrainPlan: parameter " + std::to_string(t) +
                                       " is not a trainable weight of the plan's layers.");
               OptimTensor x{wp, g, {}, (int64_t)w.size(), 1.0f};
               py::sequence sl = optim_args::slot_list(slots[t], t, nslots);
               for (int k = 0; k < nslots; ++k) {
                 py::array s = as_ndarray(sl[k], "slots");
                 x.s[k] = output_f32(s, "slots", shape);
                 p.keep.push_back(s);
               }
               p.keep.push_back(w);
               step.tensors.push_back(x);
               p.grads.push_back(g), p.grad_sizes.push_back((int64_t)w.size()), p.grad_shapes.push_back(shape);
             }
             step.split();
             p.kind = kind, p.nslots = nslots;
           },
           py::arg("kind"), py::arg("params"), py::arg("slots"),
           "Binds the optimizer's parameters (trainable weights, in the model's order) and their state "
           "arrays (the same number for each; update checks it against the hyperparameters).")
      .def("forward_backward",
           [](PyTrainPlan& p, const py::array& x, const py::array& labels, const py::list& noise) {
             if (!p.plan->has_loss())
               throw py::value_error("TrainPlan: this plan has no loss; call forward, then backward.");
             const float* xp;
             const int64_t rows = checked_x(p, x, &xp);
             if (!labels.dtype().equal(py::dtype::of<int64_t>()) || labels.ndim() != 1 ||
                 !(labels.flags() & py::array::c_style))
               throw py::type_error("`labels` must be a 1-D C-contiguous int64 array.");
             if (labels.shape(0) != rows)
               throw py::value_error("`labels` has " + std::to_string(labels.shape(0)) + " entries but `x` has " +
                                     std::to_string(rows) + " rows.");
             const int64_t* lp = static_cast<const int64_t*>(labels.data());
             const int64_t classes = p.plan->classes();
             for (int64_t r = 0; r < rows; ++r)
               if (lp[r] < 0 || lp[r] >= classes)
                 throw py::value_error("Labels must be class indices in [0, " + std::to_string(classes) +
                                       "). Received " + std::to_string(lp[r]) + " at index " + std::to_string(r) + ".");
             read_coords(p, noise);
             py::gil_scoped_release nogil;
             return p.plan->forward_backward(xp, lp, rows, p.coords.data());
           },
           py::arg("x"), py::arg("labels"), py::arg("noise") = py::list(),
           "Forward, loss and backward of one batch; `noise` holds each noise layer's (seed, stream, "
           "step) for this step, in order. Returns how many rows the output's arg-max classifies as "
           "their label.")
      .def("forward",
           [](PyTrainPlan& p, const py::array& x, const py::list& noise) {
             const float* xp;
             const int64_t rows = checked_x(p, x, &xp);
             read_coords(p, noise);
             py::gil_scoped_release nogil;
             p.plan->forward(xp, rows, p.coords.data());
           },
           py::arg("x"), py::arg("noise") = py::list(),
           "The forward pass alone (its result in `output`), for a plan without the loss.")
      .def("backward",
           [](PyTrainPlan& p, const py::array& x, const py::array& dy) {
             if (p.plan->has_loss())
               throw py::value_error("TrainPlan: this plan ends in the loss; forward_backward runs its backward.");
             const float* xp;
             const int64_t rows = checked_x(p, x, &xp);
             const float* dp = input_f32(dy, "dy", 2);
             if (dy.shape(0) != rows || dy.shape(1) != p.plan->classes())
               throw py::value_error("TrainPlan: `dy` must be " + std::to_string(rows) + " x " +
                                     std::to_string(p.plan->classes()) + ", the output's shape.");
             py::gil_scoped_release nogil;
             p.plan->backward_from(xp, dp, rows);
           },
           py::arg("x"), py::arg("dy"),
           "The backward pass of a plan without the loss, from the gradient of its output; `x` is the "
           "input its forward took.")
      .def("input_gradient",
           [](py::object self, int64_t rows) {
             PyTrainPlan& p = self.cast<PyTrainPlan&>();
             if (!p.plan->has_input_grad())
               throw py::value_error("TrainPlan: build the plan with input_grad=True for the input's gradient.");
             if (!p.plan->input_grad()) throw py::value_error("TrainPlan: no backward has run yet.");
             return view(const_cast<float*>(p.plan->input_grad()), {checked_rows(p, rows), p.plan->in_features()}, self);
           },
           py::arg("rows"), "A view of the input's gradient for `rows` rows, left by the last backward.")
      .def("update",
           [](PyTrainPlan& p, const py::dict& hyper) {
             if (p.kind < 0) throw py::value_error("TrainPlan: call bind_optimizer before update.");
             const OptimHyper h = optim_args::read_hyper(p.kind, hyper);
             if (slot_count(h) != p.nslots)
               throw py::value_error("TrainPlan: these hyperparameters need " + std::to_string(slot_count(h)) +
                                     " state arrays per parameter; the optimizer was bound with " +
                                     std::to_string(p.nslots) + ". Bind it again.");
             py::gil_scoped_release nogil;
             p.plan->update(h);
           },
           py::arg("hyper"), "The optimizer step over the bound parameters.")
      .def("gradients",
           [](py::object self) {
             PyTrainPlan& p = self.cast<PyTrainPlan&>();
             py::list out;
             for (size_t i = 0; i < p.grads.size(); ++i) out.append(view(p.grads[i], p.grad_shapes[i], self));
             return out;
           },
           "Views of the bound parameters' gradient buffers, written by each forward_backward.")
      .def("gradient_of",
           [](py::object self, const py::object& weight) -> py::object {
             PyTrainPlan& p = self.cast<PyTrainPlan&>();
             py::array w = as_ndarray(weight, "weight");
             const auto shape = shape_of(w);
             float* g = p.plan->grad_of(output_f32(w, "weight", shape));
             if (!g) return py::none();
             return view(g, shape, self);
           },
           py::arg("weight"),
           "A view of the gradient buffer of one of the plan's weight arrays (None for an array whose "
           "gradient the plan does not compute).")
      .def("output",
           [](py::object self, int64_t rows) {
             PyTrainPlan& p = self.cast<PyTrainPlan&>();
             return view(p.plan->output(), {checked_rows(p, rows), p.plan->classes()}, self);
           },
           py::arg("rows"), "A view of the last layer's output for `rows` rows.")
      .def("losses",
           [](py::object self, int64_t rows) {
             PyTrainPlan& p = self.cast<PyTrainPlan&>();
             return view(p.plan->losses(), {checked_rows(p, rows)}, self);
           },
           py::arg("rows"), "A view of the per-row losses for `rows` rows.")
      .def_property_readonly("arena_bytes", [](const PyTrainPlan& p) { return p.plan->arena_bytes(); })
      .def_property_readonly("max_rows", [](const PyTrainPlan& p) { return p.plan->max_rows(); });
}

}  // namespace fastdnn
