// Kernels for AVX2 + FMA CPUs, compiled with -mavx2 -mfma.
// GEMM register tile 6×16: 12 ymm accumulators, 2 B vectors, 1 broadcast.
#include "../simd/simd_avx2.h"
#include "isa_table.h"

namespace fastdnn {

const CpuIsa& isa_avx2() {
  using Gemm = gemm_kernel::Blocked<simd::Avx2, 6, 2, 128, 960, 256>;
  static const CpuIsa isa = make_isa<simd::Avx2, Gemm>(6);
  return isa;
}

}  // namespace fastdnn
