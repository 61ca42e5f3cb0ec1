"""GEMM benchmark: fastdnn's native matrix products against NumPy, PyTorch and JAX.

What it measures, in one run:

* matmul speed (GFLOP/s, counting 2·M·K·N flops) of ``fastdnn.ops.matmul(a, b)`` against NumPy's
  ``a @ b``, ``torch.matmul`` (when torch is importable; its threads matched to fastdnn's) and a
  jitted ``jax.numpy`` product (when jax is importable; XLA picks its own threads), on the MLP
  shapes M×K×N = 32×784×300, 32×300×100, 256×784×300, 1024×784×300 and on 1024³ and 2048³;
  plus the two transposed products training needs for the 256×784×300 layer,
  dW = Xᵀ·dY (``transpose_a``, vs ``x.T @ dy``) and dX = dY·Wᵀ (``transpose_b``, vs ``dy @ w.T``);
* the fused dense layer ``fastdnn.ops.dense(x, w, b, "elu" | "relu")`` against the same
  formula as separate in-place NumPy ops, ``F.elu/F.relu(torch.addmm(b, x, w), inplace=True)``
  and a jitted ``jax.nn.elu/relu(x @ w + b)``, on the MLP shapes (flops counted as 2·M·K·N);
* per-call overhead: ``fastdnn.ops.matmul(a, b, out=c)`` at 32×300×100, at 1×1×1 (nearly pure
  overhead) and at M=0 (no arithmetic at all), min and median over many rounds, with
  ``np.matmul(a, b, out=c)`` beside it;
* with ``--threshold``: fastdnn on 1 thread against 2 threads on sizes from 32×32×32 to
  64×300×300, to show from how many flops the parallel split pays off (fastdnn's parallel
  threshold is set to 0 during the sweep, then restored).

Before anything is timed, every fastdnn result is checked against float64 NumPy of the same
formula (|ref - fast| <= ATOL + RTOL·|ref|); the run aborts if one fails. A peer library whose
result fails the same check is dropped from that case with a warning.

Timing: each library is warmed up, then timed in its own block of back-to-back calls (about
0.15 s a block); the blocks of all libraries are repeated for 7 rounds (2 rounds of 0.02 s
blocks with --quick) and the best (minimum) per-call time of each library is kept. Between
blocks the script waits until the process is idle again, because OpenBLAS worker threads keep
a CPU spinning for about 0.1 s after each call (OpenMP's for less), which on a 2-core machine
would slow whichever library runs next. The headline is the ratio fastdnn speed / peer speed
(> 1: fastdnn is faster); absolute GFLOP/s are secondary. The 'other' column gives how many CPUs
other processes kept busy while a case ran: on a shared machine, rows with 'other' near 1 are
disturbed, and libraries that split work statically across 2 threads suffer most.

Run it:

    python benchmarks/gemm.py              # full run, about 2 minutes
    python benchmarks/gemm.py --quick      # smoke test, under 20 s (skips 2048³)
    python benchmarks/gemm.py --threads 1  # fastdnn, torch (and NumPy, with threadpoolctl) on 1 thread
    python benchmarks/gemm.py --threshold  # also sweep 1 vs 2 threads on small sizes
    python benchmarks/gemm.py --json out.json   # default: benchmarks/results/gemm.json

From Python, ``run(quick=True)`` runs the short version and returns the results dict (it writes
no JSON unless given ``json_path``).

Leave OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset: they slow a current NumPy's OpenBLAS, and
the script warns when either is set.
"""

import argparse
import contextlib
import dataclasses
import datetime
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import fastdnn
from fastdnn import _C

# ---------------------------------------------------------------------------------------------
# What is measured
# ---------------------------------------------------------------------------------------------

MLP_SHAPES = [(32, 784, 300), (32, 300, 100), (256, 784, 300), (1024, 784, 300)]
SQUARE_SHAPES = [(1024, 1024, 1024), (2048, 2048, 2048)]
QUICK_SKIPS = {(2048, 2048, 2048)}
# The training layer whose transposed products are measured: X (B, I), W (I, O), dY (B, O).
TRAIN_LAYER = (256, 784, 300)
# Per-call overhead: (a) a small MLP product, (b) almost no arithmetic, (c) none at all.
OVERHEAD_SHAPES = [(32, 300, 100), (1, 1, 1), (0, 300, 100)]
OVERHEAD_NAMES = ["(a) matmul 32x300x100", "(b) matmul 1x1x1", "(c) matmul 0x300x100 (M=0)"]
THRESHOLD_SHAPES = [
    (32, 32, 32), (32, 64, 64), (32, 100, 100), (32, 128, 128), (32, 300, 100),
    (64, 128, 128), (64, 200, 100), (64, 300, 100), (32, 300, 300), (64, 300, 200),
    (64, 300, 300),
]

# Operation kinds: "nn" a@b, "tn" aᵀ@b, "nt" a@bᵀ, "out" a@b into a preallocated c, and the
# fused dense layer with an activation.
DENSE_KINDS = ("elu", "relu")
KIND_LABELS = {
    "nn": "a @ b",
    "tn": "dW = X^T dY",
    "nt": "dX = dY W^T",
    "out": "a @ b, out=c",
    "elu": "dense+bias+elu",
    "relu": "dense+bias+relu",
}

# Tolerances of the correctness check. Operands are uniform in [-1, 1] with the second factor
# scaled by 1/sqrt(K), so results are O(1) whatever K is.
RTOL = 1e-4
ATOL = 1e-4

# Above this many CPUs kept busy by other processes during the run, the run is flagged as noisy.
NOISY_OTHER_CPUS = 0.2

OPENBLAS_SLOW_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "gemm.json"


@dataclasses.dataclass(frozen=True)
class Settings:
    """How hard to measure: rounds of blocks per library, and the length of one block."""

    quick: bool
    rounds: int
    block_s: float
    warmup_s: float
    overhead_rounds: int
    overhead_block_s: float

    @classmethod
    def for_mode(cls, quick):
        """The settings of a full run (about 2 minutes) or a --quick one (under 20 s)."""
        if quick:
            return cls(quick=True, rounds=2, block_s=0.02, warmup_s=0.01,
                       overhead_rounds=5, overhead_block_s=0.02)
        return cls(quick=False, rounds=7, block_s=0.15, warmup_s=0.05,
                   overhead_rounds=15, overhead_block_s=0.1)


@dataclasses.dataclass
class Case:
    """One timed product: its section, kind, size M×K×N, operands and each library's call."""

    section: str
    kind: str
    m: int
    k: int
    n: int
    operands: dict
    calls: dict = dataclasses.field(default_factory=dict)

    @property
    def flops(self):
        return 2 * self.m * self.k * self.n

    @property
    def label(self):
        return KIND_LABELS[self.kind]

    @property
    def shape(self):
        return f"{self.m}x{self.k}x{self.n}"


class CheckError(RuntimeError):
    """A fastdnn result differs from the float64 reference by more than the tolerance."""


# ---------------------------------------------------------------------------------------------
# Operands and reference results
# ---------------------------------------------------------------------------------------------

def make_operands(kind, m, k, n, rng):
    """Float32 operands of one case: a and b (stored transposed for "tn"/"nt"), plus a bias for
    the dense kinds and an output array for "out"."""
    a_shape = (k, m) if kind == "tn" else (m, k)
    b_shape = (n, k) if kind == "nt" else (k, n)
    a = rng.random(a_shape, dtype=np.float32) * 2 - 1
    b = (rng.random(b_shape, dtype=np.float32) * 2 - 1) / np.float32(np.sqrt(max(k, 1)))
    operands = {"a": a, "b": b}
    if kind in DENSE_KINDS:
        operands["bias"] = rng.random(n, dtype=np.float32) - 0.5
    if kind == "out":
        operands["out"] = np.empty((m, n), np.float32)
    return operands


def reference(kind, operands):
    """The case's formula in float64 NumPy."""
    a = operands["a"].astype(np.float64)
    b = operands["b"].astype(np.float64)
    if kind in ("nn", "out"):
        return a @ b
    if kind == "tn":
        return a.T @ b
    if kind == "nt":
        return a @ b.T
    z = a @ b + operands["bias"].astype(np.float64)
    if kind == "elu":
        return np.where(z > 0, z, np.expm1(np.minimum(z, 0)))
    return np.maximum(z, 0)


def mismatch(result, ref):
    """Worst |ref - result| / (ATOL + RTOL·|ref|) over all elements (<= 1 passes); inf for a
    wrong shape or a non-finite value."""
    result = np.asarray(result, dtype=np.float64)
    if result.shape != ref.shape or not np.all(np.isfinite(result)):
        return float("inf")
    if ref.size == 0:
        return 0.0
    diff = np.abs(ref - result)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(diff == 0, 0.0, diff / (ATOL + RTOL * np.abs(ref)))
    return float(ratio.max())


# ---------------------------------------------------------------------------------------------
# The libraries under test
# ---------------------------------------------------------------------------------------------

class Library:
    """A GEMM implementation under test.

    `bind` turns a case's operands into a zero-argument call that computes the case's formula,
    so that the timed loop holds nothing but the call.
    """

    name = "?"
    kinds = ("nn", "tn", "nt", "elu", "relu")

    def bind(self, kind, ops):
        raise NotImplementedError

    def to_numpy(self, result):
        return np.asarray(result)

    def describe(self):
        """Version and threading, for the machine summary."""
        return {}

    def close(self):
        """Undoes what the library's setup changed (thread counts)."""


class FastdnnLib(Library):
    """fastdnn.ops.matmul / fastdnn.ops.dense, allocating the output like its peers."""

    name = "fastdnn"
    kinds = Library.kinds + ("out",)

    def bind(self, kind, ops):
        a, b, bias, out = ops["a"], ops["b"], ops.get("bias"), ops.get("out")
        matmul, dense = fastdnn.ops.matmul, fastdnn.ops.dense
        if kind == "nn":
            return lambda: matmul(a, b)
        if kind == "tn":
            return lambda: matmul(a, b, transpose_a=True)
        if kind == "nt":
            return lambda: matmul(a, b, transpose_b=True)
        if kind == "out":
            return lambda: matmul(a, b, out=out)
        return lambda: dense(a, b, bias, kind)


def numpy_dense(x, w, bias, activation):
    """x @ w + bias, then the activation, as separate NumPy ops working in place where they can."""
    z = x @ w
    z += bias
    if activation == "relu":
        return np.maximum(z, 0, out=z)
    neg = np.minimum(z, 0)  # elu(z) = max(z, 0) + expm1(min(z, 0))
    np.expm1(neg, out=neg)
    np.maximum(z, 0, out=z)
    z += neg
    return z


class NumpyLib(Library):
    """NumPy's ``@`` (its BLAS), and the dense layer as separate in-place ops."""

    name = "numpy"
    kinds = Library.kinds + ("out",)

    def bind(self, kind, ops):
        a, b, bias, out = ops["a"], ops["b"], ops.get("bias"), ops.get("out")
        if kind == "nn":
            return lambda: a @ b
        if kind == "tn":
            return lambda: a.T @ b
        if kind == "nt":
            return lambda: a @ b.T
        if kind == "out":
            return lambda: np.matmul(a, b, out=out)
        return lambda: numpy_dense(a, b, bias, kind)


class TorchLib(Library):
    """torch.matmul and F.elu/F.relu(torch.addmm(...)) on tensors sharing the NumPy operands,
    with torch's intra-op threads set to fastdnn's count for the run."""

    name = "torch"

    def __init__(self, torch, threads):
        self.torch = torch
        self.saved_threads = torch.get_num_threads()
        torch.set_num_threads(threads)

    def bind(self, kind, ops):
        torch, F = self.torch, self.torch.nn.functional
        a, b = torch.from_numpy(ops["a"]), torch.from_numpy(ops["b"])
        if kind == "nn":
            return lambda: torch.matmul(a, b)
        if kind == "tn":
            return lambda: torch.matmul(a.T, b)
        if kind == "nt":
            return lambda: torch.matmul(a, b.T)
        bias = torch.from_numpy(ops["bias"])
        act = F.elu if kind == "elu" else F.relu
        return lambda: act(torch.addmm(bias, a, b), inplace=True)

    def to_numpy(self, result):
        return result.numpy()

    def describe(self):
        return {"version": self.torch.__version__, "threads": self.torch.get_num_threads()}

    def close(self):
        self.torch.set_num_threads(self.saved_threads)


class JaxLib(Library):
    """jax.jit of the same formulas on device arrays, waiting for each result."""

    name = "jax"

    def __init__(self, jax):
        self.jax = jax
        jnp, nn = jax.numpy, jax.nn
        self.formulas = {
            "nn": lambda a, b: jnp.matmul(a, b),
            "tn": lambda a, b: jnp.matmul(a.T, b),
            "nt": lambda a, b: jnp.matmul(a, b.T),
            "elu": lambda a, b, c: nn.elu(jnp.matmul(a, b) + c),
            "relu": lambda a, b, c: nn.relu(jnp.matmul(a, b) + c),
        }

    def bind(self, kind, ops):
        fn = self.jax.jit(self.formulas[kind])
        args = [self.jax.device_put(ops[key]) for key in ("a", "b", "bias") if key in ops]
        return lambda: fn(*args).block_until_ready()

    def describe(self):
        return {"version": self.jax.__version__, "devices": [str(d) for d in self.jax.devices()],
                "threads": "XLA default (not matched)"}


def load_peers(threads):
    """NumPy, and torch and jax where they import. Returns (peers, {name: why it was skipped})."""
    peers, skipped = [NumpyLib()], {}
    try:
        import torch
    except Exception as exc:  # not installed, or an install that fails to load
        skipped["torch"] = "not installed" if isinstance(exc, ImportError) else f"import failed: {exc}"
    else:
        peers.append(TorchLib(torch, threads))
    try:
        import jax
    except Exception as exc:
        skipped["jax"] = "not installed" if isinstance(exc, ImportError) else f"import failed: {exc}"
    else:
        peers.append(JaxLib(jax))
    return peers, skipped


def numpy_thread_limit(threads):
    """Returns (context, matched): a context limiting NumPy's BLAS to `threads` threads and
    True where threadpoolctl is installed; a no-op context and False otherwise."""
    try:
        import threadpoolctl
    except ImportError:
        return contextlib.nullcontext(), False
    return threadpoolctl.threadpool_limits(limits=threads, user_api="blas"), True


# ---------------------------------------------------------------------------------------------
# Machine description and warnings
# ---------------------------------------------------------------------------------------------

def numpy_blas():
    """NumPy's BLAS as numpy.show_config reports it, and threadpoolctl's view where installed."""
    info = {"version": np.__version__}
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info["blas"] = {key: blas.get(key) for key in ("name", "version", "openblas configuration")}
    except Exception as exc:  # an older NumPy, or a build without that section
        info["blas"] = {"error": f"numpy.show_config gave no BLAS section ({exc!r})"}
    try:
        import threadpoolctl
    except ImportError:
        info["threadpoolctl"] = None
    else:
        keys = ("internal_api", "version", "num_threads", "architecture", "threading_layer", "filepath")
        info["threadpoolctl"] = [{key: lib.get(key) for key in keys}
                                 for lib in threadpoolctl.threadpool_info()]
    return info


def git_revision():
    """The repository's commit and whether tracked files differ from it (the C++ is being tuned
    while benchmarks run, so a result needs to say which code it measured)."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": head or None, "dirty": bool(dirty)} if head else None


def machine_info(peers, skipped, numpy_threads_matched):
    """Everything about this machine and software that the numbers depend on."""
    native = Path(_C.__file__)
    modified = datetime.datetime.fromtimestamp(native.stat().st_mtime)
    info = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "fastdnn": fastdnn.build_info(),
        "fastdnn_native": {"path": str(native), "modified": modified.isoformat(timespec="seconds")},
        "git": git_revision(),
        "numpy": numpy_blas(),
        "numpy_threads_matched": numpy_threads_matched,
        "peers": {peer.name: peer.describe() for peer in peers if peer.name != "numpy"},
        "peers_skipped": skipped,
        "env": {key: os.environ[key] for key in sorted(os.environ)
                if key.startswith(("OPENBLAS_", "OMP_", "MKL_", "FASTDNN_", "XLA_"))},
    }
    return info


def environment_warnings(threads, numpy_threads_matched, peers):
    """Conditions that make the comparison unfair, as sentences."""
    notes = []
    set_vars = [f"{key}={os.environ[key]}" for key in OPENBLAS_SLOW_VARS if key in os.environ]
    if set_vars:
        notes.append(f"{' and '.join(set_vars)} set: these slow a current NumPy's OpenBLAS; unset both "
                     f"{' and '.join(OPENBLAS_SLOW_VARS)} for a fair comparison.")
    if not numpy_threads_matched:
        notes.append(f"threadpoolctl is not installed, so NumPy's BLAS threads are not set to {threads} "
                     "(OpenBLAS uses every CPU unless OPENBLAS_NUM_THREADS says otherwise).")
    if any(peer.name == "jax" for peer in peers):
        notes.append("jax runs with XLA's own thread count (not matched to fastdnn's).")
    return notes


def machine_lines(info, threads):
    """The build_info summary and the peers' versions, BLAS and threads, as printable lines."""
    build = info["fastdnn"]
    git = info["git"]
    lines = [
        f"fastdnn {build['version']}: isa {build['isa_active']} "
        f"(available: {', '.join(build['isa_available'])}), threads {threads}, "
        f"parallel threshold {build['parallel_threshold_flops']:,} flops",
        f"  cpu: {build['cpu']}, {build['logical_cpus']} logical CPUs; native module built "
        f"{info['fastdnn_native']['modified']}"
        + (f"; git {git['commit'][:10]}{' (dirty)' if git['dirty'] else ''}" if git else ""),
    ]
    blas = info["numpy"]["blas"]
    config = " ".join(str(blas.get("openblas configuration") or "").split())
    lines.append(f"numpy {info['numpy']['version']}: BLAS {blas.get('name')} {blas.get('version')}"
                 + (f" [{config}]" if config else ""))
    for lib in info["numpy"]["threadpoolctl"] or []:
        lines.append(f"  threadpoolctl: {lib['internal_api']} {lib['version']} {lib['architecture'] or ''}, "
                     f"{lib['num_threads']} threads ({Path(lib['filepath']).name})")
    for name, peer in info["peers"].items():
        lines.append(f"{name} {peer['version']}: threads {peer['threads']}")
    for name, why in info["peers_skipped"].items():
        lines.append(f"{name}: {why}, skipped")
    if info["load_average"]:
        lines.append(f"load average: {', '.join(f'{x:.2f}' for x in info['load_average'])}")
    return lines


# ---------------------------------------------------------------------------------------------
# Correctness
# ---------------------------------------------------------------------------------------------

def check_cases(cases, libraries, say):
    """Checks every bound call against float64 NumPy, before any timing.

    Raises CheckError if a fastdnn result is off; drops (with a warning) a peer's call that is.
    Returns one record per check, with its worst error relative to the tolerance.
    """
    converters = {lib.name: lib.to_numpy for lib in libraries}
    checks, failures = [], []
    for case in cases:
        ref = reference(case.kind, case.operands)
        for name, call in list(case.calls.items()):
            worst = mismatch(converters[name](call()), ref)
            checks.append({"section": case.section, "case": case.label, "shape": case.shape,
                           "library": name, "worst": worst if np.isfinite(worst) else None,
                           "passed": worst <= 1})
            if worst <= 1:
                continue
            message = (f"{name} {case.section} '{case.label}' {case.shape}: |ref - result| reaches "
                       f"{worst:.3g}x the tolerance (atol {ATOL:g} + rtol {RTOL:g}*|ref|)")
            if name == "fastdnn":
                failures.append(message)
            else:
                say(f"WARNING: {message}; {name} dropped from this case.")
                del case.calls[name]
    if failures:
        raise CheckError("fastdnn gave wrong results; nothing was timed:\n  " + "\n  ".join(failures))
    return checks


# ---------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------

def run_block(call, reps):
    """Seconds taken by `reps` back-to-back calls, with the garbage collector paused."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(reps):
            call()
        return time.perf_counter() - start
    finally:
        if enabled:
            gc.enable()


def warm_up(call, seconds):
    """Calls `call` at least twice and for at least `seconds` (JIT compiles, caches, pools)."""
    deadline = time.perf_counter() + seconds
    call()
    call()
    while time.perf_counter() < deadline:
        call()


def calibrate(call, block_s):
    """How many calls make a block of about `block_s` seconds."""
    reps = 1
    while True:
        elapsed = run_block(call, reps)
        if elapsed >= block_s / 5:
            return max(1, round(reps * block_s / elapsed))
        reps = min(reps * 100, max(reps * 2, int(reps * block_s / 5 / max(elapsed, 1e-7)) + 1))


def wait_until_idle(step=0.005, max_wait=0.5):
    """Sleeps until this process's worker threads stop burning CPU (BLAS and OpenMP threads spin
    for a while after a call), so that they do not slow the next library's block."""
    deadline = time.perf_counter() + max_wait
    while time.perf_counter() < deadline:
        before = time.process_time()
        time.sleep(step)
        if time.process_time() - before < 0.2 * step:
            return


class OtherLoad:
    """Average number of CPUs that other processes kept busy between start() and stop().

    Read from /proc/stat (all CPUs' busy time, steal included) less this process's own CPU
    time; None where /proc/stat is missing. On a shared machine it says how disturbed a
    measurement was.
    """

    def __init__(self):
        self._start = None

    @staticmethod
    def _sample():
        try:
            with open("/proc/stat") as f:
                fields = [int(x) for x in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        busy = sum(fields[:3]) + sum(fields[5:8])  # user nice system; irq softirq steal
        own = os.times()
        return busy / os.sysconf("SC_CLK_TCK"), own.user + own.system, time.perf_counter()

    def start(self):
        self._start = self._sample()
        return self

    def stop(self):
        end = self._sample()
        if self._start is None or end is None or end[2] <= self._start[2]:
            return None
        busy, own, wall = (e - s for e, s in zip(end, self._start))
        return max(0.0, (busy - own) / wall)


def time_calls(calls, rounds, block_s, warmup_s):
    """Per-call times of each call, each timed in its own blocks, over `rounds` rounds.

    Returns {name: {"best_s", "median_s", "reps", "samples_s"}}.
    """
    reps = {}
    for name, call in calls.items():
        warm_up(call, warmup_s)
        reps[name] = calibrate(call, block_s)
        wait_until_idle()
    samples = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            samples[name].append(run_block(call, reps[name]) / reps[name])
            wait_until_idle()
    return {name: {"best_s": min(times), "median_s": statistics.median(times), "reps": reps[name],
                   "samples_s": times}
            for name, times in samples.items()}


def time_case(case, rounds, block_s, warmup_s):
    """Times one case in every library it has; adds GFLOP/s, fastdnn/peer speed ratios and the
    load other processes put on the machine meanwhile."""
    load = OtherLoad().start()
    timings = time_calls(case.calls, rounds, block_s, warmup_s)
    other_cpus = load.stop()
    for timing in timings.values():
        timing["gflops"] = case.flops / timing["best_s"] / 1e9 if case.flops else None
    fast = timings["fastdnn"]["best_s"]
    return {
        "section": case.section, "case": case.label, "kind": case.kind, "shape": [case.m, case.k, case.n],
        "flops": case.flops, "libraries": timings,
        "ratio": {name: timing["best_s"] / fast for name, timing in timings.items() if name != "fastdnn"},
        "other_load_cpus": other_cpus,
    }


# ---------------------------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------------------------

def case_specs(quick):
    """(section, kind, (M, K, N)) of every case, in the order they are run."""
    specs = [("matmul", "nn", shape) for shape in MLP_SHAPES + SQUARE_SHAPES
             if not (quick and shape in QUICK_SKIPS)]
    batch, inputs, outputs = TRAIN_LAYER
    specs += [("matmul", "tn", (inputs, batch, outputs)),   # dW (I, O) = Xᵀ (I, B) · dY (B, O)
              ("matmul", "nt", (batch, outputs, inputs))]   # dX (B, I) = dY (B, O) · Wᵀ (O, I)
    specs += [("dense", kind, shape) for kind in DENSE_KINDS for shape in MLP_SHAPES]
    specs += [("overhead", "out", shape) for shape in OVERHEAD_SHAPES]
    return specs


def build_cases(quick, libraries, rng):
    """Every case, with its operands and the call of each library that offers its kind."""
    cases = []
    for section, kind, (m, k, n) in case_specs(quick):
        case = Case(section, kind, m, k, n, make_operands(kind, m, k, n, rng))
        case.calls = {lib.name: lib.bind(kind, case.operands) for lib in libraries if kind in lib.kinds}
        cases.append(case)
    return cases


def time_overhead(cases, settings):
    """Per-call times (min and median over many rounds) of the out= products at 32×300×100,
    1×1×1 and M=0, and fastdnn's overhead outside arithmetic."""
    load = OtherLoad().start()
    rows = [time_case(case, settings.overhead_rounds, settings.overhead_block_s, settings.warmup_s)
            for case in cases]
    other_cpus = load.stop()
    a, b, c = (row["libraries"]["fastdnn"]["best_s"] * 1e6 for row in rows)
    return {
        "rows": rows,
        "summary": {"call_32x300x100_us": a, "overhead_1x1x1_us": b, "overhead_m0_us": c,
                    "overhead_share_of_32x300x100": b / a},
        "other_load_cpus": other_cpus,
    }


def threshold_sweep(settings, rng):
    """fastdnn on 1 thread vs 2 threads on small products, with the parallel threshold at 0.

    Returns the per-size times and speedups, and the crossover: the smallest size (in flops)
    from which 2 threads are faster at every larger size measured (None if never).
    """
    if fastdnn.build_info()["logical_cpus"] < 2:
        return {"skipped": "this machine has one logical CPU"}
    calls = {}
    for m, k, n in THRESHOLD_SHAPES:
        a, b = rng.random((m, k), dtype=np.float32), rng.random((k, n), dtype=np.float32)
        c = np.empty((m, n), np.float32)
        calls[m, k, n] = lambda a=a, b=b, c=c: fastdnn.ops.matmul(a, b, out=c)
    times = {threads: {shape: [] for shape in calls} for threads in (1, 2)}
    reps = {}
    saved_threads, saved_threshold = fastdnn.get_num_threads(), _C.gemm_parallel_threshold()
    load = OtherLoad().start()
    try:
        _C.set_gemm_parallel_threshold(0)
        for threads in (1, 2):
            fastdnn.set_num_threads(threads)
            for shape, call in calls.items():
                warm_up(call, settings.warmup_s)
                reps[threads, shape] = calibrate(call, settings.overhead_block_s)
        # Each round runs every size on 1 thread, then on 2: a switch restarts the pool's
        # workers, so switches are few and each is followed by a short warm-up.
        for _ in range(settings.rounds):
            for threads in (1, 2):
                fastdnn.set_num_threads(threads)
                warm_up(calls[THRESHOLD_SHAPES[-1]], 0.005)
                for shape, call in calls.items():
                    n = reps[threads, shape]
                    times[threads][shape].append(run_block(call, n) / n)
    finally:
        fastdnn.set_num_threads(saved_threads)
        _C.set_gemm_parallel_threshold(saved_threshold)
    other_cpus = load.stop()
    rows = []
    for m, k, n in sorted(calls, key=lambda s: s[0] * s[1] * s[2]):
        one, two = min(times[1][m, k, n]), min(times[2][m, k, n])
        rows.append({"shape": [m, k, n], "flops": 2 * m * k * n, "t1_us": one * 1e6, "t2_us": two * 1e6,
                     "speedup": one / two})
    crossover = None
    for row in reversed(rows):
        if row["speedup"] <= 1:
            break
        crossover = row["flops"]
    return {"rows": rows, "crossover_flops": crossover, "threshold_flops": saved_threshold,
            "other_load_cpus": other_cpus}


# ---------------------------------------------------------------------------------------------
# Reports
# ---------------------------------------------------------------------------------------------

TABLE_LEGEND = ("GFLOP/s = 2*M*K*N flops / best per-call time; ratio = fastdnn speed / peer speed "
                "(> 1: fastdnn faster);\nother = CPUs kept busy by other processes meanwhile: a row with other "
                f"> {NOISY_OTHER_CPUS} is disturbed (2-thread BLAS calls stall while a CPU is taken).")


def table_header(peers):
    """Header lines of a speed table: fastdnn's GFLOP/s, then each peer's and the ratio."""
    head = f"{'case':<16} {'MxKxN':>15} {'fastdnn':>9}"
    for name in peers:
        head += f" {name:>9} {'ratio':>6}"
    head += f" {'other':>6}"
    return [head, "-" * len(head)]


def table_row(result, peers):
    """One case as a table line; a peer missing from the case shows as '-'."""
    libs = result["libraries"]
    line = f"{result['case']:<16} {'x'.join(map(str, result['shape'])):>15} {libs['fastdnn']['gflops']:>9.1f}"
    for name in peers:
        if name in libs:
            line += f" {libs[name]['gflops']:>9.1f} {result['ratio'][name]:>6.2f}"
        else:
            line += f" {'-':>9} {'-':>6}"
    other = result["other_load_cpus"]
    return line + (f" {other:>6.2f}" if other is not None else f" {'-':>6}")


def overhead_lines(overhead):
    """The overhead section as printable lines."""
    lines = [f"{'call (out=c)':<30} {'fastdnn min':>12} {'median':>9} {'numpy min':>11} {'median':>9}"
             "   (us per call)"]
    for name, row in zip(OVERHEAD_NAMES, overhead["rows"]):
        fast, peer = row["libraries"]["fastdnn"], row["libraries"]["numpy"]
        lines.append(f"{name:<30} {fast['best_s'] * 1e6:>12.2f} {fast['median_s'] * 1e6:>9.2f} "
                     f"{peer['best_s'] * 1e6:>11.2f} {peer['median_s'] * 1e6:>9.2f}")
    s = overhead["summary"]
    share = 100 * s["overhead_share_of_32x300x100"]
    lines.append(f"fastdnn overhead outside arithmetic: {s['overhead_1x1x1_us']:.2f} us (1x1x1), "
                 f"{s['overhead_m0_us']:.2f} us (M=0); the 32x300x100 call takes "
                 f"{s['call_32x300x100_us']:.2f} us ({share:.0f}% overhead)")
    if overhead["other_load_cpus"] is not None:
        lines.append(f"other processes kept {overhead['other_load_cpus']:.2f} CPUs busy meanwhile")
    return lines


def threshold_lines(sweep):
    """The threshold sweep as printable lines."""
    if "rows" not in sweep:
        return [f"skipped: {sweep['skipped']}"]
    lines = [f"{'MxKxN':>12} {'flops':>12} {'1 thread us':>12} {'2 threads us':>13} {'speedup':>8}"]
    for row in sweep["rows"]:
        lines.append(f"{'x'.join(map(str, row['shape'])):>12} {row['flops']:>12,} {row['t1_us']:>12.2f} "
                     f"{row['t2_us']:>13.2f} {row['speedup']:>8.2f}")
    if sweep["crossover_flops"] is None:
        lines.append("crossover: none; 2 threads never paid off consistently in this range.")
    else:
        lines.append(f"crossover: 2 threads faster from {sweep['crossover_flops']:,} flops up "
                     f"(current threshold {sweep['threshold_flops']:,} flops)")
    if sweep["other_load_cpus"] is not None:
        lines.append(f"other processes kept {sweep['other_load_cpus']:.2f} CPUs busy meanwhile "
                     "(2 threads cannot pay off while the second CPU is taken)")
    return lines


def write_json(results, path):
    """Writes the results dict as JSON, creating the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, allow_nan=False) + "\n")


# ---------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------

def run(quick=True, threads=None, threshold=False, json_path=None, verbose=True):
    """Runs the benchmark and returns every number as a dict.

    Args:
        quick: fewer, shorter rounds and no 2048³ (a smoke test of under ~20 s).
        threads: thread count of fastdnn, torch, and NumPy's BLAS where threadpoolctl is
            installed; default: fastdnn's current count. All are restored afterwards.
        threshold: also sweep 1 vs 2 threads on small products.
        json_path: where to write the results as JSON; None writes nothing.
        verbose: print the machine summary and the tables as they are measured.

    Raises:
        CheckError: if a fastdnn result is wrong (checked before anything is timed).
    """
    say = print if verbose else (lambda *args, **kwargs: None)
    saved_threads = fastdnn.get_num_threads()
    peers = []
    try:
        if threads is not None:
            fastdnn.set_num_threads(threads)
        threads = fastdnn.get_num_threads()
        peers, skipped = load_peers(threads)
        limit, numpy_matched = numpy_thread_limit(threads)
        with limit:
            results = measure(Settings.for_mode(quick), threads, threshold, peers, skipped,
                              numpy_matched, say)
    finally:
        fastdnn.set_num_threads(saved_threads)
        for peer in peers:
            peer.close()
    if json_path is not None:
        write_json(results, json_path)
        say(f"\nwrote {json_path}")
    return results


def measure(settings, threads, threshold, peers, skipped, numpy_matched, say):
    """The body of `run`: describes the machine, checks every result, then times each section."""
    timestamp = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    run_load = OtherLoad().start()
    info = machine_info(peers, skipped, numpy_matched)
    for line in machine_lines(info, threads):
        say(line)
    notes = environment_warnings(threads, numpy_matched, peers)
    for note in notes:
        say(f"WARNING: {note}")

    libraries = [FastdnnLib()] + peers
    rng = np.random.default_rng(0)
    cases = build_cases(settings.quick, libraries, rng)
    checks = check_cases(cases, libraries, say)
    worst = max(check["worst"] for check in checks if check["library"] == "fastdnn")  # all passed
    say(f"\ncorrectness: {len(checks)} results match float64 NumPy (|ref-x| <= {ATOL:g} + {RTOL:g}*|ref|); "
        f"fastdnn's worst error is {worst:.3f}x the tolerance")

    peer_names = [peer.name for peer in peers]
    say("\n" + TABLE_LEGEND)
    sections = {}
    titles = {"matmul": "matmul:", "dense": "fused dense (vs the same formula as separate ops):"}
    for section, title in titles.items():
        say(f"\n{title}")
        for line in table_header(peer_names):
            say(line)
        sections[section] = []
        for case in (c for c in cases if c.section == section):
            sections[section].append(time_case(case, settings.rounds, settings.block_s, settings.warmup_s))
            say(table_row(sections[section][-1], peer_names))

    say("\nper-call overhead:")
    overhead = time_overhead([c for c in cases if c.section == "overhead"], settings)
    for line in overhead_lines(overhead):
        say(line)

    sweep = None
    if threshold:
        say("\nparallel threshold sweep (fastdnn, threshold set to 0, out=c):")
        sweep = threshold_sweep(settings, rng)
        for line in threshold_lines(sweep):
            say(line)

    other_cpus = run_load.stop()
    if other_cpus is not None and other_cpus > NOISY_OTHER_CPUS:
        notes.append(f"other processes kept {other_cpus:.2f} CPUs busy on average during the run, so "
                     "the numbers are disturbed (see the 'other' column); rerun on a quiet machine.")
        say(f"\nWARNING: {notes[-1]}")
    return {
        "benchmark": "gemm",
        "timestamp": timestamp,
        "settings": {**dataclasses.asdict(settings), "threads": threads, "rtol": RTOL, "atol": ATOL},
        "machine": info,
        "warnings": notes,
        "other_load_cpus": other_cpus,
        "checks": checks,
        "matmul": sections["matmul"],
        "dense": sections["dense"],
        "overhead": overhead,
        "threshold": sweep,
    }


def parse_args(argv=None):
    """Command-line flags."""
    parser = argparse.ArgumentParser(
        description="GEMM benchmark: fastdnn vs NumPy (and torch, jax where installed).")
    parser.add_argument("--quick", action="store_true",
                        help="fewer, shorter rounds and no 2048^3 (under ~20 s)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for fastdnn and its peers (default: fastdnn's default)")
    parser.add_argument("--threshold", action="store_true",
                        help="also time 1 vs 2 threads on small products to find the parallel crossover")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, metavar="PATH",
                        help="where to write the results (default: benchmarks/results/gemm.json)")
    args = parser.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be a positive integer")
    return args


def main(argv=None):
    """Runs the benchmark from the command line; exits 1 if a correctness check fails."""
    args = parse_args(argv)
    try:
        run(quick=args.quick, threads=args.threads, threshold=args.threshold, json_path=args.json)
    except CheckError as exc:
        print(f"ABORTED: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
