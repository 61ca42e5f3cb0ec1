#!/usr/bin/env bash
# Builds the CUDA backend on the CUDA simulator (csrc/cuda/sim: the kernels run on the CPU) and
# runs the CUDA tests against it twice, so they check every kernel where no GPU exists: once in
# thread order, once with blocks and threads run last first (FASTDNN_CUDA_SIM_ORDER=reverse),
# which exposes kernels that lean on an order the GPU does not promise. Arguments go to pytest;
# default: tests/cuda.
#
#   bash tools/cuda_sim.sh
#   bash tools/cuda_sim.sh tests/cuda/test_ops.py -k gemm
#
# The build lives in build-sim/; the installed fastdnn is tested (or PYTHONPATH's), with
# FASTDNN_CUDA_SIM naming the simulator's module. cuBLASLt and DLPack with GPU frameworks need
# a real GPU: those tests skip here.
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-sim
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DFASTDNN_CUDA=OFF -DFASTDNN_CUDA_SIM=ON \
  -Dpybind11_DIR="$(python3 -m pybind11 --cmakedir)" >/dev/null
cmake --build "$build" -j"$(nproc)" --target _cuda_sim
FASTDNN_CUDA_SIM="$(ls "$PWD/$build"/_cuda_sim*.so)"
export FASTDNN_CUDA_SIM
if [ "$#" -eq 0 ]; then set -- tests/cuda; fi
FASTDNN_CUDA_SIM_ORDER=forward python3 -m pytest -q -p no:cacheprovider "$@"
FASTDNN_CUDA_SIM_ORDER=reverse python3 -m pytest -q -p no:cacheprovider "$@"
