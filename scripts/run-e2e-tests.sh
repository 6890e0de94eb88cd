#!/usr/bin/env bash
# Runs the end-to-end tests (tests/e2e/*.test.mjs) with node's test runner against
# the real ./g1relay binary over real sockets. G1RELAY_BIN overrides the binary;
# arguments, if any, name the test files to run (default: all).
set -euo pipefail
cd "$(dirname "$0")/.."
export G1RELAY_BIN="${G1RELAY_BIN:-$PWD/g1relay}"
export G1RELAY_TOOLS="${G1RELAY_TOOLS:-$PWD/build/tools}"
export G1_SHARED="${G1_SHARED:-$(cd .. && pwd)/shared}"
shopt -s nullglob
if (($#)); then files=("$@"); else files=(tests/e2e/*.test.mjs); fi
if ((${#files[@]} == 0)); then echo "e2e: no tests yet"; exit 0; fi
exec node --test --test-concurrency=2 --test-timeout=300000 "${files[@]}"
