// SGEMM for AVX-512 CPUs: 8×48 register tile (24 zmm accumulators, 3 B vectors, 1 broadcast).
// Compiled with -mavx512f -mavx512vl -mavx512bw -mavx512dq -mfma; chosen at run time.
#include "../simd/simd_avx512.h"
#include "gemm_kernel.h"

namespace fastdnn {

using Avx512Gemm = gemm_kernel::Blocked<simd::Avx512, 8, 3, 128, 960, 256>;

const GemmIsa& gemm_isa_avx512() {
  static const GemmIsa isa{"avx512", &Avx512Gemm::run, 8, Avx512Gemm::NR, 16};
  return isa;
}

}  // namespace fastdnn
