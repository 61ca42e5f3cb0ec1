// The CUDA backend's runtime (fastdnn._cuda): one device per process, one stream that every op
// of the backend runs on in order, stream-ordered memory (cudaMallocAsync: frees never wait
// for the GPU), pinned staging buffers so host→device copies return at once, and the device
// array type (Tensor) that the ops take and return.
//   Tensor: float32 or int64, C-contiguous, shape (d0, ..., dn-1), sharing its Storage with
//   its reshaped views. Storage is ours (cudaMallocAsync) or borrowed through DLPack.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace fastdnn::cuda {

enum class DType : int { kF32 = 0, kI64 = 1 };
inline size_t dtype_size(DType d) { return d == DType::kF32 ? 4 : 8; }
inline const char* dtype_name(DType d) { return d == DType::kF32 ? "float32" : "int64"; }

// Throws std::runtime_error("<what> failed: <CUDA's message>") unless e is cudaSuccess.
void check(cudaError_t e, const char* what);
// Checks the launch of the kernel just queued (bad configuration, missing device code).
void check_launch(const char* kernel);

// The device this process uses, chosen once (init), and its stream. init throws a
// std::runtime_error saying why when no GPU can be used.
void init(int device);
int current_device();
cudaStream_t stream();
void synchronize();

struct Storage {
  void* ptr = nullptr;
  size_t bytes = 0;
  std::function<void()> release;  // frees or hands back the memory; empty for none
  ~Storage() {
    if (release) release();
  }
};

std::shared_ptr<Storage> allocate(size_t bytes);  // stream-ordered, on stream()

struct Tensor {
  std::shared_ptr<Storage> storage;
  size_t offset = 0;  // bytes into storage
  std::vector<int64_t> shape;
  DType dtype = DType::kF32;

  int64_t size() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  int ndim() const { return (int)shape.size(); }
  size_t nbytes() const { return (size_t)size() * dtype_size(dtype); }
  void* data() const { return static_cast<char*>(storage->ptr) + offset; }
  float* f32() const { return static_cast<float*>(data()); }
  const int64_t* i64() const { return static_cast<const int64_t*>(data()); }
  int64_t cols() const { return shape.empty() ? 1 : shape.back(); }
  int64_t rows() const { return cols() ? size() / cols() : 0; }
};

Tensor empty(const std::vector<int64_t>& shape, DType dtype = DType::kF32);
Tensor zeros(const std::vector<int64_t>& shape, DType dtype = DType::kF32);

// Host → device without waiting: the bytes go through a pinned staging buffer, then an async copy
// on stream(). The host buffer may be reused as soon as this returns.
void upload(const void* host, const Tensor& dst);
// Device → host; waits for the copy (and everything queued before it).
void download(const Tensor& src, void* host);
void copy(const Tensor& src, const Tensor& dst);  // device → device, queued

std::string shape_str(const std::vector<int64_t>& shape);

}  // namespace fastdnn::cuda
