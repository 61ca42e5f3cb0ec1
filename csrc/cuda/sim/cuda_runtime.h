// The CUDA simulator: a host stand-in for <cuda_runtime.h> and the device language, so the
// backend's kernels (csrc/cuda/*.cu, unchanged) run on the CPU where no GPU exists, and the CUDA
// tests check each of them against its CPU twin in CI (tools/cuda_sim.sh builds fastdnn's
// _cuda_sim module with it).
//
// A launch runs the blocks one after another on the calling thread; a block runs its threads as
// fibers (sim.cpp), switched at __syncthreads and at warp shuffles, so shared memory, barriers
// and butterfly reductions behave as on a GPU, in one fixed interleaving: thread order, or last
// first with FASTDNN_CUDA_SIM_ORDER=reverse. Device memory is host memory that the simulator
// hands out and tracks.
//
// Faults a GPU would leave undefined are reported as launch failures that name the kernel: a
// barrier that part of a block skips, a shuffle that reads a lane which has exited, threads
// left waiting at different barriers, a pointer argument outside device memory, a launch
// configuration the hardware refuses.
//
// Not simulated: threads interleaved within a phase, or blocks at the same time (so only the
// races that a whole-thread order shows are found), FMA contraction
// and the GPU's own exp/log rounding (the host's libm is used), cuBLASLt, and timing.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static
#define __launch_bounds__(...)
#define CUDART_VERSION 13000

// ---- types --------------------------------------------------------------------------------------
struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct uint4 {
  unsigned x, y, z, w;
};
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }

enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevice = 101,
  cudaErrorLaunchFailure = 719,
};
using cudaError = cudaError_t;
enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};
struct CUstream_st;
struct CUevent_st;
struct CUmemPoolHandle_st;
using cudaStream_t = CUstream_st*;
using cudaEvent_t = CUevent_st*;
using cudaMemPool_t = CUmemPoolHandle_st*;
#define cudaStreamLegacy ((cudaStream_t)0x1)
#define cudaStreamPerThread ((cudaStream_t)0x2)
constexpr unsigned cudaStreamNonBlocking = 1, cudaEventDisableTiming = 2;
enum cudaMemPoolAttr { cudaMemPoolAttrReleaseThreshold = 4 };

struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  int major, minor, multiProcessorCount, warpSize, maxThreadsPerBlock;
};

// ---- runtime API (sim.cpp): synchronous, so every stream and event is already in order --------
cudaError_t cudaGetDeviceCount(int* n);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int device);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
const char* cudaGetErrorString(cudaError_t e);
cudaError_t cudaMalloc(void** p, size_t bytes);
cudaError_t cudaMallocAsync(void** p, size_t bytes, cudaStream_t);
cudaError_t cudaFree(void* p);
cudaError_t cudaFreeAsync(void* p, cudaStream_t);
cudaError_t cudaMallocHost(void** p, size_t bytes);
cudaError_t cudaFreeHost(void* p);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t);
cudaError_t cudaMemset(void* p, int value, size_t bytes);
cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t);
cudaError_t cudaStreamCreate(cudaStream_t* s);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned flags);
cudaError_t cudaStreamSynchronize(cudaStream_t);
cudaError_t cudaStreamWaitEvent(cudaStream_t, cudaEvent_t, unsigned flags);
cudaError_t cudaEventCreate(cudaEvent_t* e);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned flags);
cudaError_t cudaEventRecord(cudaEvent_t, cudaStream_t = nullptr);
cudaError_t cudaEventSynchronize(cudaEvent_t);
cudaError_t cudaEventDestroy(cudaEvent_t);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaDeviceGetDefaultMemPool(cudaMemPool_t* pool, int device);
cudaError_t cudaMemPoolSetAttribute(cudaMemPool_t, cudaMemPoolAttr, void*);
// The typed overloads cuda_runtime.h has.
template <class T>
cudaError_t cudaMalloc(T** p, size_t bytes) {
  return cudaMalloc(reinterpret_cast<void**>(p), bytes);
}
template <class T>
cudaError_t cudaMallocHost(T** p, size_t bytes) {
  return cudaMallocHost(reinterpret_cast<void**>(p), bytes);
}

// ---- the device language -------------------------------------------------------------------------
namespace fastdnn_sim {

struct ThreadIndex {
  dim3 thread, block, block_dim, grid_dim;
};
ThreadIndex& index();  // of the simulated thread running now

void syncthreads();
// Every live lane of the calling lane's warp stores `bits`, then each gets lane `src`'s value.
uint64_t exchange(unsigned mask, uint64_t bits, int src_lane);
int lane_id();

bool is_device_pointer(const void* p);
// Runs `body` for every thread of the grid; returns cudaSuccess or records why it failed.
cudaError_t run_grid(const char* kernel, dim3 grid, dim3 block, void (*body)(void*), void* ctx);
cudaError_t fail(cudaError_t code, const std::string& message);  // sets the last error

template <class T>
void check_argument(const char* kernel, int i, const T& v, bool& ok) {
  if constexpr (std::is_pointer_v<T>) {
    if (ok && v != nullptr && !is_device_pointer((const void*)v)) {
      fail(cudaErrorInvalidValue, std::string(kernel) + ": argument " + std::to_string(i) +
                                      " points outside device memory (a host pointer passed to a kernel)");
      ok = false;
    }
  }
}

// kernel<<<grid, block, smem, stream>>>(args...) is rewritten (CMakeLists.txt) to
// launch("kernel", kernel, grid, block, smem, stream)(args...).
template <class... P>
struct Launch {
  const char* name;
  void (*kernel)(P...);
  dim3 grid, block;

  template <class... A>
  void operator()(A&&... args) const {
    struct Ctx {
      void (*kernel)(P...);
      std::tuple<P...> args;
    } ctx{kernel, std::tuple<P...>(std::forward<A>(args)...)};
    bool ok = true;
    int i = 0;
    std::apply([&](const auto&... a) { (check_argument(name, i++, a, ok), ...); }, ctx.args);
    if (!ok) return;
    run_grid(name, grid, block, [](void* c) {
      auto* x = static_cast<Ctx*>(c);
      std::apply(x->kernel, x->args);  // each simulated thread gets its own copies, as on a GPU
    }, &ctx);
  }
};

template <class... P>
Launch<P...> launch(const char* name, void (*kernel)(P...), dim3 grid, dim3 block, size_t = 0,
                    cudaStream_t = nullptr) {
  return {name, kernel, grid, block};
}

template <class T>
T shfl_xor(unsigned mask, T v, int lane_mask) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>, "shuffle of a type wider than 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  bits = exchange(mask, bits, lane_id() ^ lane_mask);
  T out;
  std::memcpy(&out, &bits, sizeof(T));
  return out;
}

}  // namespace fastdnn_sim

#define threadIdx (::fastdnn_sim::index().thread)
#define blockIdx (::fastdnn_sim::index().block)
#define blockDim (::fastdnn_sim::index().block_dim)
#define gridDim (::fastdnn_sim::index().grid_dim)

inline void __syncthreads() { ::fastdnn_sim::syncthreads(); }
template <class T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int = 32) {
  return ::fastdnn_sim::shfl_xor(mask, v, lane_mask);
}
inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((uint64_t)a * b) >> 32); }
// Each rounds once, as the _rn intrinsics do; the simulator never contracts a·b + c.
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fmul_rn(float a, float b) { return a * b; }

using std::isfinite;
using std::isnan;
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long min(long a, long b) { return a < b ? a : b; }
inline long max(long a, long b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
