#!/usr/bin/env bash
# Builds OpStream Server (installing what the build needs) and runs it in the foreground with the
# image defaults: port 8080, memory storage, local backplane. Extra arguments go to the server,
# e.g. scripts/run.sh --OpStream:Transports=websockets
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh build-release
exec build-release/opstream-server "$@"
