#!/usr/bin/env bash
# Throwaway database servers for the test suite, on 127.0.0.1, from Debian packages.
#   source scripts/test-services.sh; start_test_services; ...; stop_test_services
# start_test_services exports one URL per service (OPSTREAM_TEST_POSTGRES_URL,
# OPSTREAM_TEST_REDIS_URL, OPSTREAM_TEST_MYSQL_URL, OPSTREAM_TEST_MONGO_URL).
# OPSTREAM_TEST_MONGO_URL points at the Mongo-wire stand-in (mockupdb+mongomock), not a real MongoDB:
# Debian has no MongoDB server (docs/storage/mongo.md). A service that cannot start fails the run: tests never skip silently.

TEST_SERVICES_DIR=""
TEST_SERVICES_SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"  # resolved while sourcing

free_port() {  # an unused TCP port on 127.0.0.1
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

start_postgres() {
  local bin=/usr/lib/postgresql/15/bin port; port=$(free_port)
  install -d -o postgres -g postgres -m 700 "$TEST_SERVICES_DIR/pg"
  runuser -u postgres -- "$bin/initdb" -D "$TEST_SERVICES_DIR/pg" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
    --no-sync >/dev/null
  runuser -u postgres -- "$bin/pg_ctl" -D "$TEST_SERVICES_DIR/pg" -l "$TEST_SERVICES_DIR/pg/log" -w -t 30 \
    -o "-p $port -c listen_addresses=127.0.0.1 -k $TEST_SERVICES_DIR/pg -c max_connections=200" start >/dev/null
  psql -h 127.0.0.1 -p "$port" -U postgres -qc 'CREATE DATABASE opstream_test' >/dev/null
  export OPSTREAM_TEST_POSTGRES_URL="Host=127.0.0.1;Port=$port;Username=postgres;Database=opstream_test"
}

start_redis() {
  local port; port=$(free_port)
  redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --daemonize yes \
    --pidfile "$TEST_SERVICES_DIR/redis.pid" --logfile "$TEST_SERVICES_DIR/redis.log" --dir "$TEST_SERVICES_DIR" >/dev/null
  local tries=0
  until redis-cli -p "$port" ping >/dev/null 2>&1; do
    tries=$((tries + 1)); [ $tries -lt 200 ] || { echo "redis did not start" >&2; return 1; }; sleep 0.05
  done
  export OPSTREAM_TEST_REDIS_URL="127.0.0.1:$port"
}

start_mariadb() {
  local port; port=$(free_port)
  install -d -o mysql -g mysql "$TEST_SERVICES_DIR/my"
  mariadb-install-db --no-defaults --user=mysql --datadir="$TEST_SERVICES_DIR/my/data" \
    --auth-root-authentication-method=normal --skip-test-db >/dev/null 2>&1 || { echo "mariadb-install-db failed" >&2; return 1; }
  nohup mariadbd --no-defaults --user=mysql --datadir="$TEST_SERVICES_DIR/my/data" --socket="$TEST_SERVICES_DIR/my/sock" \
    --port="$port" --bind-address=127.0.0.1 --pid-file="$TEST_SERVICES_DIR/my/mysqld.pid" \
    --log-error="$TEST_SERVICES_DIR/my/err.log" --skip-log-bin --innodb-flush-log-at-trx-commit=0 \
    --innodb-buffer-pool-size=128M --max-connections=300 >/dev/null 2>&1 &
  local tries=0
  until mariadb-admin --no-defaults -h127.0.0.1 -P"$port" -uroot ping >/dev/null 2>&1; do
    tries=$((tries + 1)); [ $tries -lt 300 ] || { echo "mariadb did not start" >&2; return 1; }; sleep 0.1
  done
  mariadb --no-defaults -h127.0.0.1 -P"$port" -uroot -e 'CREATE DATABASE opstream_test' >/dev/null
  export OPSTREAM_TEST_MYSQL_URL="Server=127.0.0.1;Port=$port;Uid=root;Pwd=;Database=opstream_test"
}

start_mongo_standin() {
  local port; port=$(free_port)
  # Debian's python (the packages python3-mockupdb and python3-mongomock), not one earlier on PATH.
  nohup /usr/bin/python3 "$TEST_SERVICES_SCRIPTS/mongo-standin.py" "$port" \
    --ready-file "$TEST_SERVICES_DIR/mongo.ready" >"$TEST_SERVICES_DIR/mongo.log" 2>&1 &
  echo $! >"$TEST_SERVICES_DIR/mongo.pid"
  local tries=0
  until [ -s "$TEST_SERVICES_DIR/mongo.ready" ]; do
    tries=$((tries + 1)); [ $tries -lt 200 ] || { echo "Mongo-wire stand-in did not start" >&2; return 1; }; sleep 0.05
  done
  export OPSTREAM_TEST_MONGO_URL="mongodb://localhost:$port/?retryWrites=false&serverSelectionTimeoutMS=5000"
}

start_test_services() {
  TEST_SERVICES_DIR=$(mktemp -d /tmp/opstream-test-services.XXXXXX)
  chmod 755 "$TEST_SERVICES_DIR"
  trap stop_test_services EXIT
  start_postgres
  start_redis
  start_mariadb
  start_mongo_standin
}

stop_test_services() {
  [ -n "$TEST_SERVICES_DIR" ] || return 0
  if [ -f "$TEST_SERVICES_DIR/pg/postmaster.pid" ]; then
    runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$TEST_SERVICES_DIR/pg" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  [ -f "$TEST_SERVICES_DIR/redis.pid" ] && kill "$(cat "$TEST_SERVICES_DIR/redis.pid")" 2>/dev/null || true
  if [ -f "$TEST_SERVICES_DIR/my/mysqld.pid" ]; then
    local mypid; mypid=$(cat "$TEST_SERVICES_DIR/my/mysqld.pid")
    kill "$mypid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$mypid" 2>/dev/null || break; sleep 0.1; done  # before its files go
  fi
  [ -f "$TEST_SERVICES_DIR/mongo.pid" ] && kill "$(cat "$TEST_SERVICES_DIR/mongo.pid")" 2>/dev/null || true
  rm -rf "$TEST_SERVICES_DIR"
  TEST_SERVICES_DIR=""
}
