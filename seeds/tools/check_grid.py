#!/usr/bin/env python3
"""Check seeds/data/qinshui-grid.geojson (written by gen_grid.py).

Verifies the region tree and that the village grids tile the county:

* 1 county, 12 townships (codes and names as in qinshui-townships.csv),
  183 villages with the expected count per township;
* codes unique, 6/9/12 digits, each a prefix-extension of its parent's code;
  every parent exists and sits one level up;
* rings closed, at least 4 points, counter-clockwise, no self-intersection;
* every village lies within its township, every township within the county;
* sum of village areas == township area, sum of township areas == county area
  (relative 1e-9), and — when all cells are axis-aligned rectangles — no two
  siblings overlap, which with the area sums proves an exact tiling;
* 20,000 pseudo-random points in the county extent: how many villages hold each
  point strictly inside, and how many hold it inside-or-on-boundary (each must
  be exactly one); the same for townships;
* every vertex of every village (points on the grid lines) is strictly inside
  no village and on the boundary of at least one;
* every township rectangle's centroid lies strictly inside (not on an edge of)
  exactly one of that township's villages.

Usage: python3 seeds/tools/check_grid.py [FILE]   (stdlib only; exit 1 on failure)
"""

from __future__ import annotations

import csv
import json
import random
import sys
from collections import Counter
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
DEFAULT_INPUT = DATA_DIR / "qinshui-grid.geojson"
TOWNSHIPS_CSV = DATA_DIR / "qinshui-townships.csv"

COUNTY_CODE = "140521"
EXTENT = (111.916667, 35.4, 112.783333, 36.066667)  # west, south, east, north
EXPECTED_VILLAGES = {
    "龙港镇": 21,
    "中村镇": 17,
    "郑庄镇": 15,
    "端氏镇": 17,
    "嘉峰镇": 18,
    "郑村镇": 14,
    "柿庄镇": 17,
    "土沃乡": 13,
    "张村乡": 12,
    "胡底乡": 13,
    "固县乡": 12,
    "十里乡": 14,
}
SAMPLE_POINTS = 20_000
SAMPLE_SEED = 140521
LEVEL_DIGITS = {"COUNTY": 6, "TOWNSHIP": 9, "VILLAGE": 12}
PARENT_LEVEL = {"COUNTY": None, "TOWNSHIP": "COUNTY", "VILLAGE": "TOWNSHIP"}

INSIDE, BOUNDARY, OUTSIDE = "inside", "boundary", "outside"


class Checker:
    def __init__(self) -> None:
        self.failures: list[str] = []

    def check(self, condition: bool, message: str) -> bool:
        if not condition:
            self.failures.append(message)
        return condition


def ring_of(feature: dict) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in feature["geometry"]["coordinates"][0]]


def signed_area(ring) -> float:
    """Shoelace area in degree² (positive for counter-clockwise)."""
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:])) / 2.0


def cross(o, a, b) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def on_segment(p, a, b) -> bool:
    return (
        cross(a, b, p) == 0
        and min(a[0], b[0]) <= p[0] <= max(a[0], b[0])
        and min(a[1], b[1]) <= p[1] <= max(a[1], b[1])
    )


def segments_intersect(a, b, c, d) -> bool:
    d1, d2, d3, d4 = cross(c, d, a), cross(c, d, b), cross(a, b, c), cross(a, b, d)
    if ((d1 > 0 > d2) or (d1 < 0 < d2)) and ((d3 > 0 > d4) or (d3 < 0 < d4)):
        return True
    return on_segment(a, c, d) or on_segment(b, c, d) or on_segment(c, a, b) or on_segment(d, a, b)


def self_intersects(ring) -> bool:
    edges = list(zip(ring, ring[1:]))
    n = len(edges)
    for i in range(n):
        for j in range(i + 1, n):
            adjacent = j == i + 1 or (i == 0 and j == n - 1)
            a, b = edges[i]
            c, d = edges[j]
            if adjacent:
                # Neighbouring edges share one vertex; they must not overlap.
                other_i = a if j == i + 1 else b
                other_j = d if j == i + 1 else c
                if on_segment(other_j, *edges[i]) or on_segment(other_i, *edges[j]):
                    return True
            elif segments_intersect(a, b, c, d):
                return True
    return False


def locate(point, ring) -> str:
    """Where a point lies relative to a closed ring: inside, boundary or outside."""
    for a, b in zip(ring, ring[1:]):
        if on_segment(point, a, b):
            return BOUNDARY
    x, y = point
    inside = False
    for (x0, y0), (x1, y1) in zip(ring, ring[1:]):
        if (y0 > y) != (y1 > y):
            x_cross = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
            if x < x_cross:
                inside = not inside
    return INSIDE if inside else OUTSIDE


def bbox(ring):
    xs = [p[0] for p in ring]
    ys = [p[1] for p in ring]
    return min(xs), min(ys), max(xs), max(ys)


def is_axis_rectangle(ring) -> bool:
    if len(ring) != 5:
        return False
    x0, y0, x1, y1 = bbox(ring)
    return set(ring[:4]) == {(x0, y0), (x1, y0), (x1, y1), (x0, y1)}


def rel_close(a: float, b: float, tol: float = 1e-9) -> bool:
    return abs(a - b) <= tol * max(abs(a), abs(b))


def run(path: Path) -> int:
    c = Checker()
    collection = json.loads(path.read_text(encoding="utf-8"))
    c.check(collection.get("type") == "FeatureCollection", "not a FeatureCollection")
    features = collection["features"]

    # --- properties and tree -------------------------------------------------
    by_code: dict[str, dict] = {}
    for f in features:
        p = f.get("properties") or {}
        code = p.get("code")
        ok = c.check(isinstance(code, str) and code.isdigit(), f"bad code {code!r}")
        c.check(isinstance(p.get("name"), str) and p["name"] != "", f"{code}: no name")
        c.check(p.get("level") in LEVEL_DIGITS, f"{code}: bad level {p.get('level')!r}")
        c.check(isinstance(p.get("synthetic_name"), bool), f"{code}: synthetic_name not bool")
        c.check(isinstance(p.get("synthetic_boundary"), bool), f"{code}: synthetic_boundary not bool")
        c.check(f.get("geometry", {}).get("type") == "Polygon", f"{code}: geometry not a Polygon")
        if ok:
            c.check(code not in by_code, f"duplicate code {code}")
            by_code[code] = f
            c.check(len(code) == LEVEL_DIGITS.get(p.get("level"), -1), f"{code}: length does not match level")

    levels = Counter(f["properties"]["level"] for f in features)
    c.check(levels["COUNTY"] == 1, f"{levels['COUNTY']} counties, expected 1")
    c.check(levels["TOWNSHIP"] == 12, f"{levels['TOWNSHIP']} townships, expected 12")
    c.check(levels["VILLAGE"] == 183, f"{levels['VILLAGE']} villages, expected 183")

    for code, f in by_code.items():
        p = f["properties"]
        expected_parent_level = PARENT_LEVEL.get(p["level"])
        parent_code = p.get("parent_code")
        if expected_parent_level is None:
            c.check(parent_code is None, f"{code}: county has a parent")
            continue
        parent = by_code.get(parent_code)
        if c.check(parent is not None, f"{code}: parent {parent_code!r} does not exist"):
            c.check(parent["properties"]["level"] == expected_parent_level, f"{code}: parent {parent_code} is not a {expected_parent_level}")
            c.check(code.startswith(parent_code), f"{code}: does not extend parent code {parent_code}")

    with TOWNSHIPS_CSV.open(encoding="utf-8", newline="") as fh:
        official = {row["code"]: row["name"] for row in csv.DictReader(fh)}
    townships = {code: f for code, f in by_code.items() if f["properties"]["level"] == "TOWNSHIP"}
    c.check({k: f["properties"]["name"] for k, f in townships.items()} == official, "township codes/names differ from qinshui-townships.csv")
    villages_of: dict[str, list[dict]] = {code: [] for code in townships}
    for f in features:
        if f["properties"]["level"] == "VILLAGE" and f["properties"]["parent_code"] in villages_of:
            villages_of[f["properties"]["parent_code"]].append(f)
    for code, t in townships.items():
        name = t["properties"]["name"]
        c.check(len(villages_of[code]) == EXPECTED_VILLAGES.get(name), f"{name}: {len(villages_of[code])} villages, expected {EXPECTED_VILLAGES.get(name)}")
    county = by_code.get(COUNTY_CODE)
    c.check(county is not None and county["properties"]["level"] == "COUNTY", "county 140521 missing")
    if c.failures:
        return report(c)

    # --- rings -----------------------------------------------------------------
    rings = {code: ring_of(f) for code, f in by_code.items()}
    all_rectangles = True
    for code, ring in rings.items():
        c.check(len(ring) >= 4, f"{code}: ring has fewer than 4 points")
        c.check(ring[0] == ring[-1], f"{code}: ring not closed")
        c.check(len(by_code[code]["geometry"]["coordinates"]) == 1, f"{code}: polygon has holes")
        c.check(signed_area(ring) > 0, f"{code}: exterior ring not counter-clockwise")
        c.check(not self_intersects(ring), f"{code}: ring self-intersects")
        for x, y in ring:
            c.check(-180 <= x <= 180 and -90 <= y <= 90, f"{code}: coordinate out of range")
        all_rectangles &= is_axis_rectangle(ring)
    c.check(bbox(rings[COUNTY_CODE]) == EXTENT, f"county extent {bbox(rings[COUNTY_CODE])} != {EXTENT}")
    if c.failures:
        return report(c)

    # --- containment, areas, overlap ------------------------------------------
    def within(child: str, parent: str) -> bool:
        return all(locate(p, rings[parent]) != OUTSIDE for p in rings[child])

    area = {code: signed_area(ring) for code, ring in rings.items()}
    c.check(rel_close(sum(area[t] for t in townships), area[COUNTY_CODE]), "sum of township areas != county area")
    for t in townships:
        c.check(within(t, COUNTY_CODE), f"{t}: not within the county")
        kids = [v["properties"]["code"] for v in villages_of[t]]
        total = sum(area[v] for v in kids)
        c.check(rel_close(total, area[t]), f"{t}: sum of village areas {total!r} != township area {area[t]!r}")
        for v in kids:
            c.check(within(v, t), f"{v}: not within township {t}")

    def overlaps(a: str, b: str) -> bool:
        ax0, ay0, ax1, ay1 = bbox(rings[a])
        bx0, by0, bx1, by1 = bbox(rings[b])
        return min(ax1, bx1) > max(ax0, bx0) and min(ay1, by1) > max(ay0, by0)

    if all_rectangles:
        groups = [list(townships)] + [[v["properties"]["code"] for v in vs] for vs in villages_of.values()]
        for group in groups:
            for i, a in enumerate(group):
                for b in group[i + 1 :]:
                    c.check(not overlaps(a, b), f"{a} and {b} overlap")
        print("exact tiling: all cells are axis-aligned rectangles; no sibling overlaps, areas sum up")
    else:
        print("exact tiling: not all cells are rectangles; relying on areas and point samples")

    # --- point samples -----------------------------------------------------------
    village_codes = [code for code, f in by_code.items() if f["properties"]["level"] == "VILLAGE"]
    village_boxes = {v: bbox(rings[v]) for v in village_codes}

    def hits(point, codes, boxes=None):
        strict = closed = 0
        for code in codes:
            if boxes is not None:
                x0, y0, x1, y1 = boxes[code]
                if not (x0 <= point[0] <= x1 and y0 <= point[1] <= y1):
                    continue
            where = locate(point, rings[code])
            strict += where == INSIDE
            closed += where != OUTSIDE
        return strict, closed

    rng = random.Random(SAMPLE_SEED)
    west, south, east, north = EXTENT
    strict_counts: Counter = Counter()
    closed_counts: Counter = Counter()
    township_closed: Counter = Counter()
    for _ in range(SAMPLE_POINTS):
        point = (rng.uniform(west, east), rng.uniform(south, north))
        strict, closed = hits(point, village_codes, village_boxes)
        strict_counts[strict] += 1
        closed_counts[closed] += 1
        township_closed[hits(point, townships)[1]] += 1
    print(f"{SAMPLE_POINTS} sample points, villages holding each point strictly inside: {dict(sorted(strict_counts.items()))}")
    print(f"{SAMPLE_POINTS} sample points, villages holding each point inside or on boundary: {dict(sorted(closed_counts.items()))}")
    print(f"{SAMPLE_POINTS} sample points, townships holding each point inside or on boundary: {dict(sorted(township_closed.items()))}")
    c.check(closed_counts == Counter({1: SAMPLE_POINTS}), "some sample point is in no village or in more than one")
    c.check(strict_counts[1] + strict_counts[0] == SAMPLE_POINTS, "some sample point is strictly inside two villages")
    c.check(township_closed == Counter({1: SAMPLE_POINTS}), "some sample point is in no township or in more than one")

    # Points on the grid lines: every village vertex.
    vertices = {p for v in village_codes for p in rings[v][:-1]}
    bad_vertices = 0
    for point in vertices:
        strict, closed = hits(point, village_codes, village_boxes)
        if strict != 0 or closed < 1:
            bad_vertices += 1
    print(f"{len(vertices)} village vertices: {bad_vertices} strictly inside a village or on none")
    c.check(bad_vertices == 0, f"{bad_vertices} village vertices lie strictly inside a village or on none")

    # --- township centroids ------------------------------------------------------
    for t, f in sorted(townships.items()):
        x0, y0, x1, y1 = bbox(rings[t])
        centroid = ((x0 + x1) / 2, (y0 + y1) / 2)
        kids = [v["properties"]["code"] for v in villages_of[t]]
        places = Counter(locate(centroid, rings[v]) for v in kids)
        holder = [v for v in kids if locate(centroid, rings[v]) == INSIDE]
        name = f["properties"]["name"]
        if c.check(places[INSIDE] == 1 and places[BOUNDARY] == 0, f"{name} centroid {centroid}: {dict(places)}"):
            print(f"{name} ({t}) centroid ({centroid[0]:.6f}, {centroid[1]:.6f}) strictly inside {by_code[holder[0]]['properties']['name']} ({holder[0]})")

    return report(c)


def report(c: Checker) -> int:
    failures = c.failures
    if failures:
        print(f"FAILED: {len(failures)} problem(s)")
        for failure in failures[:50]:
            print(f"  - {failure}")
        return 1
    print("OK: qinshui grid passes every check")
    return 0


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_INPUT))
