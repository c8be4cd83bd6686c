//! A tip-off as the public sees it: no staff names, no other people's data, nothing
//! finer than the township (the rules live in `domain::cases::public`).

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::case;

use super::super::loaders::unshare;
use super::super::state;
use super::loaders;
use super::objects::CategorySummary;
use super::types::CaseStatus;
use crate::domain::cases::{self as dom, workflow};
use crate::domain::grid::RegionLevel;
use crate::error::AppError;

/// One step of a tip-off as its tipster sees it.
#[derive(SimpleObject)]
pub struct PublicNote {
    /// When.
    pub at: DateTime<Utc>,
    /// Status after the step.
    pub status: CaseStatus,
    /// What happened, in words for the public (no staff names).
    pub text: String,
}

/// A tip-off as the public sees it: no staff names, no other people's data, nothing
/// finer than the township.
pub struct PublicCase(pub case::Model);

#[Object]
impl PublicCase {
    /// The tracking code (the tipster's receipt).
    async fn tracking_code(&self) -> Option<&str> {
        self.0.tracking_code.as_deref()
    }
    /// The tip-off's words, once WeChat's text check passed them (null before, and
    /// for texts kept for staff).
    async fn description(&self) -> Option<&str> {
        dom::public::public_description(&self.0)
    }
    /// Status.
    async fn status(&self) -> Result<CaseStatus, AppError> {
        Ok(self.0.status.into())
    }
    /// Category.
    async fn category(&self, ctx: &Context<'_>) -> Result<Option<CategorySummary>, AppError> {
        let c = loaders(ctx)?
            .categories
            .load_one(self.0.category_id)
            .await
            .map_err(unshare)?;
        Ok(c.map(|c| CategorySummary {
            id: ID(c.id.to_string()),
            code: c.code,
            name: c.name,
        }))
    }
    /// The township handling it (never the village or a coordinate).
    async fn township(&self, ctx: &Context<'_>) -> Result<Option<String>, AppError> {
        let snap = state(ctx)?.services.grid.snapshot();
        Ok(snap
            .get(self.0.region_id)
            .and_then(|r| snap.ancestor_at(r, RegionLevel::Township))
            .map(|t| t.name.clone()))
    }
    /// When it was submitted.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Last change.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// When it was closed.
    async fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.0.closed_at
    }
    /// Progress, in words for the public.
    async fn notes(&self, ctx: &Context<'_>) -> Result<Vec<PublicNote>, AppError> {
        let events = dom::events(&state(ctx)?.services.db, self.0.id).await?;
        Ok(dom::public::public_steps(&events)
            .into_iter()
            .map(|p| PublicNote {
                at: p.at,
                status: p.status.into(),
                text: p.text.to_owned(),
            })
            .collect())
    }
    /// The rating given (1–5).
    async fn rating(&self) -> Option<i32> {
        self.0.rating
    }
    /// Photos of the problem and of the fix once the case is closed: resized,
    /// re-encoded copies without EXIF (no location, no device data), as short-lived URLs.
    async fn photos(&self, ctx: &Context<'_>) -> Result<Vec<String>, AppError> {
        let st = state(ctx)?;
        let mut urls = Vec::new();
        for key in crate::domain::evidence::public_photo_keys(&st.services.db, &self.0).await? {
            urls.push(crate::domain::evidence::download_url(&st.services, &key).await?);
        }
        Ok(urls)
    }
    /// Whether the tipster can still rate it.
    async fn can_rate(&self) -> bool {
        workflow::can_rate(&self.0)
    }
}

/// The answer to a tip-off.
#[derive(SimpleObject)]
pub struct TipReceipt {
    /// Keep this code to follow the case (`tipByTrackingCode`).
    pub tracking_code: String,
    /// The tip-off as you can see it.
    pub tip: PublicCase,
}

/// A closed case as published for everyone (一公开): what was found and how it was
/// fixed, where to the village, and when — no person, phone, coordinate or tracking
/// code (the rules live in `domain::cases::public`).
pub struct DisclosedCase(pub case::Model);

#[Object]
impl DisclosedCase {
    /// The case number (立案编号).
    async fn number(&self) -> &str {
        &self.0.number
    }
    /// Category.
    async fn category(&self, ctx: &Context<'_>) -> Result<Option<CategorySummary>, AppError> {
        PublicCase(self.0.clone()).category(ctx).await
    }
    /// The township.
    async fn township(&self, ctx: &Context<'_>) -> Result<Option<String>, AppError> {
        PublicCase(self.0.clone()).township(ctx).await
    }
    /// The village grid (its name only).
    async fn village(&self, ctx: &Context<'_>) -> Result<Option<String>, AppError> {
        let snap = state(ctx)?.services.grid.snapshot();
        Ok(snap
            .get(self.0.region_id)
            .filter(|r| r.level == RegionLevel::Village)
            .map(|r| r.name.clone()))
    }
    /// What was reported, when the words passed the text check (null otherwise).
    async fn description(&self) -> Option<&str> {
        dom::public::public_description(&self.0)
    }
    /// The handling result, as recorded when the work was submitted.
    async fn outcome(&self, ctx: &Context<'_>) -> Result<Option<String>, AppError> {
        dom::public::outcome(&state(ctx)?.services.db, self.0.id).await
    }
    /// When it was reported.
    async fn reported_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it was closed.
    async fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.0.closed_at
    }
    /// Photos of the problem and of the fix: resized copies without EXIF, as
    /// short-lived URLs.
    async fn photos(&self, ctx: &Context<'_>) -> Result<Vec<String>, AppError> {
        PublicCase(self.0.clone()).photos(ctx).await
    }
}
