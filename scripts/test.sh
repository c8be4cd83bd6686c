#!/usr/bin/env bash
# The whole test suite: unit tests and the black-box integration suite, each backend
# test on a fresh SQLite file AND a fresh PostgreSQL database.
#
# Needs PostgreSQL on 127.0.0.1:5432 with trust auth (override with
# GRIDWATCH_TEST_PG_URL=postgres://user@host:port/admin_db). It is started here when it
# is installed but stopped; if it still cannot be reached the suite FAILS — a missing
# service is never a skip.
#
# Also starts two real S3 servers for the evidence store tests (scripts/s3.sh, each built
# once into ~/.cache/gridwatch): s3s-fs (GRIDWATCH_TEST_S3=garage puts Garage there too)
# and Garage, and stops them on exit. An S3 server that cannot be built or started
# fails the suite too.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_URL=${GRIDWATCH_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
export GRIDWATCH_TEST_PG_URL=$PG_URL

pg_up() { pg_isready -q -d "$PG_URL" 2>/dev/null; }
if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "test.sh: PostgreSQL not answering; starting the local cluster" >&2
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 50); do pg_up && break; sleep 0.2; done
  fi
fi
if ! pg_up; then
  echo "test.sh: PostgreSQL at $PG_URL is required and cannot be reached" >&2
  exit 1
fi

# On a fresh machine both S3 servers are built (once, into ~/.cache/gridwatch) while
# the suite's own debug build runs: three builds that each spend part of their time on
# one core (a crate waiting for its dependencies, linking) keep two cores busier
# together than one after the other. Their output goes to logs shown on failure.
install_log=$(mktemp -d)
pids=()
for kind in s3s-fs garage; do
  GRIDWATCH_TEST_S3=$kind scripts/s3.sh install >"$install_log/$kind.log" 2>&1 &
  pids+=($!)
done
build_args=()
for a in "$@"; do [ "$a" = -- ] && break; build_args+=("$a"); done
build_ok=1
cargo test --workspace --locked --no-run "${build_args[@]}" || build_ok=0
if [ "$build_ok" = 0 ]; then
  kill "${pids[@]}" 2>/dev/null || true
  exit 1
fi
for i in 0 1; do
  kind=$([ $i = 0 ] && echo s3s-fs || echo garage)
  if ! wait "${pids[$i]}"; then
    echo "test.sh: building the $kind test server failed:" >&2
    tail -30 "$install_log/$kind.log" >&2
    exit 1
  fi
  grep -h "installed\|already installed" "$install_log/$kind.log" >&2 || true
done
rm -rf "$install_log"

if ! s3_env=$(scripts/s3.sh start); then
  echo "test.sh: the S3 test server is required and could not start" >&2
  exit 1
fi
eval "$s3_env"
trap 'scripts/s3.sh stop "$GRIDWATCH_TEST_S3_PID" "$GRIDWATCH_TEST_S3_DATA"' EXIT

# A second S3 server, Garage, which verifies the checksums of POST policies (s3s-fs does
# not): the evidence tests run on both, so the head-only confirmation and the
# copy-and-read-whole fallback each meet a real store. Its variables are
# GRIDWATCH_TEST_GARAGE_*.
if ! garage_env=$(GRIDWATCH_TEST_S3=garage scripts/s3.sh start); then
  echo "test.sh: the Garage test server is required and could not start" >&2
  exit 1
fi
eval "${garage_env//GRIDWATCH_TEST_S3/GRIDWATCH_TEST_GARAGE}"
trap 'scripts/s3.sh stop "$GRIDWATCH_TEST_S3_PID" "$GRIDWATCH_TEST_S3_DATA";
      scripts/s3.sh stop "$GRIDWATCH_TEST_GARAGE_PID" "$GRIDWATCH_TEST_GARAGE_DATA"' EXIT

# One debug build for everything; tests share it.
cargo test --workspace --locked "$@"

# The whole suite (no filter given) ends with bounded GraphQL fuzzing of a running
# server on both databases, as every role (scripts/fuzz.sh; FUZZ=0 leaves it out).
if [ $# -eq 0 ] && [ "${FUZZ:-1}" != 0 ]; then
  scripts/fuzz.sh
fi
