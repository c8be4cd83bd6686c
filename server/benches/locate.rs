//! `locate` in process (issue 14, P4): point → village grid lookups per second through
//! the real [`GridSnapshot::build`] and [`GridSnapshot::locate`].
//!
//! - `locate/seeded_183`: the 183 seeded village grids of 沁水县, points spread over the
//!   county and a margin around it (some fall outside every grid), fixed seed.
//! - `locate/generated_40000`: 40,000 generated village grids (a jittered 200 × 200
//!   lattice whose shared edges wiggle, 30–80 vertices per grid, tiling a province-sized
//!   area without overlap) under 100 townships and one root, built as region rows.
//! - `locate/brute_force_40000`: the same 40,000 grids scanned one by one with geo's
//!   `intersects` and the same tie rule (smallest code wins), on fewer points.
//!
//! Every case reports elements = lookups, so criterion prints lookups/s. Run it through
//! `scripts/bench-locate.sh`, which turns the estimates into the target table.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

use chrono::Utc;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use entity::region;
use geo::{Coord, Intersects, LineString, Point, Polygon, Validation};
use gridwatch::domain::geo::{Lat, Lng, WgsPoint};
use gridwatch::domain::grid::{GridSnapshot, RegionLevel, RegionNode, parse_grid_file};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Lookups per timed iteration of the indexed cases.
const POINTS: usize = 4096;
/// Lookups per timed iteration of the brute-force scan (each one visits every grid).
const BRUTE_POINTS: usize = 16;

fn row(
    id: i64,
    code: &str,
    name: &str,
    level: RegionLevel,
    parent: Option<(i64, &str)>,
    boundary: Option<String>,
) -> region::Model {
    let now = Utc::now();
    region::Model {
        id,
        code: code.to_owned(),
        name: name.to_owned(),
        level,
        parent_id: parent.map(|p| p.0),
        path: match parent {
            Some((_, parent_path)) => format!("{parent_path}/{code}"),
            None => code.to_owned(),
        },
        boundary,
        centroid_lat: None,
        centroid_lng: None,
        synthetic_name: true,
        synthetic_boundary: true,
        created_at: now,
        updated_at: now,
    }
}

/// The seeded county as region rows (ids and paths as an import would give them).
fn seeded_rows() -> Vec<region::Model> {
    let items = parse_grid_file(seeds::QINSHUI_GRID_GEOJSON).expect("seeded grid parses");
    let mut placed: HashMap<String, (i64, String)> = HashMap::new();
    let mut rows = Vec::new();
    // Parents come before children in the file; loop until every item is placed anyway.
    let mut pending: Vec<_> = items.iter().collect();
    while !pending.is_empty() {
        let before = pending.len();
        pending.retain(|it| {
            let parent = match &it.parent_code {
                None => None,
                Some(pc) => match placed.get(pc) {
                    Some((id, path)) => Some((*id, path.clone())),
                    None => return true,
                },
            };
            let id = rows.len() as i64 + 1;
            let r = row(
                id,
                &it.code,
                &it.name,
                it.level,
                parent.as_ref().map(|(i, p)| (*i, p.as_str())),
                it.boundary_geojson.clone(),
            );
            placed.insert(it.code.clone(), (id, r.path.clone()));
            rows.push(r);
            false
        });
        assert!(pending.len() < before, "seeded grid has orphans");
    }
    rows
}

/// Side of the generated lattice, in cells.
const SIDE: usize = 200;
/// Side of a township, in cells (SIDE / TOWN_SIDE townships per row).
const TOWN_SIDE: usize = 20;
/// Cell size in degrees (about 2 km).
const CELL: f64 = 0.02;
const ORIGIN: (f64, f64) = (110.0, 35.0);

/// A lattice edge between two neighbouring nodes: its interior vertices, from the
/// first node to the second. Both cells that share the edge use the same vertices.
fn wiggle(rng: &mut StdRng, a: Coord, b: Coord) -> Vec<Coord> {
    let k = rng.random_range(7..=19);
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let len = (dx * dx + dy * dy).sqrt();
    let (nx, ny) = (-dy / len, dx / len);
    (1..=k)
        .map(|m| {
            let t = m as f64 / (k + 1) as f64;
            let off = rng.random_range(-1.0..=1.0) * 0.08 * CELL * (std::f64::consts::PI * t).sin();
            Coord {
                x: a.x + dx * t + nx * off,
                y: a.y + dy * t + ny * off,
            }
        })
        .collect()
}

/// 40,000 village grids tiling a 4° × 4° area, 100 townships, one root: region rows.
fn generated_rows() -> Vec<region::Model> {
    let mut rng = StdRng::seed_from_u64(40_000);
    let n = SIDE + 1;
    let node: Vec<Coord> = (0..n * n)
        .map(|idx| {
            let (i, j) = (idx % n, idx / n);
            Coord {
                x: ORIGIN.0 + i as f64 * CELL + rng.random_range(-0.15..=0.15) * CELL,
                y: ORIGIN.1 + j as f64 * CELL + rng.random_range(-0.15..=0.15) * CELL,
            }
        })
        .collect();
    let at = |i: usize, j: usize| node[j * n + i];
    // h[(i, j)]: node (i, j) → (i + 1, j); v[(i, j)]: node (i, j) → (i, j + 1).
    let mut h = HashMap::new();
    let mut v = HashMap::new();
    for j in 0..n {
        for i in 0..n {
            if i + 1 < n {
                h.insert((i, j), wiggle(&mut rng, at(i, j), at(i + 1, j)));
            }
            if j + 1 < n {
                v.insert((i, j), wiggle(&mut rng, at(i, j), at(i, j + 1)));
            }
        }
    }
    let county = "149900";
    let mut rows = vec![row(
        1,
        county,
        "生成的省",
        RegionLevel::County,
        None,
        Some(geojson_of(&rect(at(0, 0), at(SIDE, SIDE)))),
    )];
    let towns = SIDE / TOWN_SIDE;
    let mut next_id = 2;
    let mut invalid = 0;
    for tj in 0..towns {
        for ti in 0..towns {
            let t_code = format!("{county}{:03}", 100 + tj * towns + ti);
            let t_id = next_id;
            next_id += 1;
            let (i0, j0) = (ti * TOWN_SIDE, tj * TOWN_SIDE);
            let t_boundary = rect(at(i0, j0), at(i0 + TOWN_SIDE, j0 + TOWN_SIDE));
            let t_row = row(
                t_id,
                &t_code,
                "生成的乡镇",
                RegionLevel::Township,
                Some((1, county)),
                Some(geojson_of(&t_boundary)),
            );
            let t_path = t_row.path.clone();
            rows.push(t_row);
            for cj in 0..TOWN_SIDE {
                for ci in 0..TOWN_SIDE {
                    let (i, j) = (i0 + ci, j0 + cj);
                    let mut ring = vec![at(i, j)];
                    ring.extend(&h[&(i, j)]);
                    ring.push(at(i + 1, j));
                    ring.extend(&v[&(i + 1, j)]);
                    ring.push(at(i + 1, j + 1));
                    ring.extend(h[&(i, j + 1)].iter().rev());
                    ring.push(at(i, j + 1));
                    ring.extend(v[&(i, j)].iter().rev());
                    let poly = Polygon::new(LineString::from(ring), vec![]);
                    if !poly.is_valid() {
                        invalid += 1;
                    }
                    let code = format!("{t_code}{:03}", cj * TOWN_SIDE + ci + 1);
                    rows.push(row(
                        next_id,
                        &code,
                        "生成的村",
                        RegionLevel::Village,
                        Some((t_id, &t_path)),
                        Some(geojson_of(&poly)),
                    ));
                    next_id += 1;
                }
            }
        }
    }
    assert_eq!(invalid, 0, "generated village polygons must be valid");
    rows
}

fn rect(a: Coord, b: Coord) -> Polygon {
    geo::Rect::new(a, b).to_polygon()
}

fn geojson_of(p: &Polygon) -> String {
    geojson::Geometry::new(geojson::Value::from(p)).to_string()
}

/// `count` points, fixed seed, uniform over the villages' bounding box grown by 10% on
/// every side (so some fall outside every grid).
fn points(snap: &GridSnapshot, count: usize, seed: u64) -> Vec<WgsPoint> {
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for c in villages(snap).flat_map(|n| {
        n.boundary
            .iter()
            .flat_map(|b| b.0.iter())
            .flat_map(|p| p.exterior().0.iter())
    }) {
        x0 = x0.min(c.x);
        y0 = y0.min(c.y);
        x1 = x1.max(c.x);
        y1 = y1.max(c.y);
    }
    let (mx, my) = ((x1 - x0) * 0.1, (y1 - y0) * 0.1);
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count)
        .map(|_| WgsPoint {
            lat: Lat::try_from(rng.random_range(y0 - my..=y1 + my)).expect("lat"),
            lng: Lng::try_from(rng.random_range(x0 - mx..=x1 + mx)).expect("lng"),
        })
        .collect()
}

fn villages(snap: &GridSnapshot) -> impl Iterator<Item = &RegionNode> {
    snap.all()
        .iter()
        .filter(|n| n.level == RegionLevel::Village)
}

/// The scan the index saves: every village's `intersects`, smallest code wins.
fn brute_force<'a>(all: &[&'a RegionNode], p: WgsPoint) -> Option<&'a RegionNode> {
    let point = Point::new(p.lng.degrees(), p.lat.degrees());
    all.iter()
        .copied()
        .filter(|n| n.boundary.as_ref().is_some_and(|b| b.intersects(&point)))
        .min_by(|a, b| a.code.cmp(&b.code))
}

fn inside_share(snap: &GridSnapshot, pts: &[WgsPoint]) -> f64 {
    pts.iter().filter(|p| snap.locate(**p).is_some()).count() as f64 / pts.len() as f64
}

fn locate(c: &mut Criterion) {
    let seeded = GridSnapshot::build(seeded_rows());
    assert_eq!(villages(&seeded).count(), 183);
    let seeded_pts = points(&seeded, POINTS, 183);

    let generated = GridSnapshot::build(generated_rows());
    assert_eq!(villages(&generated).count(), 40_000);
    let gen_pts = points(&generated, POINTS, 40_000);
    let all: Vec<&RegionNode> = villages(&generated).collect();
    let brute_pts = &gen_pts[..BRUTE_POINTS];
    // The index must give the scan's answers, or the comparison means nothing.
    let seeded_all: Vec<&RegionNode> = villages(&seeded).collect();
    for (snap, scan, pts) in [
        (&generated, &all, &gen_pts[..256]),
        (&seeded, &seeded_all, &seeded_pts[..256]),
    ] {
        for p in pts {
            let (a, b) = (snap.locate(*p), brute_force(scan, *p));
            assert_eq!(
                a.map(|n| &n.code),
                b.map(|n| &n.code),
                "locate disagrees with the scan"
            );
        }
    }
    eprintln!(
        "points inside a grid: seeded {:.0}%, generated {:.0}%",
        inside_share(&seeded, &seeded_pts) * 100.0,
        inside_share(&generated, &gen_pts) * 100.0
    );

    let mut g = c.benchmark_group("locate");
    g.throughput(Throughput::Elements(POINTS as u64));
    g.bench_function("seeded_183", |b| {
        b.iter(|| {
            for p in &seeded_pts {
                black_box(seeded.locate(black_box(*p)));
            }
        })
    });
    g.bench_function("generated_40000", |b| {
        b.iter(|| {
            for p in &gen_pts {
                black_box(generated.locate(black_box(*p)));
            }
        })
    });
    g.throughput(Throughput::Elements(BRUTE_POINTS as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("brute_force_40000", |b| {
        b.iter(|| {
            for p in brute_pts {
                black_box(brute_force(&all, black_box(*p)));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, locate);
criterion_main!(benches);
