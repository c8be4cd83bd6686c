//! Boundaries prepared for point lookups: the answer of geo's `MultiPolygon::intersects`
//! for a point, computed from a per-ring band index instead of walking every edge.
//!
//! geo's test (winding number with robust orientation, boundary counts as inside) only
//! ever looks at edges whose y-range contains the point's y. A ring here keeps its
//! vertices plus, for each of a number of equal-height horizontal bands, the edges
//! whose y-range meets that band; a lookup visits only its band's edges, with the very
//! same predicate and rules, so the answer is the same as geo's, exactly, including
//! points on vertices and edges.

use geo::{Coord, GeoNum, Kernel as _, LineString, MultiPolygon, Orientation, Polygon};

/// The predicate geo uses for `f64` (robust, exact orientation).
type Ker = <f64 as GeoNum>::Ker;

/// A region boundary, ready for repeated point-in-boundary questions.
#[derive(Debug, Clone)]
pub(super) struct PreparedBoundary {
    polygons: Vec<PreparedPolygon>,
}

#[derive(Debug, Clone)]
struct PreparedPolygon {
    exterior: PreparedRing,
    holes: Vec<PreparedRing>,
}

/// Where a point lies relative to one ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RingPos {
    Inside,
    OnBoundary,
    Outside,
}

#[derive(Debug, Clone)]
struct PreparedRing {
    /// The ring's vertices as geo holds them (closed: the last equals the first).
    coords: Vec<Coord<f64>>,
    min_y: f64,
    max_y: f64,
    /// Bands per unit of y (0 when there is a single band).
    bands_per_y: f64,
    /// The last band's number.
    last_band: usize,
    /// Band `b`'s edges are `edges[band_start[b]..band_start[b + 1]]`.
    band_start: Vec<u32>,
    /// Edge `i` runs from `coords[i]` to `coords[i + 1]`.
    edges: Vec<u32>,
}

impl PreparedBoundary {
    /// Prepares `boundary`; the result answers exactly as `boundary.intersects(point)`.
    pub(super) fn new(boundary: &MultiPolygon<f64>) -> Self {
        Self {
            polygons: boundary.iter().map(PreparedPolygon::new).collect(),
        }
    }

    /// Whether the point lies inside the boundary or on it (geo's `intersects`).
    pub(super) fn intersects(&self, c: Coord<f64>) -> bool {
        self.polygons.iter().any(|p| p.intersects(c))
    }
}

impl PreparedPolygon {
    fn new(p: &Polygon<f64>) -> Self {
        Self {
            exterior: PreparedRing::new(p.exterior()),
            holes: p.interiors().iter().map(PreparedRing::new).collect(),
        }
    }

    /// geo's `Polygon::intersects(Coord)`: not `Outside` by `coordinate_position`,
    /// which checks the exterior first and then each hole in order.
    fn intersects(&self, c: Coord<f64>) -> bool {
        // An empty polygon (no exterior vertices) is outside everything.
        if self.exterior.coords.is_empty() {
            return false;
        }
        match self.exterior.position(c) {
            RingPos::Outside => false,
            RingPos::OnBoundary => true,
            RingPos::Inside => {
                for hole in &self.holes {
                    match hole.position(c) {
                        RingPos::Outside => {}
                        RingPos::OnBoundary => return true,
                        RingPos::Inside => return false,
                    }
                }
                true
            }
        }
    }
}

impl PreparedRing {
    fn new(ring: &LineString<f64>) -> Self {
        let coords = ring.0.clone();
        let edge_count = coords.len().saturating_sub(1);
        let (min_y, max_y) = coords
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), c| {
                (lo.min(c.y), hi.max(c.y))
            });
        // About one band per edge: a band then holds the few edges that cross it.
        let bands = edge_count.clamp(1, 4096);
        let height = max_y - min_y;
        let bands_per_y = if bands > 1 && height > 0.0 && height.is_finite() {
            bands as f64 / height
        } else {
            0.0
        };
        let mut ring = Self {
            coords,
            min_y,
            max_y,
            bands_per_y,
            last_band: if bands_per_y > 0.0 { bands - 1 } else { 0 },
            band_start: Vec::new(),
            edges: Vec::new(),
        };
        // Counting sort of edges into every band their y-range meets. `band_of` is
        // monotone in y, so an edge whose y-range holds y is in y's band.
        let span = |i: usize, r: &Self| {
            let (a, b) = (r.coords[i].y, r.coords[i + 1].y);
            (r.band_of(a.min(b)), r.band_of(a.max(b)))
        };
        let mut counts = vec![0u32; ring.last_band + 2];
        for i in 0..edge_count {
            let (lo, hi) = span(i, &ring);
            for c in &mut counts[lo + 1..=hi + 1] {
                *c += 1;
            }
        }
        for b in 1..counts.len() {
            counts[b] += counts[b - 1];
        }
        let mut fill = counts.clone();
        let mut edges = vec![0u32; counts[ring.last_band + 1] as usize];
        for i in 0..edge_count {
            let (lo, hi) = span(i, &ring);
            for slot in &mut fill[lo..=hi] {
                edges[*slot as usize] = i as u32;
                *slot += 1;
            }
        }
        ring.band_start = counts;
        ring.edges = edges;
        ring
    }

    /// The band holding `y`: monotone in `y`, clamped to the existing bands.
    fn band_of(&self, y: f64) -> usize {
        // `as` saturates: below the ring (and NaN) gives band 0.
        (((y - self.min_y) * self.bands_per_y) as usize).min(self.last_band)
    }

    /// geo's `coord_pos_relative_to_ring`, over the edges of the point's band only.
    fn position(&self, c: Coord<f64>) -> RingPos {
        match self.coords.len() {
            0 => return RingPos::Outside,
            1 => {
                return if c == self.coords[0] {
                    RingPos::OnBoundary
                } else {
                    RingPos::Outside
                };
            }
            _ => {}
        }
        // No edge's y-range holds y: geo's loop would count nothing.
        if !(c.y >= self.min_y && c.y <= self.max_y) {
            return RingPos::Outside;
        }
        let b = self.band_of(c.y);
        let band = &self.edges[self.band_start[b] as usize..self.band_start[b + 1] as usize];
        let mut winding = 0i32;
        for &i in band {
            let (start, end) = (self.coords[i as usize], self.coords[i as usize + 1]);
            // Edge crossing rules as in geo: an upward edge includes its start and
            // excludes its end, a downward edge the reverse, horizontal edges only
            // count for the boundary, the crossing must be strictly right of the point.
            if start.y <= c.y {
                if end.y >= c.y {
                    let o = Ker::orient2d(start, end, c);
                    if o == Orientation::CounterClockwise && end.y != c.y {
                        winding += 1;
                    } else if o == Orientation::Collinear && between(c.x, start.x, end.x) {
                        return RingPos::OnBoundary;
                    }
                }
            } else if end.y <= c.y {
                let o = Ker::orient2d(start, end, c);
                if o == Orientation::Clockwise {
                    winding -= 1;
                } else if o == Orientation::Collinear && between(c.x, start.x, end.x) {
                    return RingPos::OnBoundary;
                }
            }
        }
        if winding == 0 {
            RingPos::Outside
        } else {
            RingPos::Inside
        }
    }
}

/// `v` within the closed range of two bounds in either order (geo's `value_in_between`).
fn between(v: f64, a: f64, b: f64) -> bool {
    if a < b {
        v >= a && v <= b
    } else {
        v >= b && v <= a
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "the seeded grid file is known to parse")]
mod tests {
    use geo::{Intersects, LineString, MultiPolygon, Point, Polygon};
    use proptest::prelude::*;

    use super::*;
    use crate::domain::grid::parse_grid_file;

    /// Every boundary of the seeded county (villages, townships, the county).
    fn seeded() -> Vec<MultiPolygon<f64>> {
        parse_grid_file(seeds::QINSHUI_GRID_GEOJSON)
            .unwrap()
            .into_iter()
            .filter_map(|r| r.boundary)
            .collect()
    }

    /// Points on and next to a boundary: every vertex, points along every edge, and
    /// the same nudged by the smallest step either way in x and in y.
    fn on_and_near(b: &MultiPolygon<f64>) -> Vec<Coord<f64>> {
        let mut out = Vec::new();
        for ring in b
            .iter()
            .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
        {
            for w in ring.0.windows(2) {
                let (a, z) = (w[0], w[1]);
                for t in [0.0, 0.25, 0.5, 0.75] {
                    let c = Coord {
                        x: a.x + (z.x - a.x) * t,
                        y: a.y + (z.y - a.y) * t,
                    };
                    out.push(c);
                    out.push(Coord {
                        x: c.x.next_up(),
                        ..c
                    });
                    out.push(Coord {
                        x: c.x.next_down(),
                        ..c
                    });
                    out.push(Coord {
                        y: c.y.next_up(),
                        ..c
                    });
                    out.push(Coord {
                        y: c.y.next_down(),
                        ..c
                    });
                }
            }
        }
        out
    }

    fn agree(b: &MultiPolygon<f64>, p: &PreparedBoundary, c: Coord<f64>) {
        assert_eq!(
            p.intersects(c),
            b.intersects(&Point::from(c)),
            "at {c:?} for {b:?}"
        );
    }

    #[test]
    fn agrees_with_geo_on_every_seeded_vertex_and_edge() {
        let all = seeded();
        let prepared: Vec<_> = all.iter().map(PreparedBoundary::new).collect();
        let mut on_boundary = 0;
        for b in &all {
            for c in on_and_near(b) {
                // Each point against every boundary: neighbours share these edges.
                for (other, p) in all.iter().zip(&prepared) {
                    agree(other, p, c);
                }
                on_boundary += usize::from(prepared.iter().any(|p| p.intersects(c)));
            }
        }
        // The points really test the boundary case, not only the far outside.
        assert!(on_boundary > 10_000, "{on_boundary}");
    }

    #[test]
    fn empty_and_degenerate_rings_answer_like_geo() {
        let c = Coord { x: 1.0, y: 1.0 };
        for ring in [
            vec![],
            vec![c],
            vec![c, Coord { x: 2.0, y: 1.0 }],
            vec![
                Coord { x: 0.0, y: 1.0 },
                Coord { x: 3.0, y: 1.0 },
                Coord { x: 0.0, y: 1.0 },
            ],
        ] {
            let b = MultiPolygon::new(vec![Polygon::new(LineString::new(ring), vec![])]);
            let p = PreparedBoundary::new(&b);
            for q in [
                c,
                Coord { x: 2.0, y: 1.0 },
                Coord { x: 5.0, y: 1.0 },
                Coord { x: 1.0, y: 2.0 },
            ] {
                agree(&b, &p, q);
            }
        }
    }

    /// A star-shaped ring around `(cx, cy)`: `radii.len()` vertices at rising angles.
    fn star(cx: f64, cy: f64, radii: &[f64], turn: f64) -> LineString<f64> {
        let n = radii.len() as f64;
        LineString::from(
            radii
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let a = turn + std::f64::consts::TAU * i as f64 / n;
                    (cx + r * a.cos(), cy + r * a.sin())
                })
                .collect::<Vec<_>>(),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Random points over the county, and points snapped onto a random seeded
        /// edge or vertex: the prepared test answers as geo for every grid.
        #[test]
        fn agrees_with_geo_over_the_seeded_grid(
            x in 111.8f64..112.9, y in 35.3f64..36.2,
            pick in any::<prop::sample::Index>(), edge in any::<prop::sample::Index>(),
            t in prop_oneof![Just(0.0), Just(0.5), 0.0f64..1.0],
        ) {
            let all = seeded();
            let b = pick.get(&all);
            let ring = b.0[0].exterior();
            let i = edge.index(ring.0.len() - 1);
            let (a, z) = (ring.0[i], ring.0[i + 1]);
            let snapped = Coord { x: a.x + (z.x - a.x) * t, y: a.y + (z.y - a.y) * t };
            for other in &all {
                let p = PreparedBoundary::new(other);
                agree(other, &p, Coord { x, y });
                agree(other, &p, snapped);
            }
        }

        /// Any ring at all (self-crossing, repeated vertices, horizontal runs) on a small
        /// integer lattice, where vertices fall exactly on band limits: every lattice and
        /// half-lattice point agrees with geo.
        #[test]
        fn agrees_with_geo_on_lattice_rings(
            outer in prop::collection::vec((-5i8..=5, -5i8..=5), 1..30),
            hole in prop::collection::vec((-3i8..=3, -3i8..=3), 0..8),
        ) {
            let ring = |v: &[(i8, i8)]| {
                LineString::from(v.iter().map(|&(x, y)| (f64::from(x), f64::from(y))).collect::<Vec<_>>())
            };
            let holes = if hole.is_empty() { vec![] } else { vec![ring(&hole)] };
            let b = MultiPolygon::new(vec![Polygon::new(ring(&outer), holes)]);
            let p = PreparedBoundary::new(&b);
            for i in -12i8..=12 {
                for j in -12i8..=12 {
                    agree(&b, &p, Coord { x: f64::from(i) / 2.0, y: f64::from(j) / 2.0 });
                }
            }
        }

        /// Random star polygons with a hole, alone and as a multipolygon with a second
        /// polygon: random points, vertices and points along edges agree with geo.
        #[test]
        fn agrees_with_geo_on_random_polygons(
            outer in prop::collection::vec(1.0f64..10.0, 3..60),
            inner in prop::collection::vec(0.1f64..0.9, 3..20),
            turn in 0.0f64..6.3,
            pts in prop::collection::vec((-12.0f64..25.0, -12.0f64..12.0), 40),
            ts in prop::collection::vec(0.0f64..1.0, 8),
        ) {
            let hole = star(0.0, 0.0, &inner, turn);
            let b = MultiPolygon::new(vec![
                Polygon::new(star(0.0, 0.0, &outer, turn), vec![hole]),
                Polygon::new(star(14.0, 0.0, &outer, -turn), vec![]),
            ]);
            let p = PreparedBoundary::new(&b);
            for &(x, y) in &pts {
                agree(&b, &p, Coord { x, y });
            }
            for poly in b.iter() {
                for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                    for w in ring.0.windows(2) {
                        agree(&b, &p, w[0]);
                        for &t in &ts {
                            let c = Coord { x: w[0].x + (w[1].x - w[0].x) * t, y: w[0].y + (w[1].y - w[0].y) * t };
                            agree(&b, &p, c);
                        }
                    }
                }
            }
        }
    }
}
