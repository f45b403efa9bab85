#!/usr/bin/env bash
# Installs the build dependencies and builds. Used by scripts/run.sh, scripts/test.sh and the
# Dockerfile, so CI exercises the container's build steps.
#   scripts/build.sh [BUILD_DIR [CMAKE_OPTION...]]   (default: build-release, server only)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-release}
shift || true
if [ $# -eq 0 ]; then set -- -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOPSTREAM_TESTS=OFF; fi
scripts/deps.sh
# Relative paths in ccache keys let a fresh clone in another folder reuse earlier compilations.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
cmake --build "$dir" -j "${JOBS:-$(nproc)}"
