#!/usr/bin/env bash
# Installs everything libllmrt needs to build and test, from Debian's archive only.
# Idempotent: when every package is already installed it does nothing (no apt-get update).
# Run as root (or with sudo available). Used by README.md and by .ci/run.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  libdnnl-dev                                          # oneDNN 2.6 (CPU matmuls)
  libze-dev                                            # Level Zero loader (GPU/NPU discovery)
  ocl-icd-opencl-dev opencl-headers pocl-opencl-icd clinfo  # OpenCL loader, headers, PoCL CPU device
  libgtest-dev libgmock-dev libbenchmark-dev           # tests and micro-benchmarks
  libfmt-dev nlohmann-json3-dev libpcre2-dev libcpp-httplib-dev
  libxxhash-dev                                        # XXH3 checksums of the .llmrt container
  clang libclang-rt-14-dev                             # libFuzzer for tests/fuzz (cmake/run-fuzzers.sh)
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-debian: all ${#packages[@]} packages already installed"
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo_cmd=(sudo)
  else
    echo "setup-debian: must run as root to install: ${missing[*]}" >&2
    exit 1
  fi
fi

echo "setup-debian: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
echo "setup-debian: done"
