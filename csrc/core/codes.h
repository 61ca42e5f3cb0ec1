// The numeric codes that cross the binding boundary, written once. The C++ ops, the CUDA kernels
// and the Python layer all take them from here: fastdnn._C exports each table as an enum
// (bindings/codes.cpp), and fastdnn reads its codes from those enums. Each table is an X-macro
// list of (C++ name, Python name, code), so the enum and its export cannot drift apart.
#pragma once
#include <string>

namespace fastdnn {

// Activations of the dense epilogue and the element-wise kernels (value from the pre-activation,
// derivative from the value: activations/act_rule.h).
#define FASTDNN_ACTIVATIONS(X) \
  X(kIdentity, identity, 0)    \
  X(kRelu, relu, 1)            \
  X(kLeakyRelu, leaky_relu, 2) \
  X(kElu, elu, 3)              \
  X(kSelu, selu, 4)            \
  X(kSigmoid, sigmoid, 5)      \
  X(kTanh, tanh, 6)

// Binary element-wise ops with broadcasting (cuda/elementwise.cu; the CPU backend's NumPy twins).
#define FASTDNN_BINARY_OPS(X)          \
  X(kAdd, add, 0)                      \
  X(kSubtract, subtract, 1)            \
  X(kMultiply, multiply, 2)            \
  X(kDivide, divide, 3)                \
  X(kMaximum, maximum, 4)              \
  X(kMinimum, minimum, 5)              \
  X(kGreaterEqual, greater_equal, 6)   \
  X(kGreater, greater, 7)              \
  X(kSecond, second, 8)

// Unary element-wise ops; clip and inside take [p0, p1], scale multiplies by p0, gelu and its
// derivative take the tanh approximation when p0 != 0.
#define FASTDNN_UNARY_OPS(X)   \
  X(kNegative, negative, 0)    \
  X(kSquare, square, 1)        \
  X(kAbs, abs, 2)              \
  X(kExp, exp, 3)              \
  X(kLog, log, 4)              \
  X(kSqrt, sqrt, 5)            \
  X(kClip, clip, 6)            \
  X(kScale, scale, 7)          \
  X(kSign, sign, 8)            \
  X(kInside, inside, 9)        \
  X(kGelu, gelu, 10)           \
  X(kGeluGrad, gelu_grad, 11)

// Optimizer update rules (optim/optim_kernel.h), Keras 3's.
#define FASTDNN_OPTIMIZERS(X) \
  X(kSgd, sgd, 0)             \
  X(kAdagrad, adagrad, 1)     \
  X(kRmsprop, rmsprop, 2)     \
  X(kAdam, adam, 3)           \
  X(kAdamax, adamax, 4)       \
  X(kNadam, nadam, 5)

// Weight constraints (penalties/penalty_kernel.h), Keras 3's.
#define FASTDNN_CONSTRAINTS(X)     \
  X(kMaxNorm, max_norm, 0)         \
  X(kNonNeg, non_neg, 1)           \
  X(kUnitNorm, unit_norm, 2)       \
  X(kMinMaxNorm, min_max_norm, 3)

// Noise draws of the dropout family (dropout/dropout_kernel.h).
#define FASTDNN_NOISE_KINDS(X) \
  X(kBernoulli, bernoulli, 0)  \
  X(kNormal, normal, 1)

#define FASTDNN_CODE_ENUMERATOR(cpp, py, code) cpp = code,
#define FASTDNN_CODE_COUNT(cpp, py, code) +1

// "0 identity, 1 relu, ..." of a table, for error messages.
#define FASTDNN_CODE_NAME(cpp, py, code) #code " " #py ", "
inline std::string code_names(const char* list) {
  std::string s(list);
  return s.size() >= 2 ? s.substr(0, s.size() - 2) : s;
}

enum class Act : int { FASTDNN_ACTIVATIONS(FASTDNN_CODE_ENUMERATOR) };
constexpr int kNumActs = 0 FASTDNN_ACTIVATIONS(FASTDNN_CODE_COUNT);
enum BinaryOp : int { FASTDNN_BINARY_OPS(FASTDNN_CODE_ENUMERATOR) };
constexpr int kNumBinaryOps = 0 FASTDNN_BINARY_OPS(FASTDNN_CODE_COUNT);
enum UnaryOp : int { FASTDNN_UNARY_OPS(FASTDNN_CODE_ENUMERATOR) };
constexpr int kNumUnaryOps = 0 FASTDNN_UNARY_OPS(FASTDNN_CODE_COUNT);
enum OptimKind : int { FASTDNN_OPTIMIZERS(FASTDNN_CODE_ENUMERATOR) };
constexpr int kNumOptimKinds = 0 FASTDNN_OPTIMIZERS(FASTDNN_CODE_COUNT);
enum ConstraintKind : int { FASTDNN_CONSTRAINTS(FASTDNN_CODE_ENUMERATOR) };
constexpr int kNumConstraintKinds = 0 FASTDNN_CONSTRAINTS(FASTDNN_CODE_COUNT);
enum NoiseKind : int { FASTDNN_NOISE_KINDS(FASTDNN_CODE_ENUMERATOR) };
constexpr int kNumNoiseKinds = 0 FASTDNN_NOISE_KINDS(FASTDNN_CODE_COUNT);

}  // namespace fastdnn
