#!/usr/bin/env bash
# A real S3-compatible server for the test suite.
#
#   scripts/s3.sh install        build the server binary once into ~/.cache/gridwatch
#   scripts/s3.sh start          start one on a free 127.0.0.1 port; prints `export …`
#                                lines for `eval` (everything else goes to stderr)
#   scripts/s3.sh stop PID [DIR] stop a server started by `start` (and remove its data
#                                folder DIR, GRIDWATCH_TEST_S3_DATA)
#
# GRIDWATCH_TEST_S3 picks the server:
#   s3s-fs (default)  s3s-fs 0.14.1, a small S3 server over a folder (~4 CPU-minutes to
#                     build once). Accepts any region; a bucket is a top-level folder.
#   garage            Garage 2.5.0 in single-node mode (~15 CPU-minutes to build once).
#                     Rejects every region but its configured `s3_region` ("garage").
#
# `start` honours GRIDWATCH_S3_PORT, GRIDWATCH_S3_RPC_PORT (garage) and GRIDWATCH_S3_DATA
# so a test can restart a server on the same port and data after stopping it; without
# them it picks free ports and a fresh temporary folder. A port already in use is an
# error, never "someone else's server will do": a leftover server answering the probe is
# a classic source of wrong results.
set -euo pipefail

KIND=${GRIDWATCH_TEST_S3:-s3s-fs}
CACHE=${GRIDWATCH_CACHE:-$HOME/.cache/gridwatch}
S3S_VERSION=0.14.1
GARAGE_VERSION=2.5.0
ACCESS_KEY_S3S=gridwatch-test-access-key
SECRET_KEY_S3S=gridwatch-test-secret-key-0123456789
# Garage 2.x: key id >= 8 chars of [A-Za-z0-9._-], secret >= 16 printable ASCII chars.
ACCESS_KEY_GARAGE=GK000000000000000000000001
SECRET_KEY_GARAGE=gridwatch-test-secret-0123456789abcdef
BUCKET=evidence
# SHA-256 of the empty body; curl 7.88's --aws-sigv4 does not add this header itself.
EMPTY_SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

log() { echo "s3.sh: $*" >&2; }
die() { log "$*"; exit 1; }

case "$KIND" in
  s3s-fs) BIN="$CACHE/s3s/bin/s3s-fs" ;;
  garage) BIN="$CACHE/garage/bin/garage" ;;
  *) die "GRIDWATCH_TEST_S3 must be s3s-fs or garage, got '$KIND'" ;;
esac

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
  local p
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 40000))
    port_in_use "$p" || { echo "$p"; return 0; }
  done
  die "no free port found"
}

install() {
  if [ -x "$BIN" ]; then
    log "$KIND already installed at $BIN"
    return 0
  fi
  command -v cargo >/dev/null || die "cargo is needed to build $KIND"
  local root start
  root=$(dirname "$(dirname "$BIN")")
  start=$(date +%s)
  # Own target folder: never touches the project's target/ or a CARGO_TARGET_DIR the
  # caller exported, and a rebuild after an interrupted install starts warm.
  case "$KIND" in
    s3s-fs)
      log "building s3s-fs $S3S_VERSION into $root (one-time, ~4 CPU-minutes)"
      CARGO_TARGET_DIR="$CACHE/target-s3s" cargo install "s3s-fs@$S3S_VERSION" \
        --features binary --locked --root "$root" >&2
      ;;
    garage)
      # Only what a single-node test server needs: the SQLite metadata engine, bundled.
      # (No LMDB, Prometheus metrics or K2V: fewer crates to build on a fresh machine.)
      log "building garage $GARAGE_VERSION into $root (one-time, ~15 CPU-minutes)"
      CARGO_TARGET_DIR="$CACHE/target-garage" cargo install "garage@$GARAGE_VERSION" \
        --no-default-features --features bundled-libs,sqlite \
        --locked --root "$root" >&2
      ;;
  esac
  [ -x "$BIN" ] || die "install finished but $BIN is missing"
  log "$KIND installed in $(($(date +%s) - start)) s"
}

# Waits until a SIGNED HeadBucket answers 200 (proving the credentials and region work)
# while the process we started is still alive.
wait_ready() {
  local pid=$1 port=$2 region=$3 ak=$4 sk=$5 logf=$6 code=000
  for _ in $(seq 1 400); do
    code=$(curl -s -o /dev/null -w '%{http_code}' -I -H "x-amz-content-sha256: $EMPTY_SHA256" \
      --aws-sigv4 "aws:amz:$region:s3" --user "$ak:$sk" \
      "http://127.0.0.1:$port/$BUCKET" || true)
    [ "$code" = "200" ] && break
    kill -0 "$pid" 2>/dev/null || { log "$KIND died:"; tail -20 "$logf" >&2; exit 1; }
    sleep 0.05
  done
  [ "$code" = "200" ] || { kill "$pid" 2>/dev/null || true; die "$KIND not ready on port $port (last HTTP $code); log: $logf"; }
  kill -0 "$pid" 2>/dev/null || die "$KIND exited after answering; log: $logf"
}

start() {
  [ -x "$BIN" ] || die "$KIND is not installed; run: GRIDWATCH_TEST_S3=$KIND scripts/s3.sh install"
  command -v curl >/dev/null || die "curl (>= 7.75, for --aws-sigv4) is needed"
  local port data pid region ak sk logf
  port=${GRIDWATCH_S3_PORT:-$(free_port)}
  port_in_use "$port" && die "port $port is already in use"
  data=${GRIDWATCH_S3_DATA:-$(mktemp -d "${TMPDIR:-/tmp}/gridwatch-s3.XXXXXX")}
  mkdir -p "$data"
  logf="$data/server.log"
  case "$KIND" in
    s3s-fs)
      region=us-east-1 ak=$ACCESS_KEY_S3S sk=$SECRET_KEY_S3S
      mkdir -p "$data/root/$BUCKET"   # a bucket is just a top-level folder
      "$BIN" --host 127.0.0.1 --port "$port" --access-key "$ak" --secret-key "$sk" \
        "$data/root" >>"$logf" 2>&1 </dev/null &
      pid=$!
      ;;
    garage)
      region=garage ak=$ACCESS_KEY_GARAGE sk=$SECRET_KEY_GARAGE
      local rpc=${GRIDWATCH_S3_RPC_PORT:-$(free_port)}
      port_in_use "$rpc" && die "port $rpc is already in use"
      mkdir -p "$data/meta" "$data/data"
      cat >"$data/garage.toml" <<TOML
metadata_dir = "$data/meta"
data_dir = "$data/data"
db_engine = "sqlite"
metadata_fsync = false
data_fsync = false
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$rpc"
rpc_public_addr = "127.0.0.1:$rpc"
rpc_secret = "0000000000000000000000000000000000000000000000000000000000000001"

[s3_api]
s3_region = "$region"
api_bind_addr = "127.0.0.1:$port"
root_domain = ".s3.garage.localhost"
TOML
      chmod 600 "$data/garage.toml"
      GARAGE_DEFAULT_ACCESS_KEY=$ak GARAGE_DEFAULT_SECRET_KEY=$sk GARAGE_DEFAULT_BUCKET=$BUCKET \
        RUST_LOG=${RUST_LOG:-garage=warn} \
        "$BIN" -c "$data/garage.toml" server --single-node --default-bucket \
        >>"$logf" 2>&1 </dev/null &
      pid=$!
      echo "export GRIDWATCH_TEST_S3_RPC_PORT=$rpc"
      ;;
  esac
  wait_ready "$pid" "$port" "$region" "$ak" "$sk" "$logf"
  log "$KIND pid $pid ready on http://127.0.0.1:$port (data $data)"
  cat <<EOF
export GRIDWATCH_TEST_S3=$KIND
export GRIDWATCH_TEST_S3_ENDPOINT=http://127.0.0.1:$port
export GRIDWATCH_TEST_S3_REGION=$region
export GRIDWATCH_TEST_S3_BUCKET=$BUCKET
export GRIDWATCH_TEST_S3_ACCESS_KEY=$ak
export GRIDWATCH_TEST_S3_SECRET_KEY=$sk
export GRIDWATCH_TEST_S3_PID=$pid
export GRIDWATCH_TEST_S3_PORT=$port
export GRIDWATCH_TEST_S3_DATA=$data
export GRIDWATCH_TEST_S3_BIN=$BIN
export GRIDWATCH_TEST_S3_SCRIPT=$(cd "$(dirname "$0")" && pwd)/s3.sh
EOF
}

stop() {
  local pid=${1:-} data=${2:-}
  [[ "$pid" =~ ^[0-9]+$ ]] || die "usage: scripts/s3.sh stop PID [DATA_DIR]"
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
  fi
  # Only a folder `start` made (it holds server.log) is removed.
  if [ -n "$data" ] && [ -f "$data/server.log" ]; then
    rm -rf "$data"
  fi
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop "${2:-}" "${3:-}" ;;
  *) die "usage: scripts/s3.sh install | start | stop PID [DATA_DIR]   (GRIDWATCH_TEST_S3=s3s-fs|garage)" ;;
esac
