#!/usr/bin/env bash
# GraphQL fuzzing (schemathesis, from PyPI, in a venv cached under ~/.cache/gridwatch)
# against a debug server with demo data — on a fresh SQLite file and on a fresh
# PostgreSQL database (GRIDWATCH_TEST_PG_URL, as for scripts/test.sh; FUZZ_BACKENDS to
# choose) — once per role:
# anonymous, public (WeChat login through a local stand-in), inspector, supervisor,
# county admin. Bounded (FUZZ_EXAMPLES per operation, default 15) with a fixed seed.
# Fails on any 5xx, any INTERNAL code, an error without a code, an answer that is not a
# GraphQL response, or a server that stops answering. Called by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
EXAMPLES=${FUZZ_EXAMPLES:-15}
SEED=${FUZZ_SEED:-20261203}
ST_VERSION=4.32.5

venv="$HOME/.cache/gridwatch/st-venv-$ST_VERSION"
if [ ! -x "$venv/bin/schemathesis" ]; then
  echo "fuzz.sh: installing schemathesis $ST_VERSION into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "schemathesis==$ST_VERSION"
fi

cargo build --locked --quiet -p gridwatch --bin gridwatch
PG_URL=${GRIDWATCH_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
BACKENDS=${FUZZ_BACKENDS:-sqlite postgres}
work=$(mktemp -d)
pid=""
wx_pid=""
fuzz_db="gridwatch_fuzz_$$"
cleanup() {
  kill $pid $wx_pid 2>/dev/null || true
  wait $pid 2>/dev/null || true
  psql -q "$PG_URL" -c "DROP DATABASE IF EXISTS $fuzz_db" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wx_port=$(free_port)
python3 scripts/wechat_stub.py "$wx_port" &
wx_pid=$!

hars=()
for backend in $BACKENDS; do
  case $backend in
    sqlite) db_url="sqlite://$work/fuzz.db?mode=rwc" ;;
    postgres)
      psql -q "$PG_URL" -c "CREATE DATABASE $fuzz_db" >/dev/null
      db_url="${PG_URL%/*}/$fuzz_db" ;;
    *) echo "fuzz.sh: unknown backend $backend" >&2; exit 2 ;;
  esac
  port=$(free_port)
  GRIDWATCH__DATABASE__URL="$db_url" \
  GRIDWATCH__STORAGE__FS_ROOT="$work/evidence-$backend" \
  GRIDWATCH__SERVER__ADDR="127.0.0.1:$port" \
  GRIDWATCH__WECHAT__API_BASE="http://127.0.0.1:$wx_port" \
  GRIDWATCH__WECHAT__APPID=wxfuzz \
  GRIDWATCH__WECHAT__SECRET=fuzz-secret \
  GRIDWATCH__LIMITS__LOGIN_PER_IP_PER_MINUTE=1000000 \
  GRIDWATCH__LIMITS__PUBLIC_PER_IP_PER_MINUTE=1000000 \
  GRIDWATCH__LIMITS__PUBLIC_PER_USER_PER_MINUTE=1000000 \
  GRIDWATCH__LOG__FILTER=warn \
    target/debug/gridwatch serve --demo >"$work/server-$backend.log" 2>&1 &
  pid=$!
  base="http://127.0.0.1:$port"
  for _ in $(seq 1 300); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done
  curl -sf "$base/healthz" >/dev/null || { echo "fuzz.sh: the server did not start ($backend)" >&2; cat "$work/server-$backend.log" >&2; exit 1; }

  gql() { curl -sf "$base/graphql" -H 'content-type: application/json' -d "$1"; }
  token_of() { python3 -c 'import json,sys; d=json.load(sys.stdin)["data"]; print(next(iter(d.values()))["accessToken"])'; }
  staff() {
    gql "{\"query\":\"mutation { login(username: \\\"$1\\\", password: \\\"Demo-2026-gridwatch\\\") { accessToken } }\"}" | token_of
  }
  declare -A TOKEN=(
    [anonymous]=""
    [public]=$(gql '{"query":"mutation { loginWithWechat(code: \"tipster1\") { accessToken } }"}' | token_of)
    [inspector]=$(staff demo-insp-140521100201)
    [supervisor]=$(staff demo-sup-140521100)
    [admin]=$(staff demo-admin)
  )
  for role in anonymous public inspector supervisor admin; do
    auth=()
    [ -n "${TOKEN[$role]}" ] && auth=(-H "Authorization: Bearer ${TOKEN[$role]}")
    echo "== fuzzing $backend as $role ($EXAMPLES examples per operation, seed $SEED)"
    # schemathesis's own GraphQL checks count every error answer as a failure; the
    # answers are judged by scripts/fuzz/check.py instead.
    har="$work/$backend-$role.har"
    "$venv/bin/schemathesis" run "$base/graphql" "${auth[@]}" \
      --max-examples "$EXAMPLES" --seed "$SEED" --generation-deterministic \
      --exclude-checks all --exclude-name Mutation.uploadEvidence --exclude-name Mutation.importSites \
      --workers 2 --request-timeout 30 --no-color \
      --report har --report-har-path "$har" >"$work/$backend-$role.log" 2>&1 || true
    if [ ! -s "$har" ]; then
      echo "fuzz.sh: schemathesis produced no report for $backend/$role" >&2
      tail -40 "$work/$backend-$role.log" >&2
      exit 1
    fi
    hars+=("$har")
    if ! curl -sf -m 10 "$base/healthz" >/dev/null; then
      echo "fuzz.sh: the server stopped answering while fuzzing $backend as $role" >&2
      tail -40 "$work/server-$backend.log" >&2
      exit 1
    fi
  done
  gql '{"query":"{ __typename }"}' | grep -q '"Query"' || { echo "fuzz.sh: the server no longer answers GraphQL ($backend)" >&2; exit 1; }
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  unset TOKEN
done
python3 scripts/fuzz/check.py "${hars[@]}"
echo "fuzz.sh: ok"
