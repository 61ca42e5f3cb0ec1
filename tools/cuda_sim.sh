#!/usr/bin/env bash
# Builds the CUDA backend on the CUDA simulator (csrc/cuda/sim: the kernels run on the CPU) and
# runs the CUDA tests against it twice, so they check every kernel where no GPU exists: once in
# thread order, once with blocks and threads run last first (FASTDNN_CUDA_SIM_ORDER=reverse),
# which exposes kernels that lean on an order the GPU does not promise. Arguments go to pytest;
# default: tests/cuda.
#
#   bash tools/cuda_sim.sh
#   bash tools/cuda_sim.sh tests/cuda/test_ops.py -k gemm
#   bash tools/cuda_sim.sh --sanitize      # the simulator built with ASan + UBSan, run once:
#                                          # an out-of-bounds load or store in a kernel aborts
#
# The build lives in build-sim/ (build-sim-sanitize/); the installed fastdnn is tested (or
# PYTHONPATH's), with FASTDNN_CUDA_SIM naming the simulator's module. cuBLASLt and DLPack with
# GPU frameworks need a real GPU: those tests skip here.
set -euo pipefail
cd "$(dirname "$0")/.."
sanitize=OFF
build=build-sim
if [ "${1:-}" = "--sanitize" ]; then
  shift
  sanitize=ON
  build=build-sim-sanitize
fi
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DFASTDNN_CUDA=OFF -DFASTDNN_CUDA_SIM=ON \
  -DFASTDNN_SANITIZE=$sanitize -Dpybind11_DIR="$(python3 -m pybind11 --cmakedir)" >/dev/null
cmake --build "$build" -j"$(nproc)" --target _cuda_sim
FASTDNN_CUDA_SIM="$(ls "$PWD/$build"/_cuda_sim*.so)"
export FASTDNN_CUDA_SIM
if [ "$#" -eq 0 ]; then set -- tests/cuda; fi
if [ "$sanitize" = ON ]; then
  # As tools/sanitize.sh: Python is not instrumented, so the ASan runtime (and libstdc++, for
  # its throws) is preloaded and the leak report is off.
  cxx="${CXX:-g++}"
  export LD_PRELOAD="$($cxx -print-file-name=libasan.so) $($cxx -print-file-name=libstdc++.so.6)"
  export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:print_summary=1:${ASAN_OPTIONS:-}"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
  export FASTDNN_SANITIZED=1
  python3 -m pytest -q -p no:cacheprovider "$@"
  exit
fi
FASTDNN_CUDA_SIM_ORDER=forward python3 -m pytest -q -p no:cacheprovider "$@"
FASTDNN_CUDA_SIM_ORDER=reverse python3 -m pytest -q -p no:cacheprovider "$@"
