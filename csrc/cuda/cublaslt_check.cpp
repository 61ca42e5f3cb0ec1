// Compiled only where CMake found cublasLt.h: checks that cublaslt_api.h's values and layouts are
// the real header's, so a cuBLASLt release that changed one fails the build instead of a GEMM.
#include <cublasLt.h>

#include "cublaslt_api.h"

namespace lt = fastdnn::cuda::lt;

static_assert(CUBLAS_STATUS_SUCCESS == lt::kSuccess);
static_assert(CUBLAS_COMPUTE_32F == lt::kCompute32F && CUBLAS_COMPUTE_32F_FAST_TF32 == lt::kCompute32FFastTF32);
static_assert(CUBLAS_OP_N == lt::kOpN && CUBLAS_OP_T == lt::kOpT);
static_assert(CUBLASLT_MATMUL_DESC_TRANSA == lt::kDescTransA && CUBLASLT_MATMUL_DESC_TRANSB == lt::kDescTransB);
static_assert(CUBLASLT_MATMUL_DESC_EPILOGUE == lt::kDescEpilogue);
static_assert(CUBLASLT_MATMUL_DESC_BIAS_POINTER == lt::kDescBiasPointer);
static_assert(CUBLASLT_EPILOGUE_DEFAULT == lt::kEpiDefault && CUBLASLT_EPILOGUE_RELU == lt::kEpiRelu);
static_assert(CUBLASLT_EPILOGUE_BIAS == lt::kEpiBias && CUBLASLT_EPILOGUE_RELU_BIAS == lt::kEpiReluBias);
static_assert(CUBLASLT_EPILOGUE_BGRADA == lt::kEpiBgradA);
static_assert(CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES == lt::kPrefMaxWorkspaceBytes);
static_assert(sizeof(cublasLtMatmulAlgo_t) == sizeof(lt::Algo));
static_assert(sizeof(cublasLtMatmulHeuristicResult_t) == sizeof(lt::HeuristicResult));
static_assert(offsetof(cublasLtMatmulHeuristicResult_t, state) == offsetof(lt::HeuristicResult, state));
static_assert(sizeof(cublasStatus_t) == sizeof(lt::Status) && sizeof(cublasLtEpilogue_t) == sizeof(int));
// The function types, argument for argument (enums are passed as int).
static_assert(sizeof(&cublasLtMatmul) == sizeof(lt::MatmulFn));
static_assert(sizeof(cublasLtHandle_t) == sizeof(lt::Handle));
