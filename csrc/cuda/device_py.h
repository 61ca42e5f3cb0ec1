// The device list (device.h) as Python dicts, for fastdnn._C and the CUDA backend's module.
#pragma once
#include <pybind11/pybind11.h>

#include "device.h"

namespace fastdnn::cuda {

inline pybind11::list device_list() {
  pybind11::list out;
  for (const auto& d : devices()) {
    pybind11::dict e;
    e["index"] = d.index;
    e["name"] = d.name;
    e["compute_capability"] = pybind11::make_tuple(d.major, d.minor);
    e["total_memory"] = d.total_memory;
    e["multiprocessors"] = d.multiprocessors;
    out.append(e);
  }
  return out;
}

}  // namespace fastdnn::cuda
