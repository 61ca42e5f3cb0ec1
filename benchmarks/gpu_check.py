"""One script for a machine with an NVIDIA GPU: build, run the CUDA tests, run the GPU benchmarks.

Steps, each in its own process with its own time limit, all within a hard overall budget
(default 470 s, under 8 minutes):
  1. environment: nvidia-smi, nvcc, Python, PyTorch;
  2. build: CMake (FASTDNN_CUDA=ON, Ninja when present) into build-gpu/, then the two modules
     are copied into python/fastdnn/; when the build cannot run (no cmake/nvcc), modules already
     in python/fastdnn/ are used, and the log says so;
  3. tests: pytest tests/cuda (every CUDA op against the CPU, the loss curve, DLPack);
  4. benchmarks: benchmarks/gpu_bench.py (side by side with PyTorch CUDA where installed),
     in --quick form when less than 3 minutes are left.
Everything printed also goes to $OUT/gpu_check.log when $OUT is set (the benchmark JSON lines
to $OUT/gpu_bench.jsonl). Exit status 0 only when the build (or the prebuilt modules), the
tests and the benchmarks all succeeded.

    python benchmarks/gpu_check.py [--budget 470] [--skip-build] [--jobs 16]
"""

import argparse
import glob
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START = time.monotonic()
_log_file = None


def log(msg=""):
    line = f"[{time.monotonic() - START:6.1f}s] {msg}"
    print(line, flush=True)
    if _log_file:
        _log_file.write(line + "\n")
        _log_file.flush()


def run(name, cmd, limit, budget, env=None):
    """Runs `cmd` with at most min(limit, what the budget leaves) seconds; returns (ok, output)."""
    left = budget - (time.monotonic() - START) - 5
    timeout = min(limit, left)
    if timeout < 10:
        log(f"{name}: SKIPPED, {left:.0f} s left in the budget")
        return False, ""
    log(f"{name}: {' '.join(cmd)} (limit {timeout:.0f} s)")
    try:
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                           env={**os.environ, **(env or {})})
        out, ok = p.stdout + p.stderr, p.returncode == 0
        status = f"exit {p.returncode}"
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        out += (e.stderr or b"").decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        ok, status = False, f"TIMEOUT after {timeout:.0f} s"
    except OSError as e:
        out, ok, status = str(e), False, "could not start"
    for line in out.rstrip().splitlines()[-60:]:
        log(f"  | {line}")
    log(f"{name}: {'OK' if ok else 'FAILED'} ({status})")
    return ok, out


def build(args, budget):
    if args.skip_build:
        return prebuilt("--skip-build")
    if not (shutil.which("cmake") and (shutil.which("nvcc") or Path("/usr/local/cuda/bin/nvcc").exists())):
        return prebuilt("cmake or nvcc not found")
    try:
        import pybind11
        pb = pybind11.get_cmake_dir()
    except ImportError:
        return prebuilt("pybind11 not installed")
    gen = ["-G", "Ninja"] if shutil.which("ninja") else []
    nvcc = shutil.which("nvcc") or "/usr/local/cuda/bin/nvcc"
    t = time.monotonic()
    ok, _ = run("configure", ["cmake", "-S", ".", "-B", "build-gpu", *gen, "-DFASTDNN_CUDA=ON",
                              f"-DCMAKE_CUDA_COMPILER={nvcc}", f"-Dpybind11_DIR={pb}",
                              f"-DPython_EXECUTABLE={sys.executable}"], 90, budget)
    ok = ok and run("build", ["cmake", "--build", "build-gpu", "-j", str(args.jobs)], 240, budget)[0]
    if not ok:
        return prebuilt("the build failed")
    for so in glob.glob(str(ROOT / "build-gpu" / "_C*.so")) + glob.glob(str(ROOT / "build-gpu" / "_cuda*.so")):
        shutil.copy(so, ROOT / "python" / "fastdnn")
    log(f"build: {time.monotonic() - t:.0f} s with -j {args.jobs}")
    return True


def prebuilt(why):
    mods = [Path(p).name for p in glob.glob(str(ROOT / "python" / "fastdnn" / "_cuda*.so"))]
    log(f"build: not run ({why}); prebuilt modules in python/fastdnn: {mods or 'none'}")
    return bool(mods)


def main(argv=None):
    global _log_file
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=470.0, help="overall seconds (hard limit)")
    ap.add_argument("--skip-build", action="store_true", help="use the modules already in python/fastdnn")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 4)
    args = ap.parse_args(argv)
    out_dir = os.environ.get("OUT")
    if out_dir:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        _log_file = open(Path(out_dir) / "gpu_check.log", "w")
    budget = args.budget
    env = {"PYTHONPATH": str(ROOT / "python") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    results = {}

    log(f"gpu_check in {ROOT}, budget {budget:.0f} s")
    run("nvidia-smi", ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv"], 20, budget)
    run("versions", [sys.executable, "-c", "import sys, numpy; print(sys.version.split()[0], 'numpy', numpy.__version__)\n"
                     "try:\n import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.is_available())\n"
                     "except ImportError: print('torch not installed')"], 30, budget)

    results["build"] = build(args, budget)
    ok, out = run("import", [sys.executable, "-c", "import fastdnn, json; fastdnn.device('cuda'); "
                             "print(json.dumps({'gemm': fastdnn.cuda.gemm_backend(), 'cublaslt_error': "
                             "fastdnn.cuda.cublaslt_error(), 'self_test': fastdnn.cuda.self_test()}))"], 60, budget, env)
    results["import"] = ok

    left = budget - (time.monotonic() - START)
    ok, _ = run("tests", [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", "tests/cuda"],
                min(200, max(left - 150, 60)), budget, env)
    results["tests"] = ok

    left = budget - (time.monotonic() - START)
    quick = ["--quick"] if left < 180 else []
    ok, out = run("benchmarks", [sys.executable, "benchmarks/gpu_bench.py", *quick], 260, budget, env)
    results["benchmarks"] = ok
    if out_dir:
        with open(Path(out_dir) / "gpu_bench.jsonl", "w") as f:
            f.writelines(line + "\n" for line in out.splitlines() if line.startswith("{"))

    log("summary: " + ", ".join(f"{k} {'OK' if v else 'FAILED'}" for k, v in results.items()) +
        f"; {time.monotonic() - START:.0f} s in all")
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
