#!/usr/bin/env bash
# Evidence benchmark, release build: starts the gridwatch server on a fresh SQLite file
# and runs server/examples/bench_evidence.rs, which prints throughput ratios and the
# server's peak RSS growth. Not part of the test suite.
#
#   scripts/bench-evidence.sh          S3 store: a real S3 server (scripts/s3.sh), Garage
#                                      by default, which verifies upload checksums
#   GRIDWATCH_TEST_S3=s3s-fs scripts/bench-evidence.sh
#                                      S3 on s3s-fs, which does not: confirmation then
#                                      copies and reads every photo whole
#   BENCH_STORE=fs scripts/bench-evidence.sh    the folder store (embedded default)
set -euo pipefail
cd "$(dirname "$0")/.."
STORE=${BENCH_STORE:-s3}
export GRIDWATCH_TEST_S3=${GRIDWATCH_TEST_S3:-garage}
cargo build --release --locked -p gridwatch --bin gridwatch --example bench_evidence
TARGET=${CARGO_TARGET_DIR:-target}
work=$(mktemp -d)
store_env=()
if [ "$STORE" = s3 ]; then
  scripts/s3.sh install
  s3_env=$(scripts/s3.sh start)
  eval "$s3_env"
  store_env=(GRIDWATCH__STORAGE__BACKEND=s3
    GRIDWATCH__STORAGE__S3__ENDPOINT="$GRIDWATCH_TEST_S3_ENDPOINT"
    GRIDWATCH__STORAGE__S3__REGION="$GRIDWATCH_TEST_S3_REGION"
    GRIDWATCH__STORAGE__S3__BUCKET="$GRIDWATCH_TEST_S3_BUCKET"
    GRIDWATCH__STORAGE__S3__ACCESS_KEY="$GRIDWATCH_TEST_S3_ACCESS_KEY"
    GRIDWATCH__STORAGE__S3__SECRET_KEY="$GRIDWATCH_TEST_S3_SECRET_KEY")
else
  store_env=(GRIDWATCH__STORAGE__BACKEND=fs GRIDWATCH__STORAGE__FS_ROOT="$work/evidence")
fi
cleanup() {
  [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null || true
  if [ "$STORE" = s3 ]; then
    scripts/s3.sh stop "$GRIDWATCH_TEST_S3_PID" "$GRIDWATCH_TEST_S3_DATA" || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
env GRIDWATCH__SERVER__ADDR=127.0.0.1:$port \
  GRIDWATCH__SERVER__PUBLIC_URL="http://127.0.0.1:$port" \
  GRIDWATCH__DATABASE__URL="sqlite://$work/bench.db?mode=rwc" \
  "${store_env[@]}" \
  GRIDWATCH__EVIDENCE__MAX_BYTES=$((200 * 1024 * 1024)) \
  GRIDWATCH__LOG__FILTER=warn \
  "$TARGET/release/gridwatch" serve --demo >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { cat "$work/server.log"; exit 1; }
# /readyz answers 200 once the S3 store's checksum probe has answered too.
checks=$(curl -sf "http://127.0.0.1:$port/readyz" | python3 -c 'import json,sys; print(json.load(sys.stdin)["evidenceChecks"])')
label=$STORE
[ "$STORE" = s3 ] && label="s3 ($GRIDWATCH_TEST_S3)"
echo "store: $label; evidence checks: $checks; server idle RSS: $(awk '/VmRSS/ {print $2, $3}' /proc/$server_pid/status)"
BENCH_STORE=$STORE BENCH_BASE="http://127.0.0.1:$port" BENCH_SERVER_PID=$server_pid \
  "$TARGET/release/examples/bench_evidence"
