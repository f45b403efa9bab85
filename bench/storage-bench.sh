#!/usr/bin/env bash
# Committed ops/s through the server with a given storage provider: 32 clients on one document,
# then 32 clients spread over 32 documents (opstream-loadgen --documents). One JSON line each.
#   bench/storage-bench.sh PROVIDER [CONNECTION_STRING]
#   env: BUILD_DIR (build-dev), PORT (18931), CLIENTS (32), OPS (20000), WARMUP (1000)
# Example: bench/storage-bench.sh postgres "Host=127.0.0.1;Port=5432;Username=postgres;Database=bench"
set -euo pipefail
cd "$(dirname "$0")/.."
provider=${1:?provider}
connection=${2:-}
build=${BUILD_DIR:-build-dev}
port=${PORT:-18931}
clients=${CLIENTS:-32}
log="${TMPDIR:-/tmp}/storage-bench-server-$port.log"
rm -f "$log"
OPSTREAM__TRANSPORTS=websockets ASPNETCORE_URLS="http://127.0.0.1:$port" OPSTREAM__STORAGE__PROVIDER="$provider" \
  OPSTREAM__STORAGE__CONNECTIONSTRING="$connection" "$build/opstream-server" >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  grep -q "Now listening" "$log" && break
  kill -0 $server 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.1
done
for documents in 1 "$clients"; do
  "$build/opstream-loadgen" clients --n "$clients" --documents "$documents" --ops "${OPS:-20000}" \
    --warmup "${WARMUP:-1000}" --ports "$port" --server-pid $server --time-limit-s 120 || true
done
