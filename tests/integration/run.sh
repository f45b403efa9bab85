#!/usr/bin/env bash
# Runs the black-box integration suite against the opstream-server binary.
#   OPSTREAM_BIN        server binary (default: ../../build/opstream-server from this folder)
#   OPSTREAM_TEST_SEED  seed of the random tests (printed on every run)
#   OPSTREAM_TEST_KEEP_TMP=1 keeps the servers' temporary working directories
#   OPSTREAM_TEST_SERVER_ENV="K1=v1;K2=v2" adds variables to every server (before per-test ones)
# Extra arguments are passed to node (e.g. --test-name-pattern=convergence).
# Exits non-zero when a test fails.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
if [ ! -f node_modules/ws/package.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
if [ -n "${OPSTREAM_BIN:-}" ]; then
  # resolve a relative path against the caller's directory, before the cd above mattered
  case "$OPSTREAM_BIN" in /*) ;; *) OPSTREAM_BIN="$(cd "$OLDPWD" && realpath -m "$OPSTREAM_BIN")" ;; esac
  export OPSTREAM_BIN
fi
shopt -s nullglob
files=(./*.test.mjs)
exec node --test --test-concurrency=1 --test-timeout=120000 --test-reporter=spec "$@" "${files[@]}"
