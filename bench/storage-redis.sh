#!/usr/bin/env bash
# Committed ops/s with Redis storage next to memory storage: 32 clients on one document and 32
# clients on 32 documents (opstream-loadgen clients; an op counts when its ack arrived, and the
# server acknowledges only after the store reported the append durable).
#   bench/storage-redis.sh [BUILD_DIR]      (default build-bench; needs opstream-server, opstream-loadgen)
# Uses $OPSTREAM_TEST_REDIS_URL (host:port) when set, else starts a throwaway redis-server.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build-bench}"
server="$build/opstream-server"
loadgen="$build/opstream-loadgen"
OPS="${OPS:-20000}"
tmp=$(mktemp -d /tmp/opstream-storage-bench.XXXXXX)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

REDIS_PID=""
if [ -z "${OPSTREAM_TEST_REDIS_URL:-}" ]; then
  rport=$(free_port)
  redis-server --bind 127.0.0.1 --port "$rport" --save '' --appendonly no --daemonize yes \
    --pidfile "$tmp/redis.pid" --logfile "$tmp/redis.log" --dir "$tmp" >/dev/null
  until redis-cli -p "$rport" ping >/dev/null 2>&1; do sleep 0.05; done
  REDIS_PID=$(cat "$tmp/redis.pid")
  OPSTREAM_TEST_REDIS_URL="127.0.0.1:$rport"
fi

SERVER_PID=""
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}
cleanup() {
  stop_server
  if [ -n "$REDIS_PID" ]; then kill "$REDIS_PID" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

run() {  # storage provider, connection string, documents
  local port; port=$(free_port)
  OPSTREAM__TRANSPORTS=websockets ASPNETCORE_URLS="http://127.0.0.1:$port" OPSTREAM__STORAGE__PROVIDER="$1" \
    OPSTREAM__STORAGE__CONNECTIONSTRING="$2" "$server" >>"$tmp/server.log" 2>&1 &
  SERVER_PID=$!
  until python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), timeout=0.2).close()" 2>/dev/null; do
    sleep 0.1
  done
  echo "## storage=$1 clients=32 documents=$3 (load: $(cut -d' ' -f1-3 /proc/loadavg))"
  "$loadgen" clients --n 32 --documents "$3" --ops "$OPS" --ports "$port" --server-pid "$SERVER_PID" --time-limit-s 60
  stop_server
}

for documents in 1 32; do
  run memory "" "$documents"
  run redis "$OPSTREAM_TEST_REDIS_URL" "$documents"
done
