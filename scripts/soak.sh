#!/usr/bin/env bash
# Soak run, release build, not part of CI: SOAK_SECS (default 600) of mixed traffic at a
# fixed rate from every role (case walks with photos, WeChat tip-offs, reads) against one
# server on a fresh PostgreSQL database (GRIDWATCH_TEST_PG_URL, as for scripts/test.sh)
# and a real S3 server (scripts/s3.sh). Prints per minute the requests, errors, p50/p99,
# the server's RSS, open file descriptors and database connections, then the slope of
# each. Exits non-zero when a request failed with a non-retryable error.
#
#   scripts/soak.sh                  # ten minutes
#   SOAK_SECS=120 scripts/soak.sh    # a quick look
set -euo pipefail
cd "$(dirname "$0")/.."
PG_URL=${GRIDWATCH_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
cargo build --release --locked --quiet -p gridwatch --bin gridwatch --example soak
scripts/s3.sh install
s3_env=$(scripts/s3.sh start)
eval "$s3_env"
work=$(mktemp -d)
db="gridwatch_soak_$$"
server_pid=""
wx_pid=""
cleanup() {
  kill $server_pid $wx_pid 2>/dev/null || true
  wait $server_pid 2>/dev/null || true
  scripts/s3.sh stop "$GRIDWATCH_TEST_S3_PID" "$GRIDWATCH_TEST_S3_DATA" || true
  psql -q "$PG_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
psql -q "$PG_URL" -c "CREATE DATABASE $db" >/dev/null
db_url="${PG_URL%/*}/$db"
wx_port=$(free_port)
python3 scripts/wechat_stub.py "$wx_port" &
wx_pid=$!
port=$(free_port)
GRIDWATCH__SERVER__ADDR=127.0.0.1:$port \
GRIDWATCH__DATABASE__URL="$db_url" \
GRIDWATCH__STORAGE__BACKEND=s3 \
GRIDWATCH__STORAGE__S3__ENDPOINT=$GRIDWATCH_TEST_S3_ENDPOINT \
GRIDWATCH__STORAGE__S3__REGION=$GRIDWATCH_TEST_S3_REGION \
GRIDWATCH__STORAGE__S3__BUCKET=$GRIDWATCH_TEST_S3_BUCKET \
GRIDWATCH__STORAGE__S3__ACCESS_KEY=$GRIDWATCH_TEST_S3_ACCESS_KEY \
GRIDWATCH__STORAGE__S3__SECRET_KEY=$GRIDWATCH_TEST_S3_SECRET_KEY \
GRIDWATCH__WECHAT__API_BASE="http://127.0.0.1:$wx_port" \
GRIDWATCH__WECHAT__APPID=wxsoak \
GRIDWATCH__WECHAT__SECRET=soak-secret \
GRIDWATCH__LIMITS__PUBLIC_PER_IP_PER_MINUTE=1000000 \
GRIDWATCH__LIMITS__PUBLIC_PER_USER_PER_MINUTE=1000000 \
GRIDWATCH__LIMITS__LOGIN_PER_IP_PER_MINUTE=1000000 \
GRIDWATCH__LOG__FILTER=warn \
  target/release/gridwatch serve --demo > "$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { cat "$work/server.log"; exit 1; }
echo "server idle RSS: $(awk '/VmRSS/ {print $2, $3}' /proc/$server_pid/status)"
status=0
SOAK_BASE="http://127.0.0.1:$port" SOAK_SERVER_PID=$server_pid SOAK_DB_URL="$db_url" \
  target/release/examples/soak || status=$?
echo "server warnings and errors in its log: $(grep -c -E 'WARN|ERROR' "$work/server.log" || true)"
grep -E 'WARN|ERROR' "$work/server.log" | cut -c1-200 | sort | uniq -c | sort -rn | head -5 || true
exit $status
