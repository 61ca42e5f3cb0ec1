// GEMM through cuBLASLt, loaded at run time with dlopen: the module builds and imports without
// cuBLAS (it comes from the optional `nvidia-cublas` wheel, fastdnn[cuda]), and a GPU user gets
// cuBLASLt as soon as Python finds the library (python/fastdnn/cuda.py). The API subset is declared in
// cublaslt_api.h (checked against cublasLt.h at build time where CMake finds the header), so no
// cuBLAS header or library is needed to build. Without the library the tiled kernel (gemm.cu)
// runs.
//
// Row-major to column-major: C (M×N) = op(A)·op(B) is Cᵀ (N×M, col-major, ld = ldc) =
// op(B)ᵀ·op(A)ᵀ, so cuBLASLt's first operand is our B and its second our A, each with its own
// transpose flag. Epilogues: BIAS and RELU_BIAS fuse the dense layer's bias and ReLU; BGRADA
// (bias size = rows of Cᵀ = N, summed over k) gives the bias gradient with the weight gradient
// xᵀ·dz. The other activations run as bias_act after the BIAS epilogue. Plans (descriptors and
// the heuristic's algorithm) are cached per shape; the math is exact float32
// (CUBLAS_COMPUTE_32F), TF32 only when FASTDNN_TF32=1.
#include <dlfcn.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

#include "cublaslt_api.h"
#include "kernels.h"
#include "runtime.h"

namespace fastdnn::cuda {
namespace {

struct Api {
  lt::CreateFn create;
  lt::GetVersionFn get_version;
  lt::DescCreateFn desc_create;
  lt::DescSetFn desc_set;
  lt::LayoutCreateFn layout_create;
  lt::PrefCreateFn pref_create;
  lt::PrefSetFn pref_set;
  lt::HeuristicFn heuristic;
  lt::MatmulFn matmul;
};

Api g_api{};
void* g_lib = nullptr;
lt::Handle g_handle = nullptr;
void* g_workspace = nullptr;
constexpr size_t kWorkspace = size_t(32) << 20;
std::string g_error, g_version;
std::mutex g_mutex;

struct Plan {
  bool ok = false;
  lt::MatmulDesc desc = nullptr;
  lt::Layout a = nullptr, b = nullptr, c = nullptr;
  lt::Algo algo{};
};
// (M, N, K, lda, ldb, ldc, trans_a, trans_b, epilogue)
using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, bool, bool, int>;
std::map<Key, Plan> g_plans;

template <class F>
bool sym(F* f, const char* name) {
  *f = reinterpret_cast<F>(dlsym(g_lib, name));
  if (!*f) g_error = std::string("libcublasLt has no symbol ") + name;
  return *f != nullptr;
}

bool tf32() {
  const char* v = std::getenv("FASTDNN_TF32");
  return v && std::string(v) == "1";
}

// Builds the plan for one shape and epilogue; ok = false when cuBLASLt offers no algorithm.
Plan make_plan(const GemmArgs& g, int epi, const void* bias_ptr) {
  Plan p;
  if (g_api.desc_create(&p.desc, tf32() ? lt::kCompute32FFastTF32 : lt::kCompute32F, CUDA_R_32F) != lt::kSuccess)
    return p;
  const int ta = g.trans_b ? lt::kOpT : lt::kOpN;  // first operand: our B
  const int tb = g.trans_a ? lt::kOpT : lt::kOpN;  // second operand: our A
  g_api.desc_set(p.desc, lt::kDescTransA, &ta, sizeof(ta));
  g_api.desc_set(p.desc, lt::kDescTransB, &tb, sizeof(tb));
  g_api.desc_set(p.desc, lt::kDescEpilogue, &epi, sizeof(epi));
  // The heuristic reads the bias pointer's alignment; every call sets the real pointer.
  g_api.desc_set(p.desc, lt::kDescBiasPointer, &bias_ptr, sizeof(bias_ptr));
  const uint64_t b_rows = g.trans_b ? g.K : g.N, b_cols = g.trans_b ? g.N : g.K;
  const uint64_t a_rows = g.trans_a ? g.M : g.K, a_cols = g.trans_a ? g.K : g.M;
  if (g_api.layout_create(&p.a, CUDA_R_32F, b_rows, b_cols, g.ldb) != lt::kSuccess ||
      g_api.layout_create(&p.b, CUDA_R_32F, a_rows, a_cols, g.lda) != lt::kSuccess ||
      g_api.layout_create(&p.c, CUDA_R_32F, g.N, g.M, g.ldc) != lt::kSuccess)
    return p;
  lt::Preference pref;
  if (g_api.pref_create(&pref) != lt::kSuccess) return p;
  const uint64_t ws = kWorkspace;
  g_api.pref_set(pref, lt::kPrefMaxWorkspaceBytes, &ws, sizeof(ws));
  lt::HeuristicResult result{};
  int found = 0;
  const lt::Status s = g_api.heuristic(g_handle, p.desc, p.a, p.b, p.c, p.c, pref, 1, &result, &found);
  // Plans (and their preference) live as long as the process; nothing is destroyed.
  if (s == lt::kSuccess && found > 0) {
    p.algo = result.algo;
    p.ok = true;
  }
  return p;
}

}  // namespace

const char* cublaslt_load(const char* path) {
#ifdef FASTDNN_CUDA_SIM
  (void)path;
  return "cuBLASLt needs a real GPU; the CUDA simulator runs the tiled GEMM";
#endif
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_handle) return "";
  const std::string name = path && *path ? path : "libcublasLt.so.13";
  g_lib = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!g_lib) {
    const char* e = dlerror();
    g_error = "cannot load " + name + ": " + (e ? e : "unknown error");
    return g_error.c_str();
  }
  if (!sym(&g_api.create, "cublasLtCreate") || !sym(&g_api.get_version, "cublasLtGetVersion") ||
      !sym(&g_api.desc_create, "cublasLtMatmulDescCreate") || !sym(&g_api.desc_set, "cublasLtMatmulDescSetAttribute") ||
      !sym(&g_api.layout_create, "cublasLtMatrixLayoutCreate") ||
      !sym(&g_api.pref_create, "cublasLtMatmulPreferenceCreate") ||
      !sym(&g_api.pref_set, "cublasLtMatmulPreferenceSetAttribute") ||
      !sym(&g_api.heuristic, "cublasLtMatmulAlgoGetHeuristic") || !sym(&g_api.matmul, "cublasLtMatmul")) {
    dlclose(g_lib), g_lib = nullptr;
    return g_error.c_str();
  }
  const size_t v = g_api.get_version();
  if (v / 10000 < 12) {  // the declared API is cuBLASLt 12's and 13's
    g_error = "libcublasLt " + std::to_string(v) + " is older than 12.0";
    dlclose(g_lib), g_lib = nullptr;
    return g_error.c_str();
  }
  lt::Handle h;
  if (g_api.create(&h) != lt::kSuccess) {
    g_error = "cublasLtCreate failed";
    return g_error.c_str();
  }
  check(cudaMalloc(&g_workspace, kWorkspace), "cudaMalloc (cuBLASLt workspace)");
  g_version = std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." + std::to_string(v % 100);
  g_handle = h;
  return "";
}

bool cublaslt_loaded() { return g_handle != nullptr; }
const char* cublaslt_version() { return g_version.c_str(); }

bool gemm_lt(const GemmArgs& g, float* dbias) {
  if (!g_handle || g.M == 0 || g.N == 0 || g.K == 0) return false;
  int epi = lt::kEpiDefault;
  const void* bias_ptr = g.bias;
  bool after = false;  // bias_act still to run on C
  if (dbias) {
    if (!g.trans_a || g.trans_b || g.bias || g.act || g.Z || g.accumulate) return false;
    epi = lt::kEpiBgradA;
    bias_ptr = dbias;
  } else if (g.act == 1 && !g.Z) {
    epi = g.bias ? lt::kEpiReluBias : lt::kEpiRelu;
  } else if (g.bias && !g.Z) {
    epi = lt::kEpiBias;
    after = g.act != 0;
  } else {
    after = g.bias || g.act || g.Z;  // Z wanted: the plain product, then bias_act writes Z and C
  }
  const Key key{g.M, g.N, g.K, g.lda, g.ldb, g.ldc, g.trans_a, g.trans_b, epi};
  Plan* plan;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    auto it = g_plans.find(key);
    if (it == g_plans.end()) it = g_plans.emplace(key, make_plan(g, epi, bias_ptr)).first;
    plan = &it->second;
  }
  if (!plan->ok) return false;
  if (epi != lt::kEpiDefault) g_api.desc_set(plan->desc, lt::kDescBiasPointer, &bias_ptr, sizeof(bias_ptr));
  const float one = 1.0f, beta = g.accumulate ? 1.0f : 0.0f;
  const lt::Status s = g_api.matmul(g_handle, plan->desc, &one, g.B, plan->a, g.A, plan->b, &beta, g.C, plan->c, g.C,
                                    plan->c, &plan->algo, g_workspace, kWorkspace, stream());
  if (s != lt::kSuccess) return false;
  if (after) bias_act(g.C, g.Z, epi == lt::kEpiBias ? nullptr : g.bias, g.M, g.N, g.act, g.alpha);
  return true;
}

}  // namespace fastdnn::cuda
