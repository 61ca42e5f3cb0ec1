#include "memory.h"

#include <cstdlib>
#include <cstring>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace fastdnn {

namespace {
size_t g_top_pad = 0;
}

size_t tune_allocator(size_t bytes) {
#if defined(__GLIBC__)
  const char* off = std::getenv("FASTDNN_MALLOC_TUNING");
  if (std::getenv("MALLOC_TOP_PAD_") || (off && std::strcmp(off, "0") == 0)) return g_top_pad;
  if (mallopt(M_TOP_PAD, (int)bytes) == 1) g_top_pad = bytes;
#else
  (void)bytes;
#endif
  return g_top_pad;
}

size_t allocator_top_pad() { return g_top_pad; }

}  // namespace fastdnn
