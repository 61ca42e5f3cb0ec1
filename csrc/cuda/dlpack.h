// The DLPack ABI (v0.8, dmlc/dlpack include/dlpack/dlpack.h): the unversioned structs every
// framework's __dlpack__ / from_dlpack exchange in a PyCapsule named "dltensor" (renamed
// "used_dltensor" by the consumer). Only what fastdnn reads and writes is declared.
#pragma once
#include <cstdint>

extern "C" {

enum DLDeviceTypeCode : int32_t { kDLCPU = 1, kDLCUDA = 2 };
enum DLDataTypeCodeEnum : uint8_t { kDLInt = 0, kDLUInt = 1, kDLFloat = 2 };

struct DLDevice {
  int32_t device_type;
  int32_t device_id;
};

struct DLDataType {
  uint8_t code;
  uint8_t bits;
  uint16_t lanes;
};

struct DLTensor {
  void* data;
  DLDevice device;
  int32_t ndim;
  DLDataType dtype;
  int64_t* shape;
  int64_t* strides;  // in elements; NULL means C-contiguous
  uint64_t byte_offset;
};

struct DLManagedTensor {
  DLTensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(DLManagedTensor* self);
};

}  // extern "C"
