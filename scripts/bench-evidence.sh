#!/usr/bin/env bash
# Evidence benchmark, release build: starts a real S3 server (scripts/s3.sh) and the
# gridwatch server on a fresh SQLite file, runs server/examples/bench_evidence.rs, and
# prints throughput ratios and the server's peak RSS growth. Not part of the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p gridwatch --bin gridwatch --example bench_evidence
scripts/s3.sh install
s3_env=$(scripts/s3.sh start)
eval "$s3_env"
work=$(mktemp -d)
cleanup() {
  [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null || true
  scripts/s3.sh stop "$GRIDWATCH_TEST_S3_PID" "$GRIDWATCH_TEST_S3_DATA" || true
  rm -rf "$work"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
GRIDWATCH__SERVER__ADDR=127.0.0.1:$port \
GRIDWATCH__DATABASE__URL="sqlite://$work/bench.db?mode=rwc" \
GRIDWATCH__STORAGE__BACKEND=s3 \
GRIDWATCH__STORAGE__S3__ENDPOINT=$GRIDWATCH_TEST_S3_ENDPOINT \
GRIDWATCH__STORAGE__S3__REGION=$GRIDWATCH_TEST_S3_REGION \
GRIDWATCH__STORAGE__S3__BUCKET=$GRIDWATCH_TEST_S3_BUCKET \
GRIDWATCH__STORAGE__S3__ACCESS_KEY=$GRIDWATCH_TEST_S3_ACCESS_KEY \
GRIDWATCH__STORAGE__S3__SECRET_KEY=$GRIDWATCH_TEST_S3_SECRET_KEY \
GRIDWATCH__EVIDENCE__MAX_BYTES=$((200 * 1024 * 1024)) \
GRIDWATCH__LOG__FILTER=warn \
  target/release/gridwatch serve --demo > "$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { cat "$work/server.log"; exit 1; }
echo "server idle RSS: $(awk '/VmRSS/ {print $2, $3}' /proc/$server_pid/status)"
BENCH_BASE="http://127.0.0.1:$port" BENCH_SERVER_PID=$server_pid target/release/examples/bench_evidence
