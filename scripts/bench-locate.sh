#!/usr/bin/env bash
# `locate` in process (issue 14, P4), release build, criterion: point → village grid
# lookups per second at the 183 seeded village grids and at 40,000 generated ones, and
# a brute-force scan of the 40,000 (every grid's `intersects`, same tie rule) as the
# baseline. Not part of the test suite.
#
#   scripts/bench-locate.sh [CRITERION_ARGS…]     e.g. --measurement-time 10
#
# Prints benchmark, our figure, the baseline, the ratio, the target and whether it
# held; writes the same as JSON ($CARGO_TARGET_DIR or target/, bench-locate.json).
# Targets: ≥ 2.5 M lookups/s at 183 grids; at 40,000 ≥ 0.25 of the 183 figure;
# ≥ 1000× the brute-force scan at 40,000.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
case "$TARGET" in /*) ;; *) TARGET="$PWD/$TARGET" ;; esac

# Old estimates must not stand in for a failed case.
rm -rf "$TARGET/criterion/locate"
cargo bench --locked -p gridwatch --bench locate -- "$@"

python3 - "$TARGET/criterion/locate" "$TARGET/bench-locate.json" <<'PY'
import json, sys
base, out = sys.argv[1], sys.argv[2]

def per_second(case):
    """Lookups per second from criterion's mean time per iteration and its throughput."""
    est = json.load(open(f"{base}/{case}/new/estimates.json"))
    bench = json.load(open(f"{base}/{case}/new/benchmark.json"))
    elements = bench["throughput"]["Elements"]
    return elements / (est["mean"]["point_estimate"] * 1e-9)

small, large, brute = per_second("seeded_183"), per_second("generated_40000"), per_second("brute_force_40000")
rows = [
    {"benchmark": "P4 locate, 183 grids", "ours": small, "baseline": None,
     "unit": "lookups/s", "ratio": None, "target": ">= 2.5M", "held": small >= 2.5e6},
    {"benchmark": "P4 locate, 40,000 vs 183 grids", "ours": large, "baseline": small,
     "unit": "lookups/s", "ratio": round(large / small, 3), "target": ">= 0.25", "held": large / small >= 0.25},
    {"benchmark": "P4 locate vs scan, 40,000 grids", "ours": large, "baseline": brute,
     "unit": "lookups/s", "ratio": round(large / brute, 1), "target": ">= 1000", "held": large / brute >= 1000},
]

def fmt(v):
    if v is None:
        return "-"
    return f"{v / 1e6:.2f}M" if v >= 1e5 else f"{v:.0f}"

print(f"{'benchmark':34} {'ours':>10} {'baseline':>10} {'ratio':>7} {'target':>9}  held")
for r in rows:
    print(f"{r['benchmark']:34} {fmt(r['ours']):>10} {fmt(r['baseline']):>10} "
          f"{'-' if r['ratio'] is None else r['ratio']:>7} {r['target']:>9}  {'yes' if r['held'] else 'NO'}")
json.dump(rows, open(out, "w"), indent=2, ensure_ascii=False)
print("written:", out)
PY
