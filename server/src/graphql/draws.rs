//! 双随机、一公开 over GraphQL: thin resolvers over `domain::draws`.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::random_draw;

use super::cases::{Case, CaseStatus};
use super::grid::Region;
use super::pagination::{connection, page_request};
use super::sites::{RiskLevel, Site, SiteKind};
use super::users::User;
use super::{parse_id, state, viewer};
use crate::domain::accounts::users::StaffCard;
use crate::domain::draws as dom;
use crate::domain::grid::RegionLevel;
use crate::error::AppError;

/// Which sites a draw picks from (active sites of the draw's region).
#[derive(InputObject, Default)]
pub struct DrawSiteFilter {
    /// Only these kinds (all when omitted or empty).
    pub kinds: Option<Vec<SiteKind>>,
    /// Only these risk levels (all when omitted or empty).
    pub risk_levels: Option<Vec<RiskLevel>>,
}

/// A random inspection draw (双随机) as asked for. Give exactly one of `count` and
/// `sharePercent`.
#[derive(InputObject)]
pub struct DrawRandomInspectionInput {
    /// The region to draw in: the county, a township or a village grid within your scope.
    pub region_id: ID,
    /// Which sites (default: every active site of the region).
    pub site_filter: Option<DrawSiteFilter>,
    /// How many sites to draw (1–200) …
    pub count: Option<i32>,
    /// … or what share of the matching sites, in percent (1–100, rounded up).
    pub share_percent: Option<i32>,
    /// The inspectors to draw from (default: every active inspector in your scope).
    pub inspector_ids: Option<Vec<ID>>,
    /// Inspectors per site (2–5, default 2). Nobody is sent to a site in their own grid.
    pub per_site: Option<i32>,
    /// The inspection period (`2026`, `2026-H2`, `2026-Q4` or `2026-12`): a site is not
    /// drawn twice in one period unless every matching site was drawn already.
    pub period: String,
    /// Category of the tasks (default: by the site's kind, e.g. FARM → LIVESTOCK_WASTE).
    pub category_code: Option<String>,
    /// A fresh key per draw: a retry with the same key returns the first answer.
    pub idempotency_key: Option<String>,
}

/// A recorded random inspection draw: its inputs, the frame it drew from, the seed, the
/// drawn sites and inspectors, and the hash chaining it to the draw before.
pub struct RandomDraw(pub random_draw::Model);

/// A site a draw picked, the inspectors drawn for it and its inspection task.
pub struct DrawnSite {
    seq: i32,
    site: entity::supervised_site::Model,
    task: entity::case::Model,
    inspectors: Vec<StaffCard>,
}

#[Object]
impl DrawnSite {
    /// Place in the draw order, from 0.
    async fn seq(&self) -> i32 {
        self.seq
    }
    /// The site.
    async fn site(&self) -> Site {
        Site(self.site.clone())
    }
    /// The drawn inspectors; the first is the task's assignee.
    async fn inspectors(&self) -> Vec<User> {
        self.inspectors.iter().cloned().map(User::from).collect()
    }
    /// The inspection task (source `RANDOM`).
    async fn task(&self) -> Case {
        Case(self.task.clone())
    }
}

#[Object]
impl RandomDraw {
    /// Opaque id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The region drawn in.
    async fn region(&self, ctx: &Context<'_>) -> Result<Option<Region>, AppError> {
        Ok(Region::by_id(
            &state(ctx)?.services.grid.snapshot(),
            self.0.region_id,
        ))
    }
    /// The inspection period.
    async fn period(&self) -> &str {
        &self.0.period
    }
    /// When the draw was made (part of the seed).
    async fn drawn_at(&self) -> DateTime<Utc> {
        self.0.drawn_at
    }
    /// Who made it.
    async fn drawn_by(&self, ctx: &Context<'_>) -> Result<Option<User>, AppError> {
        User::by_id(ctx, self.0.drawn_by).await
    }
    /// The generator's seed (hex SHA-256 of the previous hash, the time and the inputs).
    async fn seed(&self) -> &str {
        &self.0.seed
    }
    /// The hash of the draw before (64 zeros for the first draw).
    async fn prev_hash(&self) -> &str {
        &self.0.prev_hash
    }
    /// This draw's hash, over everything recorded.
    async fn hash(&self) -> &str {
        &self.0.hash
    }
    /// The inputs as recorded and hashed (canonical JSON).
    async fn inputs(&self) -> &str {
        &self.0.inputs
    }
    /// The frame drawn from as recorded and hashed (canonical JSON: candidate sites,
    /// sites drawn before in the period, the inspector pool, each with its grid).
    async fn frame(&self) -> &str {
        &self.0.frame
    }
    /// Every matching site had been drawn in the period already, so some were drawn again.
    async fn pool_exhausted(&self) -> bool {
        self.0.pool_exhausted
    }
    /// How many sites were drawn.
    async fn site_count(&self) -> i32 {
        self.0.site_count
    }
    /// Published for everyone (一公开).
    async fn published(&self) -> bool {
        self.0.published_at.is_some()
    }
    /// When it was published.
    async fn published_at(&self) -> Option<DateTime<Utc>> {
        self.0.published_at
    }
    /// The drawn sites in draw order, with their inspectors and tasks.
    async fn sites(&self, ctx: &Context<'_>) -> Result<Vec<DrawnSite>, AppError> {
        let db = &state(ctx)?.services.db;
        let drawn = dom::drawn_sites(db, self.0.id).await?;
        let cards = dom::team_cards(db, &drawn).await?;
        Ok(drawn
            .into_iter()
            .map(|d| DrawnSite {
                seq: d.row.seq,
                inspectors: d
                    .inspector_ids
                    .iter()
                    .filter_map(|id| cards.get(id).cloned())
                    .collect(),
                site: d.site,
                task: d.task,
            })
            .collect())
    }
}

/// What `verifyDraw` found when it recomputed a draw.
#[derive(SimpleObject)]
pub struct DrawVerification {
    /// The draw.
    pub draw_id: ID,
    /// Everything matched.
    pub matches: bool,
    /// The seed follows from the previous hash, the draw time and the inputs.
    pub seed_matches: bool,
    /// The stored selection is what the seed and the frame give.
    pub selection_matches: bool,
    /// The stored hash covers exactly what is stored.
    pub hash_matches: bool,
    /// The previous hash is the hash of the draw before.
    pub chain_matches: bool,
    /// What did not match (`seed`, `selection`, `hash`, `chain`); empty when all did.
    pub problems: Vec<String>,
}

/// A published draw as everyone sees it (一公开): when, where, which sites and what was
/// found — never an inspector, a phone or a coordinate.
pub struct PublicDraw(pub random_draw::Model);

/// A drawn site in a published draw.
#[derive(SimpleObject)]
pub struct PublicDrawSite {
    /// The site's name.
    pub name: String,
    /// Its kind.
    pub kind: SiteKind,
    /// Its village grid (name only).
    pub village: Option<String>,
    /// Where its inspection task ended (`CLOSED` or `REJECTED`).
    pub status: CaseStatus,
    /// When the task was closed.
    pub closed_at: Option<DateTime<Utc>>,
    /// The inspection result, as recorded when the work was submitted.
    pub outcome: Option<String>,
}

#[Object]
impl PublicDraw {
    /// Opaque id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// When the draw was made.
    async fn drawn_at(&self) -> DateTime<Utc> {
        self.0.drawn_at
    }
    /// The inspection period.
    async fn period(&self) -> &str {
        &self.0.period
    }
    /// The region drawn in (its name).
    async fn region(&self, ctx: &Context<'_>) -> Result<Option<String>, AppError> {
        Ok(state(ctx)?
            .services
            .grid
            .snapshot()
            .get(self.0.region_id)
            .map(|r| r.name.clone()))
    }
    /// When it was published.
    async fn published_at(&self) -> Option<DateTime<Utc>> {
        self.0.published_at
    }
    /// The draw's hash, to compare with the staff record.
    async fn hash(&self) -> &str {
        &self.0.hash
    }
    /// The drawn sites and what their inspections found, in draw order.
    async fn sites(&self, ctx: &Context<'_>) -> Result<Vec<PublicDrawSite>, AppError> {
        let svc = &state(ctx)?.services;
        let snap = svc.grid.snapshot();
        Ok(dom::public_sites(&svc.db, &self.0)
            .await?
            .into_iter()
            .map(|s| PublicDrawSite {
                village: snap
                    .get(s.region_id)
                    .filter(|r| r.level == RegionLevel::Village)
                    .map(|r| r.name.clone()),
                name: s.name,
                kind: s.kind.into(),
                status: s.status.into(),
                closed_at: s.closed_at,
                outcome: s.outcome,
            })
            .collect())
    }
}

/// Draw queries.
#[derive(Default)]
pub struct DrawQuery;

#[Object]
impl DrawQuery {
    /// Random inspection draws in your scope (county staff and township supervisors),
    /// newest first (keyset pages).
    async fn draws(
        &self,
        ctx: &Context<'_>,
        region_id: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, RandomDraw>, AppError> {
        let st = state(ctx)?;
        let v = viewer(ctx)?;
        let page = page_request(
            "draw",
            first,
            after,
            st.services.config.limits.max_page_size,
        )?;
        let region_id = region_id
            .as_ref()
            .map(parse_id)
            .transpose()
            .map_err(|e| e.at("regionId"))?;
        let page = dom::list(&st.services, v, region_id, page).await?;
        Ok(connection("draw", page, |d| d.id, RandomDraw))
    }

    /// One draw; null when it does not exist or is outside your scope.
    async fn draw(&self, ctx: &Context<'_>, id: ID) -> Result<Option<RandomDraw>, AppError> {
        let v = viewer(ctx)?;
        match dom::get(
            &state(ctx)?.services,
            v,
            parse_id(&id).map_err(|e| e.at("id"))?,
        )
        .await
        {
            Ok(d) => Ok(Some(RandomDraw(d))),
            Err(AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Recomputes a draw from its stored seed, inputs and frame and says whether the
    /// stored selection, seed, hash and chain link match.
    async fn verify_draw(&self, ctx: &Context<'_>, id: ID) -> Result<DrawVerification, AppError> {
        let id_num = parse_id(&id).map_err(|e| e.at("id"))?;
        let v = dom::verify(&state(ctx)?.services, viewer(ctx)?, id_num).await?;
        Ok(DrawVerification {
            draw_id: id,
            matches: v.matches(),
            seed_matches: v.seed_matches,
            selection_matches: v.selection_matches,
            hash_matches: v.hash_matches,
            chain_matches: v.chain_matches,
            problems: v.problems,
        })
    }

    /// 一公开: published random inspections, for everyone, newest first — date, region,
    /// the drawn sites and what their inspections found; no inspector is named.
    async fn public_draws(
        &self,
        ctx: &Context<'_>,
        region_id: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, PublicDraw>, AppError> {
        let st = state(ctx)?;
        st.limits
            .check_public_read(super::request(ctx)?.client_ip)
            .await?;
        let page = page_request(
            "publicdraw",
            first,
            after,
            st.services.config.limits.max_page_size,
        )?;
        let region_id = region_id
            .as_ref()
            .map(parse_id)
            .transpose()
            .map_err(|e| e.at("regionId"))?;
        let page = dom::published(&st.services, region_id, page).await?;
        Ok(connection("publicdraw", page, |d| d.id, PublicDraw))
    }
}

/// Draw mutations.
#[derive(Default)]
pub struct DrawMutation;

#[Object]
impl DrawMutation {
    /// Draws sites and inspectors at random (双随机) and creates one inspection task per
    /// site (source `RANDOM`, assigned to the site's first drawn inspector), recording
    /// everything needed to recompute the draw. County staff and township supervisors,
    /// within their region.
    async fn draw_random_inspection(
        &self,
        ctx: &Context<'_>,
        input: DrawRandomInspectionInput,
    ) -> Result<RandomDraw, AppError> {
        let st = state(ctx)?;
        let v = viewer(ctx)?;
        v.staff()?;
        let ids = input
            .inspector_ids
            .as_ref()
            .map(|ids| ids.iter().map(parse_id).collect::<Result<Vec<_>, _>>())
            .transpose()
            .map_err(|e| e.at("inspectorIds").under("input"))?;
        let filter = input.site_filter.unwrap_or_default();
        let d = dom::DrawInput {
            region_id: parse_id(&input.region_id).map_err(|e| e.at("regionId").under("input"))?,
            site_filter: dom::SiteFilter {
                kinds: filter
                    .kinds
                    .unwrap_or_default()
                    .into_iter()
                    .map(Into::into)
                    .collect(),
                risk_levels: filter
                    .risk_levels
                    .unwrap_or_default()
                    .into_iter()
                    .map(Into::into)
                    .collect(),
            },
            count: input.count,
            share_percent: input.share_percent,
            inspector_ids: ids,
            per_site: input.per_site,
            period: input.period,
            category_code: input.category_code,
        };
        dom::draw(&st.services, v, d, input.idempotency_key.as_deref())
            .await
            .map(RandomDraw)
            .map_err(|e| e.under("input"))
    }

    /// Publishes a draw's targets and results (一公开) in `publicDraws`; refused with
    /// `INVALID_TRANSITION` while any of its tasks is open. Publishing twice changes
    /// nothing.
    async fn publish_draw(&self, ctx: &Context<'_>, id: ID) -> Result<RandomDraw, AppError> {
        dom::publish(
            &state(ctx)?.services,
            viewer(ctx)?,
            parse_id(&id).map_err(|e| e.at("id"))?,
        )
        .await
        .map(RandomDraw)
    }
}
