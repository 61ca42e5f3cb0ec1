// Per-thread scratch buffers (64-byte aligned, grow-only, freed when the thread exits), so hot
// kernels never call malloc or touch fresh pages after their first call on a thread.
#pragma once
#include <cstddef>

namespace fastdnn {

enum class Workspace : int { kPackA = 0, kPackB = 1, kTranspose = 2, kCount = 3 };

// A buffer of at least `floats` floats for this thread; valid until the next call with `slot`.
float* workspace(Workspace slot, size_t floats);

}  // namespace fastdnn
