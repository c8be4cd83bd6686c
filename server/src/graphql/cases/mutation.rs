//! Case mutations: intake (tip-offs, patrol reports, tasks) and the workflow steps.

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};

use super::super::{parse_id, request, services, state, viewer};
use super::inputs::{CreateTaskInput, LocationInput, ReportCaseInput, SubmitTipInput};
use super::objects::Case;
use super::public::{PublicCase, TipReceipt};
use super::types::RejectReason;
use crate::domain::cases::intake::{self, Location};
use crate::domain::cases::workflow::{self, Action, CaseRef};
use crate::error::AppError;

async fn act(
    ctx: &Context<'_>,
    id: &ID,
    version: i32,
    action: Action,
    key: Option<String>,
) -> Result<Case, AppError> {
    workflow::transition(
        services(ctx)?,
        viewer(ctx)?,
        CaseRef::Id(parse_id(id).map_err(|e| e.at("id"))?),
        Some(version),
        action,
        key.as_deref(),
    )
    .await
    .map(Case)
}

/// Case mutations.
#[derive(Default)]
pub struct CaseMutation;

#[Object]
impl CaseMutation {
    /// A public tip-off (logged in through WeChat). Routed to the village grid of the
    /// location; returns a tracking code.
    async fn submit_tip(
        &self,
        ctx: &Context<'_>,
        input: SubmitTipInput,
    ) -> Result<TipReceipt, AppError> {
        let st = state(ctx)?;
        let v = viewer(ctx)?;
        let tipster = v.public()?.tipster_id;
        st.limits
            .check_public(request(ctx)?.client_ip, Some(tipster))
            .await?;
        let tip = intake::TipInput {
            category_code: input.category_code,
            description: input.description,
            location: input.location.into(),
            address: input.address,
            phone: input.phone,
        };
        let c = intake::submit_tip(&st.services, v, tip, &input.idempotency_key)
            .await
            .map_err(|e| e.under("input"))?;
        Ok(TipReceipt {
            tracking_code: c.tracking_code.clone().unwrap_or_default(),
            tip: PublicCase(c),
        })
    }

    /// An inspector reports a problem found on patrol in their own grid; it starts
    /// IN_PROGRESS, assigned to them.
    async fn report_case(
        &self,
        ctx: &Context<'_>,
        input: ReportCaseInput,
    ) -> Result<Case, AppError> {
        let st = state(ctx)?;
        let r = intake::ReportInput {
            category_code: input.category_code,
            description: input.description,
            location: input.location.into(),
            patrol_id: input
                .patrol_id
                .as_ref()
                .map(parse_id)
                .transpose()
                .map_err(|e| e.at("input.patrolId"))?,
        };
        intake::report_case(&st.services, viewer(ctx)?, r, &input.idempotency_key)
            .await
            .map(Case)
            .map_err(|e| e.under("input"))
    }

    /// A supervisor creates an inspection task: ASSIGNED with an assignee, else PENDING.
    async fn create_task(
        &self,
        ctx: &Context<'_>,
        input: CreateTaskInput,
    ) -> Result<Case, AppError> {
        let st = state(ctx)?;
        let t = intake::TaskInput {
            category_code: input.category_code,
            title: input.title,
            description: input.description,
            location: input.location.map(Into::into),
            region_id: input
                .region_id
                .as_ref()
                .map(parse_id)
                .transpose()
                .map_err(|e| e.at("input.regionId"))?,
            assignee_id: input
                .assignee_id
                .as_ref()
                .map(parse_id)
                .transpose()
                .map_err(|e| e.at("input.assigneeId"))?,
            due_at: input.due_at,
            site_id: input
                .site_id
                .as_ref()
                .map(parse_id)
                .transpose()
                .map_err(|e| e.at("input.siteId"))?,
            priority: input.priority.map(Into::into),
        };
        intake::create_task(
            &st.services,
            viewer(ctx)?,
            t,
            input.idempotency_key.as_deref(),
        )
        .await
        .map(Case)
        .map_err(|e| e.under("input"))
    }

    /// Files a pending tip-off (立案) without dispatching it yet.
    async fn accept_case(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        note: Option<String>,
        idempotency_key: Option<String>,
    ) -> Result<Case, AppError> {
        act(ctx, &id, version, Action::Accept { note }, idempotency_key).await
    }

    /// Turns a pending case down.
    #[expect(
        clippy::too_many_arguments,
        reason = "GraphQL arguments are the client contract"
    )]
    async fn reject_case(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        reason: RejectReason,
        duplicate_of: Option<ID>,
        note: Option<String>,
        idempotency_key: Option<String>,
    ) -> Result<Case, AppError> {
        let reason = match reason {
            RejectReason::Invalid => workflow::RejectReason::Invalid,
            RejectReason::Duplicate => workflow::RejectReason::Duplicate,
            RejectReason::OutOfScope => workflow::RejectReason::OutOfScope,
        };
        let duplicate_of = duplicate_of
            .as_ref()
            .map(parse_id)
            .transpose()
            .map_err(|e| e.at("duplicateOf"))?;
        act(
            ctx,
            &id,
            version,
            Action::Reject {
                reason,
                duplicate_of,
                note,
            },
            idempotency_key,
        )
        .await
    }

    /// Dispatches (or re-dispatches) a case to an inspector.
    async fn assign_case(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        assignee_id: ID,
        note: Option<String>,
        idempotency_key: Option<String>,
    ) -> Result<Case, AppError> {
        let assignee_id = parse_id(&assignee_id).map_err(|e| e.at("assigneeId"))?;
        act(
            ctx,
            &id,
            version,
            Action::Assign { assignee_id, note },
            idempotency_key,
        )
        .await
    }

    /// On-site check-in by the assignee; the distance to the case is recorded and
    /// flagged beyond the category's radius.
    async fn start_case(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        location: LocationInput,
        idempotency_key: Option<String>,
    ) -> Result<Case, AppError> {
        let p = Location::from(location);
        let coord = if p.gcj02 {
            crate::domain::geo::CoordSystem::Gcj02
        } else {
            crate::domain::geo::CoordSystem::Wgs84
        };
        let w = crate::domain::geo::WgsPoint::from_client(p.lat, p.lng, coord)
            .map_err(|e| e.under("location"))?;
        act(
            ctx,
            &id,
            version,
            Action::Start {
                lat: w.lat.degrees(),
                lng: w.lng.degrees(),
            },
            idempotency_key,
        )
        .await
    }

    /// The assignee submits the result, citing confirmed evidence.
    async fn submit_case(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        note: Option<String>,
        evidence_ids: Option<Vec<ID>>,
        idempotency_key: Option<String>,
    ) -> Result<Case, AppError> {
        let evidence_ids = evidence_ids
            .unwrap_or_default()
            .iter()
            .map(parse_id)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.at("evidenceIds"))?;
        act(
            ctx,
            &id,
            version,
            Action::Submit { note, evidence_ids },
            idempotency_key,
        )
        .await
    }

    /// A supervisor verifies the result: approve closes the case; otherwise it goes back
    /// to the inspector (rework count + 1) with the note.
    async fn verify_case(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        approve: bool,
        note: Option<String>,
        idempotency_key: Option<String>,
    ) -> Result<Case, AppError> {
        act(
            ctx,
            &id,
            version,
            Action::Verify { approve, note },
            idempotency_key,
        )
        .await
    }

    /// Raises the case one tier (village → township → county).
    async fn escalate_case(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        reason: String,
        idempotency_key: Option<String>,
    ) -> Result<Case, AppError> {
        act(
            ctx,
            &id,
            version,
            Action::Escalate { reason },
            idempotency_key,
        )
        .await
    }

    /// Grants more time (延期): `dueAt` moves to `until` (later than the current
    /// deadline, at most a year ahead).
    async fn extend_case(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        until: DateTime<Utc>,
        reason: String,
        idempotency_key: Option<String>,
    ) -> Result<Case, AppError> {
        act(
            ctx,
            &id,
            version,
            Action::Extend { until, reason },
            idempotency_key,
        )
        .await
    }

    /// Parks the case (挂账): its clock stops until resumed.
    async fn park_case(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        reason: String,
        idempotency_key: Option<String>,
    ) -> Result<Case, AppError> {
        act(ctx, &id, version, Action::Park { reason }, idempotency_key).await
    }

    /// A supervisor's verdict on a tip-off's words (文字审核): `publish: true` shows
    /// them to the public (`textCheck` PASS), `false` keeps them for staff (RISKY). For
    /// texts WeChat's check held for review, texts it could not check (tip-offs from
    /// Open311), or to withdraw a passed one. Recorded as a `REVIEW_TEXT` event.
    async fn review_tip_text(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        publish: bool,
        note: Option<String>,
        idempotency_key: Option<String>,
    ) -> Result<Case, AppError> {
        act(
            ctx,
            &id,
            version,
            Action::ReviewText { publish, note },
            idempotency_key,
        )
        .await
    }

    /// Resumes a parked case; its deadline moves by the parked time.
    async fn resume_case(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        note: Option<String>,
        idempotency_key: Option<String>,
    ) -> Result<Case, AppError> {
        act(ctx, &id, version, Action::Resume { note }, idempotency_key).await
    }

    /// Folds this case into `into` (same problem); every tipster follows the survivor.
    async fn merge_case(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        into: ID,
        idempotency_key: Option<String>,
    ) -> Result<Case, AppError> {
        let into = parse_id(&into).map_err(|e| e.at("into"))?;
        act(ctx, &id, version, Action::Merge { into }, idempotency_key).await
    }

    /// The tipster rates a closed case once (1–5), by id or tracking code.
    async fn rate_case(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        tracking_code: Option<String>,
        score: i32,
        comment: Option<String>,
    ) -> Result<PublicCase, AppError> {
        let target = match (id, tracking_code) {
            (Some(id), _) => CaseRef::Id(parse_id(&id).map_err(|e| e.at("id"))?),
            (None, Some(code)) => CaseRef::TrackingCode(code),
            (None, None) => {
                return Err(AppError::bad_input(
                    "CASE_REQUIRED",
                    crate::error::Msg::new("请给出案件编号或查询码", "give id or trackingCode"),
                )
                .at("id"));
            }
        };
        workflow::rate(services(ctx)?, viewer(ctx)?, target, score, comment)
            .await
            .map(PublicCase)
    }
}
