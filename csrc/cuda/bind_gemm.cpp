// fastdnn._cuda's GEMM ops (gemm, weight_bias_grad) through cuBLASLt when it is loaded, else the
// tiled kernel (gemm.cu), and the cuBLASLt controls.
#include "bind_args.h"

namespace fastdnn::cuda {

namespace {

bool g_use_lt = true;  // cuBLASLt when loaded; the tests turn it off to check the tiled kernel

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

}  // namespace

void bind_cuda_gemm(py::module_& m) {
  m.def("gemm", &gemm_op, py::arg("a"), py::arg("b"), py::arg("transpose_a"), py::arg("transpose_b"),
        py::arg("out"), py::arg("accumulate"), py::arg("bias"), py::arg("activation"), py::arg("alpha"),
        py::arg("keep_preactivation"));
  m.def("weight_bias_grad", &weight_bias_grad_op, py::arg("x"), py::arg("dz"));
  m.def("cublaslt_load", [](const std::string& path) { return std::string(cublaslt_load(path.c_str())); });
  m.def("cublaslt_loaded", &cublaslt_loaded);
  m.def("cublaslt_version", [] { return std::string(cublaslt_version()); });
  m.def("set_use_cublaslt", [](bool on) { g_use_lt = on; });
}

}  // namespace fastdnn::cuda
