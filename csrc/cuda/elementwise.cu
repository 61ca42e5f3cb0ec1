// Element-wise arithmetic with NumPy broadcasting, and sums over broadcast axes (what
// fastdnn.ops's add/subtract/.../square/exp/... and sum/mean over an axis need on the GPU).
//   binary:    y (shape s, ndim <= 8) = op(a, b); a and b read through element strides, 0 on the
//              axes they are broadcast along
//   unary:     y = op(x; p0, p1), n elements
//   reduce_to: y (out shape, same ndim as x, 1 on summed axes) = Σ of x over the summed axes,
//              one thread per output in a fixed order, double accumulation: deterministic
// The formulas are NumPy's in float32 (maximum/minimum propagate NaN, sign(0) = 0); gelu's are
// fastdnn.ops.gelu's, in double.
#include <cmath>

#include "grid.cuh"
#include "kernels.h"
#include "runtime.h"

namespace fastdnn::cuda {
namespace {

__device__ __forceinline__ float binary_value(int op, float a, float b) {
  switch (op) {
    case kAdd: return a + b;
    case kSubtract: return a - b;
    case kMultiply: return a * b;
    case kDivide: return a / b;
    case kMaximum: return a != a ? a : (b != b ? b : (a >= b ? a : b));
    case kMinimum: return a != a ? a : (b != b ? b : (a <= b ? a : b));
    case kGreaterEqual: return a >= b ? 1.0f : 0.0f;
    case kGreater: return a > b ? 1.0f : 0.0f;
    default: return b;  // kSecond: b broadcast to the output's shape
  }
}

// GELU and its derivative in double, as the CPU computes them (fastdnn.ops.gelu): the tanh
// approximation or the exact x·Φ(x).
__device__ float gelu_value(bool derivative, bool approximate, float xf) {
  const double x = xf;
  if (approximate) {
    const double c = 0.7978845608028654, t = tanh(c * (x + 0.044715 * x * x * x));
    return (float)(derivative ? 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x)
                              : 0.5 * x * (1 + t));
  }
  const double cdf = 0.5 * (1 + erf(x * 0.7071067811865476));
  return (float)(derivative ? cdf + x * exp(-0.5 * x * x) * 0.3989422804014327 : x * cdf);
}

__device__ __forceinline__ float unary_value(int op, float x, float p0, float p1) {
  switch (op) {
    case kNegative: return -x;
    case kSquare: return x * x;
    case kAbs: return fabsf(x);
    case kExp: return expf(x);
    case kLog: return logf(x);
    case kSqrt: return sqrtf(x);
    case kClip: return fminf(fmaxf(x, p0), p1);
    case kScale: return x * p0;
    case kSign: return x != x ? x : (float)((x > 0.0f) - (x < 0.0f));
    case kInside: return (x >= p0 && x <= p1) ? 1.0f : 0.0f;
    default: return gelu_value(op == kGeluGrad, p0 != 0.0f, x);
  }
}

__global__ void binary_kernel(int op, const float* a, const float* b, float* y, int64_t n, Strided s) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t r = i, oa = 0, ob = 0;
    for (int d = s.ndim - 1; d >= 0; --d) {
      const int64_t k = r % s.shape[d];
      r /= s.shape[d];
      oa += k * s.stride_a[d];
      ob += k * s.stride_b[d];
    }
    y[i] = binary_value(op, a[oa], b[ob]);
  }
}

__global__ void unary_kernel(int op, const float* x, float* y, int64_t n, float p0, float p1) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    y[i] = unary_value(op, x[i], p0, p1);
}

// s.shape: x's shape; s.stride_a: x's strides; s.stride_b: 1 on kept axes, 0 on summed ones.
__global__ void reduce_to_kernel(const float* x, float* y, int64_t outputs, int64_t per_output, Strided s) {
  for (int64_t o = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; o < outputs;
       o += (int64_t)gridDim.x * blockDim.x) {
    int64_t base = 0, r = o;
    for (int d = s.ndim - 1; d >= 0; --d) {  // the output's coordinates on the kept axes
      if (!s.stride_b[d]) continue;
      base += r % s.shape[d] * s.stride_a[d];
      r /= s.shape[d];
    }
    double t = 0.0;
    for (int64_t m = 0; m < per_output; ++m) {  // every combination of the summed axes
      int64_t off = base, q = m;
      for (int d = s.ndim - 1; d >= 0; --d) {
        if (s.stride_b[d]) continue;
        off += q % s.shape[d] * s.stride_a[d];
        q /= s.shape[d];
      }
      t += (double)x[off];
    }
    y[o] = (float)t;
  }
}

}  // namespace

void binary(int op, const float* a, const float* b, float* y, int64_t n, const Strided& s) {
  if (n == 0) return;
  binary_kernel<<<grid_for(n), 256, 0, stream()>>>(op, a, b, y, n, s);
  check_launch("binary_kernel");
}

void unary(int op, const float* x, float* y, int64_t n, float p0, float p1) {
  if (n == 0) return;
  unary_kernel<<<grid_for(n), 256, 0, stream()>>>(op, x, y, n, p0, p1);
  check_launch("unary_kernel");
}

void reduce_to(const float* x, float* y, int64_t outputs, int64_t per_output, const Strided& s) {
  if (outputs == 0) return;
  reduce_to_kernel<<<grid_for(outputs), 256, 0, stream()>>>(x, y, outputs, per_output, s);
  check_launch("reduce_to_kernel");
}

}  // namespace fastdnn::cuda
