// DLPack import/export of backend tensors (dlpack.cpp).
#pragma once
#include <Python.h>

#include "runtime.h"

namespace fastdnn::cuda {

// Makes stream `consumer` (a DLPack stream number: 1, 2 or a handle; -1 for none) wait for the
// work queued so far on the backend's stream.
void order_before(int64_t consumer);
// A new "dltensor" capsule sharing t's memory (a new reference).
PyObject* to_capsule(const Tensor& t);
// The tensor a "dltensor" capsule describes, without a copy; marks the capsule used.
Tensor from_capsule(PyObject* capsule);

}  // namespace fastdnn::cuda
