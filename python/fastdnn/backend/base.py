"""The backend protocol: the kernels an op calls, one set of names for every device.

`fastdnn._dispatch.kernels(*arrays)` returns a `Backend` (backend/cpu.py for NumPy arrays,
backend/cuda.py for CUDA arrays) and the ops in `fastdnn.ops` call it; both implement every
name below with the same arguments and the same results (up to float32 rounding where a
docstring says so). tests/cuda/test_backend_protocol.py holds them to it.

The native kernels take the arguments of `fastdnn._C` (csrc/); the rest are the helpers an op
needs beyond them. Codes are those of `fastdnn._codes` (csrc/core/codes.h).
"""


def on_device(x):
    """True for a CUDA array."""
    return getattr(type(x), "_fastdnn_device", None) == "cuda"


class Backend:
    """The kernels of one device. Subclasses set each name, as a method or an attribute."""

    name = "abstract"

    # ---- native kernels (the signatures of fastdnn._C) ----
    def gemm(self, a, b, transpose_a, transpose_b, out, accumulate, bias, activation, alpha, keep_z):
        """(activation(op(a)·op(b) + bias), z or None); into `out` (added with `accumulate`)."""
        raise NotImplementedError

    def act_forward(self, x, activation, alpha):
        """activation(x), element-wise (activation a code of ACTIVATION)."""
        raise NotImplementedError

    def act_backward(self, y, dy, activation, alpha, want_dbias):
        """(dz, column sums of dz or None) from the activation's output y and its gradient dy."""
        raise NotImplementedError

    def softmax(self, x, out=None):
        """Softmax over the last axis."""
        raise NotImplementedError

    def softmax_backward(self, y, dy):
        """The gradient wrt the logits from softmax output y and its gradient dy."""
        raise NotImplementedError

    def softmax_xent(self, logits, labels, targets, grad_scale, want_grad):
        """(per-row cross-entropy of softmax(logits), its gradient·grad_scale or None)."""
        raise NotImplementedError

    def sparse_xent_probs(self, probabilities, labels, epsilon):
        """−log(clip(p_label / Σp, ε, 1 − ε)) per row (float32 arithmetic)."""
        raise NotImplementedError

    def batchnorm_forward_train(self, x, gamma, beta, epsilon):
        """(y, mean, variance, inv_std) with the batch statistics."""
        raise NotImplementedError

    def batchnorm_forward_infer(self, x, mean, variance, gamma, beta, epsilon):
        """y with fixed statistics."""
        raise NotImplementedError

    def batchnorm_backward(self, dy, x, mean, inv_std, gamma, training):
        """(dx, dgamma, dbeta)."""
        raise NotImplementedError

    def noise_bernoulli(self, x, rate, seed, stream, step, scale, c_keep=0.0, c_drop=0.0, mask_shape=None):
        """x·scale + c_keep where a Philox draw keeps the element, else c_drop; with `mask_shape`
        one draw per element of that shape, broadcast over x."""
        raise NotImplementedError

    def noise_normal(self, x, seed, stream, step, m0, m1, c0, c1):
        """x·(m0 + m1·z) + c0 + c1·z with z ~ N(0, 1) drawn at the coordinates."""
        raise NotImplementedError

    def optimizer_update(self, kind, params, grads, slots, hyper):
        """One optimizer step over the lists, in place."""
        raise NotImplementedError

    def weight_penalty(self, params, grads, l1, l2):
        """Σ l1·|w| + l2·w² over params (adding its gradient into grads when given)."""
        raise NotImplementedError

    def apply_constraints(self, params, specs):
        """Projects params onto their constraints, in place."""
        raise NotImplementedError

    # ---- element-wise and reductions (codes of BINARY and UNARY) ----
    def binary(self, op, a, b):
        """A BINARY op of a and b with NumPy broadcasting; float32 results (comparisons give
        1 or 0; maximum/minimum propagate NaN; "second" gives b broadcast)."""
        raise NotImplementedError

    def unary(self, op, x, p0=0.0, p1=0.0):
        """A UNARY op of x with its parameters (clip/inside: bounds p0, p1; scale: p0; gelu and
        gelu_grad: p0 nonzero for the tanh approximation); sign(0) = 0, inside gives 1 or 0."""
        raise NotImplementedError

    def reduce_to(self, x, shape):
        """x summed (in float64) over the axes where `shape` has 1 (same rank); 0 over an empty axis."""
        raise NotImplementedError

    def broadcast_to(self, x, shape):
        """x broadcast to `shape`, as a new array."""
        raise NotImplementedError

    def sum_all(self, x, scale):
        """0-d Σx·scale, accumulated in float64."""
        raise NotImplementedError

    def unbroadcast(self, g, shape):
        """g summed down to `shape`, undoing NumPy broadcasting (g itself when it has that shape)."""
        raise NotImplementedError

    def sum_axes(self, x, axes, keepdims, scale):
        """Σx·scale over `axes` (a sorted tuple, or None for all), accumulated in float64."""
        raise NotImplementedError

    def spread(self, g, shape, axes, keepdims, scale):
        """The gradient of `sum_axes`: g·scale broadcast back to `shape`."""
        raise NotImplementedError

    # ---- helpers ----
    def put(self, x):
        """x on this device (float32; int64 class labels stay int64)."""
        raise NotImplementedError

    def contiguous(self, g):
        """g as a C-contiguous float32 array of this device."""
        raise NotImplementedError

    def ones(self, shape):
        """A float32 array of ones."""
        raise NotImplementedError

    def dense_backward(self, g2, x2, kernel, y2, code, alpha, needs):
        """(dx, dkernel, dbias) of a fused dense layer (None where `needs` says no)."""
        raise NotImplementedError

    def moving_average(self, moving, batch, momentum):
        """moving = moving·momentum + batch·(1 − momentum), in place (float32)."""
        raise NotImplementedError

    def mean_all(self, values, n):
        """0-d Σvalues / n (0 when n is 0)."""
        raise NotImplementedError

    def scale_by(self, x, g):
        """x·g for a 0-d gradient g."""
        raise NotImplementedError

    def scale_rows(self, x, g):
        """Each row i of x times g[i]."""
        raise NotImplementedError

    def inv_std(self, variance, epsilon):
        """1/sqrt(variance + epsilon), computed in float64."""
        raise NotImplementedError


def protocol_names():
    """The names every backend implements."""
    return {n for n in vars(Backend) if not n.startswith("_")}
