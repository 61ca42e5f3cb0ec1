"""Every tolerance the suite uses, in one place, with the reason for its size.

fastdnn computes in float32; the references (tests/reference.py) compute in float64 from the very
same float32 inputs, so the reference is exact to ~1e-16 and every difference is fastdnn's own
rounding.
"""

import numpy as np

EPS32 = float(np.finfo(np.float32).eps)  # 1.19e-7, one float32 ulp at 1.0

# --- GEMM --------------------------------------------------------------------------------------
# A float32 dot product c = sum_k t_k (t_k = a_ik b_kj) rounds each partial sum s_k by up to
# eps/2 relative. The roundings behave like a random walk, so the error grows like
# sqrt(K) · eps · (size of the partial sums). For signed data the partial sums wander about
# ||t||_2 = sqrt(sum_k t_k^2); for same-sign data they grow steadily to |c|. So, elementwise,
#     atol_ij = GEMM_ERR_FACTOR · eps · sqrt(K) · (||t_ij||_2 + |c_ij| + |c0_ij|)
# (reference.gemm_scale computes the bracket; c0 is what is added: the accumulated `out` or the
# bias). The largest error/atol seen over every test problem and kernel path is 0.74 with a
# factor of 1, so 4 leaves 5x headroom. The worst-case bound K · eps · (|A|·|B|) would be ~30x
# looser at K = 1000 and miss a 1e-4 relative error; this one catches it, as well as an ignored
# transpose, a dropped K index or float16 rounding of the inputs (test_gemm.py checks those).
GEMM_ERR_FACTOR = 4.0


def gemm_atol(k, scale):
    """Absolute tolerance (elementwise if `scale` is an array) for a float32 product of depth `k`
    with the error scale `scale` from reference.gemm_scale."""
    return GEMM_ERR_FACTOR * EPS32 * np.sqrt(max(int(k), 1)) * np.asarray(scale) + 1e-30


# --- Activations -------------------------------------------------------------------------------
# Activations evaluated on the library's own float32 pre-activation z: float32 exp/expm1/tanh
# polynomials are accurate to a few ulp (~5e-7); 1e-5 relative leaves 20x headroom but still
# fails a naive exp(z) - 1 or (1 - e^-2z) / (1 + e^-2z) near z = 0, whose relative error there
# is 1e-4 or worse. The reference isa applies the activation to its float64 accumulator rather
# than to the rounded z, which adds at most half an ulp of z times |z f'(z) / f(z)| (< 1e-6 for
# |z| <= 30).
ACT_RTOL = 1e-5
# Only exact zeros (relu/leaky of 0, elu of 0) need an absolute floor.
ACT_ATOL = 1e-30


# --- torch comparison --------------------------------------------------------------------------
# Both sides round in float32, each with its own few-ulp activation error; looser than ACT_RTOL
# by 2x because neither side is exact.
TORCH_ACT_RTOL = 2e-5
TORCH_ACT_ATOL = 1e-30
# Two float32 GEMMs each within gemm_atol of the exact value differ by up to twice that.
TORCH_GEMM_FACTOR = 2.0


# --- Gradient checks (test_ops_grad, test_autodiff, test_layers, test_activations_api) -------
# The expected gradient is a central difference of a float64 NumPy reimplementation of the op,
# taken at the very float32 inputs the op sees. With step h = 1e-6 its truncation error is
# h²/6 · |f'''| ~ 1e-13 and its rounding error eps64 · |loss| / h ~ 1e-9 for the |loss| <= 50 of
# these tests: exact for our purposes, so every difference is fastdnn's float32 backward.
FD_STEP = 1e-6
# A float32 backward rounds like a product: each gradient element is a sum of `depth` terms
# (the batch rows for a kernel, the units for an input, 1 for an element-wise op), each rounded
# to a few ulp, so its error is about sqrt(depth) · eps · (size of the terms). The terms are
# bounded by the largest gradient element in these well-scaled tests, so
#     atol = GRAD_ERR_FACTOR · eps · sqrt(depth) · max|grad|   (normwise over the array).
# The largest error/atol seen over every op, layer, activation and kernel path is 2.3 with a
# factor of 1 (sigmoid, whose derivative y·(1 - y) comes from the rounded output y, so near
# y = 1 it carries eps/(1 - y) relative error); 8 leaves 3.5x headroom yet fails a gradient off
# by 1e-4 relative at depth <= 37 (float16 rounding, a dropped term, a wrong slope or transpose
# are all far larger).
GRAD_ERR_FACTOR = 8.0


def grad_atol(ref, depth=1):
    """Absolute tolerance of a float32 gradient whose float64 finite-difference value is `ref`
    and whose elements each sum `depth` terms."""
    ref = np.asarray(ref, dtype=np.float64)
    peak = float(np.max(np.abs(ref))) if ref.size else 0.0
    return GRAD_ERR_FACTOR * EPS32 * np.sqrt(max(int(depth), 1)) * peak + 1e-30


# Element-wise float32 arithmetic in NumPy rounds once (add, multiply, divide, sqrt: half an
# ulp); NumPy's SIMD float32 exp and log are documented within 4 ulp. 8 ulp bounds both.
ELEMENTWISE_RTOL = 8 * EPS32


# --- Weight penalties and constraints (test_regularizers, test_constraints) -------------------
# The native penalty sums |w| and w² in float32 lanes over blocks of 4096 values, flushed to
# float64: each block's sum carries ~sqrt(4096/16)·eps relative error at worst (~2e-6), so 1e-5
# relative leaves 5x headroom and still fails a dropped or doubled element in 1000+ values.
PENALTY_RTOL = 1e-5
# A gradient element g + l1·sign(w) + 2·l2·w is two float32 products and two sums: 4 ulp of the
# largest term.
PENALTY_GRAD_ULPS = 4
# A constrained weight is w·s, with s from a float64 norm rounded once to float32, then one
# float32 product: 2 ulp; 4 leaves headroom yet fails a missing ε (1e-7 relative at norm 1 is
# ~1 ulp, so ε is checked separately at small norms) or a wrong axis by far.
CONSTRAINT_ULPS = 4
# --- Dropout family (test_dropout.py, test_mc_dropout.py) ----------------------------------
# Bernoulli masks are integer comparisons, so masks and x·scale match the NumPy Philox exactly.
# Normal draws: the fast paths take float32 log, sqrt, cos and sin of 24-bit uniforms; the angle
# 2π·u rounds by up to 4e-7 absolute and r = √(−2 ln u) <= 5.8, so |z − z64| stays below ~3e-6
# (1.5e-6 seen over 2^20 draws). 2e-5 leaves 13x headroom, yet fails a swapped cos/sin, a wrong
# word pair or a 16-bit uniform (errors of 1e-4 and more).
NORMAL_ATOL = 2e-5
# --- Training statistics (csrc/stats/) ---------------------------------------------------------
# The fast kernels sum float32 values in float32 over blocks of at most 256 rows (or 256 groups
# of 16) before adding each block to a float64 total, so each block's rounding is at most
# 256 · eps/2 = 1.5e-5 of the block's sum of magnitudes: a worst-case bound, not a typical one.
# The float64 reference path is exact to ~1e-15.
STATS_RTOL = 2e-5


# --- Whole small models (test_functional.py, test_subclassed.py) --------------------------------
# A model of a few float32 layers against its float64 transcription: each product of depth <= 12
# rounds to ~sqrt(12)·eps of its terms (about 4e-7 relative for the O(1), well-scaled values of
# these tests), each activation adds a few ulp, and merges add one rounding each; over at most
# five such stages the error stays within 3e-6 relative. 1e-5 (with an absolute floor of 1e-6
# for outputs near 0) leaves 3x headroom yet fails a wrong weight, a dropped bias or a swapped
# merge by orders of magnitude.
MODEL_FWD_RTOL = 1e-5


# --- Keras 3 files (test_saving_keras.py) -------------------------------------------------------
# The same float32 weights through the same formulas in Keras (NumPy backend) and in fastdnn;
# each side rounds its products, normalisations and activations to a few ulp of O(1) outputs
# over at most six layers. The largest difference seen over every layer case and both formats
# is 4.8e-7; 2e-6 leaves 4x headroom yet fails a swapped or transposed weight, a dropped bias,
# a wrong epsilon, slope or BN statistic by orders of magnitude.
KERAS_PREDICT_ATOL = 2e-6
# One optimizer step from the same saved state and gradient moves weights of size ~1 by about
# lr = 0.01-0.05; Keras computes its step coefficients in float32, fastdnn in float64. The
# largest difference seen over every optimizer is 1.2e-7 (one ulp of the weight); 1e-6 still
# fails a slot loaded into the wrong weight or a step count off by one by far.
KERAS_STEP_ATOL = 1e-6


# --- Optimizer steps (test_optimizers.py: fast paths against the reference path) -----------------
# One float32 step (optim_rule.h) is a chain of at most ~10 roundings, each half an ulp of terms
# no larger than the output's old value, new value and the step between them; the float64
# reference path (optim_ref.cpp) rounds once. The largest error seen, in units of
# eps32 · max(|old| + |new| + |step|) over an array, is 0.89 (centered RMSprop's velocity) over
# every rule, flag, clipping and weight decay, both fast paths and 5 seeds; 4 leaves 4.5x
# headroom, yet with steps of the weights' size (lr 0.3) it fails a step off by 1e-5 relative.
OPTIM_ULPS = 4


# --- Batch normalization kernels (test_batchnorm.py: fast paths against the reference path) ------
# y = (x − center)·scale + shift in float32 rounds three times (twice with an FMA), each half an
# ulp of at most T = |x − center|·|scale| + |shift|; the float64 reference path (bn_ref.cpp)
# rounds once, half an ulp of |y| <= T: 2 ulp of T in all, a bound (the largest seen over both
# fast paths, 14 shapes and 6 seeds is 1.23 ulp of T). Since T is within a few |y| for these
# data, it still fails a scale or center off by 1e-6 relative.
BN_AFFINE_ULPS = 2
# dx = k1·dy − k2 − k3·x with coefficients rounded from float64 to float32 (half an ulp each)
# and four float32 operations: at most about 2.5 ulp of the terms' sizes |k1·dy| + |k2| + |k3·x|
# with the reference's own half ulp; the largest seen is 1.93. 4 leaves 2x headroom yet fails a
# dropped term or a coefficient off by 1e-6 relative.
BN_DX_ULPS = 4
