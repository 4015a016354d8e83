#!/usr/bin/env bash
# The official OpenAI Node SDK against llmrt-serve (ctest: Serve.OpenAiNodeSdk*).
#
#   run_openai_client.sh install NODE_DIR
#       installs the openai npm package into NODE_DIR once (the ctest setup fixture);
#   run_openai_client.sh run LLMRT_SERVE MODEL NODE_DIR SCRIPT
#       starts LLMRT_SERVE on MODEL on a free port, runs SCRIPT (openai_client.mjs) against it,
#       then stops the server with SIGTERM and expects a clean exit.
#
# Without node, npm or a reachable registry the test is skipped (exit 77), never failed.
set -euo pipefail

skip() {
  echo "SKIP: $*"
  exit 77
}

mode=${1:-}
case "$mode" in
  install)
    node_dir=$2
    [[ -d "$node_dir/node_modules/openai" ]] && { echo "openai is already installed in $node_dir"; exit 0; }
    command -v npm >/dev/null || skip "npm is not installed"
    mkdir -p "$node_dir"
    # Bounded (one retry, 240 s at most), so that no registry is a quick skip, not a ctest timeout.
    timeout 240 npm install --prefix "$node_dir" openai@^4 --no-audit --no-fund --fetch-retries=1 ||
      skip "npm install openai@^4 failed (no registry reachable?)"
    ;;
  run)
    serve=$2 model=$3 node_dir=$4 script=$5
    command -v node >/dev/null || skip "node is not installed"
    [[ -d "$node_dir/node_modules/openai" ]] || skip "the openai npm package is not in $node_dir (its install was skipped)"
    # ES modules resolve packages from the script's own folder upwards: run a copy beside node_modules.
    cp "$script" "$node_dir/openai_client.mjs"
    work=$(mktemp -d)
    "$serve" -m "$model" --port 0 --api-key test-key --served-model-name llmrt-tiny >"$work/out" 2>"$work/err" &
    pid=$!
    trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
    for _ in $(seq 300); do
      grep -q "listening on" "$work/out" && break
      kill -0 "$pid" 2>/dev/null || { echo "llmrt-serve exited before listening:"; cat "$work/err"; exit 1; }
      sleep 0.1
    done
    url=$(grep -o 'http://[^ ]*' "$work/out") || { echo "llmrt-serve did not start listening in 30 s:"; cat "$work/err"; exit 1; }
    echo "llmrt-serve: $url"
    node "$node_dir/openai_client.mjs" "$url/v1" llmrt-tiny test-key
    kill -TERM "$pid"
    status=0
    wait "$pid" || status=$?
    trap 'rm -rf "$work"' EXIT
    echo "--- llmrt-serve's log"
    cat "$work/err"
    [[ $status -eq 0 ]] || { echo "llmrt-serve exited with $status after SIGTERM (expected 0)"; exit 1; }
    ;;
  *)
    echo "usage: $0 install NODE_DIR | run LLMRT_SERVE MODEL NODE_DIR SCRIPT" >&2
    exit 2
    ;;
esac
