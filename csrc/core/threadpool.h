// A small persistent thread pool for the CPU kernels.
//
// parallel_for(n, fn) runs fn(0..n-1) on the calling thread plus the pool's workers and returns
// when all are done. Workers spin briefly after a job (so back-to-back kernels in a training step
// do not pay a wake-up) and then sleep. A call made while the pool is busy (another Python thread,
// or a nested call from inside a task) runs serially on its own thread instead of waiting.
// After fork() the child starts with a fresh pool.
#pragma once
#include <functional>

namespace fastdnn {

// Threads used by parallel work, the caller included (>= 1).
int get_num_threads();
// Sets the thread count; throws std::invalid_argument for n < 1.
void set_num_threads(int n);

void parallel_for(int n, const std::function<void(int)>& fn);

}  // namespace fastdnn
