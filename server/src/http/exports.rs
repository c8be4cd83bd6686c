//! Exports over HTTP: `GET /exports/{cases|stats}.{csv|xlsx}?regionId=…&from=…&to=…`
//! (`&groupBy=REGION|INSPECTOR|CATEGORY|DAY` for stats), with the same bearer token and
//! scope as GraphQL.
//!
//! Case exports stream: rows are read a page at a time and sent as they are written
//! (CSV), or written to the workbook's temporary files in constant-memory mode and the
//! zip streamed out as it is assembled (XLSX), so 100,000 cases never sit in memory.
//! CSV starts with a UTF-8 byte-order mark so Excel opens the Chinese text correctly.
//! Errors before the first byte are JSON in GraphQL's shape (`errors[0].extensions.code`)
//! with a matching HTTP status; a failure halfway aborts the transfer, so a client never
//! mistakes a cut file for a whole one.

use std::io::Write;

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use chrono::NaiveDate;
use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::domain::exports::{CASE_HEADERS, CaseExport, Cell, stats_table};
use crate::domain::stats::{self, GroupBy, Period};
use crate::error::{AppError, Lang, Msg};
use crate::state::AppState;

const CSV_TYPE: &str = "text/csv; charset=utf-8";
const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
/// Bytes gathered before a chunk goes to the client.
const CHUNK: usize = 64 * 1024;

/// The export routes.
pub fn routes(app: AppState) -> Router {
    Router::new()
        .route("/exports/{file}", get(export))
        .with_state(app)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Params {
    region_id: Option<String>,
    from: Option<String>,
    to: Option<String>,
    group_by: Option<String>,
    /// Stats only: count the cases of this campaign (专项行动) alone.
    campaign_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum What {
    Cases,
    Stats,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Csv,
    Xlsx,
}

async fn export(
    State(app): State<AppState>,
    Path(file): Path<String>,
    headers: HeaderMap,
    params: Result<Query<Params>, QueryRejection>,
) -> Response {
    let lang = Lang::from_accept_language(
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    match run(&app, &file, &headers, params).await {
        Ok(r) => r,
        Err(e) => {
            if e.is_internal() {
                tracing::error!(error = ?e, "export failed");
            }
            error_response(&e, lang)
        }
    }
}

fn error_response(e: &AppError, lang: Lang) -> Response {
    let status = match e {
        AppError::Unauthenticated | AppError::BadCredentials => StatusCode::UNAUTHORIZED,
        AppError::Forbidden => StatusCode::FORBIDDEN,
        AppError::NotFound(_) => StatusCode::NOT_FOUND,
        AppError::BadInput { .. } | AppError::InvalidFile(_) => StatusCode::BAD_REQUEST,
        AppError::Conflict(_) | AppError::InvalidTransition(_) => StatusCode::CONFLICT,
        AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        AppError::Unavailable(_)
        | AppError::TimedOut
        | AppError::StorageUnavailable(_)
        | AppError::UpstreamUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let mut ext = serde_json::json!({ "code": e.code() });
    if let Some(d) = e.detail() {
        ext["detail"] = d.into();
    }
    if let Some(f) = e.field() {
        ext["field"] = f.into();
    }
    let body = serde_json::json!({ "errors": [{ "message": e.message(lang), "extensions": ext }] });
    (status, axum::Json(body)).into_response()
}

fn required(field: &str) -> AppError {
    AppError::bad_input(
        "REQUIRED",
        Msg::new(
            format!("缺少参数 {field}"),
            format!("`{field}` is required"),
        ),
    )
    .at(field)
}

fn date(v: Option<&str>, field: &str) -> Result<NaiveDate, AppError> {
    let v = v.ok_or_else(|| required(field))?;
    NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| {
        AppError::bad_input(
            "INVALID_DATE",
            Msg::new("日期格式应为 YYYY-MM-DD", "a date is written YYYY-MM-DD"),
        )
        .at(field)
    })
}

fn group_by(v: Option<&str>) -> Result<GroupBy, AppError> {
    Ok(match v.unwrap_or("REGION") {
        "REGION" => GroupBy::Region,
        "INSPECTOR" => GroupBy::Inspector,
        "CATEGORY" => GroupBy::Category,
        "DAY" => GroupBy::Day,
        _ => {
            return Err(AppError::bad_input(
                "INVALID_GROUP_BY",
                Msg::new(
                    "groupBy 应为 REGION、INSPECTOR、CATEGORY 或 DAY",
                    "groupBy is REGION, INSPECTOR, CATEGORY or DAY",
                ),
            )
            .at("groupBy"));
        }
    })
}

async fn run(
    app: &AppState,
    file: &str,
    headers: &HeaderMap,
    params: Result<Query<Params>, QueryRejection>,
) -> Result<Response, AppError> {
    let (what, kind) = match file {
        "cases.csv" => (What::Cases, Kind::Csv),
        "cases.xlsx" => (What::Cases, Kind::Xlsx),
        "stats.csv" => (What::Stats, Kind::Csv),
        "stats.xlsx" => (What::Stats, Kind::Xlsx),
        _ => return Err(AppError::not_found("导出", "export")),
    };
    let (viewer, _) = super::viewer_of(app, headers).await?;
    viewer.staff()?;
    let Query(p) = params.map_err(|e| {
        AppError::bad_input(
            "MALFORMED_REQUEST",
            Msg::new(
                format!("查询参数无效：{e}"),
                format!("bad query string: {e}"),
            ),
        )
    })?;
    let region_id = super::super::graphql::parse_id(&async_graphql::ID(
        p.region_id.clone().ok_or_else(|| required("regionId"))?,
    ))
    .map_err(|e| e.at("regionId"))?;
    let period = Period::new(
        date(p.from.as_deref(), "from")?,
        date(p.to.as_deref(), "to")?,
    )?;
    let svc = &app.services;
    let code = svc
        .grid
        .snapshot()
        .get(region_id)
        .map_or_else(|| region_id.to_string(), |r| r.code.clone());
    let name = format!(
        "{}-{code}-{}-{}.{}",
        if what == What::Cases {
            "cases"
        } else {
            "stats"
        },
        period.from,
        period.to,
        if kind == Kind::Csv { "csv" } else { "xlsx" }
    );
    let body = match what {
        What::Stats => {
            let g = group_by(p.group_by.as_deref())?;
            let campaign = p
                .campaign_id
                .as_ref()
                .map(|id| super::super::graphql::parse_id(&async_graphql::ID(id.clone())))
                .transpose()
                .map_err(|e| e.at("campaignId"))?;
            let s = stats::compute_for(svc, &viewer, region_id, period, g, campaign).await?;
            let table = stats_table(&s);
            let bytes = match kind {
                Kind::Csv => csv_bytes(&table, true)?,
                Kind::Xlsx => stats_xlsx(&table).map_err(xlsx_error)?,
            };
            Body::from(bytes)
        }
        What::Cases => {
            let mut export = CaseExport::open(svc, &viewer, region_id, period).await?;
            // The first page before answering: a database that is down is a clean 503.
            let first = export.next_page().await?;
            match kind {
                Kind::Csv => stream_csv(export, first),
                Kind::Xlsx => stream_xlsx(export, first),
            }
        }
    };
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(if kind == Kind::Csv {
            CSV_TYPE
        } else {
            XLSX_TYPE
        }),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

fn xlsx_error(e: XlsxError) -> AppError {
    AppError::Internal(anyhow::anyhow!("xlsx: {e}"))
}

/// Rows as CSV, with the byte-order mark first when `bom`.
fn csv_bytes(rows: &[Vec<Cell>], bom: bool) -> Result<Vec<u8>, AppError> {
    let mut out = Vec::new();
    if bom {
        out.extend_from_slice("\u{feff}".as_bytes());
    }
    let mut w = csv::Writer::from_writer(out);
    for r in rows {
        w.write_record(r.iter().map(Cell::to_csv))
            .map_err(|e| AppError::Internal(e.into()))?;
    }
    w.into_inner()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("csv: {e}")))
}

type Chunk = Result<Bytes, std::io::Error>;

fn body_of(rx: mpsc::Receiver<Chunk>) -> Body {
    Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|c| (c, rx))
    }))
}

fn abort(e: &AppError) -> std::io::Error {
    tracing::error!(error = ?e, "export stopped halfway");
    std::io::Error::other("export failed")
}

fn stream_csv(mut export: CaseExport, first: Option<Vec<Vec<Cell>>>) -> Body {
    let (tx, rx) = mpsc::channel::<Chunk>(4);
    tokio::spawn(async move {
        let header: Vec<Cell> = CASE_HEADERS
            .iter()
            .map(|h| Cell::Text((*h).into()))
            .collect();
        let mut page = first;
        let mut chunk = csv_bytes(&[header], true);
        loop {
            let bytes = match chunk {
                Ok(b) => b,
                Err(e) => {
                    let _ = tx.send(Err(abort(&e))).await;
                    return;
                }
            };
            if tx.send(Ok(Bytes::from(bytes))).await.is_err() {
                return; // the client went away
            }
            let Some(rows) = page.take() else { return };
            chunk = csv_bytes(&rows, false);
            page = match export.next_page().await {
                Ok(p) => p,
                Err(e) => {
                    if let Ok(b) = chunk {
                        let _ = tx.send(Ok(Bytes::from(b))).await;
                    }
                    let _ = tx.send(Err(abort(&e))).await;
                    return;
                }
            };
        }
    });
    body_of(rx)
}

/// A writer that hands the zip to the response in chunks (used from a blocking thread).
struct ChannelWriter {
    tx: mpsc::Sender<Chunk>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client gone"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

struct Formats {
    header: Format,
    ratio: Format,
    hours: Format,
}

fn formats() -> Formats {
    Formats {
        header: Format::new().set_bold(),
        ratio: Format::new().set_num_format("0.0%"),
        hours: Format::new().set_num_format("0.0"),
    }
}

fn write_row(
    ws: &mut Worksheet,
    f: &Formats,
    row: u32,
    cells: &[Cell],
    bold: bool,
) -> Result<(), XlsxError> {
    for (col, cell) in cells.iter().enumerate() {
        let col = u16::try_from(col).unwrap_or(u16::MAX);
        match cell {
            Cell::Text(s) if bold => ws.write_string_with_format(row, col, s, &f.header)?,
            Cell::Text(s) => ws.write_string(row, col, s)?,
            Cell::Int(i) => ws.write_number(row, col, *i as f64)?,
            Cell::Ratio(r) => ws.write_number_with_format(row, col, *r, &f.ratio)?,
            Cell::Hours(h) => ws.write_number_with_format(row, col, *h, &f.hours)?,
            Cell::Empty => ws,
        };
    }
    Ok(())
}

fn stats_xlsx(table: &[Vec<Cell>]) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let f = formats();
    let ws = wb.add_worksheet();
    ws.set_name("指标")?;
    for (i, r) in table.iter().enumerate() {
        write_row(ws, &f, u32::try_from(i).unwrap_or(u32::MAX), r, i == 0)?;
    }
    ws.set_column_width(0, 16)?;
    ws.set_freeze_panes(1, 1)?;
    let mut out = Vec::new();
    wb.save_to_writer(&mut out)?;
    Ok(out)
}

fn stream_xlsx(mut export: CaseExport, first: Option<Vec<Vec<Cell>>>) -> Body {
    let (tx, rx) = mpsc::channel::<Chunk>(4);
    tokio::spawn(async move {
        let f = formats();
        let mut wb = Workbook::new();
        let written: Result<(), AppError> = async {
            let ws = wb
                .add_worksheet_with_constant_memory()
                .map_err(xlsx_error)?;
            ws.set_name("案件").map_err(xlsx_error)?;
            let header: Vec<Cell> = CASE_HEADERS
                .iter()
                .map(|h| Cell::Text((*h).into()))
                .collect();
            write_row(ws, &f, 0, &header, true).map_err(xlsx_error)?;
            let mut next_row: u32 = 1;
            let mut page = first;
            while let Some(rows) = page {
                let ws = wb.worksheet_from_index(0).map_err(xlsx_error)?;
                for r in &rows {
                    write_row(ws, &f, next_row, r, false).map_err(xlsx_error)?;
                    next_row += 1;
                }
                page = export.next_page().await?;
            }
            Ok(())
        }
        .await;
        if let Err(e) = written {
            let _ = tx.send(Err(abort(&e))).await;
            return;
        }
        let err_tx = tx.clone();
        let saved = tokio::task::spawn_blocking(move || {
            let mut w = ChannelWriter {
                tx,
                buf: Vec::with_capacity(CHUNK),
            };
            wb.save_to_writer(&mut w)?;
            w.flush().map_err(XlsxError::IoError)
        })
        .await;
        match saved {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = err_tx.send(Err(abort(&xlsx_error(e)))).await;
            }
            Err(e) => {
                let _ = err_tx
                    .send(Err(abort(&AppError::Internal(anyhow::anyhow!("{e}")))))
                    .await;
            }
        }
    });
    body_of(rx)
}
