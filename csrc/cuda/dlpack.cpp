// DLPack exchange of device arrays (no copies): export a Tensor as a "dltensor" capsule that
// keeps its storage alive, and wrap a producer's capsule as a Tensor that hands the memory back
// (the producer's deleter) when the last view of it goes. Ordering across streams: the exporter
// records an event on the backend's stream and makes the consumer's stream wait for it.
#include "dlpack_exchange.h"

#include <Python.h>

#include <string>

#include "dlpack.h"

namespace fastdnn::cuda {
namespace {

struct Export {
  DLManagedTensor managed{};
  std::shared_ptr<Storage> storage;
  std::vector<int64_t> shape, strides;
};

void delete_export(DLManagedTensor* m) { delete static_cast<Export*>(m->manager_ctx); }

void capsule_destructor(PyObject* capsule) {
  // Only a capsule nobody consumed still owns its tensor.
  if (PyCapsule_IsValid(capsule, "dltensor")) {
    auto* m = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule, "dltensor"));
    if (m && m->deleter) m->deleter(m);
  }
}

// The stream a DLPack `stream` integer names: 1 legacy default, 2 per-thread default, else a handle.
cudaStream_t consumer_stream(int64_t s) {
  if (s == 1) return cudaStreamLegacy;
  if (s == 2) return cudaStreamPerThread;
  return reinterpret_cast<cudaStream_t>(s);
}

}  // namespace

void order_before(int64_t consumer) {
  if (consumer == -1) return;  // the consumer synchronises itself
  cudaEvent_t ev;
  check(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming), "cudaEventCreate");
  check(cudaEventRecord(ev, stream()), "cudaEventRecord");
  const cudaError_t e = cudaStreamWaitEvent(consumer_stream(consumer), ev, 0);
  cudaEventDestroy(ev);  // released once the wait is satisfied
  check(e, "cudaStreamWaitEvent");
}

PyObject* to_capsule(const Tensor& t) {
  auto* ex = new Export;
  ex->storage = t.storage;
  ex->shape = t.shape;
  ex->strides.resize(t.shape.size());
  int64_t stride = 1;
  for (int i = (int)t.shape.size() - 1; i >= 0; --i) ex->strides[i] = stride, stride *= t.shape[i];
  DLTensor& d = ex->managed.dl_tensor;
  d.data = t.storage->ptr;
  d.byte_offset = t.offset;
  d.device = {kDLCUDA, current_device()};
  d.ndim = (int32_t)t.shape.size();
  d.dtype = t.dtype == DType::kF32 ? DLDataType{kDLFloat, 32, 1} : DLDataType{kDLInt, 64, 1};
  d.shape = ex->shape.data();
  d.strides = ex->strides.data();
  ex->managed.manager_ctx = ex;
  ex->managed.deleter = delete_export;
  PyObject* cap = PyCapsule_New(&ex->managed, "dltensor", capsule_destructor);
  if (!cap) delete ex;
  return cap;
}

Tensor from_capsule(PyObject* capsule) {
  if (!PyCapsule_IsValid(capsule, "dltensor"))
    throw std::invalid_argument("from_dlpack needs an unconsumed DLPack capsule named 'dltensor' (each "
                                "capsule can be imported once; call __dlpack__() again for a new one).");
  auto* m = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule, "dltensor"));
  const DLTensor& d = m->dl_tensor;
  if (d.device.device_type != kDLCUDA || d.device.device_id != current_device())
    throw std::invalid_argument("from_dlpack: the array lives on device type " + std::to_string(d.device.device_type) +
                                " id " + std::to_string(d.device.device_id) + ", not on cuda:" +
                                std::to_string(current_device()) + ". Move it to that GPU first.");
  Tensor t;
  if (d.dtype.lanes == 1 && d.dtype.code == kDLFloat && d.dtype.bits == 32) t.dtype = DType::kF32;
  else if (d.dtype.lanes == 1 && d.dtype.code == kDLInt && d.dtype.bits == 64) t.dtype = DType::kI64;
  else
    throw std::invalid_argument("from_dlpack takes float32 or int64 arrays. Received type code " +
                                std::to_string(d.dtype.code) + " with " + std::to_string(d.dtype.bits) +
                                " bits; convert it (e.g. .float()) first.");
  t.shape.assign(d.shape, d.shape + d.ndim);
  int64_t expect = 1;
  for (int i = d.ndim - 1; d.strides && i >= 0; --i) {
    if (t.shape[i] != 1 && d.strides[i] != expect)
      throw std::invalid_argument("from_dlpack takes C-contiguous arrays; make a contiguous copy first "
                                  "(e.g. .contiguous()).");
    expect *= t.shape[i];
  }
  auto st = std::make_shared<Storage>();
  st->ptr = static_cast<char*>(d.data) + d.byte_offset;
  st->bytes = t.nbytes();
  st->release = [m] {
    if (m->deleter) m->deleter(m);
  };
  t.storage = st;
  PyCapsule_SetName(capsule, "used_dltensor");
  return t;
}

}  // namespace fastdnn::cuda
