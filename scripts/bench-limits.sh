#!/usr/bin/env bash
# What the query cost model lets through, measured side by side (release build,
# SQLite, demo data): the heaviest accepted questions and the refused blow-ups, each
# against `{ __typename }` in the same run, as time ratios, plus the server's peak
# resident memory before and after.
#
#   scripts/bench-limits.sh [ROUNDS]     (default 20 rounds of each request)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-20}

cargo build --release --quiet
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
GRIDWATCH__DATABASE__URL="sqlite://$work/gw.db?mode=rwc" \
GRIDWATCH__STORAGE__FS_ROOT="$work/evidence" \
GRIDWATCH__SERVER__ADDR="127.0.0.1:$port" \
GRIDWATCH__LOG__FILTER=warn \
  target/release/gridwatch serve --demo >"$work/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -sf "127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

url="http://127.0.0.1:$port/graphql"
introspection='{ __schema { types { kind name description fields(includeDeprecated: true) { name description args { name description type { kind name ofType { kind name ofType { kind name ofType { kind name } } } } defaultValue } type { kind name ofType { kind name ofType { kind name ofType { kind name } } } } isDeprecated deprecationReason } inputFields { name type { kind name ofType { kind name } } } enumValues(includeDeprecated: true) { name description } } } }'
declare -A Q=(
  [baseline]='{ __typename }'
  [tree]='{ regions { id code name children { id code name path level synthetic centroid { lat lng } parent { code } children { code name level } } } }'
  [introspection]="$introspection"
  [refused_attack]='{ regions { children { children { parent { children { parent { children { parent { children { parent { children { code } } } } } } } } } } } }'
)
body() { python3 -c 'import json,sys; print(json.dumps({"query": sys.argv[1]}))' "$1"; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
hwm() { awk '/VmHWM/ {print $2}' "/proc/$pid/status"; }

declare -A T BYTES
rss0=$(rss)
for name in "${!Q[@]}"; do
  b=$(body "${Q[$name]}")
  curl -s -o /dev/null "$url" -H 'content-type: application/json' -d "$b"   # warm-up
done
for name in baseline tree introspection refused_attack; do
  b=$(body "${Q[$name]}")
  total=0
  for _ in $(seq 1 "$ROUNDS"); do
    t=$(curl -s -o "$work/out" -w '%{time_total}' "$url" -H 'content-type: application/json' -d "$b")
    total=$(python3 -c "print($total + $t)")
  done
  T[$name]=$(python3 -c "print($total / $ROUNDS)")
  BYTES[$name]=$(wc -c <"$work/out")
done
rss1=$(rss)
printf '%-16s %10s %10s %12s\n' request ms/request ratio answer_bytes
for name in baseline tree introspection refused_attack; do
  printf '%-16s %10.2f %10.1f %12s\n' "$name" \
    "$(python3 -c "print(${T[$name]} * 1000)")" \
    "$(python3 -c "print(${T[$name]} / ${T[baseline]})")" "${BYTES[$name]}"
done
echo "server RSS: ${rss0} KiB before, ${rss1} KiB after $((ROUNDS * 4)) requests; peak $(hwm) KiB"
