// fastdnn._C.gemm: the one entry point of the GEMM op. Shape checks and output allocation
// happen here, once, for every implementation; then the device's kernel runs without the GIL.
// Every array is host memory today, so the CPU kernel runs; device arrays add their branch here.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "../core/arrays.h"
#include "gemm.h"

namespace fastdnn {

namespace py = pybind11;

// Returns (out, preactivation or None).
py::tuple gemm_op(const py::array& a, const py::array& b, bool transpose_a, bool transpose_b,
                  py::object out, bool accumulate, py::object bias, int activation, float alpha,
                  bool keep_preactivation) {
  GemmArgs g;
  g.A = input_f32(a, "a", 2);
  g.B = input_f32(b, "b", 2);
  g.trans_a = transpose_a;
  g.trans_b = transpose_b;
  g.M = transpose_a ? a.shape(1) : a.shape(0);
  g.K = transpose_a ? a.shape(0) : a.shape(1);
  const int64_t kb = transpose_b ? b.shape(1) : b.shape(0);
  g.N = transpose_b ? b.shape(0) : b.shape(1);
  if (kb != g.K)
    throw py::value_error("Inner dimensions do not match: op(a) has shape (" + std::to_string(g.M) +
                          ", " + std::to_string(g.K) + ") and op(b) has shape (" + std::to_string(kb) +
                          ", " + std::to_string(g.N) + "); a is " + shape_str(a) + ", b is " +
                          shape_str(b) + " (transpose_a=" + (transpose_a ? "True" : "False") +
                          ", transpose_b=" + (transpose_b ? "True" : "False") + ").");
  g.lda = a.shape(1);
  g.ldb = b.shape(1);
  g.act = checked_act(activation);
  g.alpha = alpha;
  g.accumulate = accumulate;

  py::array bias_arr;
  if (!bias.is_none()) {
    bias_arr = as_ndarray(bias, "bias");
    g.bias = input_f32(bias_arr, "bias", 1);
    if (bias_arr.shape(0) != g.N)
      throw py::value_error("`bias` must have shape (" + std::to_string(g.N) + ",) to match the " +
                            std::to_string(g.N) + " output columns. Received shape " +
                            shape_str(bias_arr) + ".");
  }

  py::array c;
  if (out.is_none()) {
    if (accumulate) throw py::value_error("accumulate=True adds into `out`; pass an `out` array.");
    c = py::array_t<float>({g.M, g.N});
  } else {
    c = as_ndarray(out, "out");
  }
  g.C = output_f32(c, "out", {g.M, g.N});
  g.ldc = g.N;
  if (overlaps(c, a) || overlaps(c, b) || (g.bias && overlaps(c, bias_arr)))
    throw py::value_error("`out` shares memory with an input; pass a separate output array.");

  py::object z = py::none();
  if (keep_preactivation) {
    py::array za = py::array_t<float>({g.M, g.N});
    g.Z = static_cast<float*>(za.mutable_data());
    g.ldz = g.N;
    z = za;
  }

  {
    py::gil_scoped_release nogil;
    gemm_cpu(g);
  }
  return py::make_tuple(c, z);
}

}  // namespace fastdnn
