//! The HTTP face of the `fs` store: `POST /files/{key}` takes an upload as a multipart
//! form (fields `exp`, `len`, `Content-Type`, `sig`, then the file as part `file` — the
//! shape of S3's POST and of `wx.uploadFile`), `PUT /files/{key}?exp&ct&len&sig` takes
//! the same upload as a raw body, `GET /files/{key}?exp&sig` serves a download. Both only honour URLs signed by
//! [`FsStore`] and not yet expired. Errors are JSON `{ "error": { "code", "message" } }`.

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use futures_util::TryStreamExt as _;
use serde::Deserialize;
use tokio_util::io::{ReaderStream, StreamReader};

use crate::error::Lang;
use crate::storage::ObjectKey;
use crate::storage::fs::{FsStore, Grant, WriteError};

/// The routes serving `store`'s signed URLs.
pub fn routes(store: FsStore) -> Router {
    Router::new()
        .route("/files/{*key}", put(upload).post(upload_form).get(download))
        // The signed length bounds every upload; the form's fields are small.
        .layer(DefaultBodyLimit::disable())
        .with_state(store)
}

#[derive(Debug, Deserialize)]
struct UploadQuery {
    exp: i64,
    ct: String,
    len: u64,
    sig: String,
}

#[derive(Debug, Deserialize)]
struct DownloadQuery {
    exp: i64,
    sig: String,
}

struct FileError {
    status: StatusCode,
    code: &'static str,
    zh: String,
    en: String,
    lang: Lang,
}

impl FileError {
    fn new(
        headers: &HeaderMap,
        status: StatusCode,
        code: &'static str,
        zh: impl Into<String>,
        en: impl Into<String>,
    ) -> Self {
        let lang = Lang::from_accept_language(
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok()),
        );
        Self {
            status,
            code,
            zh: zh.into(),
            en: en.into(),
            lang,
        }
    }

    fn bad_signature(headers: &HeaderMap) -> Self {
        Self::new(
            headers,
            StatusCode::FORBIDDEN,
            "SIGNATURE_INVALID",
            "链接无效或已被篡改",
            "invalid or tampered URL",
        )
    }

    fn unavailable(headers: &HeaderMap, e: &anyhow::Error) -> Self {
        tracing::error!(error = ?e, "evidence folder unavailable");
        Self::new(
            headers,
            StatusCode::SERVICE_UNAVAILABLE,
            "STORAGE_UNAVAILABLE",
            "证据存储暂时不可用，请稍后重试",
            "evidence storage unavailable, please retry later",
        )
    }

    fn store_failed(headers: &HeaderMap, e: &crate::error::AppError) -> Self {
        match e.cause() {
            Some(cause) => Self::unavailable(headers, cause),
            None => Self::unavailable(headers, &anyhow::anyhow!("{}", e.code())),
        }
    }
}

impl IntoResponse for FileError {
    fn into_response(self) -> Response {
        let message = if self.lang == Lang::En {
            self.en
        } else {
            self.zh
        };
        (
            self.status,
            axum::Json(serde_json::json!({ "error": { "code": self.code, "message": message } })),
        )
            .into_response()
    }
}

/// Parses the key and checks signature and expiry, in that order (an unsigned request
/// learns nothing about expiry).
fn authorize(
    store: &FsStore,
    headers: &HeaderMap,
    key: &str,
    exp: i64,
    grant: Grant<'_>,
    sig: &str,
) -> Result<ObjectKey, FileError> {
    let key = ObjectKey::try_from(key).map_err(|_| FileError::bad_signature(headers))?;
    if !store.verify(&key, exp, grant, sig) {
        return Err(FileError::bad_signature(headers));
    }
    if exp < store.now().timestamp() {
        return Err(FileError::new(
            headers,
            StatusCode::FORBIDDEN,
            "URL_EXPIRED",
            "链接已过期，请重新获取",
            "URL expired, please request a new one",
        ));
    }
    Ok(key)
}

/// The request must carry the type and the exact length the URL was signed for.
fn check_headers(headers: &HeaderMap, q: &UploadQuery) -> Result<(), FileError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if content_type != Some(q.ct.as_str()) {
        return Err(FileError::new(
            headers,
            StatusCode::BAD_REQUEST,
            "CONTENT_TYPE_MISMATCH",
            format!("文件类型与申请时不一致（应为 {}）", q.ct),
            format!("content type differs from the one requested ({})", q.ct),
        ));
    }
    let Some(declared) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    else {
        return Err(FileError::new(
            headers,
            StatusCode::LENGTH_REQUIRED,
            "LENGTH_REQUIRED",
            "缺少 Content-Length",
            "Content-Length required",
        ));
    };
    if declared != q.len {
        let (status, zh, en) = if declared > q.len {
            (
                StatusCode::PAYLOAD_TOO_LARGE,
                "文件大于申请时的大小",
                "file larger than requested",
            )
        } else {
            (
                StatusCode::BAD_REQUEST,
                "文件小于申请时的大小",
                "file smaller than requested",
            )
        };
        return Err(FileError::new(headers, status, "SIZE_MISMATCH", zh, en));
    }
    Ok(())
}

/// The answer to a write that did not complete (other than "already there").
fn write_failed(headers: &HeaderMap, key: &ObjectKey, e: WriteError) -> FileError {
    match e {
        WriteError::Exists => exists(headers),
        WriteError::TooLarge => FileError::new(
            headers,
            StatusCode::PAYLOAD_TOO_LARGE,
            "SIZE_MISMATCH",
            "文件大于申请时的大小",
            "file larger than requested",
        ),
        WriteError::TooShort { got } => FileError::new(
            headers,
            StatusCode::BAD_REQUEST,
            "SIZE_MISMATCH",
            format!("文件不完整：只收到 {got} 字节"),
            format!("incomplete file: only {got} bytes received"),
        ),
        WriteError::Read(e) => {
            tracing::info!(storage.key = %key, error = %e, "upload broke off");
            FileError::new(
                headers,
                StatusCode::BAD_REQUEST,
                "UPLOAD_INTERRUPTED",
                "上传中断，请重试",
                "upload interrupted, please retry",
            )
        }
        WriteError::Store(e) => FileError::unavailable(headers, &e),
    }
}

/// Objects are written once.
fn exists(headers: &HeaderMap) -> FileError {
    FileError::new(
        headers,
        StatusCode::CONFLICT,
        "ALREADY_EXISTS",
        "该文件已上传，不能覆盖",
        "already uploaded; objects are never overwritten",
    )
}

async fn upload(
    State(store): State<FsStore>,
    Path(key): Path<String>,
    query: Result<Query<UploadQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, FileError> {
    let Ok(Query(q)) = query else {
        return Err(FileError::bad_signature(&headers));
    };
    let grant = Grant::Upload {
        content_type: &q.ct,
        len: q.len,
    };
    let key = authorize(&store, &headers, &key, q.exp, grant, &q.sig)?;

    check_headers(&headers, &q)?;
    match store.exists(&key).await {
        Ok(false) => {}
        Ok(true) => return Err(exists(&headers)),
        Err(e) => return Err(FileError::store_failed(&headers, &e)),
    }

    let reader = StreamReader::new(body.into_data_stream().map_err(std::io::Error::other));
    match store
        .write_object(&key, &q.ct, reader, Some(q.len), q.len)
        .await
    {
        Ok(size) => {
            tracing::info!(storage.key = %key, size_bytes = size, "evidence uploaded to folder");
            Ok(StatusCode::CREATED.into_response())
        }
        Err(WriteError::Exists) => Err(exists(&headers)),
        Err(e) => Err(write_failed(&headers, &key, e)),
    }
}

/// The signed fields of a form upload, as they arrive before the file.
#[derive(Default)]
struct FormGrant {
    exp: Option<i64>,
    len: Option<u64>,
    content_type: Option<String>,
    sig: Option<String>,
}

fn bad_form(headers: &HeaderMap, zh: &str, en: &str) -> FileError {
    FileError::new(headers, StatusCode::BAD_REQUEST, "BAD_FORM", zh, en)
}

/// A form field's text, at most 1 KiB.
async fn small_text(
    headers: &HeaderMap,
    field: axum::extract::multipart::Field<'_>,
) -> Result<String, FileError> {
    let bytes = field
        .bytes()
        .await
        .map_err(|_| bad_form(headers, "表单读取失败", "unreadable form"))?;
    if bytes.len() > 1024 {
        return Err(bad_form(headers, "表单字段过长", "form field too long"));
    }
    String::from_utf8(bytes.to_vec()).map_err(|_| {
        bad_form(
            headers,
            "表单字段不是 UTF-8 文本",
            "form field is not UTF-8",
        )
    })
}

/// The form upload: the signed fields first, then the file, which is streamed to the
/// folder under the same checks as a PUT (exact length, write once). Fields after the
/// file are ignored, as S3 does; unknown fields before it too (clients add their own).
async fn upload_form(
    State(store): State<FsStore>,
    Path(key): Path<String>,
    headers: HeaderMap,
    mut form: Multipart,
) -> Result<Response, FileError> {
    let mut grant = FormGrant::default();
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => {
                return Err(FileError::new(
                    &headers,
                    StatusCode::BAD_REQUEST,
                    "NO_FILE",
                    "表单中没有文件（字段名应为 file）",
                    "no file in the form (its part must be named `file`)",
                ));
            }
            Err(_) => return Err(bad_form(&headers, "表单格式无效", "malformed form")),
        };
        let name = field.name().unwrap_or_default().to_owned();
        if name == crate::storage::FILE_FIELD {
            return store_form_file(&store, &headers, &key, grant, field).await;
        }
        match name.to_ascii_lowercase().as_str() {
            "exp" => grant.exp = small_text(&headers, field).await?.trim().parse().ok(),
            "len" => grant.len = small_text(&headers, field).await?.trim().parse().ok(),
            "content-type" => grant.content_type = Some(small_text(&headers, field).await?),
            "sig" => grant.sig = Some(small_text(&headers, field).await?),
            // Skipped unread: the next `next_field` passes over it.
            _ => {}
        }
    }
}

async fn store_form_file(
    store: &FsStore,
    headers: &HeaderMap,
    key: &str,
    grant: FormGrant,
    field: axum::extract::multipart::Field<'_>,
) -> Result<Response, FileError> {
    let (Some(exp), Some(len), Some(content_type), Some(sig)) =
        (grant.exp, grant.len, grant.content_type, grant.sig)
    else {
        return Err(FileError::bad_signature(headers));
    };
    let g = Grant::Upload {
        content_type: &content_type,
        len,
    };
    let key = authorize(store, headers, key, exp, g, &sig)?;
    match store.exists(&key).await {
        Ok(false) => {}
        Ok(true) => return Err(exists(headers)),
        Err(e) => return Err(FileError::store_failed(headers, &e)),
    }
    let reader = StreamReader::new(field.map_err(std::io::Error::other));
    match store
        .write_object(&key, &content_type, reader, Some(len), len)
        .await
    {
        Ok(size) => {
            tracing::info!(storage.key = %key, size_bytes = size, "evidence uploaded to folder (form)");
            Ok(StatusCode::CREATED.into_response())
        }
        Err(e) => Err(write_failed(headers, &key, e)),
    }
}

async fn download(
    State(store): State<FsStore>,
    Path(key): Path<String>,
    query: Result<Query<DownloadQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, FileError> {
    let Ok(Query(q)) = query else {
        return Err(FileError::bad_signature(&headers));
    };
    let key = authorize(&store, &headers, &key, q.exp, Grant::Download, &q.sig)?;
    let (file, meta) = match store.open(&key).await {
        Ok(Some(found)) => found,
        Ok(None) => {
            return Err(FileError::new(
                &headers,
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                "文件不存在",
                "file not found",
            ));
        }
        Err(e) => return Err(FileError::store_failed(&headers, &e)),
    };
    let content_type = meta
        .content_type
        .as_deref()
        .and_then(|ct| HeaderValue::from_str(ct).ok())
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_LENGTH, HeaderValue::from(meta.size)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=300"),
            ),
            // Uploaded bytes are served from our own origin: never sniff, never run scripts.
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; sandbox"),
            ),
        ],
        Body::from_stream(ReaderStream::new(file)),
    )
        .into_response())
}
