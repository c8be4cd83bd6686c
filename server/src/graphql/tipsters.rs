//! The public's WeChat login and the tipster vault's one door for staff.

use async_graphql::{Context, ID, Object, SimpleObject};

use super::auth::{AuthPayload, payload};
use super::{parse_id, request, state, viewer};
use crate::auth::token::Subject;
use crate::domain::{accounts, tipsters};
use crate::error::AppError;

/// A tipster's identity, revealed to county staff with an audit row.
#[derive(SimpleObject)]
pub struct TipsterIdentity {
    /// The pseudonymous handle staff normally see.
    pub handle: String,
    /// The WeChat openid.
    pub openid: String,
    /// The phone number, if the tipster gave one.
    pub phone: Option<String>,
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
        st.limits.check_login(request(ctx)?.client_ip)?;
        let identity = st.wechat.code_to_session(&code).await?;
        let t = tipsters::find_or_create(&st.services, &identity.openid).await?;
        st.limits
            .check_public(request(ctx)?.client_ip, Some(t.id))?;
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
        let r = tipsters::reveal(&st.services, viewer(ctx)?, parse_id(&case_id)?, &reason).await?;
        Ok(TipsterIdentity {
            handle: r.handle,
            openid: r.openid,
            phone: r.phone,
        })
    }
}
