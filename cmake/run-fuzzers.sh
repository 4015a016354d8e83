#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (ASan + UBSan) in build-fuzz/, writes
# their seed corpora with the project's own writers, and runs each target for a bounded time.
#   cmake/run-fuzzers.sh [SECONDS_PER_TARGET=15] [TARGET...]
# Exits non-zero when a target crashes, leaks, times out (25 s per input) or runs out of memory
# (4 GiB); the input that did it is in build-fuzz/artifacts/TARGET/ — add it to
# tests/fuzz/regressions/TARGET/ once fixed, so every build replays it. Needs clang and
# libclang-rt-14-dev (cmake/setup-debian.sh installs them). docs/security.md has the details.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-15}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(gguf safetensors container tokenizer_json tokenizer_roundtrip chat_template openai_request)

cmake -S . -B build-fuzz -DLLMRT_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLLMRT_BUILD_TESTS=OFF -DLLMRT_BUILD_BENCH=OFF \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build build-fuzz -j2 --target fuzz_targets

corpus=build-fuzz/corpus
build-fuzz/bin/fuzz_seeds "$corpus" "$PWD/../shared"
failed=()
for t in "${targets[@]}"; do
  mkdir -p "build-fuzz/artifacts/$t" "$corpus/$t"
  inputs=("$corpus/$t")
  [ -d "tests/fuzz/regressions/$t" ] && inputs+=("tests/fuzz/regressions/$t")
  echo "fuzz_$t: ${seconds} s"
  if ! ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
      "build-fuzz/bin/fuzz_$t" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=4096 -max_len=262144 \
      -print_final_stats=1 -artifact_prefix="build-fuzz/artifacts/$t/" "${inputs[@]}" >"build-fuzz/fuzz_$t.log" 2>&1; then
    failed+=("$t")
    tail -40 "build-fuzz/fuzz_$t.log"
  fi
  grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb" "build-fuzz/fuzz_$t.log" | tr '\n' ' ' || true
  echo
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "run-fuzzers: FAILED: ${failed[*]} (inputs in build-fuzz/artifacts/)" >&2
  exit 1
fi
echo "run-fuzzers: ${#targets[@]} targets, ${seconds} s each, no crash"
