// Kernels that check the CUDA simulator itself (tests/cuda/test_simulator.py): two that need its
// barriers and shuffles to be right, and one per fault it must report. Built into _cuda_sim
// only, as its `sim` submodule.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <vector>

#include "runtime.h"
#include "warp.cuh"

namespace fastdnn::cuda {
namespace {

// y = x reversed within each block of 256, through shared memory: wrong without the barrier.
__global__ void reverse_kernel(const float* x, float* y) {
  __shared__ float s[256];
  s[threadIdx.x] = x[blockIdx.x * 256 + threadIdx.x];
  __syncthreads();
  y[blockIdx.x * 256 + threadIdx.x] = s[255 - threadIdx.x];
}

// y[w] = the sum of warp w's 32 values, by the butterfly every lane takes part in.
__global__ void warp_sums_kernel(const float* x, float* y) {
  const float t = warp_sum(x[threadIdx.x]);
  if (threadIdx.x % 32 == 0) y[threadIdx.x / 32] = t;
}

__global__ void divergent_barrier_kernel(float* y) {
  if (threadIdx.x % 2) __syncthreads();
  y[threadIdx.x] = 1.0f;
}

__global__ void exited_lane_kernel(float* y) {
  if (threadIdx.x == 5) return;
  y[threadIdx.x] = warp_sum(1.0f);
}

// Half a warp at a shuffle, the other half at the block's barrier: neither can complete.
__global__ void deadlock_kernel(float* y) {
  if (threadIdx.x < 16) y[threadIdx.x] = warp_sum(1.0f);
  else __syncthreads();
}

__global__ void write_kernel(float* y) { y[threadIdx.x] = 1.0f; }

// Reads one float past the end of x: only the simulator's ASan build (tools/cuda_sim.sh
// --sanitize) sees it, and aborts.
__global__ void read_past_the_end_kernel(const float* x, float* y) { y[threadIdx.x] = x[threadIdx.x + 1]; }

// A missing barrier: thread 0 writes shared memory that every thread reads. Run in thread
// order it happens to work; in reverse order the other threads read before the write.
__global__ void missing_barrier_kernel(float* y) {
  __shared__ float s;
  if (threadIdx.x == 0) s = 42.0f;
  y[threadIdx.x] = s;
}

void check_last() { check_launch("simulator check"); }

}  // namespace

void register_sim_checks(pybind11::module_& m) {
  auto sim = m.def_submodule("sim", "Checks of the CUDA simulator itself");
  sim.def("reverse", [](const std::vector<float>& x) {  // len(x) a multiple of 256
    Tensor dx = empty({(int64_t)x.size()}), dy = empty({(int64_t)x.size()});
    upload(x.data(), dx);
    reverse_kernel<<<(unsigned)(x.size() / 256), 256>>>(dx.f32(), dy.f32());
    check_last();
    std::vector<float> y(x.size());
    download(dy, y.data());
    return y;
  });
  sim.def("warp_sums", [](const std::vector<float>& x) {  // len(x) = 32·warps, at most 1024
    Tensor dx = empty({(int64_t)x.size()}), dy = empty({(int64_t)x.size() / 32});
    upload(x.data(), dx);
    warp_sums_kernel<<<1, (unsigned)x.size()>>>(dx.f32(), dy.f32());
    check_last();
    std::vector<float> y(x.size() / 32);
    download(dy, y.data());
    return y;
  });
  sim.def("read_past_the_end", [] {
    Tensor x = zeros({64}), y = empty({64});
    read_past_the_end_kernel<<<1, 64>>>(x.f32(), y.f32());
    check_last();
  });
  sim.def("missing_barrier", [] {
    Tensor y = empty({64});
    missing_barrier_kernel<<<1, 64>>>(y.f32());
    check_last();
    std::vector<float> out(64);
    download(y, out.data());
    return out;
  });
  sim.def("fault", [](const std::string& which) {
    Tensor y = empty({2048});
    if (which == "divergent barrier") divergent_barrier_kernel<<<1, 64>>>(y.f32());
    else if (which == "exited lane") exited_lane_kernel<<<1, 32>>>(y.f32());
    else if (which == "deadlock") deadlock_kernel<<<1, 32>>>(y.f32());
    else if (which == "host pointer") {
      std::vector<float> host(64);
      write_kernel<<<1, 64>>>(host.data());
    } else if (which == "block too large") write_kernel<<<1, 2048>>>(y.f32());
    else if (which == "copy past the end") {
      std::vector<float> host(4096);
      check(cudaMemcpy(y.f32(), host.data(), host.size() * sizeof(float), cudaMemcpyHostToDevice), "cudaMemcpy");
    } else throw std::invalid_argument("unknown fault " + which);
    check_last();
  });
}

}  // namespace fastdnn::cuda
