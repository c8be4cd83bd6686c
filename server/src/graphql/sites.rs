//! The site register (监管对象) over GraphQL: thin resolvers over `domain::sites`.

use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject, Upload};
use chrono::{DateTime, Utc};
use entity::supervised_site;
use tokio::io::AsyncReadExt;

use super::cases::{Case, LocationInput};
use super::fast::Fast;
use super::grid::{CoordSystem, GeoPoint, Region};
use super::pagination::{connection, page_request};
use super::{parse_id, state, viewer};
use crate::domain::cases::intake::Location;
use crate::domain::sites::{self as dom, import};
use crate::error::{AppError, Msg};

/// What kind of place a site is.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::enums::SiteKind")]
pub enum SiteKind {
    /// 畜禽养殖场: a livestock or poultry farm.
    Farm,
    /// 建筑工地: a construction site.
    Construction,
    /// 企业: an enterprise.
    Enterprise,
    /// 煤层气井场: a coal-bed-methane well site.
    WellSite,
    /// 入河排污口: a river outfall.
    Outfall,
    /// 堆场: a stockpile (coal, sand, gangue, bare earth).
    Stockpile,
    /// 其他.
    Other,
}

/// How much attention a site needs.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::enums::RiskLevel")]
pub enum RiskLevel {
    /// 低.
    Low,
    /// 中.
    Medium,
    /// 高.
    High,
}

/// A supervised site (监管对象): a place inspected on a schedule, in one village grid.
pub struct Site(pub supervised_site::Model);

#[Object]
impl Site {
    /// Opaque id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Kind.
    async fn kind(&self) -> SiteKind {
        self.0.kind.into()
    }
    /// The site's own code (统一社会信用代码, permit or well number), if registered.
    async fn code(&self) -> Option<&str> {
        self.0.code.as_deref()
    }
    /// Where it is (WGS-84 unless `coord: GCJ02`).
    async fn location(&self, coord: Option<CoordSystem>) -> GeoPoint {
        GeoPoint::from_wgs84(self.0.lat, self.0.lng, coord)
    }
    /// Address in words.
    async fn address(&self) -> Option<&str> {
        self.0.address.as_deref()
    }
    /// The village grid the location lies in.
    async fn region(&self, ctx: &Context<'_>) -> Result<Option<Region>, AppError> {
        Ok(Region::by_id(
            &state(ctx)?.services.grid.snapshot(),
            self.0.region_id,
        ))
    }
    /// Risk level.
    async fn risk_level(&self) -> RiskLevel {
        self.0.risk_level.into()
    }
    /// Inspect at least every this many days.
    async fn inspect_every_days(&self) -> i32 {
        self.0.inspect_every_days
    }
    /// Contact person.
    async fn contact_name(&self) -> Option<&str> {
        self.0.contact_name.as_deref()
    }
    /// The contact's phone, masked to its last four digits (`*******5678`); the full
    /// number is stored encrypted.
    async fn contact_phone(&self) -> Option<String> {
        dom::contact_phone_masked(&self.0)
    }
    /// Archived: no longer supervised (kept with its case history).
    async fn archived(&self) -> bool {
        self.0.archived_at.is_some()
    }
    /// When it was archived.
    async fn archived_at(&self) -> Option<DateTime<Utc>> {
        self.0.archived_at
    }
    /// When it was registered.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// The site's case history: cases that name this site and that you may see, newest
    /// first (keyset pages).
    async fn cases(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Fast<Connection<String, Fast<Case>>>, AppError> {
        let st = state(ctx)?;
        let page = page_request(
            "case",
            first,
            after,
            st.services.config.limits.max_page_size,
        )?;
        let page = dom::cases(&st.services, viewer(ctx)?, self.0.id, page).await?;
        super::cases::case_page(ctx, page).await
    }
}

/// Filters of `sites`.
#[derive(InputObject, Default)]
pub struct SiteFilter {
    /// Only sites within this region's subtree.
    pub region_id: Option<ID>,
    /// Only this kind.
    pub kind: Option<SiteKind>,
    /// Only this risk level.
    pub risk_level: Option<RiskLevel>,
    /// Name, code or address contains this text.
    pub text: Option<String>,
    /// Archived sites too (default: only active ones).
    pub include_archived: Option<bool>,
}

/// A new site.
#[derive(InputObject)]
pub struct CreateSiteInput {
    /// Name (2–128 characters).
    pub name: String,
    /// Kind.
    pub kind: SiteKind,
    /// Where (routed to its village grid, which must lie in your region).
    pub location: LocationInput,
    /// Address in words.
    pub address: Option<String>,
    /// Risk level.
    pub risk_level: RiskLevel,
    /// Inspect at least every this many days (1–366).
    pub inspect_every_days: i32,
    /// Contact person.
    pub contact_name: Option<String>,
    /// Contact's mobile number (stored encrypted, shown masked).
    pub contact_phone: Option<String>,
    /// The site's own code (统一社会信用代码, permit or well number): letters, digits
    /// and `-`, unique in the register.
    pub code: Option<String>,
    /// A fresh key per registration: a retry with the same key returns the first answer.
    pub idempotency_key: Option<String>,
}

/// Changes to a site; omitted fields stay as they are, an empty text clears an optional
/// one.
#[derive(InputObject, Default)]
pub struct UpdateSiteInput {
    /// New name.
    pub name: Option<String>,
    /// New kind.
    pub kind: Option<SiteKind>,
    /// New location (routed to its grid again; must stay in your region).
    pub location: Option<LocationInput>,
    /// New address.
    pub address: Option<String>,
    /// New risk level.
    pub risk_level: Option<RiskLevel>,
    /// New inspection interval in days.
    pub inspect_every_days: Option<i32>,
    /// New contact person.
    pub contact_name: Option<String>,
    /// New contact phone (empty: none).
    pub contact_phone: Option<String>,
    /// New code (empty: none).
    pub code: Option<String>,
}

/// What `importSites` did.
#[derive(SimpleObject)]
pub struct SiteImport {
    /// Sites registered.
    pub imported: i32,
}

fn gcj02(l: &LocationInput) -> Location {
    (*l).into()
}

/// Site queries.
#[derive(Default)]
pub struct SiteQuery;

#[Object]
impl SiteQuery {
    /// Supervised sites in your scope (county staff: county; supervisors: township;
    /// inspectors: their grid), newest first (keyset pages).
    async fn sites(
        &self,
        ctx: &Context<'_>,
        filter: Option<SiteFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Site>, AppError> {
        let st = state(ctx)?;
        let v = viewer(ctx)?;
        v.staff()?;
        let page = page_request(
            "site",
            first,
            after,
            st.services.config.limits.max_page_size,
        )?;
        let f = filter.unwrap_or_default();
        let filter = dom::SiteFilter {
            region_id: f
                .region_id
                .as_ref()
                .map(parse_id)
                .transpose()
                .map_err(|e| e.at("filter.regionId"))?,
            kind: f.kind.map(Into::into),
            risk_level: f.risk_level.map(Into::into),
            text: f.text,
            include_archived: f.include_archived.unwrap_or(false),
        };
        let page = dom::list(&st.services, v, filter, page)
            .await
            .map_err(|e| e.under("filter"))?;
        Ok(connection("site", page, |s| s.id, Site))
    }

    /// One site; null when it does not exist or is outside your scope.
    async fn site(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Site>, AppError> {
        let v = viewer(ctx)?;
        v.staff()?;
        match dom::get(
            &state(ctx)?.services,
            v,
            parse_id(&id).map_err(|e| e.at("id"))?,
        )
        .await
        {
            Ok(s) => Ok(Some(Site(s))),
            Err(AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Site register mutations.
#[derive(Default)]
pub struct SiteMutation;

#[Object]
impl SiteMutation {
    /// Registers a site in your region (county staff and township supervisors).
    async fn create_site(
        &self,
        ctx: &Context<'_>,
        input: CreateSiteInput,
    ) -> Result<Site, AppError> {
        let st = state(ctx)?;
        let loc = gcj02(&input.location);
        let fields = dom::SiteFields {
            name: input.name,
            kind: input.kind.into(),
            lat: loc.lat,
            lng: loc.lng,
            gcj02: loc.gcj02,
            address: input.address,
            risk_level: input.risk_level.into(),
            inspect_every_days: input.inspect_every_days,
            contact_name: input.contact_name,
            contact_phone: input.contact_phone,
            code: input.code,
        };
        dom::create(
            &st.services,
            viewer(ctx)?,
            fields,
            input.idempotency_key.as_deref(),
        )
        .await
        .map(Site)
        .map_err(|e| e.under("input"))
    }

    /// Changes a site in your region; archived sites cannot change.
    async fn update_site(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateSiteInput,
    ) -> Result<Site, AppError> {
        let st = state(ctx)?;
        let patch = dom::SitePatch {
            name: input.name,
            kind: input.kind.map(Into::into),
            location: input.location.as_ref().map(|l| {
                let l = gcj02(l);
                (l.lat, l.lng, l.gcj02)
            }),
            address: input.address,
            risk_level: input.risk_level.map(Into::into),
            inspect_every_days: input.inspect_every_days,
            contact_name: input.contact_name,
            contact_phone: input.contact_phone,
            code: input.code,
        };
        dom::update(
            &st.services,
            viewer(ctx)?,
            parse_id(&id).map_err(|e| e.at("id"))?,
            patch,
        )
        .await
        .map(Site)
        .map_err(|e| e.under("input"))
    }

    /// Archives a site in your region: no longer supervised, kept with its case history.
    async fn archive_site(&self, ctx: &Context<'_>, id: ID) -> Result<Site, AppError> {
        let st = state(ctx)?;
        dom::archive(
            &st.services,
            viewer(ctx)?,
            parse_id(&id).map_err(|e| e.at("id"))?,
        )
        .await
        .map(Site)
    }

    /// Registers every site of a CSV or XLSX file (GraphQL multipart request), all or
    /// nothing: a file with any problem is refused whole (`BAD_INPUT`,
    /// `INVALID_SITE_FILE`) with every problem in `extensions.problems` as
    /// `{ row, column, detail, message }`. Header row: 名称, 类型, 经度, 纬度, 风险等级,
    /// 巡查频次(天), and optionally 联系人, 联系电话, 地址, 编码, 坐标系 (or the English
    /// names).
    async fn import_sites(&self, ctx: &Context<'_>, file: Upload) -> Result<SiteImport, AppError> {
        let st = state(ctx)?;
        let v = viewer(ctx)?;
        v.staff()?;
        let unreadable = |e: std::io::Error| {
            AppError::bad_input(
                "UPLOAD_UNREADABLE",
                Msg::new(
                    format!("读取上传文件失败：{e}"),
                    format!("cannot read the upload: {e}"),
                ),
            )
        };
        let value = file.value(ctx).map_err(unreadable)?;
        let mut bytes = Vec::new();
        tokio::fs::File::from_std(value.content)
            .take(import::MAX_BYTES + 1)
            .read_to_end(&mut bytes)
            .await
            .map_err(unreadable)?;
        let report = import::import_sites(&st.services, v, &bytes).await?;
        Ok(SiteImport {
            imported: i32::try_from(report.imported).unwrap_or(i32::MAX),
        })
    }
}
