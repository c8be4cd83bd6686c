# Shared by the request benchmarks (bench.sh, bench-ab.sh); sourced, not run.

# The bench questions and who asks them.
declare -A QUERY USER
# P1 inspector `myTasks(first: 20)` with category, region and deadline fields.
QUERY[P1]='{ myTasks(first: 20) { edges { node { id number status dueAt remainingSeconds overdue category { code name } region { code name } } } } }'
USER[P1]=demo-insp-140521100201
# P2 supervisor `cases(first: 100)` with category, region, assignee and last event.
QUERY[P2]='{ cases(first: 100) { edges { node { id number status dueAt category { code name } region { code name } assignee { username name } lastEvent { seq action createdAt } } } } }'
USER[P2]=demo-sup-140521100

# The demo accounts' password (seeds marked as demo).
bench_password() {
  grep -o 'DEMO_PASSWORD: &str = "[^"]*"' server/src/seed.rs | sed 's/.*"\(.*\)"/\1/'
}

# bench_dataset URL CASES: CASES cases in the bench inspector's village (30 % assigned,
# 20 % in progress, the rest closed; one in five dispatched to that inspector), each
# with its first event; then ANALYZE.
bench_dataset() {
  psql -q "$1" <<SQL
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
FROM generate_series(1, $2) g, insp, r, cat;
INSERT INTO case_event (case_id, seq, actor_role, action, to_status, created_at)
SELECT id, 1, 'SYSTEM', 'CREATE_TASK', status, created_at FROM "case" WHERE number LIKE 'B%';
ANALYZE;
SQL
}

# bench_lua BODY_FILE [TOKEN]: a wrk script that POSTs the body (with the token, when
# one is given) and counts the answers that are not 200 or carry errors (printed as
# "BAD n" on stderr).
bench_lua() {
  python3 - "$1" "${2:-}" <<'PY'
import json, sys
body = open(sys.argv[1]).read().strip()
auth = f'\nwrk.headers["authorization"] = "Bearer {sys.argv[2]}"' if sys.argv[2] else ""
print(f'''wrk.method = "POST"
wrk.body = {json.dumps(body)}
wrk.headers["content-type"] = "application/json"{auth}
local bad = 0
function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then bad = bad + 1 end
end
function done(summary, latency, requests)
  io.stderr:write("BAD " .. bad .. "\\n")
end''')
PY
}
