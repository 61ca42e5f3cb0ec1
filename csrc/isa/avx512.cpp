// Kernels for AVX-512 CPUs, compiled with -mavx512f -mavx512vl -mavx512bw -mavx512dq -mfma.
// GEMM register tile 8×48: 24 zmm accumulators, 3 B vectors, 1 broadcast.
#include "../simd/simd_avx512.h"
#include "isa_table.h"

namespace fastdnn {

const CpuIsa& isa_avx512() {
  using Gemm = gemm_kernel::Blocked<simd::Avx512, 8, 3, 128, 960, 256>;
  static const CpuIsa isa = make_isa<simd::Avx512, Gemm>(8);
  return isa;
}

}  // namespace fastdnn
