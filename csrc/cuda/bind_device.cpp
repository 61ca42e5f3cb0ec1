// fastdnn._cuda's device and runtime controls: devices, status and self-test (device.cu), the
// device in use, its stream and synchronization (runtime.cpp).
#include "bind_args.h"
#include "device_py.h"

namespace fastdnn::cuda {

void bind_cuda_device(py::module_& m) {
  m.def("device_count", &fastdnn::cuda::device_count);
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
}

}  // namespace fastdnn::cuda
