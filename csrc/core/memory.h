// Process allocator tuning. Training makes and frees many arrays of 100 KB - 10 MB each step;
// with glibc's defaults the heap top is trimmed back to the system between them, so every new
// array page-faults its memory in again (a fresh 1 MB array: ~0.3 ms of faults, more than the
// kernel that fills it). Keeping some slack at the heap top avoids that.
#pragma once
#include <cstddef>

namespace fastdnn {

// Sets glibc's M_TOP_PAD to `bytes`, unless the user chose their own (MALLOC_TOP_PAD_ in the
// environment) or turned the tuning off (FASTDNN_MALLOC_TUNING=0). Returns the pad in effect
// as far as fastdnn knows: `bytes`, or 0 when it did nothing (other C libraries included).
size_t tune_allocator(size_t bytes);
size_t allocator_top_pad();

}  // namespace fastdnn
