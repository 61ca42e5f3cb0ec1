#!/usr/bin/env bash
# Builds the native module with AddressSanitizer + UndefinedBehaviorSanitizer and runs the test
# suite against it (arguments go to pytest; default: the whole suite).
#
#   bash tools/sanitize.sh                 # everything
#   bash tools/sanitize.sh tests/test_gemm.py -x
#
# The build lives in build-sanitize/ (package copy in build-sanitize/pkg); nothing installed
# is touched. Python itself is not instrumented, so ASan's runtime is preloaded and its leak
# report (which would list the interpreter's own deliberate leaks) is off; any memory error or
# undefined behaviour in fastdnn aborts the run with a report.
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-sanitize
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DFASTDNN_SANITIZE=ON -DFASTDNN_CUDA=OFF \
  -Dpybind11_DIR="$(python3 -m pybind11 --cmakedir)" >/dev/null
cmake --build "$build" -j"$(nproc)"
rm -rf "$build/pkg" && mkdir -p "$build/pkg"
cp -r python/fastdnn "$build/pkg/"
cp "$build"/_C*.so "$build/pkg/fastdnn/"
# libstdc++ is preloaded too: Python does not link it, and ASan must see it at start-up to
# intercept C++ throws (otherwise the first exception aborts in __cxa_throw).
cxx="${CXX:-g++}"
export LD_PRELOAD="$($cxx -print-file-name=libasan.so) $($cxx -print-file-name=libstdc++.so.6)"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:print_summary=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
export PYTHONPATH="$PWD/$build/pkg${PYTHONPATH:+:$PYTHONPATH}"
export FASTDNN_SANITIZED=1
python3 -c "import fastdnn, sys; assert fastdnn.__file__.startswith('$PWD/$build'), fastdnn.__file__"
if [ "$#" -eq 0 ]; then set -- tests; fi
python3 -m pytest -q -p no:cacheprovider "$@"
