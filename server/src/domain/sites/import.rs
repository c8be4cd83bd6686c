//! Bulk import of the site register from a CSV or XLSX file, all or nothing: every row
//! is read and checked first, and a file with any problem is refused whole with every
//! problem listed by row and column; otherwise every site is inserted in one
//! transaction, in batches (a bounded number of statements for any size of file).
//!
//! The first row holds the headers, in Chinese or English (see [`Column::parse`]); the
//! columns may come in any order. CSV is read as UTF-8 (with or without BOM) or, failing
//! that, as GB18030 — what Excel writes on a Chinese Windows.

use std::collections::{BTreeMap, HashMap};
use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use entity::supervised_site;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use super::{CheckedSite, MANAGERS, RiskLevel, SiteFields, SiteKind, check_site};
use crate::domain::Services;
use crate::domain::access::Viewer;
use crate::domain::uow;
use crate::error::{AppError, FileProblem, FileRefusal, Msg};

/// Most data rows in one file.
pub const MAX_ROWS: usize = 5_000;
/// Largest file accepted, in bytes.
pub const MAX_BYTES: u64 = 8 * 1024 * 1024;
/// Rows per `INSERT` statement (well under SQLite's and PostgreSQL's bind limits).
pub const INSERT_BATCH: usize = 250;
/// Codes per `SELECT … IN (…)` when checking that codes are new.
const CODE_BATCH: usize = 500;

/// A column of the import file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Column {
    /// 名称.
    Name,
    /// 类型.
    Kind,
    /// 经度.
    Lng,
    /// 纬度.
    Lat,
    /// 坐标系 (WGS84 unless GCJ02).
    Coord,
    /// 风险等级.
    Risk,
    /// 巡查频次(天).
    Interval,
    /// 联系人.
    ContactName,
    /// 联系电话.
    ContactPhone,
    /// 地址.
    Address,
    /// 编码.
    Code,
}

impl Column {
    const REQUIRED: [Self; 6] = [
        Self::Name,
        Self::Kind,
        Self::Lng,
        Self::Lat,
        Self::Risk,
        Self::Interval,
    ];

    /// The column a header names, in Chinese or English (case, spaces, `_` and full-width
    /// brackets do not matter).
    pub fn parse(header: &str) -> Option<Self> {
        let h: String = header
            .trim_start_matches('\u{feff}')
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '_' && *c != '-')
            .map(|c| match c {
                '（' => '(',
                '）' => ')',
                c => c.to_ascii_lowercase(),
            })
            .collect();
        Some(match h.as_str() {
            "名称" | "对象名称" | "监管对象名称" | "name" => Self::Name,
            "类型" | "对象类型" | "kind" | "type" => Self::Kind,
            "经度" | "lng" | "lon" | "longitude" => Self::Lng,
            "纬度" | "lat" | "latitude" => Self::Lat,
            "坐标系" | "coord" | "datum" => Self::Coord,
            "风险等级" | "risk" | "risklevel" => Self::Risk,
            "巡查频次(天)" | "巡查频次" | "巡查周期(天)" | "inspecteverydays" | "interval"
            | "intervaldays" => Self::Interval,
            "联系人" | "contact" | "contactname" => Self::ContactName,
            "联系电话" | "电话" | "phone" | "contactphone" => Self::ContactPhone,
            "地址" | "address" => Self::Address,
            "编码" | "统一社会信用代码" | "code" => Self::Code,
            _ => return None,
        })
    }

    /// The usual Chinese header.
    pub fn header_zh(self) -> &'static str {
        match self {
            Self::Name => "名称",
            Self::Kind => "类型",
            Self::Lng => "经度",
            Self::Lat => "纬度",
            Self::Coord => "坐标系",
            Self::Risk => "风险等级",
            Self::Interval => "巡查频次(天)",
            Self::ContactName => "联系人",
            Self::ContactPhone => "联系电话",
            Self::Address => "地址",
            Self::Code => "编码",
        }
    }
}

/// A site kind as written in a file: its name (`FARM`) or a Chinese label.
pub fn parse_kind(s: &str) -> Option<SiteKind> {
    let t = s.trim();
    if let Some(k) = SiteKind::ALL
        .into_iter()
        .find(|k| k.as_str().eq_ignore_ascii_case(t) || k.label_zh() == t)
    {
        return Some(k);
    }
    Some(match t {
        "畜禽养殖场" | "养殖" | "养殖户" => SiteKind::Farm,
        "工地" | "施工工地" => SiteKind::Construction,
        "工业企业" | "工厂" => SiteKind::Enterprise,
        "煤层气井场" | "生态井场" | "煤层气井" => SiteKind::WellSite,
        "入河排污口" | "排口" => SiteKind::Outfall,
        "料堆" | "物料堆场" | "煤堆" => SiteKind::Stockpile,
        _ => return None,
    })
}

/// A risk level as written in a file: `LOW`/`MEDIUM`/`HIGH`, 低/中/高 or 低风险/中风险/高风险.
pub fn parse_risk(s: &str) -> Option<RiskLevel> {
    let t = s.trim();
    let t = t.strip_suffix("风险").unwrap_or(t);
    RiskLevel::ALL
        .into_iter()
        .find(|r| r.as_str().eq_ignore_ascii_case(t) || r.label_zh() == t)
}

/// The rows of a file: (row number as a spreadsheet shows it, cells).
type Rows = Vec<(u32, Vec<String>)>;

fn file_problem(row: u32, column: Option<&str>, detail: &'static str, msg: Msg) -> FileProblem {
    FileProblem {
        row,
        column: column.map(str::to_owned),
        detail,
        message: msg,
    }
}

fn unreadable(zh: &str, en: &str) -> FileProblem {
    file_problem(
        1,
        None,
        "UNREADABLE_FILE",
        Msg::new(
            format!("无法读取文件：{zh}（应为 CSV 或 XLSX）"),
            format!("cannot read the file: {en} (expected CSV or XLSX)"),
        ),
    )
}

fn unreadable_because(e: &impl std::fmt::Display) -> FileProblem {
    let e = e.to_string();
    unreadable(&e, &e)
}

/// Reads a CSV or an XLSX file (told apart by their first bytes) into rows of text.
pub fn read_rows(bytes: &[u8]) -> Result<Rows, FileProblem> {
    if bytes.starts_with(b"PK\x03\x04") {
        read_xlsx(bytes)
    } else if bytes.starts_with(b"\xd0\xcf\x11\xe0") {
        Err(unreadable(
            "旧版 Excel（.xls）文件，请另存为 .xlsx 或 .csv",
            "an old Excel (.xls) file; save it as .xlsx or .csv",
        ))
    } else {
        read_csv(bytes)
    }
}

fn read_csv(bytes: &[u8]) -> Result<Rows, FileProblem> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => std::borrow::Cow::Borrowed(t),
        Err(_) => {
            let (t, _, bad) = encoding_rs::GB18030.decode(bytes);
            if bad {
                return Err(unreadable(
                    "既不是 UTF-8 也不是 GBK 编码的文本",
                    "text neither in UTF-8 nor in GBK",
                ));
            }
            t
        }
    };
    let mut rd = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for rec in rd.records() {
        let rec = rec.map_err(|e| unreadable_because(&e))?;
        let line = rec
            .position()
            .map_or(0, |p| u32::try_from(p.line()).unwrap_or(u32::MAX));
        rows.push((line, rec.iter().map(|c| c.trim().to_owned()).collect()));
        if rows.len() > MAX_ROWS + 1 {
            break;
        }
    }
    Ok(rows)
}

/// A cell as text: whole numbers without a fraction (phone numbers typed as numbers).
fn cell_text(d: &Data) -> String {
    match d {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.trim().to_owned(),
        Data::Int(i) => i.to_string(),
        #[allow(clippy::cast_possible_truncation)]
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => (*f as i64).to_string(),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(t) => t.as_f64().to_string(),
        Data::Error(e) => format!("#{e:?}"),
    }
}

fn read_xlsx(bytes: &[u8]) -> Result<Rows, FileProblem> {
    let mut wb = Xlsx::new(Cursor::new(bytes)).map_err(|e| unreadable_because(&e))?;
    let range = wb
        .worksheet_range_at(0)
        .ok_or_else(|| unreadable("工作簿中没有工作表", "the workbook has no sheet"))?
        .map_err(|e| unreadable_because(&e))?;
    let first_row = range.start().map_or(0, |(r, _)| r);
    let first_col = range.start().map_or(0, |(_, c)| c) as usize;
    let mut rows = Vec::new();
    for (i, row) in range.rows().enumerate() {
        let n = first_row
            .saturating_add(u32::try_from(i).unwrap_or(u32::MAX))
            .saturating_add(1);
        // Columns left of the used range are empty: keep positions as the sheet has them.
        let mut cells = vec![String::new(); first_col];
        cells.extend(row.iter().map(cell_text));
        rows.push((n, cells));
        if rows.len() > MAX_ROWS + 1 {
            break;
        }
    }
    Ok(rows)
}

/// A file refused whole, with every problem.
fn refuse(problems: Vec<FileProblem>) -> AppError {
    let n = problems.len();
    AppError::InvalidFile(Box::new(FileRefusal {
        msg: Msg::new(
            format!(
                "文件有 {n} 处问题，未导入任何监管对象；请按 extensions.problems 逐条修改后重新导入"
            ),
            format!("the file has {n} problem(s); no site was imported (see extensions.problems)"),
        ),
        detail: "INVALID_SITE_FILE",
        field: "file".into(),
        problems,
    }))
}

/// Where in the file each column is, with the header as written.
struct Layout {
    at: BTreeMap<Column, (usize, String)>,
}

impl Layout {
    fn read(header: &[String], problems: &mut Vec<FileProblem>) -> Self {
        let mut at = BTreeMap::new();
        for (i, h) in header.iter().enumerate() {
            if h.trim().is_empty() {
                continue;
            }
            match Column::parse(h) {
                Some(c) if at.contains_key(&c) => problems.push(file_problem(
                    1,
                    Some(h),
                    "DUPLICATE_COLUMN",
                    Msg::new(format!("列“{h}”重复"), format!("column {h} appears twice")),
                )),
                Some(c) => {
                    at.insert(c, (i, h.clone()));
                }
                None => problems.push(file_problem(
                    1,
                    Some(h),
                    "UNKNOWN_COLUMN",
                    Msg::new(format!("无法识别的列“{h}”"), format!("unknown column {h}")),
                )),
            }
        }
        for c in Column::REQUIRED {
            if !at.contains_key(&c) {
                problems.push(file_problem(
                    1,
                    Some(c.header_zh()),
                    "MISSING_COLUMN",
                    Msg::new(
                        format!("缺少必填列“{}”", c.header_zh()),
                        format!("required column {} is missing", c.header_zh()),
                    ),
                ));
            }
        }
        Self { at }
    }

    fn header(&self, c: Column) -> String {
        self.at
            .get(&c)
            .map_or_else(|| c.header_zh().to_owned(), |(_, h)| h.clone())
    }

    fn cell<'r>(&self, row: &'r [String], c: Column) -> Option<&'r str> {
        let (i, _) = self.at.get(&c)?;
        row.get(*i).map(String::as_str).filter(|s| !s.is_empty())
    }

    /// The column a checked field's error is about.
    fn column_of(&self, field: Option<&str>) -> Option<String> {
        let c = match field? {
            "name" => Column::Name,
            "kind" => Column::Kind,
            "location.lat" => Column::Lat,
            "location.lng" => Column::Lng,
            "location" => {
                return Some(format!(
                    "{}/{}",
                    self.header(Column::Lng),
                    self.header(Column::Lat)
                ));
            }
            "riskLevel" => Column::Risk,
            "inspectEveryDays" => Column::Interval,
            "contactName" => Column::ContactName,
            "contactPhone" => Column::ContactPhone,
            "address" => Column::Address,
            "code" => Column::Code,
            _ => return None,
        };
        Some(self.header(c))
    }
}

/// Reads one data row into fields, noting every cell that cannot be read.
fn row_fields(
    layout: &Layout,
    n: u32,
    row: &[String],
    problems: &mut Vec<FileProblem>,
) -> Option<SiteFields> {
    let before = problems.len();
    let mut need = |c: Column| -> Option<&str> {
        let v = layout.cell(row, c);
        if v.is_none() && layout.at.contains_key(&c) {
            problems.push(file_problem(
                n,
                Some(&layout.header(c)),
                "REQUIRED",
                Msg::new(
                    format!("“{}”不能为空", layout.header(c)),
                    format!("{} is required", layout.header(c)),
                ),
            ));
        }
        v
    };
    let name = need(Column::Name).map(str::to_owned);
    let kind_text = need(Column::Kind);
    let lng_text = need(Column::Lng);
    let lat_text = need(Column::Lat);
    let risk_text = need(Column::Risk);
    let interval_text = need(Column::Interval);
    let mut bad = |c: Column, detail: &'static str, zh: String, en: String| {
        problems.push(file_problem(
            n,
            Some(&layout.header(c)),
            detail,
            Msg::new(zh, en),
        ));
    };
    let kind = kind_text.and_then(|t| {
        let k = parse_kind(t);
        if k.is_none() {
            bad(
                Column::Kind,
                "UNKNOWN_SITE_KIND",
                format!("类型“{t}”无效（应为养殖场、建筑工地、企业、井场、排污口、堆场或其他）"),
                format!("unknown kind {t} (FARM, CONSTRUCTION, ENTERPRISE, WELL_SITE, OUTFALL, STOCKPILE or OTHER)"),
            );
        }
        k
    });
    let mut number = |c: Column, t: Option<&str>, detail: &'static str| {
        let t = t?;
        let v = t.parse::<f64>().ok().filter(|v| v.is_finite());
        if v.is_none() {
            bad(
                c,
                detail,
                format!("“{}”应为数字，收到“{t}”", layout.header(c)),
                format!("{} must be a number, got {t}", layout.header(c)),
            );
        }
        v
    };
    let lng = number(Column::Lng, lng_text, "INVALID_LONGITUDE");
    let lat = number(Column::Lat, lat_text, "INVALID_LATITUDE");
    let mut bad = |c: Column, detail: &'static str, zh: String, en: String| {
        problems.push(file_problem(
            n,
            Some(&layout.header(c)),
            detail,
            Msg::new(zh, en),
        ));
    };
    let risk = risk_text.and_then(|t| {
        let r = parse_risk(t);
        if r.is_none() {
            bad(
                Column::Risk,
                "INVALID_RISK_LEVEL",
                format!("风险等级“{t}”无效（应为低、中或高）"),
                format!("invalid risk level {t} (LOW, MEDIUM or HIGH)"),
            );
        }
        r
    });
    let interval = interval_text.and_then(|t| {
        let d = t.parse::<i32>().ok();
        if d.is_none() {
            bad(
                Column::Interval,
                "INVALID_FREQUENCY",
                format!("巡查频次应为整数天数，收到“{t}”"),
                format!("the inspection interval must be a whole number of days, got {t}"),
            );
        }
        d
    });
    let gcj02 = match layout.cell(row, Column::Coord) {
        None => false,
        Some(t) if t.eq_ignore_ascii_case("WGS84") || t.eq_ignore_ascii_case("WGS-84") => false,
        Some(t) if t.eq_ignore_ascii_case("GCJ02") || t.eq_ignore_ascii_case("GCJ-02") => true,
        Some(t) => {
            bad(
                Column::Coord,
                "INVALID_COORD",
                format!("坐标系“{t}”无效（应为 WGS84 或 GCJ02）"),
                format!("invalid datum {t} (WGS84 or GCJ02)"),
            );
            false
        }
    };
    let text = |c: Column| layout.cell(row, c).map(str::to_owned);
    let fields = SiteFields {
        name: name?,
        kind: kind?,
        lat: lat?,
        lng: lng?,
        gcj02,
        address: text(Column::Address),
        risk_level: risk?,
        inspect_every_days: interval?,
        contact_name: text(Column::ContactName),
        contact_phone: text(Column::ContactPhone),
        code: text(Column::Code),
    };
    (problems.len() == before).then_some(fields)
}

/// What an import did.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct ImportReport {
    /// Sites inserted.
    pub imported: u64,
}

/// Imports a file of sites into the viewer's region, all or nothing (see the module
/// documentation). Each row obeys the rules of `createSite`; codes must be new and
/// distinct.
pub async fn import_sites(
    svc: &Services,
    viewer: &Viewer,
    bytes: &[u8],
) -> Result<ImportReport, AppError> {
    let staff = viewer.staff_with(MANAGERS)?.clone();
    if bytes.len() as u64 > MAX_BYTES {
        return Err(refuse(vec![file_problem(
            1,
            None,
            "TOO_LARGE",
            Msg::new(
                format!("文件过大（最多 {} MB）", MAX_BYTES / 1024 / 1024),
                format!(
                    "the file is too large (at most {} MB)",
                    MAX_BYTES / 1024 / 1024
                ),
            ),
        )]));
    }
    let rows = read_rows(bytes).map_err(|p| refuse(vec![p]))?;
    let mut problems = Vec::new();
    let mut rows = rows.into_iter();
    let Some((_, header)) = rows.next() else {
        return Err(refuse(vec![unreadable("文件为空", "the file is empty")]));
    };
    let layout = Layout::read(&header, &mut problems);
    let data: Vec<(u32, Vec<String>)> = rows
        .filter(|(_, cells)| cells.iter().any(|c| !c.is_empty()))
        .collect();
    if data.is_empty() {
        problems.push(file_problem(
            2,
            None,
            "NO_ROWS",
            Msg::new("文件中没有数据行", "the file has no data rows"),
        ));
    }
    if data.len() > MAX_ROWS {
        return Err(refuse(vec![file_problem(
            data.get(MAX_ROWS).map_or(1, |(n, _)| *n),
            None,
            "TOO_MANY_ROWS",
            Msg::new(
                format!("一次最多导入 {MAX_ROWS} 行"),
                format!("at most {MAX_ROWS} rows per file"),
            ),
        )]));
    }
    let grid = svc.grid.snapshot();
    let mut checked: Vec<(u32, CheckedSite)> = Vec::with_capacity(data.len());
    // Only read rows once the header is right: otherwise every row would repeat it.
    if problems.is_empty() {
        for (n, cells) in &data {
            let Some(fields) = row_fields(&layout, *n, cells, &mut problems) else {
                continue;
            };
            match check_site(&svc.vault, &grid, &staff, &fields, None) {
                Ok(c) => checked.push((*n, c)),
                Err(errs) => problems.extend(errs.into_iter().map(|e| {
                    file_problem(
                        *n,
                        layout.column_of(e.field()).as_deref(),
                        e.detail().unwrap_or("INVALID_VALUE"),
                        Msg::new(
                            e.message(crate::error::Lang::Zh).into_owned(),
                            e.message(crate::error::Lang::En).into_owned(),
                        ),
                    )
                })),
            }
        }
    }
    check_codes(svc, &layout, &checked, &mut problems).await?;
    if !problems.is_empty() {
        problems.sort_by_key(|p| p.row);
        return Err(refuse(problems));
    }
    let now = svc.clock.now();
    let models: Vec<supervised_site::ActiveModel> = checked
        .into_iter()
        .map(|(_, c)| c.into_active(Some(staff.user_id), now))
        .collect();
    uow::write(
        svc,
        None,
        uow::work(move |txn| {
            Box::pin(async move {
                let mut imported = 0u64;
                let mut models = models.into_iter().peekable();
                while models.peek().is_some() {
                    let batch: Vec<_> = models.by_ref().take(INSERT_BATCH).collect();
                    imported += batch.len() as u64;
                    supervised_site::Entity::insert_many(batch)
                        .exec_without_returning(txn)
                        .await
                        .map_err(|e| {
                            if super::is_code_clash(&e) {
                                // A concurrent registration took a code since the check.
                                AppError::Conflict(Msg::new(
                                    "导入期间有编码被其他监管对象占用，请重新导入",
                                    "a code was taken by another site during the import; import again",
                                ))
                            } else {
                                e.into()
                            }
                        })?;
                }
                Ok(ImportReport { imported })
            })
        }),
    )
    .await
}

/// Codes must be distinct within the file and not yet in the register.
async fn check_codes(
    svc: &Services,
    layout: &Layout,
    checked: &[(u32, CheckedSite)],
    problems: &mut Vec<FileProblem>,
) -> Result<(), AppError> {
    let header = layout.header(Column::Code);
    let mut first_row: HashMap<&str, u32> = HashMap::new();
    for (n, c) in checked {
        let Some(code) = c.code() else { continue };
        if let Some(first) = first_row.get(code) {
            problems.push(file_problem(
                *n,
                Some(&header),
                "DUPLICATE_SITE_CODE",
                Msg::new(
                    format!("编码 {code} 与第 {first} 行重复"),
                    format!("code {code} repeats row {first}"),
                ),
            ));
        } else {
            first_row.insert(code, *n);
        }
    }
    let codes: Vec<&str> = first_row.keys().copied().collect();
    for chunk in codes.chunks(CODE_BATCH) {
        let taken: Vec<Option<String>> = supervised_site::Entity::find()
            .select_only()
            .column(supervised_site::Column::Code)
            .filter(supervised_site::Column::Code.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(&svc.db)
            .await?;
        for code in taken.into_iter().flatten() {
            let n = first_row.get(code.as_str()).copied().unwrap_or(1);
            problems.push(file_problem(
                n,
                Some(&header),
                "DUPLICATE_SITE_CODE",
                Msg::new(
                    format!("编码 {code} 已被其他监管对象使用"),
                    format!("code {code} is already used by another site"),
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn headers_in_chinese_and_english() {
        let cases = [
            ("名称", Some(Column::Name)),
            ("\u{feff}名称", Some(Column::Name)),
            ("巡查频次(天)", Some(Column::Interval)),
            ("巡查频次（天）", Some(Column::Interval)),
            ("inspect_every_days", Some(Column::Interval)),
            ("Risk Level", Some(Column::Risk)),
            ("contactPhone", Some(Column::ContactPhone)),
            ("统一社会信用代码", Some(Column::Code)),
            ("面积", None),
        ];
        for (h, want) in cases {
            assert_eq!(Column::parse(h), want, "{h}");
        }
    }

    #[test]
    fn kinds_and_risks_as_people_write_them() {
        assert_eq!(parse_kind("养殖场"), Some(SiteKind::Farm));
        assert_eq!(parse_kind("well_site"), Some(SiteKind::WellSite));
        assert_eq!(parse_kind("煤层气井场"), Some(SiteKind::WellSite));
        assert_eq!(parse_kind("堆场"), Some(SiteKind::Stockpile));
        assert_eq!(parse_kind("加油站"), None);
        assert_eq!(parse_risk("高"), Some(RiskLevel::High));
        assert_eq!(parse_risk("中风险"), Some(RiskLevel::Medium));
        assert_eq!(parse_risk("low"), Some(RiskLevel::Low));
        assert_eq!(parse_risk("极高"), None);
    }

    #[test]
    fn csv_in_utf8_with_bom_and_in_gbk() {
        let text = "名称,类型\n甲养殖场,养殖场\n";
        let mut bom = b"\xef\xbb\xbf".to_vec();
        bom.extend_from_slice(text.as_bytes());
        let (gbk, _, _) = encoding_rs::GB18030.encode(text);
        for bytes in [bom, gbk.into_owned()] {
            let rows = read_rows(&bytes).unwrap();
            assert_eq!(rows.len(), 2);
            assert_eq!(rows[0].1, vec!["名称", "类型"]);
            assert_eq!(
                rows[1],
                (2, vec!["甲养殖场".to_owned(), "养殖场".to_owned()])
            );
        }
    }

    #[test]
    fn whole_numbers_from_spreadsheets_read_as_text() {
        assert_eq!(cell_text(&Data::Float(13812345678.0)), "13812345678");
        assert_eq!(cell_text(&Data::Float(112.25)), "112.25");
        assert_eq!(cell_text(&Data::Int(30)), "30");
        assert_eq!(cell_text(&Data::Empty), "");
    }
}
