// fastdnn._C: binds the native ops and runtime controls. No logic lives here: each op's
// validation and dispatch is in its own file (gemm/gemm_op.cpp, ...).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "../core/cpu.h"
#include "../isa/isa.h"
#include "../core/memory.h"
#include "../core/threadpool.h"
#include "../cuda/device_py.h"
#include "../gemm/gemm.h"

namespace py = pybind11;

namespace fastdnn {
py::tuple gemm_op(const py::array& a, const py::array& b, bool transpose_a, bool transpose_b,
                  py::object out, bool accumulate, py::object bias, int activation, float alpha,
                  bool keep_preactivation);
void bind_codes(py::module_& m);
void bind_activations(py::module_& m);
void bind_losses(py::module_& m);
void bind_optimizers(py::module_& m);
void bind_batchnorm(py::module_& m);
void bind_penalties(py::module_& m);
void bind_random(py::module_& m);
void bind_dropout(py::module_& m);
void bind_stats(py::module_& m);
void bind_layernorm(py::module_& m);
void bind_plan(py::module_& m);
}

PYBIND11_MODULE(_C, m) {
  using namespace fastdnn;
  m.doc() = "fastdnn native core";
  tune_allocator(size_t(16) << 20);  // see core/memory.h
  m.def("allocator_top_pad", &allocator_top_pad);

  m.def("gemm", &gemm_op, py::arg("a"), py::arg("b"), py::arg("transpose_a"),
        py::arg("transpose_b"), py::arg("out"), py::arg("accumulate"), py::arg("bias"),
        py::arg("activation"), py::arg("alpha"), py::arg("keep_preactivation"));

  m.def("get_num_threads", &get_num_threads);
  m.def("set_num_threads", &set_num_threads, py::arg("n"));
  bind_codes(m);
  bind_activations(m);
  bind_losses(m);
  bind_optimizers(m);
  bind_batchnorm(m);
  bind_penalties(m);
  bind_random(m);
  bind_dropout(m);
  bind_stats(m);
  bind_layernorm(m);
  bind_plan(m);

  m.def("available_isas", &available_isas);
  m.def("get_isa", &get_isa);
  m.def("set_isa", &set_isa, py::arg("name"));
  m.def("gemm_parallel_threshold", &gemm_parallel_threshold);
  m.def("set_gemm_parallel_threshold", &gemm_set_parallel_threshold, py::arg("flops"));

  m.def("cpu_info", [] {
    const auto& f = cpu::features();
    py::dict d;
    d["brand"] = f.brand;
    d["avx2_fma"] = f.avx2_fma;
    d["avx512"] = f.avx512;
    d["logical_cpus"] = cpu::available_cpus();
    return d;
  });
  m.def("compiled_isas", [] {
    std::vector<std::string> v;
#if defined(FASTDNN_X86)
    v = {"avx512", "avx2"};
#endif
    v.push_back("portable");
    v.push_back("reference");
    return v;
  });

  m.def("cuda_built", &cuda::built);
  m.def("cuda_runtime_version", &cuda::runtime_version);
  m.def("cuda_device_count", &cuda::device_count);
  m.def("cuda_status", &cuda::status);
  m.def("cuda_devices", &cuda::device_list);
  m.def("cuda_selftest", [](int n) {
    py::gil_scoped_release nogil;
    return cuda::selftest(n);
  }, py::arg("n"));
}
