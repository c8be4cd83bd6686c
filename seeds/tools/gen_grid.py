#!/usr/bin/env python3
"""Generate the synthetic region tree of 沁水县 (Qinshui County, Shanxi) as GeoJSON.

Writes ``seeds/data/qinshui-grid.geojson``: one COUNTY feature, 12 TOWNSHIP
features and 183 VILLAGE grid features, every geometry an axis-aligned
rectangle in WGS-84 [lng, lat].

Only the county code, the township codes and names (official, from
``seeds/data/qinshui-townships.csv``) and the community names of 龙港镇 are
real. Every boundary is synthetic, and so are the village grids whose names
are unknown: ``synthetic_name`` / ``synthetic_boundary`` say which.

The output is deterministic: the only "randomness" is ``random.Random`` seeded
with each township's code. Every grid line is computed once, rounded to six
decimals once, and reused by all cells that touch it, so neighbouring cells
share bit-identical coordinates and the villages tile each township (and the
townships tile the county) with no gap and no overlap.

Usage: python3 seeds/tools/gen_grid.py [OUTPUT]   (stdlib only)
Check the result with seeds/tools/check_grid.py.
"""

from __future__ import annotations

import csv
import json
import math
import random
import sys
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
DEFAULT_OUTPUT = DATA_DIR / "qinshui-grid.geojson"
TOWNSHIPS_CSV = DATA_DIR / "qinshui-townships.csv"

COUNTY_CODE = "140521"
COUNTY_NAME = "沁水县"

# County extent: 111°55'–112°47' E, 35°24'–36°04' N.
WEST = round(111 + 55 / 60, 6)  # 111.916667
EAST = round(112 + 47 / 60, 6)  # 112.783333
SOUTH = round(35 + 24 / 60, 6)  # 35.4
NORTH = round(36 + 4 / 60, 6)  # 36.066667

# Township layout: three rows (north to south), four townships per row (west
# to east). Each row has its own column lines, so widths differ row by row.
# 龙港镇 (the county seat) holds the centre of the county; 端氏镇, 郑村镇 and
# 嘉峰镇 form the eastern column along the Qin river; 十里乡, 土沃乡, 中村镇 and
# 张村乡 lie in the west. The placement is synthetic but keeps that rough
# geography.
ROW_LINES = [NORTH, 35.86, 35.625, SOUTH]  # north → south
TOWNSHIP_ROWS = [
    # (column lines west → east, township names west → east)
    ([WEST, 112.14, 112.37, 112.58, EAST], ["十里乡", "固县乡", "柿庄镇", "端氏镇"]),
    ([WEST, 112.12, 112.43, 112.61, EAST], ["土沃乡", "龙港镇", "胡底乡", "郑村镇"]),
    ([WEST, 112.17, 112.36, 112.56, EAST], ["中村镇", "张村乡", "郑庄镇", "嘉峰镇"]),
]

# Village grids (村/社区网格) per township; 183 in all.
VILLAGE_COUNTS = {
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
TOTAL_VILLAGES = 183

# Real names of 龙港镇's grids: the communities of the county seat (codes
# 001–009, placed in the cells nearest the town's centre) and 小岭村 (201).
LONGGANG_COMMUNITIES = [
    "柳庄社区",
    "宣化社区",
    "永宁社区",
    "北和社区",
    "东安社区",
    "梅苑社区",
    "新城社区",
    "杏园社区",
    "杨河社区",
]
LONGGANG_VILLAGES = ["小岭村"]

# Cells narrower than this (degrees) are rejected when drawing a subdivision.
MIN_CELL_DEG = 0.01
# The township centroid must be at least this far (degrees, ≈10 m) from every
# edge of the village cell that holds it.
CENTROID_MARGIN_DEG = 1e-4

KM_PER_DEG_LAT = 110.57


def r6(value: float) -> float:
    """Round a coordinate to 6 decimals (≈0.1 m): done once per grid line."""
    return round(value, 6)


def rectangle(x0: float, y0: float, x1: float, y1: float) -> dict:
    """A closed, counter-clockwise GeoJSON Polygon for an axis-aligned box."""
    assert x0 < x1 and y0 < y1, (x0, y0, x1, y1)
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return {"type": "Polygon", "coordinates": [ring]}


def feature(code, name, level, parent_code, synthetic_name, box) -> dict:
    return {
        "type": "Feature",
        "id": code,
        "properties": {
            "code": code,
            "name": name,
            "level": level,
            "parent_code": parent_code,
            "synthetic_name": synthetic_name,
            "synthetic_boundary": True,
        },
        "geometry": rectangle(*box),
    }


def split_lines(start: float, end: float, weights: list[float]) -> list[float]:
    """Cut [start, end] in proportion to weights; inner lines rounded once."""
    total = sum(weights)
    lines = [start]
    acc = 0.0
    for w in weights[:-1]:
        acc += w
        lines.append(r6(start + (end - start) * acc / total))
    lines.append(end)
    return lines


def strictly_inside(value: float, low: float, high: float) -> bool:
    return low + CENTROID_MARGIN_DEG < value < high - CENTROID_MARGIN_DEG


def subdivide(code: str, box: tuple, n: int) -> list[tuple]:
    """Tile a township box with n rectangular village cells, row by row.

    Returns the cells as (x0, y0, x1, y1) in row-major order (north row first,
    west to east). Row heights and cell widths vary (±30 %) so the grid does
    not look like graph paper, and the draw is repeated until the township's
    centroid lies strictly inside one cell, away from every edge.
    """
    x0, y0, x1, y1 = box
    mid_lat = (y0 + y1) / 2
    width_km = (x1 - x0) * KM_PER_DEG_LAT * math.cos(math.radians(mid_lat))
    height_km = (y1 - y0) * KM_PER_DEG_LAT
    rows = max(1, round(math.sqrt(n * height_km / width_km)))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2

    rng = random.Random(int(code))
    for _attempt in range(1000):
        # Cells per row: as even as possible, the extra cells in drawn rows.
        counts = [n // rows] * rows
        for i in rng.sample(range(rows), n % rows):
            counts[i] += 1
        # A row's height follows its cell count, jittered.
        row_weights = [c * rng.uniform(0.7, 1.3) for c in counts]
        # Lines from north to south.
        row_lines = split_lines(y1, y0, row_weights)
        cells: list[tuple] = []
        ok = True
        holds_centroid = 0
        for r, count in enumerate(counts):
            north, south = row_lines[r], row_lines[r + 1]
            if north - south < MIN_CELL_DEG:
                ok = False
                break
            col_lines = split_lines(x0, x1, [rng.uniform(0.7, 1.3) for _ in range(count)])
            for c in range(count):
                west, east = col_lines[c], col_lines[c + 1]
                if east - west < MIN_CELL_DEG:
                    ok = False
                    break
                if strictly_inside(cx, west, east) and strictly_inside(cy, south, north):
                    holds_centroid += 1
                cells.append((west, south, east, north))
            if not ok:
                break
        if ok and holds_centroid == 1 and len(cells) == n:
            return cells
    raise RuntimeError(f"no acceptable subdivision for township {code}")


def read_townships() -> dict[str, str]:
    """Township name → official 9-digit code, from the reference CSV."""
    with TOWNSHIPS_CSV.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 12, len(rows)
    by_name = {}
    for row in rows:
        assert row["county_code"] == COUNTY_CODE, row
        assert row["code"].startswith(COUNTY_CODE) and len(row["code"]) == 9, row
        by_name[row["name"]] = row["code"]
    return by_name


def build() -> dict:
    assert sum(VILLAGE_COUNTS.values()) == TOTAL_VILLAGES, sum(VILLAGE_COUNTS.values())
    codes = read_townships()
    layout_names = [name for _, names in TOWNSHIP_ROWS for name in names]
    assert sorted(layout_names) == sorted(codes), (layout_names, codes)
    assert sorted(VILLAGE_COUNTS) == sorted(codes)

    county = feature(COUNTY_CODE, COUNTY_NAME, "COUNTY", None, False, (WEST, SOUTH, EAST, NORTH))

    township_boxes: dict[str, tuple] = {}
    for r, (col_lines, names) in enumerate(TOWNSHIP_ROWS):
        north, south = ROW_LINES[r], ROW_LINES[r + 1]
        assert len(col_lines) == len(names) + 1
        for c, name in enumerate(names):
            township_boxes[name] = (col_lines[c], south, col_lines[c + 1], north)

    townships = []
    villages = []
    for name, code in sorted(codes.items(), key=lambda item: item[1]):
        box = township_boxes[name]
        townships.append(feature(code, name, "TOWNSHIP", COUNTY_CODE, False, box))
        cells = subdivide(code, box, VILLAGE_COUNTS[name])

        named: list[tuple[str, str, bool, tuple]] = []  # (code, name, synthetic, cell)
        remaining = list(cells)
        if name == "龙港镇":
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2

            def distance(cell, cx=cx, cy=cy):
                return math.hypot((cell[0] + cell[2]) / 2 - cx, (cell[1] + cell[3]) / 2 - cy)

            central = sorted(remaining, key=distance)[: len(LONGGANG_COMMUNITIES)]
            # Keep row-major order among the central cells for stable numbering.
            central = [cell for cell in remaining if cell in central]
            for i, (community, cell) in enumerate(zip(LONGGANG_COMMUNITIES, central), start=1):
                named.append((f"{code}{i:03d}", community, False, cell))
                remaining.remove(cell)
            next_number = 201
            for village in LONGGANG_VILLAGES:
                named.append((f"{code}{next_number:03d}", village, False, remaining.pop(0)))
                next_number += 1
        else:
            next_number = 201
        for ordinal, cell in enumerate(remaining, start=1):
            named.append((f"{code}{next_number:03d}", f"{name}第{ordinal:02d}网格", True, cell))
            next_number += 1

        for v_code, v_name, synthetic, cell in sorted(named):
            villages.append(feature(v_code, v_name, "VILLAGE", code, synthetic, cell))

    assert len(townships) == 12
    assert len(villages) == TOTAL_VILLAGES, len(villages)
    return {"type": "FeatureCollection", "features": [county, *townships, *villages]}


def dump(collection: dict) -> str:
    """One feature per line: readable diffs, small file."""
    lines = ['{"type":"FeatureCollection","features":[']
    features = collection["features"]
    for i, feat in enumerate(features):
        text = json.dumps(feat, ensure_ascii=False, separators=(",", ":"))
        lines.append(text + ("," if i + 1 < len(features) else ""))
    lines.append("]}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    output = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUTPUT
    collection = build()
    output.write_text(dump(collection), encoding="utf-8")
    counts = {}
    for feat in collection["features"]:
        level = feat["properties"]["level"]
        counts[level] = counts.get(level, 0) + 1
    print(f"wrote {output}: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
