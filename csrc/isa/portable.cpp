// Kernels in plain C++ for any CPU (Arm included): 8-float arrays the compiler vectorises with
// the target's baseline SIMD. GEMM register tile 4×16.
#include "../simd/simd_portable.h"
#include "isa_table.h"

namespace fastdnn {

const CpuIsa& isa_portable() {
  using Gemm = gemm_kernel::Blocked<simd::Portable, 4, 2, 128, 960, 256>;
  static const CpuIsa isa = make_isa<simd::Portable, Gemm>(4);
  return isa;
}

}  // namespace fastdnn
