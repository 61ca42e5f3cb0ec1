// fastdnn._cuda.Array, the device array (shape, dtype, host copies, DLPack export, +), and the
// functions that make one (from_numpy, from_dlpack_capsule, empty, full).
#include "bind_args.h"
#include "dlpack_exchange.h"

namespace fastdnn::cuda {

namespace {

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

Tensor full_op(const py::handle& shape, float value) {
  Tensor t = empty(shape_arg(shape));
  fill(t.f32(), t.size(), value);
  return t;
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

void bind_cuda_arrays(py::module_& m) {
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
}

}  // namespace fastdnn::cuda
