//! The site register (监管对象): farms, construction sites, enterprises, coal-bed-methane
//! well sites, outfalls and stockpiles that inspectors visit on a schedule.
//!
//! Every site lies in one village grid, found from its location. Scope is checked here
//! for every object: county staff reach their county, township supervisors their
//! township, inspectors read the sites of their own grid (and change none), the public
//! none. A site outside the viewer's scope answers like a missing one.

pub mod import;

use chrono::{DateTime, Utc};
use entity::{case, supervised_site};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, SqlErr,
};
use serde::{Deserialize, Serialize};

use super::Services;
use super::access::{Role, StaffViewer, Viewer};
use super::geo::{CoordSystem, WgsPoint};
use super::grid::{GridSnapshot, RegionNode, subtree};
use super::idempotency::IdemKey;
use super::page::{Page, PageRequest, like_fragment};
use super::phone::Phone;
use super::uow;
use crate::auth::vault::{Vault, aad};
use crate::error::{AppError, Msg};

pub use entity::enums::{RiskLevel, SiteKind};

/// Longest site name, in characters.
pub const MAX_NAME: usize = 128;
/// Longest address, in characters.
pub const MAX_ADDRESS: usize = 255;
/// Longest contact name, in characters.
pub const MAX_CONTACT_NAME: usize = 64;
/// Longest inspection interval, in days.
pub const MAX_INTERVAL_DAYS: i32 = 366;

/// Who may change the register.
const MANAGERS: &[Role] = &[Role::CountyAdmin, Role::TownshipSupervisor];

fn site_not_found() -> AppError {
    AppError::not_found("监管对象", "site")
}

/// A site as given by a client or an import row, not yet checked.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SiteFields {
    /// Name, e.g. 某某养殖场.
    pub name: String,
    /// Kind.
    pub kind: SiteKind,
    /// Latitude in the datum `gcj02` says.
    pub lat: f64,
    /// Longitude in the datum `gcj02` says.
    pub lng: f64,
    /// GCJ-02 (Chinese map SDKs) rather than WGS-84.
    pub gcj02: bool,
    /// Address in words.
    pub address: Option<String>,
    /// Risk level.
    pub risk_level: RiskLevel,
    /// Inspect at least every this many days.
    pub inspect_every_days: i32,
    /// Contact person.
    pub contact_name: Option<String>,
    /// Contact's mobile number, in clear (sealed before it is stored).
    pub contact_phone: Option<String>,
    /// The site's own code (统一社会信用代码, permit or well number).
    pub code: Option<String>,
}

/// A site that passed every check, ready to store.
#[derive(Debug, Clone)]
pub struct CheckedSite {
    name: String,
    kind: SiteKind,
    point: WgsPoint,
    region_id: i64,
    region_path: String,
    address: Option<String>,
    risk_level: RiskLevel,
    inspect_every_days: i32,
    contact_name: Option<String>,
    contact_phone: Option<(Vec<u8>, String)>,
    code: Option<String>,
}

impl CheckedSite {
    /// The code, if any (for uniqueness checks).
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    fn into_active(
        self,
        created_by: Option<i64>,
        now: DateTime<Utc>,
    ) -> supervised_site::ActiveModel {
        let (enc, last4) = self
            .contact_phone
            .map_or((None, None), |(e, l)| (Some(e), Some(l)));
        supervised_site::ActiveModel {
            name: Set(self.name),
            kind: Set(self.kind),
            region_id: Set(self.region_id),
            region_path: Set(self.region_path),
            lat: Set(self.point.lat.degrees()),
            lng: Set(self.point.lng.degrees()),
            address: Set(self.address),
            risk_level: Set(self.risk_level),
            inspect_every_days: Set(self.inspect_every_days),
            active: Set(true),
            created_at: Set(now),
            updated_at: Set(now),
            code: Set(self.code),
            contact_name: Set(self.contact_name),
            contact_phone_enc: Set(enc),
            contact_phone_last4: Set(last4),
            archived_at: Set(None),
            created_by: Set(created_by),
            ..Default::default()
        }
    }
}

fn text(
    value: Option<&str>,
    field: &str,
    (what_zh, what_en): (&str, &str),
    (min, max): (usize, usize),
) -> Result<Option<String>, AppError> {
    let t = value.map(str::trim).unwrap_or("");
    if t.is_empty() && min == 0 {
        return Ok(None);
    }
    let n = t.chars().count();
    if n < min.max(1) || n > max {
        return Err(AppError::bad_input(
            "INVALID_LENGTH",
            Msg::new(
                format!("{what_zh}长度应为 {} 到 {max} 个字", min.max(1)),
                format!("{what_en} must be {}–{max} characters", min.max(1)),
            ),
        )
        .at(field));
    }
    Ok(Some(t.to_owned()))
}

/// A site code: 1–64 letters, digits and `-`, upper-cased (credit codes are).
fn check_code(code: Option<&str>) -> Result<Option<String>, AppError> {
    let Some(c) = code.map(str::trim).filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let ok = c.len() <= 64 && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-');
    if ok {
        Ok(Some(c.to_ascii_uppercase()))
    } else {
        Err(AppError::bad_input(
            "INVALID_SITE_CODE",
            Msg::new(
                "编码应为 1 到 64 个字母、数字或 -（如统一社会信用代码）",
                "code must be 1–64 letters, digits or '-' (e.g. a unified social credit code)",
            ),
        )
        .at("code"))
    }
}

fn check_interval(days: i32) -> Result<i32, AppError> {
    if (1..=MAX_INTERVAL_DAYS).contains(&days) {
        Ok(days)
    } else {
        Err(AppError::bad_input(
            "INVALID_FREQUENCY",
            Msg::new(
                format!("巡查频次应为 1 到 {MAX_INTERVAL_DAYS} 天，收到 {days}"),
                format!("inspectEveryDays must be 1–{MAX_INTERVAL_DAYS}, got {days}"),
            ),
        )
        .at("inspectEveryDays"))
    }
}

/// Validates a contact's mobile number and encrypts it (ciphertext, last four digits).
pub fn seal_contact_phone(vault: &Vault, raw: &str) -> Result<(Vec<u8>, String), AppError> {
    // `Phone` names its input `phone`; here the input is `contactPhone`.
    let phone = Phone::try_from(raw).map_err(|e| match e {
        AppError::BadInput { msg, detail, .. } => AppError::BadInput {
            msg,
            detail,
            field: Some("contactPhone".into()),
        },
        other => other,
    })?;
    let enc = vault.encrypt(phone.as_str().as_bytes(), aad::SITE_CONTACT_PHONE)?;
    Ok((enc, phone.last4().to_owned()))
}

/// The village grid of a point, which must lie within `staff`'s region:
/// `OUTSIDE_SERVICE_AREA` outside every grid, `OUTSIDE_OWN_REGION` in a grid the viewer
/// does not manage.
pub fn route_site<'g>(
    grid: &'g GridSnapshot,
    staff: &StaffViewer,
    p: WgsPoint,
) -> Result<&'g RegionNode, AppError> {
    let village = grid.locate(p).ok_or_else(|| {
        AppError::bad_input(
            "OUTSIDE_SERVICE_AREA",
            Msg::new(
                "该位置不在本系统任何村（社区）网格内",
                "the location is not inside any village grid of this system",
            ),
        )
        .at("location")
    })?;
    if !staff.covers(&village.path) {
        return Err(AppError::bad_input(
            "OUTSIDE_OWN_REGION",
            Msg::new(
                format!("该位置属于{}，不在您管辖的区域内", village.name),
                format!("the location lies in {}, outside your region", village.code),
            ),
        )
        .at("location"));
    }
    Ok(village)
}

/// Checks every field of a site and routes it, collecting every problem (each names
/// its field): the register's one set of rules, used by `createSite`, `updateSite` and
/// the import. `phone` is the sealed phone to keep when `fields.contact_phone` is `None`.
pub fn check_site(
    vault: &Vault,
    grid: &GridSnapshot,
    staff: &StaffViewer,
    fields: &SiteFields,
    phone: Option<(Vec<u8>, String)>,
) -> Result<CheckedSite, Vec<AppError>> {
    let mut problems = Vec::new();
    let mut keep = |r: Result<Option<String>, AppError>| match r {
        Ok(v) => v,
        Err(e) => {
            problems.push(e);
            None
        }
    };
    let name = keep(text(
        Some(&fields.name),
        "name",
        ("名称", "name"),
        (2, MAX_NAME),
    ));
    let address = keep(text(
        fields.address.as_deref(),
        "address",
        ("地址", "address"),
        (0, MAX_ADDRESS),
    ));
    let contact_name = keep(text(
        fields.contact_name.as_deref(),
        "contactName",
        ("联系人", "contactName"),
        (0, MAX_CONTACT_NAME),
    ));
    let code = keep(check_code(fields.code.as_deref()));
    let interval = check_interval(fields.inspect_every_days)
        .map_err(|e| problems.push(e))
        .ok();
    let contact_phone = match fields.contact_phone.as_deref().map(str::trim) {
        None => phone,
        Some("") => None,
        Some(raw) => seal_contact_phone(vault, raw)
            .map_err(|e| problems.push(e))
            .ok(),
    };
    let coord = if fields.gcj02 {
        CoordSystem::Gcj02
    } else {
        CoordSystem::Wgs84
    };
    let placed = WgsPoint::from_client(fields.lat, fields.lng, coord)
        .map_err(|e| e.under("location"))
        .and_then(|p| route_site(grid, staff, p).map(|r| (p, r)))
        .map_err(|e| problems.push(e))
        .ok();
    match (name, interval, placed) {
        (Some(name), Some(inspect_every_days), Some((point, region))) if problems.is_empty() => {
            Ok(CheckedSite {
                name,
                kind: fields.kind,
                point,
                region_id: region.id,
                region_path: region.path.clone(),
                address,
                risk_level: fields.risk_level,
                inspect_every_days,
                contact_name,
                contact_phone,
                code,
            })
        }
        _ => Err(problems),
    }
}

fn duplicate_code(code: &str) -> AppError {
    AppError::Conflict(Msg::new(
        format!("编码 {code} 已被其他监管对象使用"),
        format!("code {code} is already used by another site"),
    ))
}

/// Whether an insert or update hit the unique site code.
fn is_code_clash(e: &sea_orm::DbErr) -> bool {
    matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// A site the viewer may read, or `NOT_FOUND`.
async fn readable<C: ConnectionTrait>(
    conn: &C,
    staff: &StaffViewer,
    id: i64,
) -> Result<supervised_site::Model, AppError> {
    supervised_site::Entity::find_by_id(id)
        .one(conn)
        .await?
        .filter(|s| staff.covers(&s.region_path))
        .ok_or_else(site_not_found)
}

/// One site within the viewer's scope (`NOT_FOUND` otherwise, archived ones included).
pub async fn get(
    svc: &Services,
    viewer: &Viewer,
    id: i64,
) -> Result<supervised_site::Model, AppError> {
    readable(&svc.db, viewer.staff()?, id).await
}

/// Registers a site in the viewer's region (idempotent with a key).
pub async fn create(
    svc: &Services,
    viewer: &Viewer,
    fields: SiteFields,
    idempotency_key: Option<&str>,
) -> Result<supervised_site::Model, AppError> {
    let staff = viewer.staff_with(MANAGERS)?.clone();
    let idem = idempotency_key
        .map(|k| IdemKey::new(viewer.idempotency_scope(), k, "CREATE_SITE", &fields))
        .transpose()?;
    if let Some(k) = &idem
        && let Some(done) = k.replay(&svc.db).await?
    {
        return Ok(done);
    }
    let grid = svc.grid.snapshot();
    let checked = check_site(&svc.vault, &grid, &staff, &fields, None).map_err(first_problem)?;
    let clock = svc.clock.clone();
    uow::write(
        svc,
        idem,
        uow::work(move |txn| {
            Box::pin(async move {
                let code = checked.code.clone();
                match checked
                    .into_active(Some(staff.user_id), clock.now())
                    .insert(txn)
                    .await
                {
                    Ok(m) => Ok(m),
                    Err(e) if is_code_clash(&e) => {
                        Err(duplicate_code(code.as_deref().unwrap_or("")))
                    }
                    Err(e) => Err(e.into()),
                }
            })
        }),
    )
    .await
}

/// The first of a list of problems (a form shows one at a time; the import lists all).
fn first_problem(mut problems: Vec<AppError>) -> AppError {
    if problems.is_empty() {
        AppError::Internal(anyhow::anyhow!("site check failed without a problem"))
    } else {
        problems.swap_remove(0)
    }
}

/// Changes to a site; `None` leaves a field as it is, an empty text clears an optional
/// one.
#[derive(Debug, Clone, Default)]
pub struct SitePatch {
    /// New name.
    pub name: Option<String>,
    /// New kind.
    pub kind: Option<SiteKind>,
    /// New location (lat, lng, GCJ-02?): routed to its grid again.
    pub location: Option<(f64, f64, bool)>,
    /// New address.
    pub address: Option<String>,
    /// New risk level.
    pub risk_level: Option<RiskLevel>,
    /// New inspection interval.
    pub inspect_every_days: Option<i32>,
    /// New contact.
    pub contact_name: Option<String>,
    /// New contact phone (empty: none).
    pub contact_phone: Option<String>,
    /// New code (empty: none).
    pub code: Option<String>,
}

/// Changes a site within the viewer's scope; a new location must stay within it.
/// Archived sites are read-only (`INVALID_TRANSITION`).
pub async fn update(
    svc: &Services,
    viewer: &Viewer,
    id: i64,
    patch: SitePatch,
) -> Result<supervised_site::Model, AppError> {
    let staff = viewer.staff_with(MANAGERS)?.clone();
    let site = readable(&svc.db, &staff, id).await?;
    if site.archived_at.is_some() {
        return Err(AppError::InvalidTransition(Msg::new(
            "该监管对象已归档，不能修改",
            "the site is archived and cannot be changed",
        )));
    }
    let (lat, lng, gcj02) = patch.location.unwrap_or((site.lat, site.lng, false));
    let fields = SiteFields {
        name: patch.name.unwrap_or_else(|| site.name.clone()),
        kind: patch.kind.unwrap_or(site.kind),
        lat,
        lng,
        gcj02,
        address: patch.address.or_else(|| site.address.clone()),
        risk_level: patch.risk_level.unwrap_or(site.risk_level),
        inspect_every_days: patch.inspect_every_days.unwrap_or(site.inspect_every_days),
        contact_name: patch.contact_name.or_else(|| site.contact_name.clone()),
        contact_phone: patch.contact_phone,
        code: patch.code.or_else(|| site.code.clone()),
    };
    let kept_phone = site
        .contact_phone_enc
        .clone()
        .zip(site.contact_phone_last4.clone());
    let grid = svc.grid.snapshot();
    let checked =
        check_site(&svc.vault, &grid, &staff, &fields, kept_phone).map_err(first_problem)?;
    let clock = svc.clock.clone();
    uow::write(
        svc,
        None,
        uow::work(move |txn| {
            Box::pin(async move {
                let code = checked.code.clone();
                let mut am = checked.into_active(site.created_by, site.created_at);
                am.id = Set(site.id);
                am.updated_at = Set(clock.now());
                match am.update(txn).await {
                    Ok(m) => Ok(m),
                    Err(e) if is_code_clash(&e) => {
                        Err(duplicate_code(code.as_deref().unwrap_or("")))
                    }
                    Err(e) => Err(e.into()),
                }
            })
        }),
    )
    .await
}

/// Archives a site within the viewer's scope: no longer supervised, kept with its case
/// history, hidden from lists unless asked for. Archiving an archived site changes
/// nothing.
pub async fn archive(
    svc: &Services,
    viewer: &Viewer,
    id: i64,
) -> Result<supervised_site::Model, AppError> {
    let staff = viewer.staff_with(MANAGERS)?.clone();
    let site = readable(&svc.db, &staff, id).await?;
    if site.archived_at.is_some() {
        return Ok(site);
    }
    let clock = svc.clock.clone();
    uow::write(
        svc,
        None,
        uow::work(move |txn| {
            Box::pin(async move {
                let now = clock.now();
                let mut am: supervised_site::ActiveModel = site.into();
                am.active = Set(false);
                am.archived_at = Set(Some(now));
                am.updated_at = Set(now);
                Ok(am.update(txn).await?)
            })
        }),
    )
    .await
}

/// Filters of `sites`.
#[derive(Debug, Clone, Default)]
pub struct SiteFilter {
    /// Only sites within this region's subtree.
    pub region_id: Option<i64>,
    /// Only this kind.
    pub kind: Option<SiteKind>,
    /// Only this risk level.
    pub risk_level: Option<RiskLevel>,
    /// Name, code or address contains this text.
    pub text: Option<String>,
    /// Archived sites too.
    pub include_archived: bool,
}

/// The sites within the viewer's scope, filtered, newest first, one page.
pub async fn list(
    svc: &Services,
    viewer: &Viewer,
    filter: SiteFilter,
    page: PageRequest,
) -> Result<Page<supervised_site::Model>, AppError> {
    let staff = viewer.staff()?;
    let grid = svc.grid.snapshot();
    let mut q = supervised_site::Entity::find().filter(subtree(
        supervised_site::Column::RegionPath,
        &staff.region_path,
    ));
    if let Some(rid) = filter.region_id {
        // A region above the viewer's own narrows nothing; one beside it is out of scope.
        let r = staff.narrowing_region(&grid, rid)?;
        q = q.filter(subtree(supervised_site::Column::RegionPath, &r.path));
    }
    if let Some(k) = filter.kind {
        q = q.filter(supervised_site::Column::Kind.eq(k));
    }
    if let Some(r) = filter.risk_level {
        q = q.filter(supervised_site::Column::RiskLevel.eq(r));
    }
    if !filter.include_archived {
        q = q.filter(supervised_site::Column::ArchivedAt.is_null());
    }
    if let Some(t) = like_fragment(filter.text.as_deref()) {
        q = q.filter(
            Condition::any()
                .add(supervised_site::Column::Name.contains(&t))
                .add(supervised_site::Column::Code.contains(t.to_ascii_uppercase()))
                .add(supervised_site::Column::Address.contains(&t)),
        );
    }
    if let Some(after) = page.after {
        q = q.filter(supervised_site::Column::Id.lt(after));
    }
    let rows = q
        .order_by_desc(supervised_site::Column::Id)
        .limit(page.fetch_limit())
        .all(&svc.db)
        .await?;
    Ok(Page::from_rows(rows, page))
}

/// A site's case history: the cases that name it and that the viewer may see, newest
/// first, one page. The site itself must be readable.
pub async fn cases(
    svc: &Services,
    viewer: &Viewer,
    site_id: i64,
    page: PageRequest,
) -> Result<Page<case::Model>, AppError> {
    let staff = viewer.staff()?;
    readable(&svc.db, staff, site_id).await?;
    let mut q = case::Entity::find()
        .filter(case::Column::SiteId.eq(site_id))
        .filter(super::cases::visible_to(staff));
    if let Some(after) = page.after {
        q = q.filter(case::Column::Id.lt(after));
    }
    let rows = q
        .order_by_desc(case::Column::Id)
        .limit(page.fetch_limit())
        .all(&svc.db)
        .await?;
    Ok(Page::from_rows(rows, page))
}

/// The contact's phone as shown: masked to its last four digits, like staff phones (the
/// full number stays encrypted).
pub fn contact_phone_masked(site: &supervised_site::Model) -> Option<String> {
    site.contact_phone_last4
        .as_ref()
        .map(|l4| format!("*******{l4}"))
}
