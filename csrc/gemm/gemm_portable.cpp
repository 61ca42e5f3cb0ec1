// SGEMM in plain C++ for any CPU (Arm included): the blocked algorithm over 8-float arrays that
// the compiler vectorises with the target's baseline SIMD.
#include "../simd/simd_portable.h"
#include "gemm_kernel.h"

namespace fastdnn {

using PortableGemm = gemm_kernel::Blocked<simd::Portable, 4, 2, 128, 960, 256>;

const GemmIsa& gemm_isa_portable() {
  static const GemmIsa isa{"portable", &PortableGemm::run, 4, PortableGemm::NR, 8};
  return isa;
}

}  // namespace fastdnn
