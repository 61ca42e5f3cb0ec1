// fastdnn._C.philox4x32(counter, key): the raw Philox4x32-10 block (philox.h), for checking the
// generator against published known answers.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <string>

#include "philox.h"

namespace fastdnn {

namespace py = pybind11;

namespace {

template <size_t N>
std::array<uint32_t, N> words(const py::object& obj, const char* name) {
  const std::string what = std::string("`") + name + "` must be a sequence of " + std::to_string(N) +
                           " integers in [0, 2**32). Received: " + std::string(py::repr(obj));
  if (!py::isinstance<py::sequence>(obj) || py::isinstance<py::str>(obj)) throw py::type_error(what);
  const auto seq = py::reinterpret_borrow<py::sequence>(obj);
  if (seq.size() != N) throw py::value_error(what);
  std::array<uint32_t, N> out{};
  for (size_t i = 0; i < N; ++i) {
    const py::object item = seq[i];
    if (!py::isinstance<py::int_>(item) || py::isinstance<py::bool_>(item)) throw py::type_error(what);
    if (item < py::int_(0) || item > py::int_(0xFFFFFFFFu)) throw py::value_error(what);
    out[i] = item.cast<uint32_t>();
  }
  return out;
}

}  // namespace

void bind_random(py::module_& m) {
  m.def("philox4x32", [](const py::object& counter, const py::object& key) {
    const auto c = words<4>(counter, "counter");
    const auto k = words<2>(key, "key");
    uint32_t out[4];
    philox::philox4x32_10(c.data(), k.data(), out);
    return py::make_tuple(out[0], out[1], out[2], out[3]);
  }, py::arg("counter"), py::arg("key"),
  "Philox4x32-10 of a 4-word counter and a 2-word key: a tuple of 4 words.");
}

}  // namespace fastdnn
