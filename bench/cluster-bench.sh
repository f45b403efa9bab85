#!/usr/bin/env bash
# The Redis backplane under load (issue 7): committed ops/s and ack/broadcast latency for CLIENTS
# clients spread round-robin over three nodes (PostgreSQL storage, Redis backplane), on one
# document and on CLIENTS documents, next to the same load on a single node (local backplane);
# then the extra latency of a forwarded op: one client on the owner node, then one client on a
# non-owner node, same document. One JSON line per run (opstream-loadgen's output, labelled).
#   bench/cluster-bench.sh            (starts its own PostgreSQL and Redis via scripts/test-services.sh)
#   env: BUILD_DIR (build-dev, configured with -DOPSTREAM_BENCH=ON), CLIENTS (32), OPS (20000),
#        WARMUP (1000), SINGLE_OPS (5000)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build-dev}
clients=${CLIENTS:-32}
ops=${OPS:-20000}
warmup=${WARMUP:-1000}
source scripts/test-services.sh
TEST_SERVICES_DIR=$(mktemp -d /tmp/opstream-cluster-bench.XXXXXX)
chmod 755 "$TEST_SERVICES_DIR"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  stop_test_services
}
trap cleanup EXIT
start_postgres
start_redis

# start_node PORT BACKPLANE: a server on 127.0.0.1:PORT; its PID is appended to pids.
start_node() {
  local port=$1 backplane=$2 log="$TEST_SERVICES_DIR/node-$1.log"
  OPSTREAM__TRANSPORTS=websockets ASPNETCORE_URLS="http://127.0.0.1:$port" OPSTREAM__STORAGE__PROVIDER=postgres \
    OPSTREAM__STORAGE__CONNECTIONSTRING="$OPSTREAM_TEST_POSTGRES_URL" OPSTREAM__BACKPLANE__PROVIDER="$backplane" \
    OPSTREAM__BACKPLANE__CONNECTIONSTRING="$OPSTREAM_TEST_REDIS_URL" \
    "$build/opstream-server" >"$log" 2>&1 &
  pids+=($!)
  for _ in $(seq 600); do
    grep -q "Now listening" "$log" && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || { cat "$log" >&2; return 1; }
    sleep 0.1
  done
  echo "node on $port did not start:" >&2
  cat "$log" >&2
  return 1
}
stop_nodes() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done; done
  pids=()
}
label() { sed "s/^{/{\"run\":\"$1\",/"; }

ports=($(free_port) $(free_port) $(free_port))

# Single node, local backplane.
start_node "${ports[0]}" local
for documents in 1 "$clients"; do
  "$build/opstream-loadgen" clients --n "$clients" --documents "$documents" --ops "$ops" --warmup "$warmup" \
    --ports "${ports[0]}" --time-limit-s 120 | label "single-node docs=$documents" || true
done
stop_nodes

# Three nodes, Redis backplane; clients round-robin over the nodes.
for port in "${ports[@]}"; do start_node "$port" redis; done
all_ports=$(IFS=,; echo "${ports[*]}")
for documents in 1 "$clients"; do
  "$build/opstream-loadgen" clients --n "$clients" --documents "$documents" --ops "$ops" --warmup "$warmup" \
    --ports "$all_ports" --time-limit-s 120 | label "three-nodes docs=$documents" || true
done

# One client at a time: on the owner (the node that opened the document), then forwarded.
doc="forwarded-$RANDOM$RANDOM"
"$build/opstream-loadgen" clients --n 1 --doc "$doc" --ops "${SINGLE_OPS:-5000}" --warmup 500 \
  --ports "${ports[0]}" --time-limit-s 60 | label "one-client owner" || true
"$build/opstream-loadgen" clients --n 1 --doc "$doc" --ops "${SINGLE_OPS:-5000}" --warmup 500 \
  --ports "${ports[1]}" --time-limit-s 60 | label "one-client forwarded" || true
