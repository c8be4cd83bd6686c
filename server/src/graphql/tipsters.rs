//! The public's WeChat login and the tipster vault's one door for staff.

use async_graphql::{Context, ID, Object, SimpleObject};

use super::auth::{AuthPayload, payload};
use super::{parse_id, request, state, viewer};
use crate::auth::token::Subject;
use crate::domain::{accounts, subscriptions, tipsters};
use crate::error::AppError;

/// A tipster's identity, revealed to county staff with an audit row.
#[derive(SimpleObject)]
pub struct TipsterIdentity {
    /// The pseudonymous handle staff normally see.
    pub handle: String,
    /// The WeChat openid; for a tip-off through an Open311 app `open311:<client id>:<who>`,
    /// the identity that app gave (`account:…`, `device:…`, `email:…` or `anonymous`).
    pub openid: String,
    /// The phone number, if the tipster gave one.
    pub phone: Option<String>,
}

/// A subscribe-message template the mini-program may ask the user to accept.
#[derive(SimpleObject)]
pub struct MessageTemplate {
    /// When it is sent: `ACCEPTED` (tip-off accepted), `CLOSED` (closed, with a prompt
    /// to rate), `REJECTED` (not accepted).
    pub kind: String,
    /// The id to pass to `wx.requestSubscribeMessage`.
    pub template_id: String,
}

/// A tipster's remaining grants for one template.
#[derive(SimpleObject)]
pub struct SubscriptionGrant {
    /// The template id.
    pub template_id: String,
    /// Messages of this template the tipster may still receive.
    pub remaining: i32,
    /// WeChat reported no grant; cleared by granting again.
    pub blocked: bool,
}

/// What the mini-program reads before asking for grants.
#[derive(Default)]
pub struct TipsterQuery;

#[Object]
impl TipsterQuery {
    /// The subscribe-message templates in use (none when the county configured none).
    async fn message_templates(&self, ctx: &Context<'_>) -> Result<Vec<MessageTemplate>, AppError> {
        let cfg = &state(ctx)?.services.config.wechat.subscribe;
        Ok(subscriptions::templates(cfg)
            .into_iter()
            .map(|(kind, template_id)| MessageTemplate {
                kind: serde_json::to_value(kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                template_id,
            })
            .collect())
    }
}

/// Public login and identity reveal.
#[derive(Default)]
pub struct TipsterMutation;

#[Object]
impl TipsterMutation {
    /// Mini-program login: the `code` from `wx.login()` is exchanged with WeChat for the
    /// user's openid. `UNAUTHENTICATED` for an invalid or used code, `RATE_LIMITED` or
    /// `FORBIDDEN` as WeChat decides, `UPSTREAM_UNAVAILABLE` when WeChat cannot answer.
    async fn login_with_wechat(
        &self,
        ctx: &Context<'_>,
        code: String,
    ) -> Result<AuthPayload, AppError> {
        let st = state(ctx)?;
        st.limits.check_login(request(ctx)?.client_ip).await?;
        let identity = st.wechat.code_to_session(&code).await?;
        let t = tipsters::find_or_create(&st.services, &identity.openid).await?;
        st.limits
            .check_public(request(ctx)?.client_ip, Some(t.id))
            .await?;
        let session = accounts::issue_session(
            &st.services.db,
            &st.services.keys,
            &st.services.config.auth,
            Subject::Tipster(t.id),
            None,
            st.services.clock.now(),
        )
        .await?;
        payload(ctx, session).await
    }

    /// Records the grants the user just gave: call it after `wx.requestSubscribeMessage`
    /// with the template ids it answered `accept` for (1 to 5). Each grant lets one
    /// message of that template reach the user; the answer gives what is left.
    /// Public users only; `BAD_INPUT` for an id not in `messageTemplates`.
    async fn record_subscription(
        &self,
        ctx: &Context<'_>,
        template_ids: Vec<String>,
    ) -> Result<Vec<SubscriptionGrant>, AppError> {
        let st = state(ctx)?;
        let me = viewer(ctx)?;
        let tipster = me.public()?.tipster_id;
        st.limits
            .check_public(request(ctx)?.client_ip, Some(tipster))
            .await?;
        Ok(subscriptions::record(&st.services, me, &template_ids)
            .await?
            .into_iter()
            .map(|g| SubscriptionGrant {
                template_id: g.template_id,
                remaining: g.remaining,
                blocked: g.blocked,
            })
            .collect())
    }

    /// Reveals who reported a case (county staff only; the reason is recorded, and
    /// every reveal leaves an audit row). Informants are confidential by law
    /// (环境保护法 art. 57): use only when the case requires it.
    async fn reveal_tipster(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        reason: String,
    ) -> Result<TipsterIdentity, AppError> {
        let st = state(ctx)?;
        let r = tipsters::reveal(
            &st.services,
            viewer(ctx)?,
            parse_id(&case_id).map_err(|e| e.at("caseId"))?,
            &reason,
        )
        .await?;
        Ok(TipsterIdentity {
            handle: r.handle,
            openid: r.openid,
            phone: r.phone,
        })
    }
}
