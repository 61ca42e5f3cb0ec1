// FASTDNN_HD marks a function that runs on the host and on the GPU: the per-element rules
// (activations/act_rule.h, optim/optim_rule.h, penalties/penalty_rule.h) are written once and
// compiled into the CPU kernels, the CUDA kernels (nvcc) and the CUDA simulator's build of them.
//   nvcc (__CUDACC__)             __host__ __device__
//   simulator (FASTDNN_CUDA_SIM)  __host__ __device__ as csrc/cuda/sim/cuda_runtime.h defines them
//   plain C++ (fastdnn._C)        nothing
// Such functions call only what both sides have: C math functions (sqrtf, expf, fabs, ...),
// arithmetic and comparisons; no std:: algorithms.
#pragma once

#if defined(__CUDACC__)
#define FASTDNN_HD __host__ __device__
#elif defined(FASTDNN_CUDA_SIM)
#include <cuda_runtime.h>  // the simulator's (its include directory comes first)
#define FASTDNN_HD __host__ __device__
#else
#define FASTDNN_HD
#endif
