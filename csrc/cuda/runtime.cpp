// The backend's device, stream, memory and copies (runtime.h).
#include "runtime.h"

#include "../core/checks.h"

#include <cstring>
#include <mutex>

namespace fastdnn::cuda {

namespace {

int g_device = -1;
cudaStream_t g_stream = nullptr;

// Pinned staging buffers for uploads, used in turn; each remembers (by an event) the copy that
// last read it, and waits for that copy before it is written again.
struct Staging {
  void* host = nullptr;
  size_t bytes = 0;
  cudaEvent_t done = nullptr;
};
constexpr int kStaging = 4;
constexpr size_t kStagingMax = size_t(64) << 20;  // larger uploads copy synchronously
Staging g_staging[kStaging];
int g_next_staging = 0;
std::mutex g_staging_mutex;

}  // namespace

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear a non-sticky error so the next call starts clean
    throw std::runtime_error(std::string(what) + " failed: " + cudaGetErrorString(e));
  }
}

void check_launch(const char* kernel) { check(cudaGetLastError(), kernel); }

void init(int device) {
  if (g_device >= 0) {
    if (device != g_device)
      throw std::runtime_error("fastdnn already uses cuda:" + std::to_string(g_device) +
                               " in this process; it drives one GPU per process. Received cuda:" +
                               std::to_string(device) + ".");
    return;
  }
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();
    throw std::runtime_error(std::string("No CUDA device can be used: ") + cudaGetErrorString(e));
  }
  if (device < 0 || device >= n)
    throw std::runtime_error("cuda:" + std::to_string(device) + " does not exist: this machine has " +
                             std::to_string(n) + " CUDA device(s).");
  check(cudaSetDevice(device), "cudaSetDevice");
  check(cudaStreamCreateWithFlags(&g_stream, cudaStreamNonBlocking), "cudaStreamCreate");
  // Keep freed blocks in the pool instead of returning them to the driver at every sync.
  cudaMemPool_t pool;
  if (cudaDeviceGetDefaultMemPool(&pool, device) == cudaSuccess) {
    uint64_t keep = UINT64_MAX;
    cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep);
  }
  g_device = device;
}

int current_device() { return g_device; }

cudaStream_t stream() {
  if (g_device < 0) throw std::runtime_error("The CUDA backend is not initialised; call init(device) first.");
  return g_stream;
}

void synchronize() { check(cudaStreamSynchronize(stream()), "cudaStreamSynchronize"); }

std::shared_ptr<Storage> allocate(size_t bytes) {
  auto s = std::make_shared<Storage>();
  s->bytes = bytes;
  if (bytes == 0) return s;
  cudaStream_t st = stream();
  check(cudaMallocAsync(&s->ptr, bytes, st), "cudaMallocAsync");
  void* p = s->ptr;
  s->release = [p, st] { cudaFreeAsync(p, st); };
  return s;
}

Tensor empty(const std::vector<int64_t>& shape, DType dtype) {
  Tensor t;
  t.shape = shape;
  t.dtype = dtype;
  t.storage = allocate(t.nbytes());
  return t;
}

Tensor zeros(const std::vector<int64_t>& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  if (t.nbytes()) check(cudaMemsetAsync(t.data(), 0, t.nbytes(), stream()), "cudaMemsetAsync");
  return t;
}

void upload(const void* host, const Tensor& dst) {
  const size_t n = dst.nbytes();
  if (n == 0) return;
  if (n > kStagingMax) {
    check(cudaMemcpyAsync(dst.data(), host, n, cudaMemcpyHostToDevice, stream()), "cudaMemcpyAsync");
    synchronize();  // pageable memory: the host buffer must outlive the copy
    return;
  }
  std::lock_guard<std::mutex> lock(g_staging_mutex);
  Staging& s = g_staging[g_next_staging];
  g_next_staging = (g_next_staging + 1) % kStaging;
  if (s.done) check(cudaEventSynchronize(s.done), "cudaEventSynchronize");
  else check(cudaEventCreateWithFlags(&s.done, cudaEventDisableTiming), "cudaEventCreate");
  if (s.bytes < n) {
    if (s.host) cudaFreeHost(s.host);
    s.host = nullptr, s.bytes = 0;
    const size_t want = std::max(n, size_t(1) << 20);
    check(cudaMallocHost(&s.host, want), "cudaMallocHost");
    s.bytes = want;
  }
  std::memcpy(s.host, host, n);
  check(cudaMemcpyAsync(dst.data(), s.host, n, cudaMemcpyHostToDevice, stream()), "cudaMemcpyAsync");
  check(cudaEventRecord(s.done, stream()), "cudaEventRecord");
}

void download(const Tensor& src, void* host) {
  const size_t n = src.nbytes();
  if (n) check(cudaMemcpyAsync(host, src.data(), n, cudaMemcpyDeviceToHost, stream()), "cudaMemcpyAsync");
  synchronize();
}

void copy(const Tensor& src, const Tensor& dst) {
  if (src.nbytes() != dst.nbytes()) throw std::invalid_argument("copy: sizes differ");
  if (src.nbytes())
    check(cudaMemcpyAsync(dst.data(), src.data(), src.nbytes(), cudaMemcpyDeviceToDevice, stream()),
          "cudaMemcpyAsync");
}

std::string shape_str(const std::vector<int64_t>& shape) {
  return fastdnn::shape_str(shape.data(), shape.size());
}

}  // namespace fastdnn::cuda
