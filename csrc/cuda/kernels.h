// Launchers of the CUDA backend's kernels, one .cu file per op family (shapes at the top of
// each). Every launcher queues its work on the backend's stream (runtime.h) and returns at once;
// arguments are raw device pointers, already checked by the bindings (module.cpp).
#pragma once
#include <cstdint>

#include "../core/codes.h"
#include "../optim/optim_rule.h"
#include "../penalties/penalty_rule.h"

namespace fastdnn::cuda {

// Element strides that read an array as one of `shape` (ndim <= kMaxDims): 0 on the axes it is
// broadcast along (elementwise.cu, dropout.cu).
constexpr int kMaxDims = 8;
struct Strided {
  int ndim;
  int64_t shape[kMaxDims];
  int64_t stride_a[kMaxDims], stride_b[kMaxDims];  // element strides; 0 on a broadcast axis
};

// ---- gemm.cu -------------------------------------------------------------------------------
// C (M×N, ldc) = op(A)·op(B) [+ C if accumulate], A (lda), B (ldb) row-major; then, when asked,
// Z = C + bias (pre-activation) and C = act(C + bias). The plain tiled kernel used where
// cuBLASLt is not loaded, and as the reference cuBLASLt is tested against.
struct GemmArgs {
  const float* A;
  const float* B;
  float* C;
  float* Z = nullptr;          // optional pre-activation output (M×N)
  const float* bias = nullptr;  // optional (N,)
  int64_t M, N, K, lda, ldb, ldc;
  bool trans_a = false, trans_b = false, accumulate = false;
  int act = 0;
  float alpha = 0.0f;
};
void gemm_tiled(const GemmArgs& g);
// C = act(C + bias) in place, with Z = C + bias first when Z is given (rows × cols).
void bias_act(float* C, float* Z, const float* bias, int64_t rows, int64_t cols, int act, float alpha);

// ---- gemm_lt.cpp: cuBLASLt, loaded at run time ------------------------------------------------
// Loads libcublasLt from `path` ("" for the loader's search path); returns "" or why it failed.
const char* cublaslt_load(const char* path);
bool cublaslt_loaded();
const char* cublaslt_version();
// The product through cuBLASLt with its bias / ReLU+bias epilogues (other activations: bias
// epilogue, then bias_act). Returns false when no cuBLASLt algorithm fits; the caller then runs
// gemm_tiled. With dbias (and trans_a, !trans_b: the weight gradient xᵀ·dz) the BGRAD
// epilogue writes the column sums of B into dbias, or the function returns false.
bool gemm_lt(const GemmArgs& g, float* dbias = nullptr);

// ---- act.cu ----------------------------------------------------------------------------------
// y = act(x), n elements; dx = dy·act'(y) with act' taken from the output y (n elements).
void act_forward(const float* x, float* y, int64_t n, int act, float alpha);
void act_backward(const float* y, const float* dy, float* dx, int64_t n, int act, float alpha);
// Column sums of x (rows × cols) into out (cols), accumulated in double in a fixed order.
void column_sums(const float* x, int64_t rows, int64_t cols, float* out);
// Row-wise softmax (rows × cols) and its backward dx = y·(dy − Σ dy·y).
void softmax_forward(const float* x, float* y, int64_t rows, int64_t cols);
void softmax_backward(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols);

// ---- xent.cu ---------------------------------------------------------------------------------
// Fused softmax cross-entropy (rows × cols): loss[r] and dlogits = (softmax·Σt − t)·grad_scale
// (when dlogits is not null); labels (int64 class indices) or targets (rows × cols).
void softmax_xent(const float* logits, int64_t rows, int64_t cols, const int64_t* labels,
                  const float* targets, float* loss, float* dlogits, float grad_scale);
// −log(clip(p[label] / Σp, eps, 1 − eps)) per row, Keras's cross-entropy on probabilities.
void sparse_xent_probs(const float* probs, int64_t rows, int64_t cols, const int64_t* labels, float eps,
                       float* loss);

// ---- bn.cu -------------------------------------------------------------------------------------
// Batch statistics per feature of x (rows × cols): mean, biased var, inv_std = 1/√(var + eps)
// (double accumulation, fixed order); then y = (x − mean)·gamma·inv_std + beta. When moving_mean
// is given, the moving statistics are updated in the same pass: m = m·momentum + b·(1 − momentum).
void bn_forward_train(const float* x, int64_t rows, int64_t cols, const float* gamma, const float* beta,
                      float eps, float* y, float* mean, float* var, float* inv_std);
void bn_forward_infer(const float* x, int64_t rows, int64_t cols, const float* mean, const float* var,
                      const float* gamma, const float* beta, float eps, float* y);
void bn_backward(const float* dy, const float* x, int64_t rows, int64_t cols, const float* mean,
                 const float* inv_std, const float* gamma, bool training, float* dx, float* dgamma,
                 float* dbeta);

// ---- dropout.cu ------------------------------------------------------------------------------
// The CPU's Philox coordinates (csrc/random/philox.h): element e uses word e % 4 of block e / 4
// of (seed, stream, step), so the same seed gives the same mask on both.
void noise_bernoulli(const float* x, float* y, int64_t n, uint64_t seed, uint32_t stream, uint64_t step,
                     uint32_t threshold, float m, float c_keep, float c_drop);
void noise_normal(const float* x, float* y, int64_t n, uint64_t seed, uint32_t stream, uint64_t step,
                  float m0, float m1, float c0, float c1);
// The Bernoulli rule over x (s.shape) with one draw per element of a mask broadcast over it: the
// mask's flat index (through s.stride_b, the mask's strides, 0 on broadcast axes) picks the
// Philox word, as the CPU draws a mask of that shape.
void noise_bernoulli_broadcast(const float* x, float* y, int64_t n, const Strided& s, uint64_t seed,
                               uint32_t stream, uint64_t step, uint32_t threshold, float m, float c_keep,
                               float c_drop);

// ---- optim.cu --------------------------------------------------------------------------------
// One optimizer step over every parameter in one launch (two with norm clipping: the squared
// norms first, reduced in a fixed order). Tensor t: w, g, s[0..2] (n elements); the settings and
// tensors are the CPU's (optim/optim_rule.h), the tensors' `scale` unused (the kernel finds the
// clipping factor on the device).
void optimizer_update(const OptimHyper& h, const OptimTensor* host_tensors, int count);

// ---- penalty.cu ------------------------------------------------------------------------------
// L1/L2: g[t] += l1·sign(w) + 2·l2·w (g may be null: the value only); returns Σ_t l1·Σ|w| + l2·Σw²
// (downloaded: waits for the GPU). Constraints: w seen as outer × red × inner, norms over red;
// kind: a ConstraintKind (core/codes.h; formulas in csrc/penalties/penalty_kernel.h).
struct PenaltyTensorDev {
  const float* w;
  float* g;
  int64_t n;
  float l1, l2;
};
double weight_penalty(const PenaltyTensorDev* host_tensors, int count);
void constrain(float* w, int64_t outer, int64_t red, int64_t inner, const ConstraintSpec& c);

// ---- elementwise.cu ---------------------------------------------------------------------------
// op: a BinaryOp / UnaryOp of csrc/core/codes.h.
// y (n elements of s.shape) = op(a, b) with broadcasting through the strides.
void binary(int op, const float* a, const float* b, float* y, int64_t n, const Strided& s);
// y = op(x) over n elements; clip and inside use [p0, p1], scale multiplies by p0; gelu and its
// derivative take the tanh approximation when p0 != 0.
void unary(int op, const float* x, float* y, int64_t n, float p0, float p1);
// y (outputs) = sums of x (s.shape, strides s.stride_a) over the axes where s.stride_b is 0,
// per_output values each.
void reduce_to(const float* x, float* y, int64_t outputs, int64_t per_output, const Strided& s);

// ---- reduce.cu -------------------------------------------------------------------------------
// out[0] = scale·Σx over n elements, double accumulation in a fixed order (the result does not
// depend on timing: the same inputs give the same bits).
void sum_all(const float* x, int64_t n, double scale, float* out);
void fill(float* y, int64_t n, float value);
// y = x·s[0] (s a device scalar) ; y = x·s[row] per row of cols ; y = x·s[0]·c everywhere.
void scale_by_scalar(const float* x, const float* s, float c, float* y, int64_t n);
void scale_rows(const float* x, const float* s, float* y, int64_t rows, int64_t cols);
void add(const float* a, const float* b, float* y, int64_t n);
// m = m·momentum + b·(1 − momentum), n elements.
void moving_average(float* m, const float* b, int64_t n, float momentum);

}  // namespace fastdnn::cuda
