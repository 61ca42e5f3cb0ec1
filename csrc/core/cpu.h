// What the CPU offers, detected once at run time (CPUID and the OS's saved-state mask).
#pragma once
#include <string>

namespace fastdnn::cpu {

struct Features {
  bool avx2_fma = false;  // AVX2 + FMA3, with OS support for YMM state
  bool avx512 = false;    // AVX-512 F/VL/BW/DQ, with OS support for ZMM state
  std::string brand;      // processor name, where CPUID reports one
};

const Features& features();

// Logical CPUs this process may run on (its affinity mask), at least 1.
int available_cpus();

}  // namespace fastdnn::cpu
