//! What the HTTP edge tells the resolvers about a request.

use std::net::IpAddr;

use crate::domain::access::Viewer;
use crate::error::Lang;

/// Per-request facts the resolvers may read from the GraphQL context.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The request id echoed in `x-request-id` and in internal error messages.
    pub request_id: String,
    /// The language of messages.
    pub lang: Lang,
    /// The client's address (see [`crate::ratelimit::client_ip`]).
    pub client_ip: IpAddr,
    /// Who is asking; anonymous when no token was sent.
    pub viewer: Viewer,
    /// A token was sent but is invalid, expired, revoked or for a deactivated user:
    /// every operation that needs a viewer answers `UNAUTHENTICATED`; public ones
    /// (login, refresh, grid lookups) proceed as anonymous.
    pub bad_token: bool,
}
