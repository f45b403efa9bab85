#!/usr/bin/env bash
# Server load benchmarks over the raw WebSocket transport (/collab-ws), see bench/README.md.
#
#   bench/run-benchmarks.sh [ours|anchors|signalr|grpc|all]      (default: all)
#
# `signalr`: raw WebSocket vs the SignalR collaboration hub over WebSockets (/collab), the same
# loads alternated run by run on a server with both transports, and the throughput ratio.
# `grpc`: raw WebSocket vs gRPC `Connect` streams (one HTTP/2 connection per client), the same
# loads alternated run by run, GRPC_REPEATS times, on a server with both transports; then the
# h2load floor (plain HTTP/2 GETs of /health/live, nghttp2-client installed through
# scripts/deps.sh --bench) and a summary with medians, spread and the gRPC / raw ratio.
#
# Environment:
#   BUILD_DIR=build-bench          build folder with opstream-server and opstream-loadgen
#   CLIENT_COUNTS="1 8 32 128"  OPS=20000  FANOUT_READERS=500  FANOUT_OPS=2000
#   IDLE_CONNS="10000 19500 100000"  idle steps (each needs ulimit -n above it, for both processes)
#   SR_IDLE_CONNS="10000"          idle steps of the signalr comparison (join=1)
#   WORKER_THREADS=                OPSTREAM__SERVER__WORKERTHREADS for the server (unset = cores)
#   ANCHORS_DIR=../shared/anchors  peer harness; copied to a temp folder and `npm ci`-ed there
#   ANCHOR_DRIVERS="sharedb hocuspocus"  ANCHOR_CLIENT_COUNTS="1 8 32 128"  ANCHOR_OPS=20000
#   ANCHOR_REPEATS=1  ANCHOR_IDLE_STEPS=5000,10000
#   OPSTREAM_DRIVER_CHECK=1        also run the anchors' own `opstream` driver against our server
#   GRPC_REPEATS=3  H2LOAD_REPEATS=3  H2LOAD_ARGS="-n 100000 -c 10 -m 10"
#   OUT=bench-results/<timestamp>  JSON lines and the Markdown summary
# Every load is bounded by its op/connection count and by a time limit; servers are stopped by PID.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
what="${1:-all}"
BUILD_DIR="${BUILD_DIR:-build-bench}"
CLIENT_COUNTS="${CLIENT_COUNTS:-1 8 32 128}"
OPS="${OPS:-20000}"
FANOUT_READERS="${FANOUT_READERS:-500}"
FANOUT_OPS="${FANOUT_OPS:-2000}"
IDLE_CONNS="${IDLE_CONNS:-10000 19500 100000}"
SR_IDLE_CONNS="${SR_IDLE_CONNS:-10000}"
ANCHORS_DIR="${ANCHORS_DIR:-$root/../shared/anchors}"
ANCHOR_DRIVERS="${ANCHOR_DRIVERS:-sharedb hocuspocus}"
ANCHOR_CLIENT_COUNTS="${ANCHOR_CLIENT_COUNTS:-1 8 32 128}"
ANCHOR_OPS="${ANCHOR_OPS:-20000}"
ANCHOR_REPEATS="${ANCHOR_REPEATS:-1}"
ANCHOR_IDLE_STEPS="${ANCHOR_IDLE_STEPS:-5000,10000}"
OPSTREAM_DRIVER_CHECK="${OPSTREAM_DRIVER_CHECK:-1}"
GRPC_REPEATS="${GRPC_REPEATS:-3}"
H2LOAD_REPEATS="${H2LOAD_REPEATS:-3}"
H2LOAD_ARGS="${H2LOAD_ARGS:--n 100000 -c 10 -m 10}"
OUT="${OUT:-bench-results/$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
server="$root/$BUILD_DIR/opstream-server"
loadgen="$root/$BUILD_DIR/opstream-loadgen"

# Raise the descriptor limit as far as allowed (the idle steps need it in both processes).
ulimit -n 200000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
nofile="$(ulimit -n)"
echo "# output: $OUT  (ulimit -n $nofile, $(nproc) cores, $(uptime | sed 's/.*load average/load average/'))"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

SERVER_PID=""
start_server() {  # $1: number of listening ports
  local nports="${1:-1}" urls="" ports=""
  for _ in $(seq 1 "$nports"); do
    local p; p="$(free_port)"
    urls="${urls:+$urls;}http://127.0.0.1:$p"; ports="${ports:+$ports,}$p"
  done
  local log="$OUT/server.log"
  OPSTREAM__TRANSPORTS="${SERVER_TRANSPORTS:-websockets}" ASPNETCORE_URLS="$urls" \
    ${WORKER_THREADS:+OPSTREAM__SERVER__WORKERTHREADS=$WORKER_THREADS} \
    "$server" >>"$log" 2>&1 &
  SERVER_PID=$!
  SERVER_PORTS="$ports"
  for _ in $(seq 1 100); do
    if python3 - "$SERVER_PORTS" <<'EOF' 2>/dev/null; then break; fi
import socket, sys
for p in sys.argv[1].split(","):
    socket.create_connection(("127.0.0.1", int(p)), timeout=0.2).close()
EOF
    sleep 0.1
  done
}
stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}
trap stop_server EXIT

run_lg() {  # name, time limit, loadgen args...
  local name="$1" limit="$2"; shift 2
  echo "## $name  (load: $(cut -d' ' -f1-3 /proc/loadavg))"
  timeout $((limit + 30)) "$loadgen" "$@" --ports "$SERVER_PORTS" --server-pid "$SERVER_PID" \
    --time-limit-s "$limit" | tee "$OUT/$name.json" || echo "$name failed (exit $?)"
}

if [ "$what" = all ] || [ "$what" = ours ]; then
  for n in $CLIENT_COUNTS; do
    start_server 1
    run_lg "clients-n$n" 180 clients --n "$n" --ops "$OPS"
    stop_server
  done
  start_server 1
  run_lg "fanout-r$FANOUT_READERS" 180 fanout --readers "$FANOUT_READERS" --ops "$FANOUT_OPS"
  stop_server
  for k in $IDLE_CONNS; do
    if [ "$k" -ge $((nofile - 256)) ]; then
      echo "## idle-$k skipped: ulimit -n is $nofile (the hard limit of this environment); $k connections need more"
      continue
    fi
    # Several listening ports and source addresses: one (src, dst) pair has ~28k ephemeral ports.
    nports=$(( (k + 19999) / 20000 ))
    for join in 1 0; do
      start_server "$nports"
      run_lg "idle-$k-join$join" 300 idle --conns "$k" --join "$join" --src-addrs 4 --inflight 256
      stop_server
    done
  done
fi

if [ "$what" = all ] || [ "$what" = signalr ]; then
  # Alternating raw and SignalR run by run spreads the noise of a shared machine over both.
  SERVER_TRANSPORTS=websockets,signalr
  for n in $CLIENT_COUNTS; do
    for t in raw signalr; do
      start_server 1
      run_lg "sr-$t-clients-n$n" 180 clients --n "$n" --ops "$OPS" --transport "$t"
      stop_server
    done
  done
  for t in raw signalr; do
    start_server 1
    run_lg "sr-$t-fanout-r$FANOUT_READERS" 180 fanout --readers "$FANOUT_READERS" --ops "$FANOUT_OPS" --transport "$t"
    stop_server
  done
  for k in $SR_IDLE_CONNS; do
    if [ "$k" -ge $((nofile - 256)) ]; then echo "## sr idle-$k skipped: ulimit -n is $nofile"; continue; fi
    for t in raw signalr; do
      start_server $(( (k + 19999) / 20000 ))
      run_lg "sr-$t-idle-$k" 300 idle --conns "$k" --join 1 --src-addrs 4 --inflight 256 --transport "$t"
      stop_server
    done
  done
  unset SERVER_TRANSPORTS
  python3 - "$OUT" <<'EOF' | tee "$OUT/summary-signalr.md"
import glob, json, os, sys
out = sys.argv[1]
def load(name):
    try:
        with open(os.path.join(out, name + ".json")) as f:
            return json.loads(f.read().strip().splitlines()[-1])
    except Exception:
        return None
def f(x, p=1):
    return "–" if x is None else f"{x:,.{p}f}"
def key(s):
    digits = "".join(c for c in s.split("-")[-1] if c.isdigit())
    return (s.split("-")[0], int(digits or 0))
names = sorted({os.path.basename(p)[len("sr-raw-"):-5] for p in glob.glob(os.path.join(out, "sr-raw-*.json"))}, key=key)
print("| scenario | raw ops/s | SignalR ops/s | SignalR / raw | deliveries/s raw / SignalR | server CPU µs/op raw / SignalR | µs/delivery | ack p50 ms | all-recv p99 ms | load raw / SignalR |")
print("|---|---:|---:|---:|---|---|---|---|---|---|")
for name in names:
    r, s = load("sr-raw-" + name), load("sr-signalr-" + name)
    if not r or not s: continue
    pair = lambda k, p=1: f"{f(r.get(k), p)} / {f(s.get(k), p)}"
    if r["scenario"] == "idle":
        print(f"| {name} | held {r.get('ok')} | held {s.get('ok')} | – | – | RSS bytes/conn {pair('server_rss_bytes_per_conn', 0)} | – | "
              f"connect s {pair('connect_s', 2)} | – | {pair('load_avg_1m', 2)} |")
        continue
    ratio = s["ops_per_s"] / r["ops_per_s"] if r.get("ops_per_s") and s.get("ops_per_s") else None
    print(f"| {name} | {f(r.get('ops_per_s'),0)} | {f(s.get('ops_per_s'),0)} | {f(ratio,2)} | {pair('deliveries_per_s', 0)} | "
          f"{pair('server_cpu_us_per_op')} | {pair('server_cpu_us_per_delivery', 2)} | {pair('ack_p50_ms', 2)} | "
          f"{pair('all_received_p99_ms', 2)} | {pair('load_avg_1m', 2)} |")
EOF
fi

if [ "$what" = all ] || [ "$what" = grpc ]; then
  scripts/deps.sh --bench  # h2load; skipped without touching the network when installed
  SERVER_TRANSPORTS=websockets,grpc
  # Alternating raw and gRPC run by run, and repeating the whole series, spreads the noise of a
  # shared machine over both and shows it (min–max in the summary).
  for rep in $(seq 1 "$GRPC_REPEATS"); do
    for n in $CLIENT_COUNTS; do
      for t in raw grpc; do
        start_server 1
        run_lg "grpc-$t-clients-n$n-rep$rep" 180 clients --n "$n" --ops "$OPS" --transport "$t"
        stop_server
      done
    done
    for t in raw grpc; do
      start_server 1
      run_lg "grpc-$t-fanout-r$FANOUT_READERS-rep$rep" 180 fanout --readers "$FANOUT_READERS" --ops "$FANOUT_OPS" --transport "$t"
      stop_server
    done
  done
  start_server 1
  for rep in $(seq 1 "$H2LOAD_REPEATS"); do
    echo "## h2load-rep$rep  (load: $(cut -d' ' -f1-3 /proc/loadavg))"
    # shellcheck disable=SC2086  # H2LOAD_ARGS is a list of options
    timeout 300 h2load $H2LOAD_ARGS "http://127.0.0.1:$SERVER_PORTS/health/live" >"$OUT/h2load-rep$rep.txt" 2>&1 ||
      echo "h2load-rep$rep failed (exit $?)"
    grep -E '^(finished in|requests:|time for request:)' "$OUT/h2load-rep$rep.txt" || true
  done
  stop_server
  unset SERVER_TRANSPORTS
  python3 - "$OUT" "$H2LOAD_ARGS" <<'EOF' | tee "$OUT/summary-grpc.md"
import glob, json, os, re, statistics, sys
out, h2args = sys.argv[1], sys.argv[2]
def load(p):
    try:
        with open(p) as f:
            return json.loads(f.read().strip().splitlines()[-1])
    except Exception:
        return None
runs = {}
for p in glob.glob(os.path.join(out, "grpc-*-rep*.json")):
    m = re.match(r"grpc-(raw|grpc)-(.*)-rep\d+\.json$", os.path.basename(p))
    d = load(p)
    if m and d: runs.setdefault(m.group(2), {}).setdefault(m.group(1), []).append(d)
def vals(ds, k):
    return [d[k] for d in ds if isinstance(d.get(k), (int, float))]
def med(ds, k):
    v = vals(ds, k)
    return statistics.median(v) if v else None
def f(x, p=1):
    return "–" if x is None else f"{x:,.{p}f}"
def spread(ds, k, p=0):
    v = vals(ds, k)
    if not v: return "–"
    return f"{f(statistics.median(v), p)} ({f(min(v), p)}–{f(max(v), p)})" if len(v) > 1 else f(v[0], p)
def key(s):
    return (s.split("-")[0], int("".join(c for c in s.split("-")[1] if c.isdigit()) or 0))
print("Medians of the repeats, (min–max) for throughput. All-received latency for N > 1 and the fan-out, ack latency for N = 1.")
print()
print("| scenario | runs raw / gRPC | raw ops/s | gRPC ops/s | gRPC / raw | deliveries/s raw / gRPC | p50 ms raw / gRPC | p99 ms raw / gRPC | server CPU µs/op raw / gRPC | µs/delivery raw / gRPC | loadgen CPU % raw / gRPC | gRPC streams ended OK | load |")
print("|---|---|---:|---:|---:|---|---|---|---|---|---|---|---|")
for name in sorted(runs, key=key):
    r, g = runs[name].get("raw", []), runs[name].get("grpc", [])
    if not r or not g: continue
    lat = "all_received" if r[0].get("all_received_p50_ms") is not None else "ack"
    pair = lambda k, p=1: f"{f(med(r, k), p)} / {f(med(g, k), p)}"
    ratio = med(g, "ops_per_s") / med(r, "ops_per_s") if med(r, "ops_per_s") and med(g, "ops_per_s") else None
    ok = f"{sum(d.get('grpc_closed_ok', 0) for d in g)} / {sum(d.get('grpc_streams', 0) for d in g)}"
    loads = vals(r + g, "load_avg_1m")
    print(f"| {name} | {len(r)} / {len(g)} | {spread(r, 'ops_per_s')} | {spread(g, 'ops_per_s')} | {f(ratio, 2)} | "
          f"{pair('deliveries_per_s', 0)} | {pair(lat + '_p50_ms', 2)} | {pair(lat + '_p99_ms', 2)} | "
          f"{pair('server_cpu_us_per_op')} | {pair('server_cpu_us_per_delivery', 2)} | {pair('loadgen_cpu_pct')} | "
          f"{ok} | {f(min(loads), 1)}–{f(max(loads), 1)} |")
h2 = []
for p in sorted(glob.glob(os.path.join(out, "h2load-rep*.txt"))):
    t = open(p).read()
    m = re.search(r"finished in ([\d.]+)s, ([\d.]+) req/s", t)
    ok = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed", t)
    mean = re.search(r"time for request:\s+\S+\s+\S+\s+(\S+)", t)
    if m: h2.append((float(m.group(2)), ok.group(1) if ok else "?", ok.group(2) if ok else "?", mean.group(1) if mean else "?"))
if h2:
    rps = [x[0] for x in h2]
    print()
    print(f"h2load floor (`h2load {h2args} http://127.0.0.1:PORT/health/live`, {len(h2)} runs): "
          f"{statistics.median(rps):,.0f} req/s median ({min(rps):,.0f}–{max(rps):,.0f}); "
          f"succeeded/failed per run: {', '.join(x[1] + '/' + x[2] for x in h2)}; mean request time: {', '.join(x[3] for x in h2)}")
EOF
fi

if [ "$what" = all ] || [ "$what" = anchors ]; then
  tmp="$(mktemp -d)"
  cp -r "$ANCHORS_DIR/." "$tmp/"
  chmod -R u+w "$tmp"
  (cd "$tmp" && npm ci --no-audit --no-fund >"$OUT/npm-ci.log" 2>&1) || echo "npm ci failed, see $OUT/npm-ci.log"
  trace="$root/../shared/data/automerge-paper.json.gz"
  (cd "$tmp" && TRACE_FILE="$trace" DRIVERS="$ANCHOR_DRIVERS" CLIENT_COUNTS="$ANCHOR_CLIENT_COUNTS" OPS="$ANCHOR_OPS" \
     REPEATS="$ANCHOR_REPEATS" REPEATS_HEAVY=1 FANOUT_READERS="$FANOUT_READERS" FANOUT_OPS="$FANOUT_OPS" \
     IDLE_STEPS="$ANCHOR_IDLE_STEPS" OUT="$OUT/anchors" ./run-all.sh servers) | tee "$OUT/anchors.log" || true
  if [ "$OPSTREAM_DRIVER_CHECK" = 1 ]; then
    # The peers' own OpStream driver against our server: an independent protocol check.
    (cd "$tmp" && OPSTREAM__TRANSPORTS=websockets OPSTREAM_CMD="$server" DRIVERS=opstream CLIENT_COUNTS="1 8 32" \
       OPS=5000 REPEATS=1 FANOUT_READERS=100 FANOUT_OPS=500 IDLE_STEPS=1000 OUT="$OUT/opstream-driver" \
       ./run-all.sh servers) | tee "$OUT/opstream-driver.log" || true
  fi
  rm -rf "$tmp"
fi

[ "$what" = signalr ] || [ "$what" = grpc ] && exit 0
# Markdown summary of our runs (and ratios against the anchors when their JSON is present).
python3 - "$OUT" <<'EOF' | tee "$OUT/summary.md"
import glob, json, os, sys
out = sys.argv[1]
def load(p):
    try:
        with open(p) as f:
            text = f.read().strip()
        try:
            return json.loads(text)
        except ValueError:
            return json.loads(text.splitlines()[-1])
    except Exception:
        return None
def anchor(driver, scen, n):
    best = None
    for p in glob.glob(os.path.join(out, "anchors", f"server-{driver}-{scen}*.json")):
        if scen == "clients" and f"-n{n}-r" not in p: continue
        d = load(p)
        if d: best = d
    return best
def g(d, *keys):
    for k in keys:
        if isinstance(d, dict) and k in d: d = d[k]
        else: return None
    return d
def f(x, p=1):
    return "–" if x is None else (f"{x:,.{p}f}" if isinstance(x, (int, float)) else str(x))
def ratio(d, drv, scen, n):
    a = anchor(drv, scen, n)
    r = g(a, "result") or {}
    if scen == "fanout":
        thr, ours_thr = r.get("deliveriesPerSec"), d.get("deliveries_per_s")
        cpu, ours_cpu = r.get("serverCpuUsPerDelivery"), d.get("server_cpu_us_per_delivery")
    else:
        thr, ours_thr = r.get("opsPerSec"), d.get("ops_per_s")
        cpu, ours_cpu = r.get("serverCpuUsPerOp"), d.get("server_cpu_us_per_op")
    t = f"{ours_thr/thr:.1f}×" if thr and ours_thr else "–"
    c = f"{cpu/ours_cpu:.1f}×" if cpu and ours_cpu else "–"
    return f"{t} / {c}"
print("| scenario | ops/s | deliveries/s | all-recv p50 ms | all-recv p99 ms | ack p50 / p99 ms | server CPU µs/op | µs/delivery | loadgen CPU % | server CPU % | vs ShareDB: throughput / CPU efficiency | vs Hocuspocus | load |")
print("|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
for p in sorted(glob.glob(os.path.join(out, "clients-n*.json")), key=lambda s: int(s.split("-n")[-1][:-5])) + \
         sorted(glob.glob(os.path.join(out, "fanout-*.json"))):
    d = load(p)
    if not d: continue
    name = os.path.basename(p)[:-5]
    scen = d["scenario"]; n = d.get("n") or d.get("readers")
    ratios = [ratio(d, drv, scen, n) for drv in ("sharedb", "hocuspocus")]
    print(f"| {name} | {f(d.get('ops_per_s'),0)} | {f(d.get('deliveries_per_s'),0)} | {f(d.get('all_received_p50_ms'),2)} | "
          f"{f(d.get('all_received_p99_ms'),2)} | {f(d.get('ack_p50_ms'),2)} / {f(d.get('ack_p99_ms'),2)} | "
          f"{f(d.get('server_cpu_us_per_op'),1)} | {f(d.get('server_cpu_us_per_delivery'),3)} | {f(d.get('loadgen_cpu_pct'))} | "
          f"{f(d.get('server_cpu_pct'))} | {ratios[0]} | {ratios[1]} | {f(d.get('load_avg_1m'),2)} |")
print()
print("| idle scenario | conns held | failed | server RSS before → after MiB | bytes/conn (RSS) | bytes/conn (HWM) | connect s | load |")
print("|---|---:|---:|---|---:|---:|---:|---:|")
for p in sorted(glob.glob(os.path.join(out, "idle-*.json"))):
    d = load(p)
    if not d: continue
    print(f"| {os.path.basename(p)[:-5]} | {d['ok']:,} | {d['failed']} | {d['server_rss_before_kib']/1024:.1f} → "
          f"{d['server_rss_after_kib']/1024:.1f} | {f(d.get('server_rss_bytes_per_conn'),0)} | "
          f"{f(d.get('server_hwm_bytes_per_conn'),0)} | {f(d.get('connect_s'),2)} | {f(d.get('load_avg_1m'),2)} |")
EOF
