#!/usr/bin/env bash
# Deadline-sweeper benchmark, release build, on the machine's PostgreSQL
# (GRIDWATCH_TEST_PG_URL, default postgres://postgres@127.0.0.1:5432/postgres): a pass
# over 100,000 open cases with 1,000 overdue against the bare SQL of the same work in
# the same run, as a time ratio, with the pass's statement count; and an idle pass.
#
#   scripts/bench-sweep.sh [ROUNDS]      (default 3; each round on a fresh database)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p gridwatch --example bench_sweep
target/release/examples/bench_sweep "${1:-3}"
