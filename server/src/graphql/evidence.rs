//! Photo evidence over GraphQL: upload tickets, confirmation, multipart upload, and
//! the evidence of a case.

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject, Upload};
use chrono::{DateTime, Utc};
use entity::evidence;

use super::{parse_id, services, state, viewer};
use crate::domain::evidence::{self as dom, Phase};
use crate::error::{AppError, Msg};

/// When a photo was taken relative to the problem.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum EvidencePhase {
    /// 发现: the problem as found.
    Before,
    /// 处置中: during handling.
    During,
    /// 整改后: after the fix.
    After,
}

impl From<EvidencePhase> for Phase {
    fn from(p: EvidencePhase) -> Self {
        match p {
            EvidencePhase::Before => Self::Before,
            EvidencePhase::During => Self::During,
            EvidencePhase::After => Self::After,
        }
    }
}

/// Where an evidence item is.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum EvidenceStatus {
    /// Waiting for the upload and `confirmEvidence`.
    Pending,
    /// Verified: size, hash and type match; counted for submissions.
    Confirmed,
    /// Failed verification (see `rejectReason`); the object was removed.
    Rejected,
}

/// One photo of a case.
pub struct Evidence(pub evidence::Model);

#[Object]
impl Evidence {
    /// Opaque id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Phase.
    async fn phase(&self) -> Option<EvidencePhase> {
        Some(match self.0.phase {
            Phase::Before => EvidencePhase::Before,
            Phase::During => EvidencePhase::During,
            Phase::After => EvidencePhase::After,
        })
    }
    /// Status.
    async fn status(&self) -> EvidenceStatus {
        match self.0.status {
            dom::EvidenceStatus::Pending => EvidenceStatus::Pending,
            dom::EvidenceStatus::Confirmed => EvidenceStatus::Confirmed,
            dom::EvidenceStatus::Rejected => EvidenceStatus::Rejected,
        }
    }
    /// Declared content type.
    async fn content_type(&self) -> &str {
        &self.0.content_type
    }
    /// Size in bytes. `Float` like the input's `byteSize`: GraphQL's `Int` is 32-bit,
    /// a `Float` holds every whole number up to 2^53 exactly.
    async fn byte_size(&self) -> f64 {
        self.0.byte_size as f64
    }
    /// SHA-256 of the bytes, hex.
    async fn sha256(&self) -> &str {
        &self.0.sha256
    }
    /// Width in pixels (after confirmation).
    async fn width(&self) -> Option<i32> {
        self.0.width
    }
    /// Height in pixels (after confirmation).
    async fn height(&self) -> Option<i32> {
        self.0.height
    }
    /// When the photo was taken, from EXIF.
    async fn taken_at(&self) -> Option<DateTime<Utc>> {
        self.0.taken_at
    }
    /// Distance in metres between the photo's GPS position and the case.
    async fn distance_m(&self) -> Option<f64> {
        self.0.distance_m
    }
    /// Warnings: FAR_FROM_CASE, TAKEN_BEFORE_CASE, NO_EXIF, REUSED (same photo on
    /// another case). Flagged photos still count; a supervisor judges them.
    async fn flags(&self) -> Vec<String> {
        self.0
            .flags
            .as_ref()
            .and_then(|f| serde_json::from_value::<Vec<String>>(f.clone()).ok())
            .unwrap_or_default()
    }
    /// Why it was rejected: SIZE_MISMATCH, HASH_MISMATCH, NOT_AN_IMAGE, TYPE_MISMATCH,
    /// DIMENSIONS_TOO_LARGE, NOT_UPLOADED …
    async fn reject_reason(&self) -> Option<&str> {
        self.0.reject_reason.as_deref()
    }
    /// When the upload was opened.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it was confirmed.
    async fn confirmed_at(&self) -> Option<DateTime<Utc>> {
        self.0.confirmed_at
    }
    /// A short-lived URL of the original (confirmed evidence only).
    async fn url(&self, ctx: &Context<'_>) -> Result<Option<String>, AppError> {
        dom::original_url(services(ctx)?, &self.0).await
    }
}

/// A name and a value.
#[derive(SimpleObject, Clone)]
pub struct FormField {
    /// Name.
    pub name: String,
    /// Value.
    pub value: String,
}

/// Where and how to send a photo's bytes.
#[derive(SimpleObject)]
pub struct EvidenceUpload {
    /// The evidence created for it (PENDING).
    pub evidence: Evidence,
    /// The URL to send the bytes to.
    pub url: String,
    /// `POST` on every store today: a multipart form, `fields` first (in order), then the
    /// file as the part named `fileField` — exactly what `wx.uploadFile({ url, name:
    /// fileField, formData: fields })` sends. (`PUT`: raw bytes with `headers`.)
    pub method: String,
    /// Form fields for a POST, in order.
    pub fields: Vec<FormField>,
    /// Headers for a PUT.
    pub headers: Vec<FormField>,
    /// The name of the form part carrying the file: `file`.
    pub file_field: String,
    /// The same upload as a raw-body PUT (send `putHeaders`), where the store offers
    /// one (the folder store); null otherwise.
    pub put_url: Option<String>,
    /// Headers for `putUrl`.
    pub put_headers: Option<Vec<FormField>>,
    /// The URL stops working at this time (≤ 10 minutes).
    pub expires_at: DateTime<Utc>,
}

/// A photo about to be uploaded.
#[derive(InputObject)]
pub struct RequestEvidenceUploadInput {
    /// The case (staff; a tipster may use it too). Give `caseId` or `trackingCode`.
    pub case_id: Option<ID>,
    /// A tipster's own tip-off, by the tracking code its receipt gave (BEFORE photos).
    pub tracking_code: Option<String>,
    /// Phase.
    pub phase: EvidencePhase,
    /// image/jpeg, image/png, image/webp or image/heic.
    pub content_type: String,
    /// Exact size in bytes (≤ 20 MB by default): a whole number. `Float` like
    /// `Evidence.byteSize` (GraphQL's `Int` is 32-bit); integer literals are accepted.
    pub byte_size: f64,
    /// SHA-256 of the bytes, hex, if the client can compute it (checked on confirmation;
    /// the server computes it there either way).
    pub sha256: Option<String>,
    /// Optional key making retries return the same evidence (with a fresh URL).
    pub idempotency_key: Option<String>,
}

/// Evidence mutations.
#[derive(Default)]
pub struct EvidenceMutation;

#[Object]
impl EvidenceMutation {
    /// Opens an upload for a photo of a case: a PENDING evidence and a URL bound to the
    /// declared type and exact size, valid for minutes. Send the bytes there, then call
    /// `confirmEvidence`.
    async fn request_evidence_upload(
        &self,
        ctx: &Context<'_>,
        input: RequestEvidenceUploadInput,
    ) -> Result<EvidenceUpload, AppError> {
        let st = state(ctx)?;
        let byte_size = whole_bytes(input.byte_size).map_err(|e| e.under("input"))?;
        let req = dom::UploadRequest {
            case: case_ref(input.case_id.as_ref(), input.tracking_code)
                .map_err(|e| e.under("input"))?,
            phase: input.phase.into(),
            content_type: input.content_type,
            byte_size,
            sha256: input.sha256,
        };
        let up = dom::request_upload(
            &st.services,
            viewer(ctx)?,
            req,
            input.idempotency_key.as_deref(),
        )
        .await
        .map_err(|e| e.under("input"))?;
        let pairs = |v: Vec<(String, String)>| {
            v.into_iter()
                .map(|(name, value)| FormField { name, value })
                .collect()
        };
        Ok(EvidenceUpload {
            evidence: Evidence(up.evidence),
            url: up.ticket.url,
            method: up.ticket.method.as_str().to_owned(),
            fields: pairs(up.ticket.fields),
            headers: pairs(up.ticket.headers),
            file_field: crate::storage::FILE_FIELD.to_owned(),
            put_url: up.ticket.put.as_ref().map(|p| p.url.clone()),
            put_headers: up.ticket.put.map(|p| pairs(p.headers)),
            expires_at: up.ticket.expires_at,
        })
    }

    /// Verifies the uploaded bytes (size, SHA-256, real type, dimensions, EXIF time and
    /// GPS) and confirms the evidence, or rejects it with a reason and removes the object.
    /// Confirming twice is harmless. `STORAGE_UNAVAILABLE` leaves it pending: retry.
    async fn confirm_evidence(&self, ctx: &Context<'_>, id: ID) -> Result<Evidence, AppError> {
        dom::confirm(
            services(ctx)?,
            viewer(ctx)?,
            parse_id(&id).map_err(|e| e.at("id"))?,
        )
        .await
        .map(Evidence)
    }

    /// Uploads a photo in the request itself (GraphQL multipart request), streamed to
    /// storage without holding it in memory, then verified like `confirmEvidence`. Name
    /// the case by `caseId` or (a tipster) by `trackingCode`.
    async fn upload_evidence(
        &self,
        ctx: &Context<'_>,
        case_id: Option<ID>,
        tracking_code: Option<String>,
        phase: EvidencePhase,
        file: Upload,
    ) -> Result<Evidence, AppError> {
        let case = case_ref(case_id.as_ref(), tracking_code)?;
        let st = state(ctx)?;
        let v = viewer(ctx)?;
        let value = file.value(ctx).map_err(|e| {
            AppError::bad_input(
                "UPLOAD_UNREADABLE",
                Msg::new(
                    format!("读取上传文件失败：{e}"),
                    format!("cannot read the upload: {e}"),
                ),
            )
        })?;
        let content_type = value
            .content_type
            .clone()
            .unwrap_or_else(|| "application/octet-stream".into());
        let reader: crate::storage::BlobReader = Box::new(tokio::fs::File::from_std(value.content));
        dom::upload_stream(&st.services, v, &case, phase.into(), &content_type, reader)
            .await
            .map(Evidence)
    }
}

/// The case a photo is for: exactly one of an id and a tracking code.
fn case_ref(case_id: Option<&ID>, tracking_code: Option<String>) -> Result<dom::CaseRef, AppError> {
    match (case_id, tracking_code) {
        (Some(id), None) => Ok(dom::CaseRef::Id(parse_id(id).map_err(|e| e.at("caseId"))?)),
        (None, Some(code)) => Ok(dom::CaseRef::TrackingCode(code)),
        _ => Err(AppError::BadInput {
            msg: Msg::new(
                "请给出 caseId 或 trackingCode 之一",
                "give exactly one of caseId and trackingCode",
            ),
            detail: Some("CASE_REQUIRED"),
            field: Some("caseId".into()),
        }),
    }
}

/// A byte count sent as a GraphQL `Float`: a whole number from 0 to 2^53.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn whole_bytes(v: f64) -> Result<u64, AppError> {
    const MAX_EXACT: f64 = 9_007_199_254_740_992.0;
    if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= MAX_EXACT {
        Ok(v as u64)
    } else {
        Err(AppError::BadInput {
            msg: Msg::new(
                format!("文件大小应为非负整数字节数，收到 {v}"),
                format!("byteSize must be a whole number of bytes, got {v}"),
            ),
            detail: Some("INVALID_SIZE"),
            field: Some("byteSize".into()),
        })
    }
}
