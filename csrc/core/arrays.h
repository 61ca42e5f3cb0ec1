// Checks on the NumPy arrays that cross into native code. The Python layer converts inputs
// (python/fastdnn/_arrays.py); these checks make the native functions safe to call directly too.
// Wrong dtype raises TypeError, anything else ValueError, each naming the argument and the fix.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <vector>

#include "checks.h"
#include "codes.h"

namespace fastdnn {

namespace py = pybind11;

inline std::string shape_str(const py::array& a) {
  const std::vector<int64_t> dims(a.shape(), a.shape() + a.ndim());
  return shape_str(dims.data(), dims.size());
}

// A read-only float32, C-contiguous input of `ndim` dimensions.
inline const float* input_f32(const py::array& a, const char* name, int ndim) {
  if (!a.dtype().equal(py::dtype::of<float>()))  // equal, not is: unpickled dtypes are copies
    throw py::type_error(std::string("`") + name + "` must be a float32 array. Received dtype=" +
                         std::string(py::str(a.dtype())) + "; convert it with .astype(np.float32).");
  if (a.ndim() != ndim)
    throw py::value_error(std::string("`") + name + "` must have " + std::to_string(ndim) +
                          " dimensions. Received shape " + shape_str(a) + ".");
  if (!(a.flags() & py::array::c_style))
    throw py::value_error(std::string("`") + name +
                          "` must be C-contiguous; pass np.ascontiguousarray(" + name + ").");
  return static_cast<const float*>(a.data());
}

// A float32, C-contiguous input of any number of dimensions (at least `min_ndim`).
inline const float* input_f32_nd(const py::array& a, const char* name, int min_ndim) {
  if (a.ndim() < min_ndim)
    throw py::value_error(std::string("`") + name + "` must have at least " +
                          std::to_string(min_ndim) + " dimension(s). Received shape " + shape_str(a) + ".");
  return input_f32(a, name, (int)a.ndim());
}

// Rows × columns of an array seen as a matrix over its last axis.
inline void rows_cols(const py::array& a, int64_t* rows, int64_t* cols) {
  *cols = a.ndim() ? a.shape(a.ndim() - 1) : 1;
  *rows = *cols ? (int64_t)a.size() / *cols : 0;
}

inline std::vector<int64_t> shape_of(const py::array& a) {
  return std::vector<int64_t>(a.shape(), a.shape() + a.ndim());
}

// A writable float32, C-contiguous output of exactly `shape`.
inline float* output_f32(py::array& a, const char* name, const std::vector<int64_t>& shape) {
  input_f32(a, name, (int)shape.size());
  for (size_t i = 0; i < shape.size(); ++i) {
    if (a.shape(i) != shape[i]) {
      std::string want = "(";
      for (size_t j = 0; j < shape.size(); ++j) want += (j ? ", " : "") + std::to_string(shape[j]);
      throw py::value_error(std::string("`") + name + "` has shape " + shape_str(a) +
                            " but the result has shape " + want + ").");
    }
  }
  if (!a.writeable())
    throw py::value_error(std::string("`") + name + "` is read-only; pass a writable array.");
  return static_cast<float*>(a.mutable_data());
}

// `obj` as an ndarray, or a TypeError naming the argument.
inline py::array as_ndarray(const py::object& obj, const char* name) {
  if (!py::isinstance<py::array>(obj))
    throw py::type_error(std::string("`") + name + "` must be a NumPy array. Received an object of type " +
                         std::string(py::str(py::type::of(obj).attr("__name__"))) + ".");
  return py::reinterpret_borrow<py::array>(obj);
}

// A new float32 array of `shape`, or `out` checked against it.
inline py::array output_or_new(const py::object& out, const std::vector<int64_t>& shape, float** data) {
  py::array a = out.is_none() ? py::array_t<float>(std::vector<py::ssize_t>(shape.begin(), shape.end()))
                              : as_ndarray(out, "out");
  *data = output_f32(a, "out", shape);
  return a;
}

// An activation code of csrc/core/codes.h, or a ValueError listing the valid codes (checks.h).
inline Act checked_act(int code) { return static_cast<Act>(check_act_code(code)); }

// True when the byte ranges of two arrays overlap.
inline bool overlaps(const py::array& a, const py::array& b) {
  if (a.nbytes() == 0 || b.nbytes() == 0) return false;
  const auto* a0 = static_cast<const char*>(a.data());
  const auto* b0 = static_cast<const char*>(b.data());
  return a0 < b0 + b.nbytes() && b0 < a0 + a.nbytes();
}

}  // namespace fastdnn
