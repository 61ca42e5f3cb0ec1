// The part of cuBLASLt's C API that fastdnn calls, declared here so the backend builds without
// cuBLAS installed and loads libcublasLt at run time (gemm_lt.cpp). Values and layouts are
// cuBLASLt's own (cublasLt.h / cublas_api.h of CUDA 12 and 13, where they are identical);
// cublaslt_check.cpp static_asserts each one against the real header whenever CMake finds it.
#pragma once
#include <cuda_runtime.h>
#include <library_types.h>

#include <cstddef>
#include <cstdint>

namespace fastdnn::cuda::lt {

using Status = int;  // cublasStatus_t
constexpr Status kSuccess = 0;
constexpr int kCompute32F = 68, kCompute32FFastTF32 = 77;  // cublasComputeType_t
constexpr int kOpN = 0, kOpT = 1;                          // cublasOperation_t
// cublasLtMatmulDescAttributes_t
constexpr int kDescTransA = 3, kDescTransB = 4, kDescEpilogue = 7, kDescBiasPointer = 8;
// cublasLtEpilogue_t
constexpr int kEpiDefault = 1, kEpiRelu = 2, kEpiBias = 4, kEpiReluBias = 6, kEpiBgradA = 256;
constexpr int kPrefMaxWorkspaceBytes = 1;  // cublasLtMatmulPreferenceAttributes_t

using Handle = void*;      // cublasLtHandle_t
using MatmulDesc = void*;  // cublasLtMatmulDesc_t
using Layout = void*;      // cublasLtMatrixLayout_t
using Preference = void*;  // cublasLtMatmulPreference_t
struct Algo {              // cublasLtMatmulAlgo_t
  uint64_t data[8];
};
struct HeuristicResult {  // cublasLtMatmulHeuristicResult_t
  Algo algo;
  size_t workspaceSize;
  Status state;
  float wavesCount;
  int reserved[4];
};

using CreateFn = Status (*)(Handle*);
using GetVersionFn = size_t (*)();
using DescCreateFn = Status (*)(MatmulDesc*, int compute, cudaDataType_t scale);
using DescSetFn = Status (*)(MatmulDesc, int attr, const void* buf, size_t bytes);
using LayoutCreateFn = Status (*)(Layout*, cudaDataType_t, uint64_t rows, uint64_t cols, int64_t ld);
using PrefCreateFn = Status (*)(Preference*);
using PrefSetFn = Status (*)(Preference, int attr, const void* buf, size_t bytes);
using HeuristicFn = Status (*)(Handle, MatmulDesc, Layout a, Layout b, Layout c, Layout d, Preference, int requested,
                               HeuristicResult* results, int* returned);
using MatmulFn = Status (*)(Handle, MatmulDesc, const void* alpha, const void* A, Layout, const void* B, Layout,
                            const void* beta, const void* C, Layout, void* D, Layout, const Algo*, void* workspace,
                            size_t workspace_bytes, cudaStream_t);

}  // namespace fastdnn::cuda::lt
