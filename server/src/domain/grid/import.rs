//! Grid files: parsing a GeoJSON FeatureCollection of regions, checking every feature
//! and its geometry, and writing the result in one all-or-nothing transaction.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use entity::region;
use geo::{Centroid, MultiPolygon, Polygon, Validation};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DatabaseConnection, EntityTrait,
    TransactionTrait,
};

use super::RegionLevel;
use crate::error::{AppError, Msg};

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

/// One problem with a grid file, in Chinese and in English.
type Problem = (String, String);

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
        AppError::bad_input(
            "INVALID_GEOJSON",
            Msg::new(
                format!("不是有效的 GeoJSON：{e}"),
                format!("not valid GeoJSON: {e}"),
            ),
        )
    })?;
    let geojson::GeoJson::FeatureCollection(fc) = gj else {
        return Err(AppError::bad_input(
            "INVALID_GEOJSON",
            Msg::new(
                "GeoJSON 顶层应为 FeatureCollection",
                "the GeoJSON top level must be a FeatureCollection",
            ),
        ));
    };
    let mut problems: Vec<Problem> = Vec::new();
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

fn import_error(problems: Vec<Problem>) -> AppError {
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
        field: None,
    }
}

/// A feature's properties, read leniently: a missing value, or one of the wrong JSON
/// type, is absent.
struct Properties<'a>(Option<&'a geojson::JsonObject>);

impl Properties<'_> {
    /// A text property, trimmed.
    fn text(&self, key: &str) -> Option<String> {
        self.0
            .and_then(|p| p.get(key))
            .and_then(|v| v.as_str())
            .map(|s| s.trim().to_owned())
    }

    /// A flag, false unless the file says true.
    fn flag(&self, key: &str) -> bool {
        self.0
            .and_then(|p| p.get(key))
            .and_then(|v| v.as_bool())
            .unwrap_or(false)
    }
}

/// The problems found in one feature so far, each labelled with the feature.
struct FeatureProblems {
    zh: String,
    en: String,
    found: Vec<Problem>,
}

impl FeatureProblems {
    fn new(index: usize, code: Option<&str>) -> Self {
        let (zh, en) = feature_label(index, code);
        Self {
            zh,
            en,
            found: Vec::new(),
        }
    }

    /// Records a problem with this feature.
    fn bad(&mut self, zh: String, en: String) {
        self.found
            .push((format!("{}：{zh}", self.zh), format!("{}: {en}", self.en)));
    }
}

/// One feature as a region, or every problem found in it (in the order: level, name,
/// code, parent, geometry).
fn parse_feature(i: usize, f: &geojson::Feature) -> Result<ImportRegion, Vec<Problem>> {
    let props = Properties(f.properties.as_ref());
    let code = props.text("code");
    let mut problems = FeatureProblems::new(i, code.as_deref());
    let level = parse_level(props.text("level"), &mut problems);
    let name = parse_name(props.text("name"), &mut problems);
    check_code(code.as_deref(), level, &mut problems);
    let parent_code = props.text("parent_code").filter(|p| !p.is_empty());
    check_parent_code(
        level,
        parent_code.as_deref(),
        code.as_deref(),
        &mut problems,
    );
    let (boundary, boundary_geojson) = parse_boundary(f.geometry.as_ref(), level, &mut problems);
    match (problems.found.is_empty(), code, name, level) {
        (true, Some(code), Some(name), Some(level)) => Ok(ImportRegion {
            code,
            name,
            level,
            parent_code,
            boundary,
            boundary_geojson,
            synthetic_name: props.flag("synthetic_name"),
            synthetic_boundary: props.flag("synthetic_boundary"),
        }),
        _ => Err(problems.found),
    }
}

/// The tier named by the `level` property, if it is present and known.
fn parse_level(level: Option<String>, problems: &mut FeatureProblems) -> Option<RegionLevel> {
    match level {
        Some(l) => RegionLevel::parse(&l).or_else(|| {
            problems.bad(
                format!("层级 {l} 无效（应为 COUNTY、TOWNSHIP 或 VILLAGE）"),
                format!("invalid level {l} (COUNTY, TOWNSHIP or VILLAGE)"),
            );
            None
        }),
        None => {
            problems.bad("缺少属性 level".into(), "missing property `level`".into());
            None
        }
    }
}

/// The `name` property, if present and not empty; longer than 64 characters is a
/// problem too.
fn parse_name(name: Option<String>, problems: &mut FeatureProblems) -> Option<String> {
    let name = name.filter(|n| !n.is_empty());
    if name.is_none() {
        problems.bad("缺少属性 name".into(), "missing property `name`".into());
    } else if name.as_ref().is_some_and(|n| n.chars().count() > 64) {
        problems.bad(
            "名称超过 64 个字".into(),
            "name longer than 64 characters".into(),
        );
    }
    name
}

/// The code must be present, all digits, and as long as its level requires.
fn check_code(code: Option<&str>, level: Option<RegionLevel>, problems: &mut FeatureProblems) {
    match code {
        None => problems.bad("缺少属性 code".into(), "missing property `code`".into()),
        Some(c) if !c.chars().all(|ch| ch.is_ascii_digit()) || c.is_empty() => {
            problems.bad(
                format!("编码 {c} 应只含数字"),
                format!("code {c} must be digits only"),
            );
        }
        Some(c) => {
            if let Some(l) = level
                && c.len() != l.code_len()
            {
                problems.bad(
                    format!("{} 级编码应为 {} 位", l.as_str(), l.code_len()),
                    format!("a {} code must have {} digits", l.as_str(), l.code_len()),
                );
            }
        }
    }
}

/// A county has no parent; any other region has one, whose code starts its own.
fn check_parent_code(
    level: Option<RegionLevel>,
    parent_code: Option<&str>,
    code: Option<&str>,
    problems: &mut FeatureProblems,
) {
    match (level, parent_code, code) {
        (Some(RegionLevel::County), Some(_), _) => {
            problems.bad(
                "县级区域不能有上级".into(),
                "a COUNTY cannot have a parent_code".into(),
            );
        }
        (Some(l), None, _) if l != RegionLevel::County => {
            problems.bad(
                "缺少属性 parent_code".into(),
                "missing property `parent_code`".into(),
            );
        }
        (Some(_), Some(p), Some(c)) if !c.starts_with(p) => {
            problems.bad(
                format!("编码应以上级编码 {p} 开头"),
                format!("code must start with its parent's code {p}"),
            );
        }
        _ => {}
    }
}

/// The feature's boundary and its GeoJSON text, when it has a good one; a village
/// must have one.
fn parse_boundary(
    geometry: Option<&geojson::Geometry>,
    level: Option<RegionLevel>,
    problems: &mut FeatureProblems,
) -> (Option<MultiPolygon<f64>>, Option<String>) {
    match geometry {
        None => {
            if level == Some(RegionLevel::Village) {
                problems.bad(
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
                    problems.bad(z, e);
                }
                (None, None)
            }
        },
    }
}

/// Checks a geometry is a valid (Multi)Polygon in lng/lat degrees, closed, simple.
fn check_geometry(value: &geojson::Value) -> Result<MultiPolygon<f64>, Vec<Problem>> {
    let polygons = polygons_of(value)?;
    let mut problems = Vec::new();
    let mut out = Vec::with_capacity(polygons.len());
    for (pi, rings) in polygons.iter().enumerate() {
        match check_polygon(pi, rings) {
            Ok(poly) => out.push(poly),
            Err(mut p) => problems.append(&mut p),
        }
    }
    if problems.is_empty() {
        Ok(MultiPolygon::new(out))
    } else {
        Err(problems)
    }
}

/// The polygons of a Polygon or MultiPolygon; any other geometry is a problem.
fn polygons_of(value: &geojson::Value) -> Result<Vec<&geojson::PolygonType>, Vec<Problem>> {
    match value {
        geojson::Value::Polygon(p) => Ok(vec![p]),
        geojson::Value::MultiPolygon(ps) => Ok(ps.iter().collect()),
        other => {
            let kind = other.type_name();
            Err(vec![(
                format!("几何类型为 {kind}，应为 Polygon 或 MultiPolygon"),
                format!("geometry is a {kind}, expected Polygon or MultiPolygon"),
            )])
        }
    }
}

/// Polygon number `pi` of a geometry: every ring well formed, then the polygon valid.
fn check_polygon(pi: usize, rings: &geojson::PolygonType) -> Result<Polygon<f64>, Vec<Problem>> {
    if rings.is_empty() {
        return Err(vec![(
            format!("多边形 {pi} 没有边界环"),
            format!("polygon {pi} has no rings"),
        )]);
    }
    let problems: Vec<Problem> = rings
        .iter()
        .enumerate()
        .flat_map(|(ri, ring)| ring_problems(pi, ri, ring))
        .collect();
    if !problems.is_empty() {
        return Err(problems);
    }
    match Polygon::<f64>::try_from(&geojson::Value::Polygon(rings.clone())) {
        Ok(poly) => match poly.check_validation() {
            Ok(()) => Ok(poly),
            Err(e) => Err(vec![(
                format!("多边形 {pi} 无效（自相交或环相交）：{e}"),
                format!("polygon {pi} is invalid (self-intersecting or overlapping rings): {e}"),
            )]),
        },
        Err(e) => Err(vec![(
            format!("多边形 {pi} 无法解析：{e}"),
            format!("polygon {pi} cannot be read: {e}"),
        )]),
    }
}

/// What is wrong with ring `ri` of polygon `pi`: too short or incomplete (nothing
/// more is checked then), else out of lng/lat range and/or not closed.
fn ring_problems(pi: usize, ri: usize, ring: &[geojson::Position]) -> Vec<Problem> {
    if ring.len() < 4 {
        return vec![(
            format!("多边形 {pi} 的第 {ri} 个环少于 4 个点"),
            format!("polygon {pi} ring {ri} has fewer than 4 positions"),
        )];
    }
    if ring.iter().any(|p| p.len() < 2) {
        return vec![(
            format!("多边形 {pi} 的坐标不完整"),
            format!("polygon {pi} has a position with fewer than 2 numbers"),
        )];
    }
    let mut problems = Vec::new();
    let out_of_range = ring.iter().any(|p| {
        !(p[0].is_finite()
            && p[1].is_finite()
            && (-180.0..=180.0).contains(&p[0])
            && (-90.0..=90.0).contains(&p[1]))
    });
    if out_of_range {
        problems.push((
            format!("多边形 {pi} 含超出经纬度范围的坐标（应为 [经度, 纬度]，WGS-84）"),
            format!(
                "polygon {pi} has a coordinate outside lng/lat range (expected [lng, lat], WGS-84)"
            ),
        ));
    }
    let (first, last) = (&ring[0], &ring[ring.len() - 1]);
    if first[0] != last[0] || first[1] != last[1] {
        problems.push((
            format!("多边形 {pi} 的第 {ri} 个环未闭合（首尾坐标不同）"),
            format!("polygon {pi} ring {ri} is not closed (first and last positions differ)"),
        ));
    }
    problems
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
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        // Every serving process reloads its tree when this commits (the poll of
        // `grid.refresh_secs` stays as a fallback).
        txn.execute_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT pg_notify($1, '')",
            [super::GRID_CHANNEL.into()],
        ))
        .await?;
    }
    txn.commit().await?;
    Ok(summary)
}

/// What became of one region of the file.
enum Applied {
    Inserted(region::Model),
    Updated(region::Model),
    Unchanged,
    Rejected(Problem),
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
    // Counties first, then townships, then villages: a parent named in the file is
    // written before its children look it up.
    let mut ordered: Vec<(usize, &ImportRegion)> = items.iter().enumerate().collect();
    ordered.sort_by_key(|(_, r)| (r.level, r.code.clone()));
    let mut summary = ImportSummary::default();
    let mut problems = Vec::new();
    for (i, item) in ordered {
        match apply_one(conn, &existing, i, item, mode, now).await? {
            Applied::Inserted(row) => {
                existing.insert(row.code.clone(), row);
                summary.inserted += 1;
            }
            Applied::Updated(row) => {
                existing.insert(row.code.clone(), row);
                summary.updated += 1;
            }
            Applied::Unchanged => summary.unchanged += 1,
            Applied::Rejected(problem) => problems.push(problem),
        }
    }
    if problems.is_empty() {
        Ok(summary)
    } else {
        Err(import_error(problems))
    }
}

/// Writes feature number `i` against the regions known so far: inserts a new code,
/// updates an existing one as `mode` allows, or rejects it without writing.
async fn apply_one<C: ConnectionTrait>(
    conn: &C,
    existing: &HashMap<String, region::Model>,
    i: usize,
    item: &ImportRegion,
    mode: ImportMode,
    now: DateTime<Utc>,
) -> Result<Applied, AppError> {
    let (zh, en) = feature_label(i, Some(&item.code));
    let parent = match find_parent(existing, item, (&zh, &en)) {
        Ok(parent) => parent,
        Err(problem) => return Ok(Applied::Rejected(problem)),
    };
    let Some(old) = existing.get(&item.code) else {
        return Ok(Applied::Inserted(
            insert_region(conn, item, parent, now).await?,
        ));
    };
    if old.level != item.level || old.parent_id != parent.map(|p| p.id) {
        return Ok(Applied::Rejected((
            format!("{zh}：已存在的区域不能改变层级或上级（请先在系统中调整）"),
            format!("{en}: an existing region cannot change its level or parent through import"),
        )));
    }
    if mode == ImportMode::InsertMissing {
        return Ok(Applied::Unchanged);
    }
    let same = old.name == item.name
        && old.boundary == item.boundary_geojson
        && old.synthetic_name == item.synthetic_name
        && old.synthetic_boundary == item.synthetic_boundary;
    if same {
        return Ok(Applied::Unchanged);
    }
    Ok(Applied::Updated(update_region(conn, old, item, now).await?))
}

/// The parent an item names (none for a county), which must already exist at the tier
/// above the item's.
fn find_parent<'a>(
    existing: &'a HashMap<String, region::Model>,
    item: &ImportRegion,
    (zh, en): (&str, &str),
) -> Result<Option<&'a region::Model>, Problem> {
    let Some(pc) = &item.parent_code else {
        return Ok(None);
    };
    match existing.get(pc) {
        Some(p) if Some(p.level) == item.level.parent_level() => Ok(Some(p)),
        Some(p) => Err((
            format!("{zh}：上级 {pc} 的层级 {} 不符", p.level),
            format!("{en}: parent {pc} has level {}", p.level),
        )),
        None => Err((
            format!("{zh}：上级编码 {pc} 不存在"),
            format!("{en}: unknown parent_code {pc}"),
        )),
    }
}

/// Creates a region from the file under `parent`.
async fn insert_region<C: ConnectionTrait>(
    conn: &C,
    item: &ImportRegion,
    parent: Option<&region::Model>,
    now: DateTime<Utc>,
) -> Result<region::Model, AppError> {
    let centroid = item.boundary.as_ref().and_then(|b| b.centroid());
    let path = match parent {
        Some(p) => format!("{}/{}", p.path, item.code),
        None => item.code.clone(),
    };
    let am = region::ActiveModel {
        code: Set(item.code.clone()),
        name: Set(item.name.clone()),
        level: Set(item.level),
        parent_id: Set(parent.map(|p| p.id)),
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
    Ok(am.insert(conn).await?)
}

/// Gives an existing region the file's name and flags, and its boundary when the file
/// has one (a file without a boundary keeps the stored one).
async fn update_region<C: ConnectionTrait>(
    conn: &C,
    old: &region::Model,
    item: &ImportRegion,
    now: DateTime<Utc>,
) -> Result<region::Model, AppError> {
    let centroid = item.boundary.as_ref().and_then(|b| b.centroid());
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
    Ok(am.update(conn).await?)
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
            Err(AppError::BadInput { msg, detail, .. }) => {
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
}
