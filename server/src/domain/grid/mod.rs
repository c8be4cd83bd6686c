//! The grid: one region tree (county → township → village grid) with a materialised
//! path, an in-memory spatial index of prepared boundaries that routes a point to its
//! village grid, and the import of real boundaries from GeoJSON.
//!
//! Reads are served from an immutable [`GridSnapshot`] held in memory: the tree is
//! small (a county has a few hundred regions, a province tens of thousands) and
//! changes rarely. The snapshot is rebuilt after an import in this process, and a
//! background check notices imports made by other processes (the CLI, other servers).
//!
//! This file holds the snapshot and the questions it answers; `live` holds the
//! [`Grid`] that keeps a snapshot current, and `import` reads, checks and writes grid
//! files.

mod cells;
mod import;
mod live;
mod prepared;

use std::collections::HashMap;

use entity::region;
use geo::{BoundingRect, Coord, Distance as _, MultiPolygon, Point, Polygon};

use self::cells::CellIndex;
use self::prepared::PreparedBoundary;
use super::geo::WgsPoint;
use crate::error::AppError;

pub use entity::enums::RegionLevel;
pub use import::{ImportMode, ImportRegion, ImportSummary, apply_import, parse_grid_file};
pub use live::Grid;

/// The PostgreSQL channel a grid import notifies on, so every process reloads its tree.
pub const GRID_CHANNEL: &str = "gridwatch_grid";

/// One region as the domain sees it.
#[derive(Debug, Clone)]
pub struct RegionNode {
    /// Database id.
    pub id: i64,
    /// Administrative code (6/9/12 digits).
    pub code: String,
    /// Chinese name.
    pub name: String,
    /// Tier.
    pub level: RegionLevel,
    /// Parent region, `None` for a county.
    pub parent_id: Option<i64>,
    /// Materialised path of codes from the root, `/`-separated.
    pub path: String,
    /// Centroid of the boundary (WGS-84 lat, lng), when there is a boundary.
    pub centroid: Option<(f64, f64)>,
    /// The name was generated, not taken from an official list.
    pub synthetic_name: bool,
    /// The boundary was generated, not surveyed.
    pub synthetic_boundary: bool,
    /// Boundary in WGS-84 (x = lng, y = lat).
    pub boundary: Option<MultiPolygon<f64>>,
}

impl RegionNode {
    /// Whether `other_path` is this region or lies beneath it.
    pub fn contains_path(&self, other_path: &str) -> bool {
        path_is_within(other_path, &self.path)
    }
}

/// Whether `path` equals `ancestor` or lies beneath it in the tree.
pub fn path_is_within(path: &str, ancestor: &str) -> bool {
    path == ancestor
        || (path.len() > ancestor.len()
            && path.starts_with(ancestor)
            && path.as_bytes()[ancestor.len()] == b'/')
}

/// The query condition of [`path_is_within`] on a stored path column: the region at
/// `path` and everything beneath it (served by a bytewise index on the column).
pub fn subtree<C: sea_orm::ColumnTrait>(column: C, path: &str) -> sea_orm::Condition {
    sea_orm::Condition::any()
        .add(column.eq(path))
        .add(column.like(format!("{path}/%")))
}

/// An immutable picture of the whole region tree plus its spatial index.
#[derive(Debug, Default)]
pub struct GridSnapshot {
    nodes: Vec<RegionNode>,
    by_id: HashMap<i64, usize>,
    by_code: HashMap<String, usize>,
    children: HashMap<Option<i64>, Vec<usize>>,
    villages: CellIndex,
    townships: CellIndex,
    /// Boundaries of the nodes in `villages` and `townships`, prepared for point
    /// lookups, by node index (`None` for the rest).
    prepared: Vec<Option<PreparedBoundary>>,
    max_fanout: usize,
    version: String,
}

impl GridSnapshot {
    /// Builds the snapshot from region rows. Rows with an unreadable boundary are kept
    /// in the tree but cannot be located into (and are logged).
    pub fn build(rows: Vec<region::Model>) -> Self {
        let mut nodes = Vec::with_capacity(rows.len());
        for row in rows {
            let level = row.level;
            let boundary = row.boundary.as_deref().and_then(|text| {
                parse_stored_boundary(text)
                    .map_err(|e| tracing::warn!(region.code = %row.code, error = %e, "unreadable boundary"))
                    .ok()
            });
            nodes.push(RegionNode {
                id: row.id,
                code: row.code,
                name: row.name,
                level,
                parent_id: row.parent_id,
                path: row.path,
                centroid: row.centroid_lat.zip(row.centroid_lng),
                synthetic_name: row.synthetic_name,
                synthetic_boundary: row.synthetic_boundary,
                boundary,
            });
        }
        nodes.sort_by(|a, b| a.code.cmp(&b.code));
        let mut by_id = HashMap::with_capacity(nodes.len());
        let mut by_code = HashMap::with_capacity(nodes.len());
        let mut children: HashMap<Option<i64>, Vec<usize>> = HashMap::new();
        let mut villages = Vec::new();
        let mut townships = Vec::new();
        let mut prepared = Vec::with_capacity(nodes.len());
        for (i, n) in nodes.iter().enumerate() {
            by_id.insert(n.id, i);
            by_code.insert(n.code.clone(), i);
            children.entry(n.parent_id).or_default().push(i);
            if let Some(rect) = n.boundary.as_ref().and_then(|b| b.bounding_rect()) {
                let r = (
                    [rect.min().x, rect.min().y],
                    [rect.max().x, rect.max().y],
                    i,
                );
                match n.level {
                    RegionLevel::Village => villages.push(r),
                    RegionLevel::Township => townships.push(r),
                    RegionLevel::County => {}
                }
            }
            prepared.push(match (n.level, &n.boundary) {
                (RegionLevel::Village | RegionLevel::Township, Some(b)) => {
                    Some(PreparedBoundary::new(b))
                }
                _ => None,
            });
        }
        let max_fanout = children.values().map(Vec::len).max().unwrap_or(0);
        let version = version_of(&nodes);
        Self {
            nodes,
            by_id,
            by_code,
            children,
            villages: CellIndex::new(villages),
            townships: CellIndex::new(townships),
            prepared,
            max_fanout,
            version,
        }
    }

    /// A fingerprint of the tree (ids, codes, names, levels, parents, boundaries): equal
    /// in every process that loaded the same grid, different after an import changed
    /// it. Clients that cache regions refetch them when it changes.
    pub fn version(&self) -> String {
        self.version.clone()
    }

    /// The longest list of regions one question can return: the most children any
    /// region has, or the number of roots if that is larger. The query cost model
    /// multiplies `regions` and `children` by it.
    pub fn max_fanout(&self) -> usize {
        self.max_fanout
    }

    /// All regions, ordered by code.
    pub fn all(&self) -> &[RegionNode] {
        &self.nodes
    }

    /// A region by id.
    pub fn get(&self, id: i64) -> Option<&RegionNode> {
        self.by_id.get(&id).map(|&i| &self.nodes[i])
    }

    /// A region by administrative code.
    pub fn by_code(&self, code: &str) -> Option<&RegionNode> {
        self.by_code.get(code).map(|&i| &self.nodes[i])
    }

    /// The roots (counties), ordered by code.
    pub fn roots(&self) -> Vec<&RegionNode> {
        self.children_of(None)
    }

    /// The direct children of a region (or the roots for `None`), ordered by code.
    pub fn children_of(&self, parent: Option<i64>) -> Vec<&RegionNode> {
        self.children
            .get(&parent)
            .map(|v| v.iter().map(|&i| &self.nodes[i]).collect())
            .unwrap_or_default()
    }

    /// The ancestor of `node` at `level` (the node itself if it has that level).
    pub fn ancestor_at<'a>(
        &'a self,
        node: &'a RegionNode,
        level: RegionLevel,
    ) -> Option<&'a RegionNode> {
        let mut cur = node;
        loop {
            if cur.level == level {
                return Some(cur);
            }
            cur = self.get(cur.parent_id?)?;
        }
    }

    /// The village grid containing `p`, or `None` outside every grid.
    ///
    /// A point exactly on a shared edge belongs to the grid with the smallest code, so
    /// the answer is always one grid and always the same one.
    pub fn locate(&self, p: WgsPoint) -> Option<&RegionNode> {
        self.find_in(&self.villages, p)
    }

    /// The township whose boundary is nearest to `p` (for points outside every grid),
    /// if it is within `max_m` metres (roughly: degrees are scaled at the point's
    /// latitude).
    pub fn nearest_township_within(&self, p: WgsPoint, max_m: f64) -> Option<&RegionNode> {
        let t = self.nearest_township(p)?;
        let point = Point::new(p.lng.degrees(), p.lat.degrees());
        let b = t.boundary.as_ref()?;
        let nearest = match geo::ClosestPoint::closest_point(b, &point) {
            geo::Closest::Intersection(q) | geo::Closest::SinglePoint(q) => q,
            geo::Closest::Indeterminate => return None,
        };
        let d = super::geo::haversine_m(p.lat.degrees(), p.lng.degrees(), nearest.y(), nearest.x());
        (d <= max_m).then_some(t)
    }

    /// The township whose boundary is nearest to `p` (for points outside every grid).
    pub fn nearest_township(&self, p: WgsPoint) -> Option<&RegionNode> {
        if let Some(t) = self.find_in(&self.townships, p) {
            return Some(t);
        }
        let point = Point::new(p.lng.degrees(), p.lat.degrees());
        self.nodes
            .iter()
            .filter(|n| n.level == RegionLevel::Township)
            .filter_map(|n| {
                let b = n.boundary.as_ref()?;
                let d = geo::Euclidean.distance(b, &point);
                Some((d, n))
            })
            .min_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.code.cmp(&b.1.code)))
            .map(|(_, n)| n)
    }

    /// The region of `tree` whose boundary contains `p` or has it on its edge; of
    /// several, the one with the smallest code (nodes are in code order, so the
    /// smallest index).
    fn find_in(&self, index: &CellIndex, p: WgsPoint) -> Option<&RegionNode> {
        let xy = [p.lng.degrees(), p.lat.degrees()];
        let c = Coord { x: xy[0], y: xy[1] };
        index
            .containing(xy)
            .filter(|&i| self.prepared[i].as_ref().is_some_and(|b| b.intersects(c)))
            .min()
            .map(|i| &self.nodes[i])
    }
}

/// The children of `parent`, or the roots when it is `None`; `NOT_FOUND` for an
/// unknown parent (the same answer `region(id)` gives by returning null).
pub fn regions(snap: &GridSnapshot, parent: Option<i64>) -> Result<Vec<&RegionNode>, AppError> {
    if let Some(id) = parent
        && snap.get(id).is_none()
    {
        return Err(AppError::not_found("区域", "region"));
    }
    Ok(snap.children_of(parent))
}

fn parse_stored_boundary(text: &str) -> Result<MultiPolygon<f64>, String> {
    let g: geojson::Geometry = text.parse().map_err(|e: geojson::Error| e.to_string())?;
    match &g.value {
        geojson::Value::Polygon(_) => Polygon::<f64>::try_from(&g.value)
            .map(|p| MultiPolygon::new(vec![p]))
            .map_err(|e| e.to_string()),
        geojson::Value::MultiPolygon(_) => {
            MultiPolygon::<f64>::try_from(&g.value).map_err(|e| e.to_string())
        }
        other => Err(format!("stored boundary is a {}", other.type_name())),
    }
}

/// The fingerprint behind [`GridSnapshot::version`]: SHA-256 over every node's fields
/// and boundary coordinates, in code order, shortened to 16 hex digits.
fn version_of(nodes: &[RegionNode]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for n in nodes {
        h.update(
            format!(
                "{}|{}|{}|{:?}|{:?}|{}|{:?}|{}|{}\n",
                n.id,
                n.code,
                n.name,
                n.level,
                n.parent_id,
                n.path,
                n.centroid,
                n.synthetic_name,
                n.synthetic_boundary
            )
            .as_bytes(),
        );
        if let Some(b) = &n.boundary {
            for c in b.iter().flat_map(|p| {
                p.exterior()
                    .coords()
                    .chain(p.interiors().iter().flat_map(|r| r.coords()))
            }) {
                h.update(c.x.to_bits().to_le_bytes());
                h.update(c.y.to_bits().to_le_bytes());
            }
        }
    }
    let d = h.finalize();
    d[..8].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_containment_respects_segment_boundaries() {
        assert!(path_is_within("140521/140521100", "140521"));
        assert!(path_is_within("140521", "140521"));
        assert!(!path_is_within("1405210/1", "140521"));
        assert!(!path_is_within("140521", "140521/140521100"));
    }
}
