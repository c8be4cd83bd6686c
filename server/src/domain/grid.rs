//! The grid: one region tree (county → township → village grid) with a materialised
//! path, an in-memory R-tree that routes a point to its village grid, and the import
//! of real boundaries from GeoJSON.
//!
//! Reads are served from an immutable [`GridSnapshot`] held in memory: the tree is
//! small (a county has a few hundred regions, a province tens of thousands) and
//! changes rarely. The snapshot is rebuilt after an import in this process, and a
//! background check notices imports made by other processes (the CLI, other servers).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use entity::region;
use geo::{
    BoundingRect, Centroid, Distance as _, Intersects, MultiPolygon, Point, Polygon, Validation,
};
use rstar::RTree;
use rstar::primitives::{GeomWithData, Rectangle};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryOrder, TransactionTrait,
};

use super::geo::WgsPoint;
use crate::error::{AppError, Msg};

pub use entity::enums::RegionLevel;

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

type Indexed = GeomWithData<Rectangle<[f64; 2]>, usize>;

/// An immutable picture of the whole region tree plus its spatial index.
#[derive(Debug, Default)]
pub struct GridSnapshot {
    nodes: Vec<RegionNode>,
    by_id: HashMap<i64, usize>,
    by_code: HashMap<String, usize>,
    children: HashMap<Option<i64>, Vec<usize>>,
    villages: RTree<Indexed>,
    townships: RTree<Indexed>,
    max_fanout: usize,
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
        for (i, n) in nodes.iter().enumerate() {
            by_id.insert(n.id, i);
            by_code.insert(n.code.clone(), i);
            children.entry(n.parent_id).or_default().push(i);
            if let Some(rect) = n.boundary.as_ref().and_then(|b| b.bounding_rect()) {
                let r = GeomWithData::new(
                    Rectangle::from_corners(
                        [rect.min().x, rect.min().y],
                        [rect.max().x, rect.max().y],
                    ),
                    i,
                );
                match n.level {
                    RegionLevel::Village => villages.push(r),
                    RegionLevel::Township => townships.push(r),
                    RegionLevel::County => {}
                }
            }
        }
        let max_fanout = children.values().map(Vec::len).max().unwrap_or(0);
        Self {
            nodes,
            by_id,
            by_code,
            children,
            villages: RTree::bulk_load(villages),
            townships: RTree::bulk_load(townships),
            max_fanout,
        }
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
        Self::find_in(&self.villages, &self.nodes, p)
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
        if let Some(t) = Self::find_in(&self.townships, &self.nodes, p) {
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

    fn find_in<'a>(
        tree: &RTree<Indexed>,
        nodes: &'a [RegionNode],
        p: WgsPoint,
    ) -> Option<&'a RegionNode> {
        let xy = [p.lng.degrees(), p.lat.degrees()];
        let point = Point::new(xy[0], xy[1]);
        tree.locate_all_at_point(&xy)
            .map(|c| &nodes[c.data])
            .filter(|n| n.boundary.as_ref().is_some_and(|b| b.intersects(&point)))
            .min_by(|a, b| a.code.cmp(&b.code))
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

/// The live grid: the current snapshot and the database it comes from.
pub struct Grid {
    db: DatabaseConnection,
    snapshot: RwLock<Arc<GridSnapshot>>,
    fingerprint: tokio::sync::Mutex<Option<Fingerprint>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Fingerprint {
    count: u64,
    last_update: Option<chrono::DateTime<Utc>>,
}

impl Grid {
    /// Loads the grid from the database.
    pub async fn load(db: DatabaseConnection) -> Result<Self, AppError> {
        let grid = Self {
            db,
            snapshot: RwLock::new(Arc::new(GridSnapshot::default())),
            fingerprint: tokio::sync::Mutex::new(None),
        };
        grid.reload().await?;
        Ok(grid)
    }

    /// The current snapshot; cheap, and consistent for as long as it is held.
    pub fn snapshot(&self) -> Arc<GridSnapshot> {
        match self.snapshot.read() {
            Ok(s) => Arc::clone(&s),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Rebuilds the snapshot from the database.
    pub async fn reload(&self) -> Result<(), AppError> {
        let mut fp = self.fingerprint.lock().await;
        let now = fingerprint(&self.db).await?;
        let rows = region::Entity::find().all(&self.db).await?;
        let snap = Arc::new(GridSnapshot::build(rows));
        tracing::info!(regions = snap.all().len(), "grid index rebuilt");
        match self.snapshot.write() {
            Ok(mut s) => *s = snap,
            Err(poisoned) => *poisoned.into_inner() = snap,
        }
        *fp = Some(now);
        Ok(())
    }

    /// Rebuilds the snapshot if another process changed the grid; returns whether it did.
    pub async fn refresh_if_changed(&self) -> Result<bool, AppError> {
        let current = fingerprint(&self.db).await?;
        let known = self.fingerprint.lock().await.clone();
        if known.as_ref() == Some(&current) {
            return Ok(false);
        }
        self.reload().await?;
        Ok(true)
    }

    /// Imports a GeoJSON FeatureCollection (see [`parse_grid_file`]) in one transaction:
    /// new codes are inserted, existing ones get the file's name and boundary. Any
    /// problem rejects the whole file and leaves the database as it was.
    pub async fn import(&self, text: &str, now: DateTime<Utc>) -> Result<ImportSummary, AppError> {
        let items = parse_grid_file(text)?;
        let summary = apply_import(&self.db, &items, ImportMode::Upsert, now).await?;
        self.reload().await?;
        Ok(summary)
    }
}

async fn fingerprint(db: &DatabaseConnection) -> Result<Fingerprint, AppError> {
    let count = region::Entity::find().count(db).await?;
    let last_update = region::Entity::find()
        .order_by_desc(region::Column::UpdatedAt)
        .one(db)
        .await?
        .map(|r| r.updated_at);
    Ok(Fingerprint { count, last_update })
}

/// One region of an import file, validated.
#[derive(Debug, Clone)]
pub struct ImportRegion {
    /// Administrative code.
    pub code: String,
    /// Chinese name.
    pub name: String,
    /// Tier.
    pub level: RegionLevel,
    /// Parent's code (`None` for a county).
    pub parent_code: Option<String>,
    /// Boundary (required for villages).
    pub boundary: Option<MultiPolygon<f64>>,
    /// The boundary as GeoJSON geometry text, as stored.
    pub boundary_geojson: Option<String>,
    /// Generated name (seed data); false for real imports unless the file says so.
    pub synthetic_name: bool,
    /// Generated boundary (seed data); false for real imports unless the file says so.
    pub synthetic_boundary: bool,
}

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Regions created.
    pub inserted: usize,
    /// Existing regions whose name or boundary was replaced.
    pub updated: usize,
    /// Existing regions left as they were.
    pub unchanged: usize,
}

/// How an import treats codes that already exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportMode {
    /// Replace name and boundary (a real `import-grid`).
    Upsert,
    /// Leave existing regions alone (seeding: never overwrite what a county imported).
    InsertMissing,
}

fn feature_label(index: usize, code: Option<&str>) -> (String, String) {
    match code {
        Some(c) => (
            format!("第 {} 个要素（{c}）", index + 1),
            format!("feature #{} ({c})", index + 1),
        ),
        None => (
            format!("第 {} 个要素", index + 1),
            format!("feature #{}", index + 1),
        ),
    }
}

/// Parses and validates a GeoJSON FeatureCollection of regions. Each feature needs
/// properties `code`, `name`, `level` (`COUNTY|TOWNSHIP|VILLAGE`) and `parent_code`
/// (null for a county), optionally `synthetic_name`/`synthetic_boundary`; villages need
/// a Polygon or MultiPolygon. Every problem found is reported, not just the first.
pub fn parse_grid_file(text: &str) -> Result<Vec<ImportRegion>, AppError> {
    let gj: geojson::GeoJson = text.parse().map_err(|e| {
        AppError::bad_input(Msg::new(
            format!("不是有效的 GeoJSON：{e}"),
            format!("not valid GeoJSON: {e}"),
        ))
    })?;
    let geojson::GeoJson::FeatureCollection(fc) = gj else {
        return Err(AppError::bad_input(Msg::new(
            "GeoJSON 顶层应为 FeatureCollection",
            "the GeoJSON top level must be a FeatureCollection",
        )));
    };
    let mut problems: Vec<(String, String)> = Vec::new();
    let mut items = Vec::with_capacity(fc.features.len());
    let mut seen = HashSet::new();
    for (i, f) in fc.features.iter().enumerate() {
        match parse_feature(i, f) {
            Ok(item) => {
                if !seen.insert(item.code.clone()) {
                    let (zh, en) = feature_label(i, Some(&item.code));
                    problems.push((format!("{zh}：编码重复"), format!("{en}: duplicate code")));
                }
                items.push(item);
            }
            Err(mut p) => problems.append(&mut p),
        }
    }
    if items.is_empty() && problems.is_empty() {
        problems.push((
            "文件中没有任何要素".into(),
            "the file has no features".into(),
        ));
    }
    // Parents named in the file must have the right level; parents not in the file are
    // checked against the database when the import is applied.
    let levels: HashMap<&str, RegionLevel> =
        items.iter().map(|r| (r.code.as_str(), r.level)).collect();
    for (i, item) in items.iter().enumerate() {
        if let Some(pc) = &item.parent_code
            && let Some(&pl) = levels.get(pc.as_str())
            && Some(pl) != item.level.parent_level()
        {
            let (zh, en) = feature_label(i, Some(&item.code));
            problems.push((
                format!("{zh}：上级 {pc} 的层级 {} 不符", pl.as_str()),
                format!(
                    "{en}: parent {pc} has level {}, which cannot contain a {}",
                    pl.as_str(),
                    item.level.as_str()
                ),
            ));
        }
    }
    if problems.is_empty() {
        Ok(items)
    } else {
        Err(import_error(problems))
    }
}

fn import_error(problems: Vec<(String, String)>) -> AppError {
    const SHOWN: usize = 20;
    let more = problems.len().saturating_sub(SHOWN);
    let (mut zh, mut en): (Vec<String>, Vec<String>) = problems.into_iter().take(SHOWN).unzip();
    if more > 0 {
        zh.push(format!("……另有 {more} 个问题"));
        en.push(format!("... and {more} more"));
    }
    AppError::BadInput {
        msg: Msg::new(
            format!("区划文件有误，未导入任何数据：{}", zh.join("；")),
            format!("grid file rejected, nothing imported: {}", en.join("; ")),
        ),
        detail: Some("INVALID_GRID_FILE"),
    }
}

fn parse_feature(i: usize, f: &geojson::Feature) -> Result<ImportRegion, Vec<(String, String)>> {
    let props = f.properties.as_ref();
    let prop_str = |k: &str| -> Option<String> {
        props
            .and_then(|p| p.get(k))
            .and_then(|v| v.as_str())
            .map(|s| s.trim().to_owned())
    };
    let prop_bool = |k: &str| {
        props
            .and_then(|p| p.get(k))
            .and_then(|v| v.as_bool())
            .unwrap_or(false)
    };
    let code = prop_str("code");
    let (zh, en) = feature_label(i, code.as_deref());
    let mut problems = Vec::new();
    let mut bad =
        |z: String, e: String| problems.push((format!("{zh}：{z}"), format!("{en}: {e}")));

    let level = match prop_str("level") {
        Some(l) => RegionLevel::parse(&l).or_else(|| {
            bad(
                format!("层级 {l} 无效（应为 COUNTY、TOWNSHIP 或 VILLAGE）"),
                format!("invalid level {l} (COUNTY, TOWNSHIP or VILLAGE)"),
            );
            None
        }),
        None => {
            bad("缺少属性 level".into(), "missing property `level`".into());
            None
        }
    };
    let name = prop_str("name").filter(|n| !n.is_empty());
    if name.is_none() {
        bad("缺少属性 name".into(), "missing property `name`".into());
    } else if name.as_ref().is_some_and(|n| n.chars().count() > 64) {
        bad(
            "名称超过 64 个字".into(),
            "name longer than 64 characters".into(),
        );
    }
    match &code {
        None => bad("缺少属性 code".into(), "missing property `code`".into()),
        Some(c) if !c.chars().all(|ch| ch.is_ascii_digit()) || c.is_empty() => {
            bad(
                format!("编码 {c} 应只含数字"),
                format!("code {c} must be digits only"),
            );
        }
        Some(c) => {
            if let Some(l) = level
                && c.len() != l.code_len()
            {
                bad(
                    format!("{} 级编码应为 {} 位", l.as_str(), l.code_len()),
                    format!("a {} code must have {} digits", l.as_str(), l.code_len()),
                );
            }
        }
    }
    let parent_code = prop_str("parent_code").filter(|p| !p.is_empty());
    match (level, &parent_code, &code) {
        (Some(RegionLevel::County), Some(_), _) => {
            bad(
                "县级区域不能有上级".into(),
                "a COUNTY cannot have a parent_code".into(),
            );
        }
        (Some(l), None, _) if l != RegionLevel::County => {
            bad(
                "缺少属性 parent_code".into(),
                "missing property `parent_code`".into(),
            );
        }
        (Some(_), Some(p), Some(c)) if !c.starts_with(p.as_str()) => {
            bad(
                format!("编码应以上级编码 {p} 开头"),
                format!("code must start with its parent's code {p}"),
            );
        }
        _ => {}
    }
    let (boundary, boundary_geojson) = match &f.geometry {
        None => {
            if level == Some(RegionLevel::Village) {
                bad(
                    "村级网格缺少边界多边形".into(),
                    "a VILLAGE needs a Polygon or MultiPolygon geometry".into(),
                );
            }
            (None, None)
        }
        Some(g) => match check_geometry(&g.value) {
            Ok(mp) => (Some(mp), Some(g.to_string())),
            Err(errs) => {
                for (z, e) in errs {
                    bad(z, e);
                }
                (None, None)
            }
        },
    };
    match (problems.is_empty(), code, name, level) {
        (true, Some(code), Some(name), Some(level)) => Ok(ImportRegion {
            code,
            name,
            level,
            parent_code,
            boundary,
            boundary_geojson,
            synthetic_name: prop_bool("synthetic_name"),
            synthetic_boundary: prop_bool("synthetic_boundary"),
        }),
        _ => Err(problems),
    }
}

/// Checks a geometry is a valid (Multi)Polygon in lng/lat degrees, closed, simple.
fn check_geometry(value: &geojson::Value) -> Result<MultiPolygon<f64>, Vec<(String, String)>> {
    let polygons: Vec<&geojson::PolygonType> = match value {
        geojson::Value::Polygon(p) => vec![p],
        geojson::Value::MultiPolygon(ps) => ps.iter().collect(),
        other => {
            let kind = other.type_name();
            return Err(vec![(
                format!("几何类型为 {kind}，应为 Polygon 或 MultiPolygon"),
                format!("geometry is a {kind}, expected Polygon or MultiPolygon"),
            )]);
        }
    };
    let mut problems = Vec::new();
    let mut out = Vec::with_capacity(polygons.len());
    for (pi, rings) in polygons.iter().enumerate() {
        if rings.is_empty() {
            problems.push((
                format!("多边形 {pi} 没有边界环"),
                format!("polygon {pi} has no rings"),
            ));
            continue;
        }
        let mut ring_ok = true;
        for (ri, ring) in rings.iter().enumerate() {
            if ring.len() < 4 {
                problems.push((
                    format!("多边形 {pi} 的第 {ri} 个环少于 4 个点"),
                    format!("polygon {pi} ring {ri} has fewer than 4 positions"),
                ));
                ring_ok = false;
                continue;
            }
            if ring.iter().any(|p| p.len() < 2) {
                problems.push((
                    format!("多边形 {pi} 的坐标不完整"),
                    format!("polygon {pi} has a position with fewer than 2 numbers"),
                ));
                ring_ok = false;
                continue;
            }
            let out_of_range = ring.iter().any(|p| {
                !(p[0].is_finite()
                    && p[1].is_finite()
                    && (-180.0..=180.0).contains(&p[0])
                    && (-90.0..=90.0).contains(&p[1]))
            });
            if out_of_range {
                problems.push((
                    format!("多边形 {pi} 含超出经纬度范围的坐标（应为 [经度, 纬度]，WGS-84）"),
                    format!("polygon {pi} has a coordinate outside lng/lat range (expected [lng, lat], WGS-84)"),
                ));
                ring_ok = false;
            }
            let (first, last) = (&ring[0], &ring[ring.len() - 1]);
            if first[0] != last[0] || first[1] != last[1] {
                problems.push((
                    format!("多边形 {pi} 的第 {ri} 个环未闭合（首尾坐标不同）"),
                    format!(
                        "polygon {pi} ring {ri} is not closed (first and last positions differ)"
                    ),
                ));
                ring_ok = false;
            }
        }
        if !ring_ok {
            continue;
        }
        match Polygon::<f64>::try_from(&geojson::Value::Polygon((*rings).clone())) {
            Ok(poly) => {
                if let Err(e) = poly.check_validation() {
                    problems.push((
                        format!("多边形 {pi} 无效（自相交或环相交）：{e}"),
                        format!(
                            "polygon {pi} is invalid (self-intersecting or overlapping rings): {e}"
                        ),
                    ));
                } else {
                    out.push(poly);
                }
            }
            Err(e) => problems.push((
                format!("多边形 {pi} 无法解析：{e}"),
                format!("polygon {pi} cannot be read: {e}"),
            )),
        }
    }
    if problems.is_empty() {
        Ok(MultiPolygon::new(out))
    } else {
        Err(problems)
    }
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

/// Writes validated regions in one transaction; any problem rolls everything back.
pub async fn apply_import(
    db: &DatabaseConnection,
    items: &[ImportRegion],
    mode: ImportMode,
    now: DateTime<Utc>,
) -> Result<ImportSummary, AppError> {
    let txn = db.begin().await?;
    let summary = apply_import_in(&txn, items, mode, now).await?;
    txn.commit().await?;
    Ok(summary)
}

async fn apply_import_in<C: ConnectionTrait>(
    conn: &C,
    items: &[ImportRegion],
    mode: ImportMode,
    now: DateTime<Utc>,
) -> Result<ImportSummary, AppError> {
    let mut existing: HashMap<String, region::Model> = region::Entity::find()
        .all(conn)
        .await?
        .into_iter()
        .map(|r| (r.code.clone(), r))
        .collect();
    let mut ordered: Vec<(usize, &ImportRegion)> = items.iter().enumerate().collect();
    ordered.sort_by_key(|(_, r)| (r.level, r.code.clone()));
    let mut summary = ImportSummary::default();
    let mut problems = Vec::new();
    for (i, item) in ordered {
        let (zh, en) = feature_label(i, Some(&item.code));
        let parent = match &item.parent_code {
            None => None,
            Some(pc) => match existing.get(pc) {
                Some(p) if Some(p.level) == item.level.parent_level() => Some(p.clone()),
                Some(p) => {
                    problems.push((
                        format!("{zh}：上级 {pc} 的层级 {} 不符", p.level),
                        format!("{en}: parent {pc} has level {}", p.level),
                    ));
                    continue;
                }
                None => {
                    problems.push((
                        format!("{zh}：上级编码 {pc} 不存在"),
                        format!("{en}: unknown parent_code {pc}"),
                    ));
                    continue;
                }
            },
        };
        let centroid = item.boundary.as_ref().and_then(|b| b.centroid());
        if let Some(old) = existing.get(&item.code) {
            if old.level != item.level || old.parent_id != parent.as_ref().map(|p| p.id) {
                problems.push((
                    format!("{zh}：已存在的区域不能改变层级或上级（请先在系统中调整）"),
                    format!(
                        "{en}: an existing region cannot change its level or parent through import"
                    ),
                ));
                continue;
            }
            if mode == ImportMode::InsertMissing {
                summary.unchanged += 1;
                continue;
            }
            let same = old.name == item.name
                && old.boundary == item.boundary_geojson
                && old.synthetic_name == item.synthetic_name
                && old.synthetic_boundary == item.synthetic_boundary;
            if same {
                summary.unchanged += 1;
                continue;
            }
            let mut am: region::ActiveModel = old.clone().into();
            am.name = Set(item.name.clone());
            if item.boundary_geojson.is_some() {
                am.boundary = Set(item.boundary_geojson.clone());
                am.centroid_lat = Set(centroid.map(|c| c.y()));
                am.centroid_lng = Set(centroid.map(|c| c.x()));
            }
            am.synthetic_name = Set(item.synthetic_name);
            am.synthetic_boundary = Set(item.synthetic_boundary);
            am.updated_at = Set(now);
            let updated = am.update(conn).await?;
            existing.insert(updated.code.clone(), updated);
            summary.updated += 1;
        } else {
            let path = match &parent {
                Some(p) => format!("{}/{}", p.path, item.code),
                None => item.code.clone(),
            };
            let am = region::ActiveModel {
                code: Set(item.code.clone()),
                name: Set(item.name.clone()),
                level: Set(item.level),
                parent_id: Set(parent.as_ref().map(|p| p.id)),
                path: Set(path),
                boundary: Set(item.boundary_geojson.clone()),
                centroid_lat: Set(centroid.map(|c| c.y())),
                centroid_lng: Set(centroid.map(|c| c.x())),
                synthetic_name: Set(item.synthetic_name),
                synthetic_boundary: Set(item.synthetic_boundary),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            };
            let inserted = am.insert(conn).await?;
            existing.insert(inserted.code.clone(), inserted);
            summary.inserted += 1;
        }
    }
    if problems.is_empty() {
        Ok(summary)
    } else {
        Err(import_error(problems))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn fc(features: &str) -> String {
        format!(r#"{{"type":"FeatureCollection","features":[{features}]}}"#)
    }

    const SQUARE: &str = r#"{"type":"Polygon","coordinates":[[[112,35.5],[112.1,35.5],[112.1,35.6],[112,35.6],[112,35.5]]]}"#;

    fn village(code: &str, geometry: &str) -> String {
        format!(
            r#"{{"type":"Feature","properties":{{"code":"{code}","name":"测试村","level":"VILLAGE","parent_code":"{}"}},"geometry":{geometry}}}"#,
            &code[..9]
        )
    }

    fn err_text(r: Result<Vec<ImportRegion>, AppError>) -> String {
        match r {
            Err(AppError::BadInput { msg, detail }) => {
                assert_eq!(detail, Some("INVALID_GRID_FILE"));
                format!("{} | {}", msg.zh, msg.en)
            }
            other => panic!("expected BAD_INPUT, got {other:?}"),
        }
    }

    #[test]
    fn accepts_a_valid_village() {
        let items = parse_grid_file(&fc(&village("140521100201", SQUARE))).unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].level, RegionLevel::Village);
        assert!(items[0].boundary.is_some());
    }

    #[test]
    fn rejects_each_kind_of_bad_feature() {
        let table = [
            (
                village(
                    "140521100201",
                    r#"{"type":"Point","coordinates":[112,35.5]}"#,
                ),
                "Point",
            ),
            (
                village(
                    "140521100201",
                    r#"{"type":"Polygon","coordinates":[[[112,35.5],[112.1,35.5],[112.1,35.6],[112,35.6]]]}"#,
                ),
                "not closed",
            ),
            (
                village(
                    "140521100201",
                    r#"{"type":"Polygon","coordinates":[[[112,35.5],[112.1,35.6],[112.1,35.5],[112,35.6],[112,35.5]]]}"#,
                ),
                "self-intersect",
            ),
            (
                village(
                    "140521100201",
                    r#"{"type":"Polygon","coordinates":[[[35.5,112],[35.6,112],[35.6,112.1],[35.5,112]]]}"#,
                ),
                "outside lng/lat",
            ),
            (village("14052110020", SQUARE), "12 digits"),
            (village("140521100201", "null"), "needs a Polygon"),
            (
                format!(
                    "{},{}",
                    village("140521100201", SQUARE),
                    village("140521100201", SQUARE)
                ),
                "duplicate code",
            ),
        ];
        for (features, want) in table {
            let text = err_text(parse_grid_file(&fc(&features)));
            assert!(text.contains(want), "want {want:?} in {text}");
        }
    }

    #[test]
    fn rejects_non_collections_and_garbage() {
        assert!(parse_grid_file("not json").is_err());
        assert!(parse_grid_file(SQUARE).is_err());
        assert!(parse_grid_file(&fc("")).is_err());
    }

    #[test]
    fn path_containment_respects_segment_boundaries() {
        assert!(path_is_within("140521/140521100", "140521"));
        assert!(path_is_within("140521", "140521"));
        assert!(!path_is_within("1405210/1", "140521"));
        assert!(!path_is_within("140521", "140521/140521100"));
    }
}
