// fastdnn._cuda: the CUDA backend, a separate extension that Python loads only when a GPU is
// asked for. Its op functions take the same arguments as fastdnn._C's and return device arrays,
// so python/fastdnn picks one module or the other per op (fastdnn/_dispatch.py) and nothing
// else changes. Each op family's bindings live in their own file (bind_<family>.cpp): checks and
// output allocation happen there, once, then the kernels are queued on the backend's stream
// (kernels.h). Errors: TypeError for a wrong kind of array, ValueError for shapes, RuntimeError
// for CUDA failures, each naming what was received.
#include <pybind11/pybind11.h>

#include <stdexcept>

namespace py = pybind11;

namespace fastdnn::cuda {
void bind_cuda_device(py::module_& m);  // bind_device.cpp
void bind_cuda_arrays(py::module_& m);  // bind_arrays.cpp
void bind_cuda_gemm(py::module_& m);  // bind_gemm.cpp
void bind_cuda_act(py::module_& m);  // bind_act.cpp
void bind_cuda_xent(py::module_& m);  // bind_xent.cpp
void bind_cuda_bn(py::module_& m);  // bind_bn.cpp
void bind_cuda_dropout(py::module_& m);  // bind_dropout.cpp
void bind_cuda_optim(py::module_& m);  // bind_optim.cpp
void bind_cuda_penalty(py::module_& m);  // bind_penalty.cpp
void bind_cuda_elementwise(py::module_& m);  // bind_elementwise.cpp
void bind_cuda_reduce(py::module_& m);  // bind_reduce.cpp
#ifdef FASTDNN_CUDA_SIM
void register_sim_checks(py::module_& m);  // sim/checks.cu
#endif
}  // namespace fastdnn::cuda

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
  fastdnn::cuda::bind_cuda_device(m);
  fastdnn::cuda::bind_cuda_arrays(m);
  fastdnn::cuda::bind_cuda_gemm(m);
  fastdnn::cuda::bind_cuda_act(m);
  fastdnn::cuda::bind_cuda_xent(m);
  fastdnn::cuda::bind_cuda_bn(m);
  fastdnn::cuda::bind_cuda_dropout(m);
  fastdnn::cuda::bind_cuda_optim(m);
  fastdnn::cuda::bind_cuda_penalty(m);
  fastdnn::cuda::bind_cuda_elementwise(m);
  fastdnn::cuda::bind_cuda_reduce(m);
}
