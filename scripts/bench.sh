#!/usr/bin/env bash
# The request benchmarks of gridwatch against PostgreSQL's own limit, side by side in
# one run (release build, PostgreSQL on 127.0.0.1:5432, not part of the test suite).
#
#   scripts/bench.sh [SECONDS_PER_ROUND] [ROUNDS]      (default 10 s, 3 rounds)
#
# Loads a dataset (the seeded county plus CASES generated cases, default 10,000, a share
# of them dispatched to one inspector), captures the statements the server runs for
# each request (GRIDWATCH_BENCH_CAPTURE_SQL, values inlined), then runs interleaved
# rounds at concurrency 8: the request through the server with `wrk` (every answer
# checked: HTTP 200 and no "errors"), and the very statements it captured through
# `pgbench` in one transaction. Prints benchmark, our figure, the baseline, the ratio,
# the target and whether it held; writes the same as JSON ($CARGO_TARGET_DIR or target/, bench.json).
#
# P1 inspector `myTasks(first: 20)` with category, region and deadline fields.
# P2 supervisor `cases(first: 100)` with category, region, assignee and last event.
# P7 footprint: resident memory when idle, and time from start to ready.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
ROUNDS=${2:-3}
CASES=${CASES:-10000}
CONC=8
PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
DB=gw_bench

if ! command -v wrk >/dev/null; then
  echo "bench.sh: installing wrk (Debian package)"
  apt-get install -y -qq wrk >/dev/null
fi
command -v pgbench >/dev/null || { echo "bench.sh: pgbench is required (postgresql-client)"; exit 1; }

cargo build --release --quiet --locked
TARGET=${CARGO_TARGET_DIR:-target}
work=$(mktemp -d)
pid=
stop() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=; fi; }
trap 'stop; rm -rf "$work"' EXIT

psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
URL="$PG/$DB?sslmode=disable"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

start() { # start [extra env…]: the server on the bench database; waits until ready
  env GRIDWATCH__DATABASE__URL="$URL" GRIDWATCH__STORAGE__FS_ROOT="$work/evidence" \
    GRIDWATCH__SERVER__ADDR="127.0.0.1:$port" GRIDWATCH__LOG__FILTER=warn \
    GRIDWATCH__LIMITS__LOGIN_PER_IP_PER_MINUTE=10000 "$@" \
    "$TARGET/release/gridwatch" serve --demo >>"$work/server.log" 2>&1 &
  pid=$!
  t0=$(date +%s.%N)
  for _ in $(seq 1 600); do
    curl -sf "127.0.0.1:$port/readyz" >/dev/null && break
    sleep 0.02
  done
  ready_s=$(python3 -c "print($(date +%s.%N) - $t0)")
}

# 1. Migrate and seed (first start), then the dataset.
start GRIDWATCH__JOBS__ENABLED=false
stop
psql -q "$URL" <<SQL
WITH insp AS (SELECT id, region_id FROM app_user WHERE username = 'demo-insp-140521100201'),
     r AS (SELECT id, path FROM region WHERE code = '140521100201'),
     cat AS (SELECT id FROM category WHERE code = 'DUST')
INSERT INTO "case" (number, source, category_id, title, description, status, priority, region_id,
  region_path, lat, lng, outside_grid, assignee_id, rework_count, escalation_level, version,
  accepted_at, due_at, parked_seconds, extended_count, checkin_far, created_at, updated_at)
SELECT 'B' || lpad(g::text, 12, '0'), 'TASK', cat.id, '工地扬尘 ' || g, '基准数据集案件 ' || g,
  CASE WHEN g % 10 < 3 THEN 'ASSIGNED' WHEN g % 10 < 5 THEN 'IN_PROGRESS' ELSE 'CLOSED' END,
  'NORMAL', r.id, r.path, 35.69, 112.27, false,
  CASE WHEN g % 5 = 0 THEN insp.id ELSE NULL END, 0, 0, 1,
  now() - interval '2 days', now() + (g % 72) * interval '1 hour', 0, 0, false,
  now() - (g % 1000) * interval '1 minute', now()
FROM generate_series(1, $CASES) g, insp, r, cat;
INSERT INTO case_event (case_id, seq, actor_role, action, to_status, created_at)
SELECT id, 1, 'SYSTEM', 'CREATE_TASK', status, created_at FROM "case" WHERE number LIKE 'B%';
ANALYZE;
SQL

gql() { # gql TOKEN QUERY: a JSON request body
  python3 -c 'import json,sys; print(json.dumps({"query": sys.argv[1]}))' "$2"
}
login() {
  curl -sf "127.0.0.1:$port/graphql" -H 'content-type: application/json' \
    -d "{\"query\":\"mutation { login(username: \\\"$1\\\", password: \\\"$2\\\") { accessToken } }\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["login"]["accessToken"])'
}
PASSWORD=$(grep -o 'DEMO_PASSWORD: &str = "[^"]*"' server/src/seed.rs | sed 's/.*"\(.*\)"/\1/')

declare -A QUERY USER
QUERY[P1]='{ myTasks(first: 20) { edges { node { id number status dueAt remainingSeconds overdue category { code name } region { code name } } } } }'
USER[P1]=demo-insp-140521100201
QUERY[P2]='{ cases(first: 100) { edges { node { id number status dueAt category { code name } region { code name } assignee { username name } lastEvent { seq action createdAt } } } } }'
USER[P2]=demo-sup-140521100

# 2. Capture what the server runs for each request (jobs off: nothing else runs).
start GRIDWATCH__JOBS__ENABLED=false GRIDWATCH_BENCH_CAPTURE_SQL="$work/capture.sql"
idle_kib=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
ready_ms=$(python3 -c "print(round($ready_s * 1000))")
declare -A TOKEN
for b in P1 P2; do
  TOKEN[$b]=$(login "${USER[$b]}" "$PASSWORD")
  body=$(gql "" "${QUERY[$b]}")
  printf '%s' "$body" >"$work/$b.json"
  : >"$work/capture.sql"
  out=$(curl -sf "127.0.0.1:$port/graphql" -H 'content-type: application/json' \
    -H "authorization: Bearer ${TOKEN[$b]}" -d "$body")
  case "$out" in *'"errors"'*) echo "bench.sh: $b answered an error: $out"; exit 1 ;; esac
  { echo "BEGIN;"; cat "$work/capture.sql"; echo "COMMIT;"; } >"$work/$b.pgbench"
  echo "$b: $(($(wc -l <"$work/capture.sql"))) statements captured"
done
stop

# 3. wrk scripts: POST the body with the token; count answers that are not 200 or carry errors.
for b in P1 P2; do
  python3 - "$work/$b.json" "${TOKEN[$b]}" >"$work/$b.lua" <<'PY'
import json, sys
body = open(sys.argv[1]).read()
print(f'''wrk.method = "POST"
wrk.body = {json.dumps(body)}
wrk.headers["content-type"] = "application/json"
wrk.headers["authorization"] = "Bearer {sys.argv[2]}"
local bad = 0
function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then bad = bad + 1 end
end
function done(summary, latency, requests)
  io.stderr:write("BAD " .. bad .. "\\n")
end''')
PY
done

# 4. Interleaved rounds.
start GRIDWATCH__JOBS__ENABLED=false
declare -A OURS BASE
for r in $(seq 1 "$ROUNDS"); do
  for b in P1 P2; do
    wrk -t2 -c"$CONC" -d"${SECS}s" -s "$work/$b.lua" "http://127.0.0.1:$port/graphql" \
      >"$work/wrk.out" 2>"$work/wrk.err"
    bad=$(awk '/^BAD/ {print $2}' "$work/wrk.err")
    [ "${bad:-1}" = 0 ] || { echo "bench.sh: $b had $bad bad answers"; cat "$work/wrk.out"; exit 1; }
    rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.out")
    tps=$(pgbench -n -c"$CONC" -j2 -T"$SECS" -f "$work/$b.pgbench" "$URL" 2>/dev/null |
      awk '/^tps/ {print $3; exit}')
    OURS[$b]="${OURS[$b]:-} $rps"
    BASE[$b]="${BASE[$b]:-} $tps"
    echo "round $r $b: gridwatch $rps req/s, pgbench $tps tps"
  done
done
stop

python3 - "$work" "$idle_kib" "$ready_ms" "${OURS[P1]}" "${BASE[P1]}" "${OURS[P2]}" "${BASE[P2]}" "$TARGET/bench.json" <<'PY'
import json, statistics, sys
work, idle_kib, ready_ms = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def med(s): return statistics.median(float(x) for x in s.split())
rows = []
for name, ours, base, target in [
    ("P1 inspector myTasks(first: 20)", sys.argv[4], sys.argv[5], 0.35),
    ("P2 supervisor cases(first: 100)", sys.argv[6], sys.argv[7], 0.30),
]:
    o, b = med(ours), med(base)
    rows.append({"benchmark": name, "ours": o, "baseline": b, "unit": "req/s vs tps",
                 "ratio": round(o / b, 3), "target": f">= {target}", "held": o / b >= target})
rows.append({"benchmark": "P7 idle RSS", "ours": idle_kib / 1024, "baseline": None,
             "unit": "MiB", "ratio": None, "target": "<= 30", "held": idle_kib / 1024 <= 30})
rows.append({"benchmark": "P7 start to ready", "ours": ready_ms, "baseline": None,
             "unit": "ms", "ratio": None, "target": "<= 1000", "held": ready_ms <= 1000})
print(f"{'benchmark':34} {'ours':>10} {'baseline':>10} {'ratio':>7} {'target':>9}  held")
for r in rows:
    fmt = lambda v: "-" if v is None else f"{v:.1f}"
    print(f"{r['benchmark']:34} {fmt(r['ours']):>10} {fmt(r['baseline']):>10} "
          f"{'-' if r['ratio'] is None else r['ratio']:>7} {r['target']:>9}  {'yes' if r['held'] else 'NO'}")
json.dump(rows, open(sys.argv[8], "w"), indent=2, ensure_ascii=False)
print("written:", sys.argv[8])
PY
