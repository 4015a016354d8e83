#!/usr/bin/env bash
# README.md's test command (the line after the "test-command" marker's code fence) must
# appear word for word in .ci/run, so what CI checks is what a new user runs.
set -euo pipefail
root=${1:?usage: readme_ci_test.sh SOURCE_DIR}
cmd=$(awk '/<!-- test-command -->/{found=1; next} found && /^```/{if (inblock) exit; inblock=1; next} found && inblock {print; exit}' "$root/README.md")
if [ -z "$cmd" ]; then
  echo "README.md has no <!-- test-command --> block" >&2
  exit 1
fi
if ! grep -qxF -- "$cmd" "$root/.ci/run"; then
  echo "README test command is not a line of .ci/run:" >&2
  echo "  $cmd" >&2
  exit 1
fi
echo "README test command == .ci/run: $cmd"
