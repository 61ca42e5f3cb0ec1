#include <cmath>
#include <stdexcept>
#include <vector>

#include <cuda_runtime.h>

#include "device.h"

namespace fastdnn::cuda {
namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess)
    throw std::runtime_error(std::string(what) + " failed: " + cudaGetErrorString(e));
}

__global__ void saxpy_kernel(int n, float a, const float* x, float* y) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = a * x[i] + y[i];
}

}  // namespace

bool built() { return true; }

std::string runtime_version() {
  return std::to_string(CUDART_VERSION / 1000) + "." + std::to_string((CUDART_VERSION % 1000) / 10);
}

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error so later calls start clean
    return 0;
  }
  return n;
}

std::string status() {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return cudaGetErrorString(e);
  }
  return n > 0 ? "ok" : "no CUDA device found";
}

std::vector<DeviceInfo> devices() {
  std::vector<DeviceInfo> out;
  const int n = device_count();
  for (int i = 0; i < n; ++i) {
    cudaDeviceProp p;
    if (cudaGetDeviceProperties(&p, i) != cudaSuccess) continue;
    DeviceInfo d;
    d.index = i;
    d.name = p.name;
    d.major = p.major;
    d.minor = p.minor;
    d.total_memory = p.totalGlobalMem;
    d.multiprocessors = p.multiProcessorCount;
    out.push_back(d);
  }
  return out;
}

double selftest(int n) {
  if (n < 1) throw std::invalid_argument("selftest needs n >= 1");
  if (device_count() == 0) throw std::runtime_error("No CUDA device can be used: " + status());
  std::vector<float> x(n), y(n), ref(n);
  for (int i = 0; i < n; ++i) {
    x[i] = 0.5f * (float)(i % 97) - 3.0f;
    y[i] = 0.25f * (float)(i % 31);
    ref[i] = 2.0f * x[i] + y[i];
  }
  float *dx = nullptr, *dy = nullptr;
  check(cudaMalloc(&dx, sizeof(float) * n), "cudaMalloc");
  cudaError_t e = cudaMalloc(&dy, sizeof(float) * n);
  if (e == cudaSuccess) e = cudaMemcpy(dx, x.data(), sizeof(float) * n, cudaMemcpyHostToDevice);
  if (e == cudaSuccess) e = cudaMemcpy(dy, y.data(), sizeof(float) * n, cudaMemcpyHostToDevice);
  if (e == cudaSuccess) {
    saxpy_kernel<<<(n + 255) / 256, 256>>>(n, 2.0f, dx, dy);
    e = cudaGetLastError();
  }
  if (e == cudaSuccess) e = cudaMemcpy(y.data(), dy, sizeof(float) * n, cudaMemcpyDeviceToHost);
  cudaFree(dx);
  cudaFree(dy);
  check(e, "CUDA self-test");
  double worst = 0;
  for (int i = 0; i < n; ++i) worst = std::fmax(worst, std::fabs((double)y[i] - ref[i]));
  return worst;
}

}  // namespace fastdnn::cuda
