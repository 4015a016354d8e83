#!/usr/bin/env bash
# Sanitizer runs (docs/security.md).
#   cmake/run-sanitizers.sh [address]   ASan + UBSan: builds everything in build-asan/ and runs the
#                                       whole test suite there (LSAN_OPTIONS from tests/CMakeLists.txt).
#                                       Micro-benchmarks are skipped; nothing else is.
#   cmake/run-sanitizers.sh thread      TSan: builds the serving tests in build-tsan/ and runs the
#                                       ones where threads meet (the engine's step thread, callers,
#                                       HTTP handlers). OpenMP runs one thread there
#                                       (LLMRT_NUM_THREADS=1): Debian's libgomp is not built with
#                                       TSan, so its own synchronisation would be reported as races.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-address}
case "$mode" in
  address)
    cmake -S . -B build-asan -DLLMRT_SANITIZE=address,undefined -DLLMRT_BUILD_BENCH=OFF >/dev/null
    cmake --build build-asan -j2
    ctest --test-dir build-asan --output-on-failure -j2
    ;;
  thread)
    cmake -S . -B build-tsan -DLLMRT_SANITIZE=thread -DLLMRT_BUILD_BENCH=OFF >/dev/null
    targets=(serving_tests llmrt_plugin_cpu)
    [ -d src/serve ] && targets+=(serve_tests llmrt-serve)
    cmake --build build-tsan -j2 --target "${targets[@]}"
    export LLMRT_NUM_THREADS=1 OMP_NUM_THREADS=1 TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
    build-tsan/bin/serving_tests --gtest_filter='Serving.*'
    if [ -x build-tsan/bin/serve_tests ]; then build-tsan/bin/serve_tests; fi
    echo "run-sanitizers: thread: no race reported"
    ;;
  *)
    echo "usage: cmake/run-sanitizers.sh [address|thread]" >&2
    exit 2
    ;;
esac
