//! Case queries: lists, one case, the inspector's tasks, the public's tips.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, Object};

use super::super::fast::Fast;
use super::super::pagination::{connection, page_request};
use super::super::{parse_id, state, viewer};
use super::inputs::CaseFilter;
use super::objects::Case;
use super::public::{DisclosedCase, PublicCase};
use super::{case_page, page_columns};
use crate::domain::cases::{self as dom, CaseFilter as DomainFilter};
use crate::error::AppError;

/// Case queries.
#[derive(Default)]
pub struct CaseQuery;

#[Object]
impl CaseQuery {
    /// Cases in the viewer's scope, newest first (keyset pages, `first` ≤ 100).
    async fn cases(
        &self,
        ctx: &Context<'_>,
        filter: Option<CaseFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Fast<Connection<String, Fast<Case>>>, AppError> {
        let st = state(ctx)?;
        let v = viewer(ctx)?;
        v.staff()?;
        let page = page_request(
            "case",
            first,
            after,
            st.services.config.limits.max_page_size,
        )?;
        let f = filter.unwrap_or_default();
        let filter = DomainFilter {
            status: f
                .status
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            category_code: f.category_code,
            region_id: f
                .region_id
                .as_ref()
                .map(parse_id)
                .transpose()
                .map_err(|e| e.at("filter.regionId"))?,
            assignee_id: f
                .assignee_id
                .as_ref()
                .map(parse_id)
                .transpose()
                .map_err(|e| e.at("filter.assigneeId"))?,
            source: f.source.map(Into::into),
            overdue: f.overdue,
            created_from: f.created_from,
            created_to: f.created_to,
            text: f.text,
        };
        let page = dom::list(&st.services, v, filter, page, page_columns(ctx))
            .await
            .map_err(|e| e.under("filter"))?;
        case_page(ctx, page).await
    }

    /// One case; null when it does not exist or is outside the viewer's scope.
    async fn case(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Case>, AppError> {
        let v = viewer(ctx)?;
        v.staff()?;
        match dom::get_for_staff(
            &state(ctx)?.services.db,
            v,
            parse_id(&id).map_err(|e| e.at("id"))?,
        )
        .await
        {
            Ok(c) => Ok(Some(Case(c))),
            Err(AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The viewer's open work (cases assigned to them).
    async fn my_tasks(
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
        let page = dom::my_tasks(&st.services.db, viewer(ctx)?, page, page_columns(ctx)).await?;
        case_page(ctx, page).await
    }

    /// The public user's own tip-offs (and those merged with them), newest first.
    async fn my_tips(&self, ctx: &Context<'_>) -> Result<Vec<PublicCase>, AppError> {
        Ok(dom::my_tips(&state(ctx)?.services.db, viewer(ctx)?)
            .await?
            .into_iter()
            .map(PublicCase)
            .collect())
    }

    /// 一公开: closed cases published for everyone (no login), newest first — within a
    /// region, of one category if given. Limited per client address
    /// (`limits.public_reads_per_ip_per_minute`).
    async fn public_cases(
        &self,
        ctx: &Context<'_>,
        region_id: Option<ID>,
        category_code: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, DisclosedCase>, AppError> {
        let st = state(ctx)?;
        st.limits
            .check_public_read(super::super::request(ctx)?.client_ip)
            .await?;
        let page = page_request(
            "published",
            first,
            after,
            st.services.config.limits.max_page_size,
        )?;
        let region_id = region_id
            .as_ref()
            .map(parse_id)
            .transpose()
            .map_err(|e| e.at("regionId"))?;
        let page =
            dom::public::disclosed(&st.services, region_id, category_code.as_deref(), page).await?;
        Ok(connection("published", page, |c| c.id, DisclosedCase))
    }

    /// A tip-off by its tracking code, as the public sees it; null for an unknown code.
    async fn tip_by_tracking_code(
        &self,
        ctx: &Context<'_>,
        code: String,
    ) -> Result<Option<PublicCase>, AppError> {
        match dom::by_tracking_code(&state(ctx)?.services.db, &code).await {
            Ok(c) => Ok(Some(PublicCase(c))),
            Err(AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
