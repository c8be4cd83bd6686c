#!/usr/bin/env bash
# `stats` and the case export at county-year scale, side by side with PostgreSQL
# (release build, PostgreSQL on 127.0.0.1:5432, not part of the test suite).
#
#   scripts/bench-stats.sh [CASES…]          (default: 10000 100000 1000000)
#   HISTORY=990000 scripts/bench-stats.sh 10000
#                                             the same year with HISTORY more cases in the
#                                             ten years before it (all closed or rejected)
#
# For each size: a fresh database, migrated and seeded by the server, then CASES cases
# spread over 2026 across every village grid and category of the seeded county (70 %
# closed, 10 % submitted, 10 % in progress, 5 % pending, 5 % rejected; one event each,
# an escalation every 50th). Measures, median of 5 after a warm-up:
#   - `stats(county, 2026-01-01 … 2026-12-31, REGION)` through the server, against the
#     very statements it ran (captured with GRIDWATCH_BENCH_CAPTURE_SQL) through pgbench;
#   - the server's peak RSS (VmHWM) while streaming `cases.csv` and `cases.xlsx` for the
#     first 100,000 cases of the year (a fresh server for each, so the peak is the
#     export's).
# Writes target/bench-stats.json.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${*:-10000 100000 1000000}
HISTORY=${HISTORY:-0}
PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
DB=gw_bench_stats
command -v pgbench >/dev/null || { echo "bench-stats.sh: pgbench is required"; exit 1; }

cargo build --release --quiet --locked
work=$(mktemp -d)
pid=
stop() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=; fi; }
trap 'stop; rm -rf "$work"' EXIT
URL="$PG/$DB?sslmode=disable"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
PASSWORD=$(grep -o 'DEMO_PASSWORD: &str = "[^"]*"' server/src/seed.rs | sed 's/.*"\(.*\)"/\1/')

start() { # start [extra env…]
  env GRIDWATCH__DATABASE__URL="$URL" GRIDWATCH__STORAGE__FS_ROOT="$work/evidence" \
    GRIDWATCH__SERVER__ADDR="127.0.0.1:$port" GRIDWATCH__LOG__FILTER=warn \
    GRIDWATCH__JOBS__ENABLED=false "$@" \
    target/release/gridwatch serve --demo >>"$work/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 1500); do
    curl -sf "127.0.0.1:$port/readyz" >/dev/null && return
    sleep 0.02
  done
  echo "bench-stats.sh: server not ready"; tail -20 "$work/server.log"; exit 1
}
token() {
  curl -sf "127.0.0.1:$port/graphql" -H 'content-type: application/json' \
    -d "{\"query\":\"mutation { login(username: \\\"demo-admin\\\", password: \\\"$PASSWORD\\\") { accessToken } }\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["login"]["accessToken"])'
}

# cases_sql PREFIX COUNT START DAYS STATUS: the INSERT of COUNT generated cases numbered
# PREFIX…, created from START over DAYS days, round-robin over the villages (temp table v)
# and categories (k), STATUS an SQL expression of the series number g.
cases_sql() {
  cat <<SQL
INSERT INTO "case" (number, source, category_id, title, description, status, priority, region_id,
  region_path, lat, lng, outside_grid, assignee_id, reject_reason, rework_count, escalation_level,
  version, accepted_at, due_at, first_submitted_at, submitted_at, closed_at, rating, rated_at,
  parked_seconds, extended_count, checkin_far, created_at, updated_at)
SELECT '$1' || lpad(g::text, 12, '0'),
  CASE WHEN g % 4 = 0 THEN 'PATROL' WHEN g % 4 = 1 THEN 'TASK' ELSE 'TIP' END,
  k.id, '统计基准 ' || g, '统计基准数据集案件 ' || g, st, 'NORMAL', v.id, v.path, 35.69, 112.27, false,
  CASE WHEN st IN ('PENDING', 'REJECTED') THEN NULL ELSE v.insp END,
  CASE WHEN st = 'REJECTED' THEN 'INVALID' END,
  CASE WHEN g % 13 = 0 THEN 1 ELSE 0 END, 0, 1,
  CASE WHEN st IN ('PENDING', 'REJECTED') THEN NULL ELSE c + interval '1 hour' END,
  c + interval '73 hours',
  CASE WHEN st IN ('CLOSED', 'SUBMITTED') THEN c + ((g::bigint * 7919) % 96 + 1) * interval '1 hour' END,
  CASE WHEN st = 'SUBMITTED' THEN c + ((g::bigint * 7919) % 96 + 1) * interval '1 hour' END,
  CASE WHEN st IN ('CLOSED', 'REJECTED') THEN c + ((g::bigint * 7919) % 96 + 5) * interval '1 hour' END,
  CASE WHEN st = 'CLOSED' AND g % 4 > 1 AND g % 3 > 0 THEN 1 + g % 5 END,
  CASE WHEN st = 'CLOSED' AND g % 4 > 1 AND g % 3 > 0 THEN c + interval '200 hours' END,
  0, 0, false, c, c
FROM (
  SELECT g, timestamptz '$3' + (g::float8 / $2) * interval '$4 days' AS c, $5 AS st
  FROM generate_series(1, $2) g
) s
JOIN v ON v.i = s.g % (SELECT count(*) FROM v)
JOIN k ON k.i = (s.g / 7) % (SELECT count(*) FROM k);
SQL
}
YEAR_STATUS="CASE WHEN g % 20 < 14 THEN 'CLOSED' WHEN g % 20 < 16 THEN 'SUBMITTED'
  WHEN g % 20 < 18 THEN 'IN_PROGRESS' WHEN g % 20 = 18 THEN 'PENDING' ELSE 'REJECTED' END"
# History: all closed but one in twenty rejected, as old cases are.
HISTORY_STATUS="CASE WHEN g % 20 < 19 THEN 'CLOSED' ELSE 'REJECTED' END"

results=()
for N in $SIZES; do
  psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
  start
  stop
  t0=$(date +%s)
  psql -q "$URL" <<SQL
CREATE TEMP TABLE v AS
  SELECT row_number() OVER (ORDER BY r.code) - 1 AS i, r.id, r.path, u.id AS insp
  FROM region r LEFT JOIN app_user u ON u.username = 'demo-insp-' || r.code
  WHERE r.level = 'VILLAGE';
CREATE TEMP TABLE k AS
  SELECT row_number() OVER (ORDER BY id) - 1 AS i, id FROM category;
$(cases_sql S "$N" '2026-01-01 00:00+08' 364 "$YEAR_STATUS")
$(if [ "$HISTORY" -gt 0 ]; then cases_sql H "$HISTORY" '2016-01-01 00:00+08' 3651 "$HISTORY_STATUS"; fi)
INSERT INTO case_event (case_id, seq, actor_role, action, to_status, created_at)
SELECT id, 1, 'SYSTEM', 'CREATE', status, created_at FROM "case"
WHERE number LIKE 'S%' OR number LIKE 'H%';
INSERT INTO case_event (case_id, seq, actor_role, action, created_at)
SELECT id, 2, 'SYSTEM', 'ESCALATE', created_at + interval '80 hours' FROM "case"
WHERE (number LIKE 'S%' OR number LIKE 'H%') AND id % 50 = 0;
ANALYZE;
SQL
  load_s=$(( $(date +%s) - t0 ))
  county=$(psql -tAq "$URL" -c "SELECT id FROM region WHERE code = '140521'")
  body=$(python3 -c 'import json,sys; print(json.dumps({"query": "{ stats(regionId: \"%s\", from: \"2026-01-01\", to: \"2026-12-31\") { total { reports closed onTimeHandleRate averageHandlingHours } rows { group { label } indicators { closeRate } } } }" % sys.argv[1]}))' "$county")

  # Capture the statements of one stats request.
  start GRIDWATCH_BENCH_CAPTURE_SQL="$work/capture.sql"
  tok=$(token)
  : >"$work/capture.sql"
  out=$(curl -sf "127.0.0.1:$port/graphql" -H 'content-type: application/json' \
    -H "authorization: Bearer $tok" -d "$body")
  case "$out" in *'"errors"'*) echo "bench-stats.sh: stats answered an error: $out"; exit 1 ;; esac
  stmts=$(grep -c . "$work/capture.sql" || true)
  { echo "BEGIN;"; cat "$work/capture.sql"; echo "COMMIT;"; } >"$work/stats.pgbench"
  stop

  start
  tok=$(token)
  ours=()
  for i in 0 1 2 3 4 5; do
    t=$(curl -s -o "$work/out.json" -w '%{time_total}' "127.0.0.1:$port/graphql" \
      -H 'content-type: application/json' -H "authorization: Bearer $tok" -d "$body")
    grep -q '"errors"' "$work/out.json" && { echo "stats failed: $(cat "$work/out.json")"; exit 1; }
    [ "$i" = 0 ] || ours+=("$t")
  done
  stop
  base=$(pgbench -n -c1 -t6 -f "$work/stats.pgbench" "$URL" 2>/dev/null |
    awk '/latency average/ {print $4; exit}')

  # Export peak RSS: the first 100,000 cases of the year (or all of them).
  days=$(python3 -c "print(min(364, max(1, int(364 * 100000 / $N))))")
  to=$(python3 -c "import datetime; print(datetime.date(2026,1,1) + datetime.timedelta(days=$days - 1))")
  declare -A RSS ROWS
  for fmt in csv xlsx; do
    start
    tok=$(token)
    before=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
    curl -sf -o "$work/export.$fmt" -H "authorization: Bearer $tok" \
      "127.0.0.1:$port/exports/cases.$fmt?regionId=$county&from=2026-01-01&to=$to"
    RSS[$fmt]=$(( $(awk '/VmHWM/ {print $2}' "/proc/$pid/status") - before ))
    base_rss=$before
    stop
    if [ "$fmt" = csv ]; then ROWS[$fmt]=$(( $(wc -l <"$work/export.csv") - 1 )); else
      ROWS[$fmt]=$(python3 -c "import zipfile,re,sys; z=zipfile.ZipFile(sys.argv[1]); print(len(re.findall(rb'<row ', z.read('xl/worksheets/sheet1.xml'))) - 1)" "$work/export.xlsx")
    fi
  done
  line=$(python3 - "$N" "$load_s" "$stmts" "$base" "${ours[*]}" "${RSS[csv]}" "${RSS[xlsx]}" "${ROWS[csv]}" "${ROWS[xlsx]}" "$base_rss" "$HISTORY" <<'PY'
import json, statistics, sys
n, load_s, stmts, base_ms, ours = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
ours_ms = statistics.median(float(x) for x in ours.split()) * 1000
print(json.dumps({"cases": n, "history": int(sys.argv[11]), "load_seconds": load_s, "statements": stmts,
  "stats_ms": round(ours_ms, 1), "pgbench_ms": round(base_ms, 1), "ratio": round(base_ms / ours_ms, 3),
  "export_rows": {"csv": int(sys.argv[8]), "xlsx": int(sys.argv[9])},
  "export_peak_rss_growth_mib": {"csv": round(int(sys.argv[6]) / 1024, 1), "xlsx": round(int(sys.argv[7]) / 1024, 1)},
  "server_rss_before_export_mib": round(int(sys.argv[10]) / 1024, 1)}))
PY
)
  echo "$line"
  results+=("$line")
done
printf '%s\n' "${results[@]}" | python3 -c 'import json,sys; json.dump([json.loads(l) for l in sys.stdin], open("target/bench-stats.json","w"), indent=2)'
echo "written: target/bench-stats.json"
