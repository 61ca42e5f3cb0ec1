// The argument helpers every CUDA binding file (bind_*.cpp) shares: a Python object as a device
// array of the right dtype and rank (TypeError / ValueError naming the argument), optional
// per-feature vectors, `out` arrays, shape arguments, host uploads, and the strides of
// broadcasting element-wise kernels. The scalar checks are the CPU ops' (core/checks.h).
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "../core/checks.h"
#include "kernels.h"
#include "runtime.h"

namespace fastdnn::cuda {

namespace py = pybind11;

inline std::string type_name(const py::handle& o) { return py::str(py::type::of(o).attr("__name__")); }

inline const Tensor& tensor(const py::handle& o, const char* name) {
  if (!py::isinstance<Tensor>(o))
    throw py::type_error(std::string("`") + name + "` must be a fastdnn CUDA array (fastdnn.device(\"cuda\")"
                         ".put(x) moves one there). Received an object of type " + type_name(o) + ".");
  return o.cast<const Tensor&>();
}

inline const Tensor& f32(const py::handle& o, const char* name, int ndim = -1, int min_ndim = 0) {
  const Tensor& t = tensor(o, name);
  if (t.dtype != DType::kF32)
    throw py::type_error(std::string("`") + name + "` must be float32. Received dtype=" + dtype_name(t.dtype) + ".");
  if ((ndim >= 0 && t.ndim() != ndim) || t.ndim() < min_ndim)
    throw py::value_error(std::string("`") + name + "` must have " +
                          (ndim >= 0 ? std::to_string(ndim) : "at least " + std::to_string(min_ndim)) +
                          " dimension(s). Received shape " + shape_str(t.shape) + ".");
  return t;
}

inline const float* opt_vec(const py::object& o, const char* name, int64_t n) {
  if (o.is_none()) return nullptr;
  const Tensor& t = f32(o, name, 1);
  if (t.shape[0] != n)
    throw py::value_error(std::string("`") + name + "` must have shape (" + std::to_string(n) +
                          ",), one value per feature of the last axis. Received shape " + shape_str(t.shape) + ".");
  return t.f32();
}

inline void same_shape(const Tensor& a, const char* an, const Tensor& b, const char* bn) {
  if (a.shape != b.shape)
    throw py::value_error(std::string("`") + an + "` and `" + bn + "` must have the same shape. Received " +
                          shape_str(a.shape) + " and " + shape_str(b.shape) + ".");
}

inline int checked_act(int code) { return check_act_code(code); }

// `out` if given (float32 of `shape`), else a new array.
inline Tensor output(const py::object& out, const std::vector<int64_t>& shape) {
  if (out.is_none()) return empty(shape);
  const Tensor& t = f32(out, "out");
  if (t.shape != shape)
    throw py::value_error("`out` has shape " + shape_str(t.shape) + " but the result has shape " + shape_str(shape) + ".");
  return t;
}

inline std::vector<int64_t> shape_arg(const py::handle& s) {
  std::vector<int64_t> shape;
  if (py::isinstance<py::int_>(s)) return {s.cast<int64_t>()};
  for (auto d : s) shape.push_back(d.cast<int64_t>());
  return shape;
}

inline Tensor from_numpy(const py::array& a) {
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

inline std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> st(shape.size());
  int64_t s = 1;
  for (int i = (int)shape.size() - 1; i >= 0; --i) st[i] = s, s *= shape[i];
  return st;
}

// The strides that read `t` (right-aligned) as an array of `shape`: 0 on broadcast axes.
inline void broadcast_strides(const std::vector<int64_t>& t, const std::vector<int64_t>& shape, int64_t* out) {
  const std::vector<int64_t> st = contiguous_strides(t);
  const int lead = (int)(shape.size() - t.size());
  for (int d = 0; d < (int)shape.size(); ++d) {
    const int td = d - lead;
    out[d] = (td < 0 || t[td] == 1) ? 0 : st[td];
  }
}

inline Strided strided(const std::vector<int64_t>& shape) {
  if (shape.size() > (size_t)kMaxDims)
    throw py::value_error("CUDA element-wise ops take arrays of at most " + std::to_string(kMaxDims) +
                          " dimensions. Received shape " + shape_str(shape) + ".");
  Strided s{};
  s.ndim = (int)shape.size();
  for (int d = 0; d < s.ndim; ++d) s.shape[d] = shape[d];
  return s;
}

}  // namespace fastdnn::cuda
