// The CUDA runtime as fastdnn sees it: whether CUDA was built, which devices exist, and a
// self-test kernel that proves the build's device code loads and runs. device.cu implements it
// with the CUDA runtime; device_stub.cpp stands in when the build has no CUDA.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace fastdnn::cuda {

struct DeviceInfo {
  int index = 0;
  std::string name;
  int major = 0, minor = 0;  // compute capability
  size_t total_memory = 0;   // bytes
  int multiprocessors = 0;
};

bool built();
std::string runtime_version();  // "13.0", or "" without CUDA
int device_count();             // 0 without a driver or device
std::string status();           // "ok", or why no device can be used
std::vector<DeviceInfo> devices();

// Runs y = a*x + y on device 0 over n floats and returns the largest |device - host| difference.
// Throws std::runtime_error when no device can be used.
double selftest(int n);

}  // namespace fastdnn::cuda
