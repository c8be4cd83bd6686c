#!/usr/bin/env bash
# Server builds side by side on one bench question (release binaries you built, e.g. of
# two commits; not part of the test suite):
#
#   scripts/bench-ab.sh SECONDS ROUNDS BIN [BIN…]     P=P1 (default) or P=P2
#   FRESH=1   rebuild the dataset (database gw_ab: the seeded county + 10,000 cases as
#             bench.sh loads them; kept between runs, dropped by hand)
#
# Each round starts each binary in turn on the same database (jobs off), warms it for
# 2 s, then runs wrk at concurrency 8 for SECONDS and prints requests per second and the
# server's CPU (user + system, /proc) per request, checking every answer (HTTP 200, no
# "errors"). Alternating binaries within each round keeps the machine's drift out of
# the comparison; read ratios between binaries of the same round.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh
SECS=$1; ROUNDS=$2; shift 2
BINS=("$@")
B=${P:-P1}
PG=postgres://postgres@127.0.0.1:5432
DB=gw_ab
URL="$PG/$DB?sslmode=disable"
work=${AB_WORK:-/tmp/gridwatch-ab}; mkdir -p "$work"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
pid=
stop() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=; fi; }
trap stop EXIT
start() { local bin=$1; shift
  env GRIDWATCH__DATABASE__URL="$URL" GRIDWATCH__STORAGE__FS_ROOT="$work/evidence" \
    GRIDWATCH__SERVER__ADDR="127.0.0.1:$port" GRIDWATCH__LOG__FILTER=warn \
    GRIDWATCH__LIMITS__LOGIN_PER_IP_PER_MINUTE=10000 GRIDWATCH__JOBS__ENABLED=false "$@" \
    "$bin" serve --demo >>"$work/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 1500); do curl -sf "127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.02; done
}
if [ "${FRESH:-0}" = 1 ] || ! psql -qtA "$PG/postgres" -c "SELECT 1 FROM pg_database WHERE datname='$DB'" | grep -q 1; then
  psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
  start "${BINS[0]}"; stop
  bench_dataset "$URL" 10000
  psql -q "$URL" -c CHECKPOINT
fi
PASSWORD=$(bench_password)
body=$(python3 -c 'import json,sys; print(json.dumps({"query": sys.argv[1]}))' "${QUERY[$B]}")
for r in $(seq 1 "$ROUNDS"); do
  for bin in "${BINS[@]}"; do
    start "$bin"
    tok=$(curl -sf "127.0.0.1:$port/graphql" -H 'content-type: application/json' \
      -d "{\"query\":\"mutation { login(username: \\\"${USER[$B]}\\\", password: \\\"$PASSWORD\\\") { accessToken } }\"}" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["login"]["accessToken"])')
    printf '%s' "$body" >"$work/req.json"
    bench_lua "$work/req.json" "$tok" >"$work/req.lua"
    out=$(curl -sf "127.0.0.1:$port/graphql" -H 'content-type: application/json' -H "authorization: Bearer $tok" -d "$body")
    case "$out" in *'"errors"'*) echo "error: $out"; exit 1;; esac
    wrk -t2 -c8 -d2s -s "$work/req.lua" "http://127.0.0.1:$port/graphql" >/dev/null 2>&1
    c0=$(awk '{print $14+$15}' /proc/$pid/stat)
    res=$(wrk -t2 -c8 -d${SECS}s -s "$work/req.lua" "http://127.0.0.1:$port/graphql" 2>&1)
    c1=$(awk '{print $14+$15}' /proc/$pid/stat)
    n=$(echo "$res" | awk '/requests in/ {print $1}')
    rps=$(echo "$res" | awk '/Requests\/sec/ {print $2}')
    bad=$(echo "$res" | awk '/BAD/ {print $2}')
    tck=$(getconf CLK_TCK)
    us=$(python3 -c "print(round(($c1-$c0)/$tck*1e6/$n))")
    echo "round $r $(basename "$bin"): $rps req/s, $us µs CPU/request"
    [ "$bad" = 0 ] || { echo "bench-ab.sh: $bad answers were not 200 or carried errors"; exit 1; }
    stop
  done
done
