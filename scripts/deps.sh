#!/usr/bin/env bash
# Installs every Debian and npm package the build, the server and the tests need.
# Idempotent: packages already present are skipped without touching the network.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_PACKAGES=(
  g++ cmake ninja-build pkg-config ccache mold
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libboost-system1.81-dev
  libnghttp2-dev libsimdjson-dev libfmt-dev libspdlog-dev libsqlite3-dev zlib1g-dev
  libprotobuf-dev protobuf-compiler
  libpq-dev
  libhiredis-dev  # RESP parsing for the Redis storage (and backplane) client
  libmariadb-dev  # MariaDB Connector/C for the MySQL storage
  libmongoc-dev libbson-dev  # MongoDB C driver for the mongo storage
  unixodbc-dev tdsodbc  # ODBC and the FreeTDS driver for the SQL Server storage
)
TEST_PACKAGES=(
  libgtest-dev libgmock-dev librapidcheck-dev libbenchmark-dev sqlite3 nodejs npm
  clang-14 libclang-rt-14-dev  # the libFuzzer build (docs/fuzzing.md), run by hand
  postgresql redis-server redis-tools mariadb-server python3  # real servers for the storage tests (scripts/test-services.sh)
  python3-mockupdb python3-mongomock  # the Mongo-wire stand-in (scripts/mongo-standin.py); not a real MongoDB
  nginx  # the reverse proxy in front of the three-node cluster test (tests/integration/cluster.test.mjs)
)
# Only the load benchmarks need these (bench/run-benchmarks.sh installs them); the tests do not.
BENCH_PACKAGES=(
  nghttp2-client  # h2load: the plain HTTP/2 floor next to the gRPC figures
)

want=("${BUILD_PACKAGES[@]}")
if [ "${1:-}" = "--test" ]; then want+=("${TEST_PACKAGES[@]}"); fi
if [ "${1:-}" = "--bench" ]; then want+=("${BENCH_PACKAGES[@]}"); fi

missing=()
for p in "${want[@]}"; do
  # nodejs may come from another apt source that also provides npm; accept any installed node.
  if [ "$p" = "npm" ] || [ "$p" = "nodejs" ]; then command -v node >/dev/null && command -v npm >/dev/null && continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "${1:-}" = "--test" ]; then
  # Official third-party clients used by the conformance tests, pinned by package-lock.json.
  if [ ! -d tests/integration/node_modules ] || [ tests/integration/package-lock.json -nt tests/integration/node_modules ]; then
    (cd tests/integration && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
