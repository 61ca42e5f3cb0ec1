// Stands in for device.cu in builds without CUDA (FASTDNN_CUDA=OFF, or AUTO without nvcc).
#include <stdexcept>

#include "device.h"

namespace fastdnn::cuda {

bool built() { return false; }
std::string runtime_version() { return ""; }
int device_count() { return 0; }
std::string status() { return "fastdnn was built without CUDA"; }
std::vector<DeviceInfo> devices() { return {}; }
double selftest(int) { throw std::runtime_error("fastdnn was built without CUDA"); }

}  // namespace fastdnn::cuda
