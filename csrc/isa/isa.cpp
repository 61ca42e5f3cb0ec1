#include "isa.h"

#include <atomic>
#include <cstdlib>
#include <stdexcept>

#include "../core/cpu.h"

namespace fastdnn {
namespace {

std::vector<const CpuIsa*> available() {
  std::vector<const CpuIsa*> v;
#if defined(FASTDNN_X86)
  if (cpu::features().avx512) v.push_back(&isa_avx512());
  if (cpu::features().avx2_fma) v.push_back(&isa_avx2());
#endif
  v.push_back(&isa_portable());
  v.push_back(&isa_reference());
  return v;
}

const CpuIsa* find(const std::string& name) {
  for (const CpuIsa* isa : available())
    if (name == isa->name) return isa;
  return nullptr;
}

std::atomic<const CpuIsa*>& current() {
  static std::atomic<const CpuIsa*> isa{[] {
    const char* env = std::getenv("FASTDNN_ISA");
    const CpuIsa* chosen = env ? find(env) : nullptr;
    return chosen ? chosen : available().front();
  }()};
  return isa;
}

}  // namespace

const CpuIsa& cpu_isa() { return *current().load(std::memory_order_relaxed); }

std::vector<std::string> available_isas() {
  std::vector<std::string> names;
  for (const CpuIsa* isa : available()) names.push_back(isa->name);
  return names;
}

std::string get_isa() { return cpu_isa().name; }

void set_isa(const std::string& name) {
  const CpuIsa* isa = find(name);
  if (!isa) {
    std::string have;
    for (const auto& n : available_isas()) have += (have.empty() ? "" : ", ") + n;
    throw std::invalid_argument("Unknown or unsupported kernel path '" + name +
                                "'. This build and CPU offer: " + have);
  }
  current().store(isa);
}

}  // namespace fastdnn
