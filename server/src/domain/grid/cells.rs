//! A uniform cell index over bounding boxes: the candidates for "which boxes hold this
//! point" in one step, without walking a tree.
//!
//! Grids of one level are of similar size and tile an area, so cells about the size of
//! an average box hold a handful of entries each. A lookup computes its cell, then
//! checks that cell's entries (boxes stored inline, so a lookup touches one or two
//! cache lines before the boundary test). An R-tree answered the same question with
//! several node visits per lookup, which at 40,000 grids cost more than the boundary
//! tests themselves (issue 14, P4).

/// One box and the node it belongs to.
#[derive(Debug, Clone, Copy)]
struct Entry {
    min: [f64; 2],
    max: [f64; 2],
    node: usize,
}

/// Boxes (inclusive on every side) bucketed by the cells of a uniform grid.
#[derive(Debug, Clone, Default)]
pub(super) struct CellIndex {
    origin: [f64; 2],
    far: [f64; 2],
    /// Cells per unit of x and of y.
    scale: [f64; 2],
    cols: usize,
    rows: usize,
    /// Cell `c`'s entries are `entries[start[c]..start[c + 1]]`.
    start: Vec<u32>,
    entries: Vec<Entry>,
}

impl CellIndex {
    /// Indexes `(min, max, node)` boxes; boxes with a non-finite corner are left out.
    pub(super) fn new(boxes: Vec<([f64; 2], [f64; 2], usize)>) -> Self {
        let boxes: Vec<Entry> = boxes
            .into_iter()
            .filter(|(lo, hi, _)| lo.iter().chain(hi).all(|v| v.is_finite()))
            .map(|(min, max, node)| Entry { min, max, node })
            .collect();
        if boxes.is_empty() {
            return Self::default();
        }
        let mut origin = [f64::INFINITY; 2];
        let mut far = [f64::NEG_INFINITY; 2];
        let mut mean = [0.0; 2];
        for e in &boxes {
            for d in 0..2 {
                origin[d] = origin[d].min(e.min[d]);
                far[d] = far[d].max(e.max[d]);
                mean[d] += (e.max[d] - e.min[d]) / boxes.len() as f64;
            }
        }
        // Cells the size of an average box, at most about four per box.
        let limit = 4 * boxes.len() + 64;
        let mut cells = [1usize; 2];
        for d in 0..2 {
            let extent = far[d] - origin[d];
            if extent > 0.0 && mean[d] > 0.0 {
                cells[d] = ((extent / mean[d]).ceil() as usize).clamp(1, limit);
            }
        }
        while cells[0] * cells[1] > limit {
            for c in &mut cells {
                *c = (*c).div_ceil(2);
            }
        }
        let mut scale = [0.0; 2];
        for d in 0..2 {
            let extent = far[d] - origin[d];
            if cells[d] > 1 && extent > 0.0 {
                scale[d] = cells[d] as f64 / extent;
            }
        }
        let mut index = Self {
            origin,
            far,
            scale,
            cols: cells[0],
            rows: cells[1],
            start: Vec::new(),
            entries: Vec::new(),
        };
        // Counting sort of boxes into every cell they overlap. `cell_of` is monotone,
        // so a point inside a box lands in one of the box's cells.
        let mut counts = vec![0u32; index.cols * index.rows + 1];
        for e in &boxes {
            index.each_cell(e, |c| counts[c + 1] += 1);
        }
        for c in 1..counts.len() {
            counts[c] += counts[c - 1];
        }
        let mut fill = counts.clone();
        let mut entries = vec![boxes[0]; counts[counts.len() - 1] as usize];
        for e in &boxes {
            index.each_cell(e, |c| {
                entries[fill[c] as usize] = *e;
                fill[c] += 1;
            });
        }
        index.start = counts;
        index.entries = entries;
        index
    }

    fn each_cell(&self, e: &Entry, mut f: impl FnMut(usize)) {
        let (c0, r0) = (self.cell_of(0, e.min[0]), self.cell_of(1, e.min[1]));
        let (c1, r1) = (self.cell_of(0, e.max[0]), self.cell_of(1, e.max[1]));
        for r in r0..=r1 {
            for c in c0..=c1 {
                f(r * self.cols + c);
            }
        }
    }

    /// The column (`d = 0`) or row (`d = 1`) of coordinate `v`: monotone, clamped.
    fn cell_of(&self, d: usize, v: f64) -> usize {
        let last = if d == 0 { self.cols } else { self.rows } - 1;
        // `as` saturates: below the origin gives 0.
        (((v - self.origin[d]) * self.scale[d]) as usize).min(last)
    }

    /// The nodes whose box holds `p` (edges included), in no particular order.
    pub(super) fn containing(&self, p: [f64; 2]) -> impl Iterator<Item = usize> + '_ {
        let cell = if self.start.is_empty()
            || !(p[0] >= self.origin[0] && p[0] <= self.far[0])
            || !(p[1] >= self.origin[1] && p[1] <= self.far[1])
        {
            &[][..]
        } else {
            let c = self.cell_of(1, p[1]) * self.cols + self.cell_of(0, p[0]);
            &self.entries[self.start[c] as usize..self.start[c + 1] as usize]
        };
        cell.iter()
            .filter(move |e| {
                e.min[0] <= p[0] && p[0] <= e.max[0] && e.min[1] <= p[1] && p[1] <= e.max[1]
            })
            .map(|e| e.node)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// The index finds exactly the boxes a scan finds, for points inside, outside
        /// and on box edges and corners, with boxes of very different sizes.
        #[test]
        fn finds_what_a_scan_finds(
            boxes in prop::collection::vec((-50i32..50, -50i32..50, 0i32..30, 0i32..30), 1..60),
            pts in prop::collection::vec((-60i32..90, -60i32..90), 60),
        ) {
            let boxes: Vec<([f64; 2], [f64; 2], usize)> = boxes
                .iter()
                .enumerate()
                .map(|(i, &(x, y, w, h))| {
                    let (x, y) = (f64::from(x) / 2.0, f64::from(y) / 2.0);
                    ([x, y], [x + f64::from(w) / 2.0, y + f64::from(h) / 2.0], i)
                })
                .collect();
            let index = CellIndex::new(boxes.clone());
            let corners = boxes.iter().flat_map(|(lo, hi, _)| [*lo, *hi, [lo[0], hi[1]], [hi[0], lo[1]]]);
            let points = pts.iter().map(|&(x, y)| [f64::from(x) / 2.0, f64::from(y) / 2.0]).chain(corners);
            for p in points {
                let mut got: Vec<usize> = index.containing(p).collect();
                got.sort_unstable();
                let want: Vec<usize> = boxes
                    .iter()
                    .filter(|(lo, hi, _)| lo[0] <= p[0] && p[0] <= hi[0] && lo[1] <= p[1] && p[1] <= hi[1])
                    .map(|b| b.2)
                    .collect();
                prop_assert_eq!(got, want, "at {:?}", p);
            }
        }
    }

    #[test]
    fn empty_index_finds_nothing() {
        let index = CellIndex::new(vec![]);
        assert_eq!(index.containing([0.0, 0.0]).count(), 0);
        let one = CellIndex::new(vec![([1.0, 1.0], [1.0, 1.0], 7)]);
        assert_eq!(one.containing([1.0, 1.0]).collect::<Vec<_>>(), vec![7]);
        assert_eq!(one.containing([1.0, 1.5]).count(), 0);
    }
}
