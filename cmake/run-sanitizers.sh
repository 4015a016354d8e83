#!/usr/bin/env bash
# Builds everything with ASan + UBSan in build-asan/ and runs the whole test suite there
# (LSAN_OPTIONS from tests/CMakeLists.txt). Micro-benchmarks are skipped; nothing else is.
#   cmake/run-sanitizers.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-asan -DLLMRT_SANITIZE=address,undefined -DLLMRT_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j2
ctest --test-dir build-asan --output-on-failure -j2
