#include "workspace.h"

#include <cstdlib>
#include <new>

namespace fastdnn {
namespace {

struct Buffers {
  float* ptr[(int)Workspace::kCount] = {};
  size_t cap[(int)Workspace::kCount] = {};
  ~Buffers() {
    for (float* p : ptr) std::free(p);
  }
};

thread_local Buffers tls_buffers;

}  // namespace

float* workspace(Workspace slot, size_t floats) {
  const int s = (int)slot;
  Buffers& b = tls_buffers;
  if (b.cap[s] < floats) {
    std::free(b.ptr[s]);
    b.ptr[s] = nullptr;
    b.cap[s] = 0;
    const size_t bytes = ((floats * sizeof(float) + 63) / 64) * 64;
    void* p = std::aligned_alloc(64, bytes);
    if (!p) throw std::bad_alloc();
    b.ptr[s] = static_cast<float*>(p);
    b.cap[s] = floats;
  }
  return b.ptr[s];
}

}  // namespace fastdnn
