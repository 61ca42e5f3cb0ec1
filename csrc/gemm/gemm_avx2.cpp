// SGEMM for AVX2 + FMA CPUs: 6×16 register tile (12 ymm accumulators, 2 B vectors, 1 broadcast).
// Compiled with -mavx2 -mfma; chosen at run time.
#include "../simd/simd_avx2.h"
#include "gemm_kernel.h"

namespace fastdnn {

using Avx2Gemm = gemm_kernel::Blocked<simd::Avx2, 6, 2, 128, 960, 256>;

const GemmIsa& gemm_isa_avx2() {
  static const GemmIsa isa{"avx2", &Avx2Gemm::run, 6, Avx2Gemm::NR, 8};
  return isa;
}

}  // namespace fastdnn
