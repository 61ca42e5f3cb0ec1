// fastdnn._cuda: the CUDA backend, a separate extension that Python loads only when a GPU is
// asked for. Its op functions take the same arguments as fastdnn._C's and return device arrays,
// so python/fastdnn picks one module or the other per op (fastdnn/_dispatch.py) and nothing
// else changes. Checks and output allocation happen here, once, then the kernels are queued on
// the backend's stream (kernels.h). Errors: TypeError for a wrong kind of array, ValueError for
// shapes, RuntimeError for CUDA failures, each naming what was received.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "device_py.h"
#include "dlpack_exchange.h"
#include "kernels.h"
#include "runtime.h"

namespace py = pybind11;
using namespace fastdnn::cuda;

namespace {

bool g_use_lt = true;  // cuBLASLt when loaded; the tests turn it off to check the tiled kernel

std::string type_name(const py::handle& o) { return py::str(py::type::of(o).attr("__name__")); }

const Tensor& tensor(const py::handle& o, const char* name) {
  if (!py::isinstance<Tensor>(o))
    throw py::type_error(std::string("`") + name + "` must be a fastdnn CUDA array (fastdnn.device(\"cuda\")"
                         ".put(x) moves one there). Received an object of type " + type_name(o) + ".");
  return o.cast<const Tensor&>();
}

const Tensor& f32(const py::handle& o, const char* name, int ndim = -1, int min_ndim = 0) {
  const Tensor& t = tensor(o, name);
  if (t.dtype != DType::kF32)
    throw py::type_error(std::string("`") + name + "` must be float32. Received dtype=" + dtype_name(t.dtype) + ".");
  if ((ndim >= 0 && t.ndim() != ndim) || t.ndim() < min_ndim)
    throw py::value_error(std::string("`") + name + "` must have " +
                          (ndim >= 0 ? std::to_string(ndim) : "at least " + std::to_string(min_ndim)) +
                          " dimension(s). Received shape " + shape_str(t.shape) + ".");
  return t;
}

const float* opt_vec(const py::object& o, const char* name, int64_t n) {
  if (o.is_none()) return nullptr;
  const Tensor& t = f32(o, name, 1);
  if (t.shape[0] != n)
    throw py::value_error(std::string("`") + name + "` must have shape (" + std::to_string(n) +
                          ",), one value per feature of the last axis. Received shape " + shape_str(t.shape) + ".");
  return t.f32();
}

void same_shape(const Tensor& a, const char* an, const Tensor& b, const char* bn) {
  if (a.shape != b.shape)
    throw py::value_error(std::string("`") + an + "` and `" + bn + "` must have the same shape. Received " +
                          shape_str(a.shape) + " and " + shape_str(b.shape) + ".");
}

int checked_act(int code) {
  if (code < 0 || code > 6)
    throw py::value_error("Unknown activation code " + std::to_string(code) + "; expected 0..6.");
  return code;
}

// `out` if given (float32 of `shape`), else a new array.
Tensor output(const py::object& out, const std::vector<int64_t>& shape) {
  if (out.is_none()) return empty(shape);
  const Tensor& t = f32(out, "out");
  if (t.shape != shape)
    throw py::value_error("`out` has shape " + shape_str(t.shape) + " but the result has shape " + shape_str(shape) + ".");
  return t;
}

std::vector<int64_t> shape_arg(const py::handle& s) {
  std::vector<int64_t> shape;
  if (py::isinstance<py::int_>(s)) return {s.cast<int64_t>()};
  for (auto d : s) shape.push_back(d.cast<int64_t>());
  return shape;
}

// A reshaped view: one -1 entry is inferred.
Tensor reshape(const Tensor& t, std::vector<int64_t> shape) {
  int64_t known = 1;
  int infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0) throw py::value_error("Only one dimension of a reshape can be -1.");
      infer = (int)i;
    } else if (shape[i] < 0) {
      throw py::value_error("Cannot reshape to " + shape_str(shape) + ": negative size.");
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || t.size() % known)
      throw py::value_error("Cannot reshape an array of shape " + shape_str(t.shape) + " to " + shape_str(shape) + ".");
    shape[infer] = t.size() / known;
  }
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  if (n != t.size())
    throw py::value_error("Cannot reshape an array of shape " + shape_str(t.shape) + " (" + std::to_string(t.size()) +
                          " elements) to " + shape_str(shape) + ".");
  Tensor v = t;
  v.shape = shape;
  return v;
}

py::array to_numpy(const Tensor& t) {
  std::vector<py::ssize_t> shape(t.shape.begin(), t.shape.end());
  py::array a = t.dtype == DType::kF32 ? py::array(py::dtype::of<float>(), shape)
                                       : py::array(py::dtype::of<int64_t>(), shape);
  download(t, a.mutable_data());
  return a;
}

Tensor from_numpy(const py::array& a) {
  Tensor t;
  if (a.dtype().equal(py::dtype::of<float>())) t.dtype = DType::kF32;
  else if (a.dtype().equal(py::dtype::of<int64_t>())) t.dtype = DType::kI64;
  else
    throw py::type_error("from_numpy takes float32 or int64 arrays. Received dtype=" + std::string(py::str(a.dtype())) + ".");
  if (!(a.flags() & py::array::c_style)) throw py::value_error("from_numpy takes C-contiguous arrays.");
  t = empty(std::vector<int64_t>(a.shape(), a.shape() + a.ndim()), t.dtype);
  upload(a.data(), t);
  return t;
}

// Labels for the cross-entropy: a device int64 array, or host int64 labels uploaded.
Tensor labels_arg(const py::object& o, int64_t rows, int64_t cols) {
  Tensor t;
  if (py::isinstance<Tensor>(o)) {
    t = o.cast<const Tensor&>();
    if (t.dtype != DType::kI64) throw py::type_error("`labels` must be int64 class indices.");
  } else {
    py::array a = py::array::ensure(o);
    if (!a || !a.dtype().equal(py::dtype::of<int64_t>()) || !(a.flags() & py::array::c_style))
      throw py::type_error("`labels` must be a 1-D C-contiguous int64 array.");
    const int64_t* p = static_cast<const int64_t*>(a.data());
    for (py::ssize_t r = 0; r < a.size(); ++r)
      if (p[r] < 0 || p[r] >= cols)
        throw py::value_error("Labels must be class indices in [0, " + std::to_string(cols) + "). Received " +
                              std::to_string(p[r]) + " at index " + std::to_string(r) + ".");
    t = from_numpy(a);
  }
  if (t.ndim() != 1 || t.shape[0] != rows)
    throw py::value_error("`labels` has shape " + shape_str(t.shape) + " but the logits have " + std::to_string(rows) +
                          " rows.");
  return t;
}

// ---- ops ---------------------------------------------------------------------------------------

void run_gemm(const GemmArgs& g) {
  if (!(g_use_lt && gemm_lt(g))) gemm_tiled(g);
}

py::tuple gemm_op(const py::object& a_, const py::object& b_, bool ta, bool tb, const py::object& out,
                  bool accumulate, const py::object& bias, int act, float alpha, bool keep_z) {
  const Tensor& a = f32(a_, "a", 2);
  const Tensor& b = f32(b_, "b", 2);
  GemmArgs g;
  g.M = ta ? a.shape[1] : a.shape[0];
  g.K = ta ? a.shape[0] : a.shape[1];
  const int64_t kb = tb ? b.shape[1] : b.shape[0];
  g.N = tb ? b.shape[0] : b.shape[1];
  if (kb != g.K)
    throw py::value_error("Inner dimensions do not match: a is " + shape_str(a.shape) + ", b is " + shape_str(b.shape) +
                          " (transpose_a=" + (ta ? "True" : "False") + ", transpose_b=" + (tb ? "True" : "False") + ").");
  if (g.M > (int64_t)65535 * 64) throw py::value_error("gemm: at most 4194240 output rows per call.");
  g.A = a.f32(), g.B = b.f32(), g.lda = a.shape[1], g.ldb = b.shape[1];
  g.trans_a = ta, g.trans_b = tb, g.accumulate = accumulate, g.act = checked_act(act), g.alpha = alpha;
  g.bias = opt_vec(bias, "bias", g.N);
  if (accumulate && out.is_none()) throw py::value_error("accumulate=True adds into `out`; pass an `out` array.");
  Tensor c = output(out, {g.M, g.N});
  g.C = c.f32(), g.ldc = g.N;
  py::object z = py::none();
  Tensor zt;
  if (keep_z) {
    zt = empty({g.M, g.N});
    g.Z = zt.f32();
  }
  if (g.K == 0 && !accumulate) fill(g.C, g.M * g.N, 0.0f);
  if (g.K == 0) {
    bias_act(g.C, g.Z, g.bias, g.M, g.N, g.act, g.alpha);
  } else {
    run_gemm(g);
  }
  if (keep_z) z = py::cast(std::move(zt));
  return py::make_tuple(py::cast(std::move(c)), z);
}

// (xᵀ·dz, Σ_rows dz): the weight and bias gradients of a dense layer in one cuBLASLt call where
// its BGRAD epilogue applies, else the product and a column-sum kernel.
py::tuple weight_bias_grad_op(const py::object& x_, const py::object& dz_) {
  const Tensor& x = f32(x_, "x", 2);
  const Tensor& dz = f32(dz_, "dz", 2);
  if (x.shape[0] != dz.shape[0])
    throw py::value_error("`x` and `dz` must have the same rows. Received " + shape_str(x.shape) + " and " +
                          shape_str(dz.shape) + ".");
  GemmArgs g;
  g.M = x.shape[1], g.K = x.shape[0], g.N = dz.shape[1];
  g.A = x.f32(), g.B = dz.f32(), g.lda = x.shape[1], g.ldb = dz.shape[1], g.ldc = g.N, g.trans_a = true;
  Tensor dk = empty({g.M, g.N}), db = empty({g.N});
  g.C = dk.f32();
  if (g.K == 0) {
    fill(g.C, g.M * g.N, 0.0f);
    fill(db.f32(), g.N, 0.0f);
  } else if (!(g_use_lt && g.M > 0 && gemm_lt(g, db.f32()))) {
    run_gemm(g);
    column_sums(dz.f32(), dz.shape[0], g.N, db.f32());
  }
  return py::make_tuple(py::cast(std::move(dk)), py::cast(std::move(db)));
}

Tensor act_forward_op(const py::object& x_, int act, float alpha, const py::object& out) {
  const Tensor& x = f32(x_, "x");
  Tensor y = output(out, x.shape);
  act_forward(x.f32(), y.f32(), x.size(), checked_act(act), alpha);
  return y;
}

py::tuple act_backward_op(const py::object& y_, const py::object& dy_, int act, float alpha, bool want_db) {
  const Tensor& y = f32(y_, "y", -1, want_db ? 1 : 0);
  const Tensor& dy = f32(dy_, "dy");
  same_shape(y, "y", dy, "dy");
  Tensor dx = empty(y.shape);
  act_backward(y.f32(), dy.f32(), dx.f32(), y.size(), checked_act(act), alpha);
  py::object db = py::none();
  if (want_db) {
    Tensor d = empty({y.cols()});
    column_sums(dx.f32(), y.rows(), y.cols(), d.f32());
    db = py::cast(std::move(d));
  }
  return py::make_tuple(py::cast(std::move(dx)), db);
}

Tensor softmax_op(const py::object& x_, const py::object& out) {
  const Tensor& x = f32(x_, "x", -1, 1);
  Tensor y = output(out, x.shape);
  softmax_forward(x.f32(), y.f32(), x.rows(), x.cols());
  return y;
}

Tensor softmax_backward_op(const py::object& y_, const py::object& dy_) {
  const Tensor& y = f32(y_, "y", -1, 1);
  const Tensor& dy = f32(dy_, "dy", -1, 1);
  same_shape(y, "y", dy, "dy");
  Tensor dx = empty(y.shape);
  softmax_backward(y.f32(), dy.f32(), dx.f32(), y.rows(), y.cols());
  return dx;
}

py::tuple softmax_xent_op(const py::object& logits_, const py::object& labels, const py::object& targets,
                          float grad_scale, bool want_grad) {
  const Tensor& x = f32(logits_, "logits", 2);
  const int64_t rows = x.shape[0], cols = x.shape[1];
  if (labels.is_none() == targets.is_none())
    throw py::value_error("Pass exactly one of `labels` (class indices) and `targets` (one row per sample).");
  Tensor lab, tgt;
  if (!labels.is_none()) {
    lab = labels_arg(labels, rows, cols);
  } else if (py::isinstance<Tensor>(targets)) {
    tgt = f32(targets, "targets", 2);
  } else {
    tgt = from_numpy(py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(targets));
  }
  if (tgt.storage && tgt.shape != x.shape)
    throw py::value_error("`targets` has shape " + shape_str(tgt.shape) + " but the logits have shape " +
                          shape_str(x.shape) + ".");
  Tensor loss = empty({rows});
  py::object grad = py::none();
  Tensor g;
  if (want_grad) g = empty({rows, cols});
  softmax_xent(x.f32(), rows, cols, lab.storage ? lab.i64() : nullptr, tgt.storage ? tgt.f32() : nullptr, loss.f32(),
               want_grad ? g.f32() : nullptr, grad_scale);
  if (want_grad) grad = py::cast(std::move(g));
  return py::make_tuple(py::cast(std::move(loss)), grad);
}

Tensor sparse_xent_probs_op(const py::object& p_, const py::object& labels, float eps) {
  const Tensor& p = f32(p_, "probabilities", 2);
  Tensor lab = labels_arg(labels, p.shape[0], p.shape[1]);
  Tensor loss = empty({p.shape[0]});
  sparse_xent_probs(p.f32(), p.shape[0], p.shape[1], lab.i64(), eps, loss.f32());
  return loss;
}

void check_eps(double eps) {
  if (!(eps >= 0.0) || !std::isfinite(eps))
    throw py::value_error("`epsilon` must be a finite number >= 0. Received: " + std::to_string(eps));
}

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

void check_finite(double v, const char* name) {
  if (!std::isfinite(v))
    throw py::value_error(std::string("`") + name + "` must be a finite number. Received: " + std::to_string(v));
}

std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> st(shape.size());
  int64_t s = 1;
  for (int i = (int)shape.size() - 1; i >= 0; --i) st[i] = s, s *= shape[i];
  return st;
}

// The strides that read `t` (right-aligned) as an array of `shape`: 0 on broadcast axes.
void broadcast_strides(const std::vector<int64_t>& t, const std::vector<int64_t>& shape, int64_t* out) {
  const std::vector<int64_t> st = contiguous_strides(t);
  const int lead = (int)(shape.size() - t.size());
  for (int d = 0; d < (int)shape.size(); ++d) {
    const int td = d - lead;
    out[d] = (td < 0 || t[td] == 1) ? 0 : st[td];
  }
}

Strided strided(const std::vector<int64_t>& shape) {
  if (shape.size() > (size_t)kMaxDims)
    throw py::value_error("CUDA element-wise ops take arrays of at most " + std::to_string(kMaxDims) +
                          " dimensions. Received shape " + shape_str(shape) + ".");
  Strided s{};
  s.ndim = (int)shape.size();
  for (int d = 0; d < s.ndim; ++d) s.shape[d] = shape[d];
  return s;
}

// With mask_shape (broadcast against x, NumPy's rule), one draw per element of the mask.
Tensor bernoulli_op(const py::object& x_, double rate, uint64_t seed, uint32_t stream, uint64_t step, double scale,
                    double c_keep, double c_drop, const py::object& out, const py::object& mask_shape) {
  const Tensor& x = f32(x_, "x");
  if (!(rate >= 0.0 && rate < 1.0))
    throw py::value_error("Received an invalid value for `rate`, expected a float in [0, 1). Received: rate=" +
                          std::to_string(rate));
  check_finite(scale, "scale"), check_finite(c_keep, "c_keep"), check_finite(c_drop, "c_drop");
  if (x.size() > (int64_t(1) << 34))
    throw py::value_error("Random ops take at most 2**34 elements per call; split it into smaller batches.");
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
  if (x.size() > (int64_t(1) << 34))
    throw py::value_error("Random ops take at most 2**34 elements per call; split it into smaller batches.");
  Tensor y = output(out, x.shape);
  noise_normal(x.f32(), y.f32(), x.size(), seed, stream, step, (float)m0, (float)m1, (float)c0, (float)c1);
  return y;
}

void optimizer_update_op(int kind, const py::list& params, const py::list& grads, const py::list& slots,
                         const py::dict& hyper) {
  if (kind < 0 || kind > 5)
    throw py::value_error("Unknown optimizer kind " + std::to_string(kind) + "; expected an integer in [0, 5].");
  fastdnn::OptimHyper h{};
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
  const int nslots = fastdnn::slot_count(h);
  std::vector<fastdnn::OptimTensor> ts(count);
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
    ts[t] = fastdnn::OptimTensor{w.f32(), g.f32(), {nullptr, nullptr, nullptr}, w.size(), 1.0f};
    for (int k = 0; k < nslots; ++k) {
      const Tensor& s = f32(sl[k], "slots");
      if (s.shape != w.shape) throw py::value_error("A state array does not match its parameter's shape.");
      ts[t].s[k] = s.f32();
    }
  }
  optimizer_update(h, ts.data(), (int)count);
}

// ---- element-wise arithmetic with broadcasting (elementwise.cu) ------------------------------------

Tensor binary_op(int op, const py::object& a_, const py::object& b_) {
  if (op < fastdnn::kAdd || op > fastdnn::kSecond) throw py::value_error("Unknown binary op code " + std::to_string(op) + ".");
  const Tensor& a = f32(a_, "a");
  const Tensor& b = f32(b_, "b");
  std::vector<int64_t> shape(std::max(a.shape.size(), b.shape.size()));
  for (size_t i = 0; i < shape.size(); ++i) {  // NumPy's rule, from the last axis
    const int64_t da = i < a.shape.size() ? a.shape[a.shape.size() - 1 - i] : 1;
    const int64_t db = i < b.shape.size() ? b.shape[b.shape.size() - 1 - i] : 1;
    if (da != db && da != 1 && db != 1)
      throw py::value_error("operands could not be broadcast together with shapes " + shape_str(a.shape) + " " +
                            shape_str(b.shape));
    shape[shape.size() - 1 - i] = da == 1 ? db : da;
  }
  Tensor y = empty(shape);
  Strided s = strided(shape);
  if (a.shape == b.shape) {  // no broadcasting: one flat axis
    s.ndim = 1, s.shape[0] = y.size(), s.stride_a[0] = s.stride_b[0] = 1;
  } else {
    broadcast_strides(a.shape, shape, s.stride_a);
    broadcast_strides(b.shape, shape, s.stride_b);
  }
  binary(op, a.f32(), b.f32(), y.f32(), y.size(), s);
  return y;
}

Tensor broadcast_to_op(const py::object& x_, const py::handle& shape_) {
  const Tensor& x = f32(x_, "x");
  const std::vector<int64_t> shape = shape_arg(shape_);
  bool ok = shape.size() >= x.shape.size() && std::all_of(shape.begin(), shape.end(), [](int64_t d) { return d >= 0; });
  for (size_t i = 0; ok && i < x.shape.size(); ++i) {
    const int64_t dx = x.shape[x.shape.size() - 1 - i], ds = shape[shape.size() - 1 - i];
    ok = dx == ds || dx == 1;
  }
  if (!ok)
    throw py::value_error("Cannot broadcast an array of shape " + shape_str(x.shape) + " to " + shape_str(shape) + ".");
  Tensor y = empty(shape);
  Strided s = strided(shape);
  broadcast_strides(x.shape, shape, s.stride_b);  // kSecond reads b only; a's strides stay 0
  binary(fastdnn::kSecond, x.f32(), x.f32(), y.f32(), y.size(), s);
  return y;
}

Tensor unary_op(int op, const py::object& x_, float p0, float p1) {
  if (op < fastdnn::kNegative || op > fastdnn::kGeluGrad) throw py::value_error("Unknown unary op code " + std::to_string(op) + ".");
  const Tensor& x = f32(x_, "x");
  Tensor y = empty(x.shape);
  unary(op, x.f32(), y.f32(), x.size(), p0, p1);
  return y;
}

// Sums of x over the axes where `shape` (x's rank) has 1 and x does not.
Tensor reduce_to_op(const py::object& x_, const py::handle& shape_) {
  const Tensor& x = f32(x_, "x");
  const std::vector<int64_t> shape = shape_arg(shape_);
  bool ok = shape.size() == x.shape.size();
  for (size_t d = 0; ok && d < shape.size(); ++d) ok = shape[d] == x.shape[d] || shape[d] == 1;
  if (!ok)
    throw py::value_error("reduce_to needs a shape of x's rank with x's size or 1 on each axis. Received " +
                          shape_str(shape) + " for x of shape " + shape_str(x.shape) + ".");
  Tensor y = empty(shape);
  Strided s = strided(x.shape);
  const std::vector<int64_t> st = contiguous_strides(x.shape);
  int64_t per_output = 1;
  for (int d = 0; d < s.ndim; ++d) {
    s.stride_a[d] = st[d];
    const bool summed = shape[d] == 1 && x.shape[d] != 1;
    s.stride_b[d] = summed ? 0 : 1;
    if (summed) per_output *= x.shape[d];
  }
  if (per_output > 0 || y.size() == 0) reduce_to(x.f32(), y.f32(), y.size(), per_output, s);
  else fill(y.f32(), y.size(), 0.0f);  // a sum over an empty axis
  return y;
}

// The signatures of fastdnn._C.weight_penalty and apply_constraints (csrc/penalties/penalty_op.cpp).
double weight_penalty_op(const py::list& params, const py::object& grads, const py::list& l1, const py::list& l2) {
  const size_t count = params.size();
  if (l1.size() != count || l2.size() != count)
    throw py::value_error("weight_penalty needs one `l1` and one `l2` factor per parameter. Received " +
                          std::to_string(l1.size()) + " and " + std::to_string(l2.size()) + " for " +
                          std::to_string(count) + " parameters.");
  const bool with_grads = !grads.is_none();
  py::list glist = with_grads ? py::reinterpret_borrow<py::list>(grads) : py::list();
  if (with_grads && glist.size() != count)
    throw py::value_error("weight_penalty needs one gradient per parameter. Received " +
                          std::to_string(glist.size()) + " gradients for " + std::to_string(count) + " parameters.");
  std::vector<PenaltyTensorDev> ts(count);
  for (size_t t = 0; t < count; ++t) {
    const Tensor& w = f32(params[t], "params");
    const double a = l1[t].cast<double>(), b = l2[t].cast<double>();
    if (!(a >= 0) || !(b >= 0) || !std::isfinite(a) || !std::isfinite(b))
      throw py::value_error("`l1` and `l2` factors must be finite and non-negative. Received: " +
                            std::to_string(a) + ", " + std::to_string(b) + ".");
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
    const ConstraintDev c{s[0].cast<int>(), s[1].cast<double>(), s[2].cast<double>(), s[3].cast<double>()};
    const int64_t outer = s[4].cast<int64_t>(), red = s[5].cast<int64_t>(), inner = s[6].cast<int64_t>();
    if (c.kind < 0 || c.kind > 3) throw py::value_error("Unknown constraint kind " + std::to_string(c.kind) + ".");
    if (outer < 0 || red < 0 || inner < 0 || outer * red * inner != w.size())
      throw py::value_error("Constraint layout " + std::to_string(outer) + " × " + std::to_string(red) + " × " +
                            std::to_string(inner) + " does not cover a parameter of shape " + shape_str(w.shape) + ".");
    constrain(w.f32(), outer, red, inner, c);
  }
}

Tensor sum_all_op(const py::object& x_, double scale) {
  const Tensor& x = f32(x_, "x");
  Tensor out = empty({});
  sum_all(x.f32(), x.size(), scale, out.f32());
  return out;
}

Tensor full_op(const py::handle& shape, float value) {
  Tensor t = empty(shape_arg(shape));
  fill(t.f32(), t.size(), value);
  return t;
}

Tensor scale_by_scalar_op(const py::object& x_, const py::object& s_, float c) {
  const Tensor& x = f32(x_, "x");
  const Tensor& s = f32(s_, "scale");
  if (s.size() != 1) throw py::value_error("`scale` must hold one value. Received shape " + shape_str(s.shape) + ".");
  Tensor y = empty(x.shape);
  scale_by_scalar(x.f32(), s.f32(), c, y.f32(), x.size());
  return y;
}

Tensor scale_rows_op(const py::object& x_, const py::object& s_) {
  const Tensor& x = f32(x_, "x", 2);
  const Tensor& s = f32(s_, "scale");
  if (s.size() != x.shape[0])
    throw py::value_error("`scale` must hold one value per row (" + std::to_string(x.shape[0]) + "). Received shape " +
                          shape_str(s.shape) + ".");
  Tensor y = empty(x.shape);
  scale_rows(x.f32(), s.f32(), y.f32(), x.shape[0], x.shape[1]);
  return y;
}

void moving_average_op(const py::object& m_, const py::object& b_, float momentum) {
  const Tensor& m = f32(m_, "moving");
  const Tensor& b = f32(b_, "batch");
  same_shape(m, "moving", b, "batch");
  moving_average(m.f32(), b.f32(), m.size(), momentum);
}

Tensor add_op(const Tensor& a, const py::object& b_) {
  if (a.dtype != DType::kF32) throw py::type_error("Only float32 CUDA arrays can be added.");
  const Tensor& b = f32(b_, "other");
  same_shape(a, "self", b, "other");
  Tensor y = empty(a.shape);
  add(a.f32(), b.f32(), y.f32(), a.size());
  return y;
}

}  // namespace

#ifdef FASTDNN_CUDA_SIM
namespace fastdnn::cuda {
void register_sim_checks(py::module_& m);  // sim/checks.cu
}
#endif

#ifndef FASTDNN_CUDA_MODULE
#define FASTDNN_CUDA_MODULE _cuda  // _cuda_sim in the simulator's build (CMakeLists.txt)
#endif

PYBIND11_MODULE(FASTDNN_CUDA_MODULE, m) {
  m.doc() = "fastdnn CUDA backend";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const std::invalid_argument& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });

#ifdef FASTDNN_CUDA_SIM
  fastdnn::cuda::register_sim_checks(m);
#endif
  m.def("device_count", &fastdnn::cuda::device_count);  // device.cu, shared with _C
  m.def("status", &fastdnn::cuda::status);
  m.def("devices", &fastdnn::cuda::device_list);
  m.def("selftest", [](int n) {
    py::gil_scoped_release nogil;
    return fastdnn::cuda::selftest(n);
  }, py::arg("n"));
  m.def("runtime_version", [] {
    return std::to_string(CUDART_VERSION / 1000) + "." + std::to_string((CUDART_VERSION % 1000) / 10);
  });
  m.def("init", &init, py::arg("device"));
  m.def("current_device", &current_device);
  m.def("synchronize", &synchronize);
  m.def("stream_handle", [] { return reinterpret_cast<intptr_t>(stream()); });
  m.def("cublaslt_load", [](const std::string& path) { return std::string(cublaslt_load(path.c_str())); });
  m.def("cublaslt_loaded", &cublaslt_loaded);
  m.def("cublaslt_version", [] { return std::string(cublaslt_version()); });
  m.def("set_use_cublaslt", [](bool on) { g_use_lt = on; });

  py::class_<Tensor>(m, "Array", "A float32 or int64 array in GPU memory (C-contiguous).")
      .def_property_readonly("shape", [](const Tensor& t) {
        py::tuple s(t.shape.size());
        for (size_t i = 0; i < t.shape.size(); ++i) s[i] = t.shape[i];
        return s;
      })
      .def_property_readonly("ndim", &Tensor::ndim)
      .def_property_readonly("size", &Tensor::size)
      .def_property_readonly("nbytes", &Tensor::nbytes)
      .def_property_readonly("dtype", [](const Tensor& t) {
        return t.dtype == DType::kF32 ? py::dtype::of<float>() : py::dtype::of<int64_t>();
      })
      .def_property_readonly("data_ptr", [](const Tensor& t) { return reinterpret_cast<intptr_t>(t.data()); })
      .def_property_readonly("device_index", [](const Tensor&) { return current_device(); })
      .def("reshape", [](const Tensor& t, py::args shape) {
        return reshape(t, shape.size() == 1 && !py::isinstance<py::int_>(shape[0]) ? shape_arg(shape[0])
                                                                                    : shape_arg(shape));
      })
      .def("numpy", &to_numpy, "A host copy (waits for the GPU).")
      .def("__array__", [](const Tensor& t, py::object dtype, py::object) {
        py::array a = to_numpy(t);
        return dtype.is_none() ? a : py::array(a.attr("astype")(dtype));
      }, py::arg("dtype") = py::none(), py::arg("copy") = py::none())
      .def("__float__", [](const Tensor& t) {
        if (t.size() != 1)
          throw py::type_error("Only a CUDA array of one element converts to float. Received shape " +
                               shape_str(t.shape) + ".");
        return py::float_(to_numpy(t).attr("reshape")(-1)[py::int_(0)]);
      })
      .def("__len__", [](const Tensor& t) {
        if (t.shape.empty()) throw py::type_error("len() of a 0-d CUDA array");
        return t.shape[0];
      })
      .def("__add__", &add_op)
      .def("upload", [](const Tensor& t, const py::array& a) {
        const bool f = a.dtype().equal(py::dtype::of<float>()), i = a.dtype().equal(py::dtype::of<int64_t>());
        if (!(f && t.dtype == DType::kF32) && !(i && t.dtype == DType::kI64))
          throw py::type_error(std::string("upload needs a ") + dtype_name(t.dtype) + " array. Received dtype=" +
                               std::string(py::str(a.dtype())) + ".");
        if (std::vector<int64_t>(a.shape(), a.shape() + a.ndim()) != t.shape || !(a.flags() & py::array::c_style))
          throw py::value_error("upload needs a C-contiguous array of shape " + shape_str(t.shape) + ".");
        upload(a.data(), t);
      }, "Writes a host array of the same shape and dtype into this array's memory, in place.")
      .def("copy", [](const Tensor& t) {
        Tensor c = empty(t.shape, t.dtype);
        copy(t, c);
        return c;
      })
      .def("__dlpack__", [](const Tensor& t, py::object stream, py::object max_version, py::object dl_device,
                            py::object copy_) {
        if (!dl_device.is_none()) {
          auto d = dl_device.cast<std::pair<int, int>>();
          if (d.first != 2 || d.second != current_device())
            throw py::buffer_error("This array lives on cuda:" + std::to_string(current_device()) +
                                   "; it cannot be exported to another device without a copy.");
        }
        Tensor src = t;
        if (!copy_.is_none() && copy_.cast<bool>()) {
          src = empty(t.shape, t.dtype);
          copy(t, src);
        }
        order_before(stream.is_none() ? 1 : stream.cast<int64_t>());
        return py::reinterpret_steal<py::object>(to_capsule(src));
      }, py::kw_only(), py::arg("stream") = py::none(), py::arg("max_version") = py::none(),
         py::arg("dl_device") = py::none(), py::arg("copy") = py::none())
      .def("__dlpack_device__", [](const Tensor&) { return py::make_tuple(2, current_device()); })
      .def("__repr__", [](const Tensor& t) {
        return "<fastdnn CUDA array shape=" + shape_str(t.shape) + " dtype=" + dtype_name(t.dtype) + " device=cuda:" +
               std::to_string(current_device()) + ">";
      })
      .def_property_readonly_static("_fastdnn_device", [](py::object) { return "cuda"; });

  m.def("from_numpy", &from_numpy, py::arg("array"));
  m.def("from_dlpack_capsule", [](py::object cap) { return from_capsule(cap.ptr()); });
  m.def("empty", [](py::handle shape) { return empty(shape_arg(shape)); });
  m.def("full", &full_op, py::arg("shape"), py::arg("value"));

  m.def("gemm", &gemm_op, py::arg("a"), py::arg("b"), py::arg("transpose_a"), py::arg("transpose_b"),
        py::arg("out"), py::arg("accumulate"), py::arg("bias"), py::arg("activation"), py::arg("alpha"),
        py::arg("keep_preactivation"));
  m.def("weight_bias_grad", &weight_bias_grad_op, py::arg("x"), py::arg("dz"));
  m.def("act_forward", &act_forward_op, py::arg("x"), py::arg("activation"), py::arg("alpha"),
        py::arg("out") = py::none());
  m.def("act_backward", &act_backward_op, py::arg("y"), py::arg("dy"), py::arg("activation"), py::arg("alpha"),
        py::arg("want_dbias"));
  m.def("softmax", &softmax_op, py::arg("x"), py::arg("out") = py::none());
  m.def("softmax_backward", &softmax_backward_op, py::arg("y"), py::arg("dy"));
  m.def("softmax_xent", &softmax_xent_op, py::arg("logits"), py::arg("labels"), py::arg("targets"),
        py::arg("grad_scale"), py::arg("want_grad"));
  m.def("sparse_xent_probs", &sparse_xent_probs_op, py::arg("probabilities"), py::arg("labels"), py::arg("epsilon"));
  m.def("batchnorm_forward_train", &bn_train_op, py::arg("x"), py::arg("gamma"), py::arg("beta"), py::arg("epsilon"));
  m.def("batchnorm_forward_infer", &bn_infer_op, py::arg("x"), py::arg("moving_mean"), py::arg("moving_variance"),
        py::arg("gamma"), py::arg("beta"), py::arg("epsilon"));
  m.def("batchnorm_backward", &bn_backward_op, py::arg("dy"), py::arg("x"), py::arg("mean"), py::arg("inv_std"),
        py::arg("gamma"), py::arg("training"));
  m.def("noise_bernoulli", &bernoulli_op, py::arg("x"), py::arg("rate"), py::arg("seed"), py::arg("stream"),
        py::arg("step"), py::arg("scale"), py::arg("c_keep") = 0.0, py::arg("c_drop") = 0.0,
        py::arg("out") = py::none(), py::arg("mask_shape") = py::none());
  m.def("noise_normal", &normal_op, py::arg("x"), py::arg("seed"), py::arg("stream"), py::arg("step"), py::arg("m0"),
        py::arg("m1"), py::arg("c0"), py::arg("c1"), py::arg("out") = py::none());
  m.def("optimizer_update", &optimizer_update_op, py::arg("kind"), py::arg("params"), py::arg("grads"),
        py::arg("slots"), py::arg("hyper"));
  m.def("binary", &binary_op, py::arg("op"), py::arg("a"), py::arg("b"));
  m.def("unary", &unary_op, py::arg("op"), py::arg("x"), py::arg("p0") = 0.0f, py::arg("p1") = 0.0f);
  m.def("broadcast_to", &broadcast_to_op, py::arg("x"), py::arg("shape"));
  m.def("reduce_to", &reduce_to_op, py::arg("x"), py::arg("shape"));
  m.def("weight_penalty", &weight_penalty_op, py::arg("params"), py::arg("grads"), py::arg("l1"), py::arg("l2"));
  m.def("apply_constraints", &apply_constraints_op, py::arg("params"), py::arg("specs"));
  m.def("sum_all", &sum_all_op, py::arg("x"), py::arg("scale"));
  m.def("scale_by_scalar", &scale_by_scalar_op, py::arg("x"), py::arg("scale"), py::arg("factor") = 1.0f);
  m.def("scale_rows", &scale_rows_op, py::arg("x"), py::arg("scale"));
  m.def("moving_average", &moving_average_op, py::arg("moving"), py::arg("batch"), py::arg("momentum"));
}
