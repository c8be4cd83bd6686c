#!/usr/bin/env bash
# The instruction-count regression gate (run by .ci/run): a few hot paths counted
# under valgrind's callgrind, compared with the checked-in baseline
# scripts/gate/baseline.json. Instruction counts do not depend on machine load, so a
# change beyond the tolerance is a change in the code (or the toolchain), not noise.
#
#   scripts/gate.sh                  compare; fails when a path costs > +5%
#   GATE_UPDATE=1 scripts/gate.sh    measure and rewrite the baseline (commit it with
#                                    a message that says why the cost moved)
#
# The paths (server/examples/gate.rs): locate, token validation, the SLA calendar
# maths, and two GraphQL requests through the router on a warm SQLite database
# (bench P1's myTasks and P2's cases). Counted on the debug build the test suite
# already compiled — no second build in CI; debug counts track release costs closely
# enough to catch an accidental extra statement, clone or quadratic loop.
set -euo pipefail
cd "$(dirname "$0")/.."
TOLERANCE=${GATE_TOLERANCE:-0.05}
BASELINE=scripts/gate/baseline.json
PATHS=(locate token sla graphql cases)

if ! command -v valgrind >/dev/null; then
  echo "gate.sh: installing valgrind (Debian package)"
  apt-get install -y -qq valgrind >/dev/null
fi

cargo build --locked --quiet -p gridwatch --example gate
TARGET=${CARGO_TARGET_DIR:-target}
bin="$TARGET/debug/examples/gate"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for p in "${PATHS[@]}"; do
  if ! valgrind --tool=callgrind --collect-atstart=no '--toggle-collect=gate::measured_*' \
    --callgrind-out-file="$work/$p.out" "$bin" "$p" >"$work/$p.log" 2>&1; then
    echo "gate.sh: the $p workload failed under valgrind:"
    tail -30 "$work/$p.log"
    exit 1
  fi
  awk '/^totals:/ {print $2}' "$work/$p.out" >"$work/$p.ir"
done

python3 - "$work" "$BASELINE" "$TOLERANCE" "${GATE_UPDATE:-0}" "$(rustc --version)" "${PATHS[@]}" <<'PY'
import json, os, sys
work, baseline_path, tol, update, rustc = sys.argv[1:6]
paths = sys.argv[6:]
tol = float(tol)
now = {p: int(open(os.path.join(work, p + ".ir")).read().strip() or 0) for p in paths}
if any(v == 0 for v in now.values()):
    sys.exit(f"gate.sh: a path counted no instructions: {now} (did --toggle-collect match?)")
if update == "1":
    json.dump({"rustc": rustc, "profile": "debug", "instructions": now},
              open(baseline_path, "w"), indent=2)
    open(baseline_path, "a").write("\n")
    for p in paths:
        print(f"{p:8} {now[p]:>14,}")
    print(f"gate.sh: baseline rewritten: {baseline_path}; commit it and say why the cost moved")
    sys.exit(0)
base = json.load(open(baseline_path))
failed = []
print(f"{'path':8} {'baseline':>14} {'now':>14} {'change':>8}")
for p in paths:
    b = base["instructions"].get(p)
    if b is None:
        failed.append(f"{p}: not in the baseline")
        continue
    change = now[p] / b - 1
    mark = "  FAIL" if change > tol else ("  faster" if change < -tol else "")
    print(f"{p:8} {b:>14,} {now[p]:>14,} {change:>+8.2%}{mark}")
    if change > tol:
        failed.append(f"{p}: {change:+.2%}")
if base.get("rustc") != rustc:
    print(f"note: baseline measured with {base.get('rustc')}, this run uses {rustc}")
if failed:
    print(f"\ngate.sh: instruction counts grew beyond +{tol:.0%}: {', '.join(failed)}.")
    print("If the extra cost is deliberate (a new rule, a toolchain update), rewrite the baseline with")
    print("  GATE_UPDATE=1 scripts/gate.sh")
    print(f"and commit {baseline_path} with a message that says why. Otherwise find the regression:")
    print("  valgrind --tool=callgrind --collect-atstart=no '--toggle-collect=gate::measured_*' \\")
    print("    target/debug/examples/gate <path> && callgrind_annotate callgrind.out.<pid>")
    sys.exit(1)
if any(now[p] / base["instructions"][p] - 1 < -tol for p in paths):
    print("gate.sh: some paths got cheaper; GATE_UPDATE=1 scripts/gate.sh locks the gain in.")
print("gate.sh: held")
PY
