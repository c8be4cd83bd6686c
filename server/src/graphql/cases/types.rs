//! The case enums of the API, each converted to and from the domain's exhaustively.

use async_graphql::Enum;

use crate::domain::cases as dom;

/// Where a case is in its life.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum CaseStatus {
    /// 待受理: reported, waiting to be filed and dispatched.
    Pending,
    /// 已派发: dispatched to an inspector.
    Assigned,
    /// 处置中: the inspector is on it.
    InProgress,
    /// 待核查: result submitted, waiting for verification.
    Submitted,
    /// 已办结: verified and closed.
    Closed,
    /// 不予受理: invalid, duplicate or out of scope.
    Rejected,
}

impl From<dom::CaseStatus> for CaseStatus {
    fn from(s: dom::CaseStatus) -> Self {
        match s {
            dom::CaseStatus::Pending => Self::Pending,
            dom::CaseStatus::Assigned => Self::Assigned,
            dom::CaseStatus::InProgress => Self::InProgress,
            dom::CaseStatus::Submitted => Self::Submitted,
            dom::CaseStatus::Closed => Self::Closed,
            dom::CaseStatus::Rejected => Self::Rejected,
        }
    }
}

impl From<CaseStatus> for dom::CaseStatus {
    fn from(s: CaseStatus) -> Self {
        match s {
            CaseStatus::Pending => Self::Pending,
            CaseStatus::Assigned => Self::Assigned,
            CaseStatus::InProgress => Self::InProgress,
            CaseStatus::Submitted => Self::Submitted,
            CaseStatus::Closed => Self::Closed,
            CaseStatus::Rejected => Self::Rejected,
        }
    }
}

/// How a case came in.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum CaseSource {
    /// A public tip-off (举报).
    Tip,
    /// Found by an inspector on patrol.
    Patrol,
    /// A supervisor's inspection task.
    Task,
    /// A random inspection (双随机).
    Random,
    /// A public tip-off through an Open311 GeoReport v2 client app.
    #[graphql(name = "OPEN311")]
    Open311,
}

impl From<CaseSource> for dom::CaseSource {
    fn from(s: CaseSource) -> Self {
        match s {
            CaseSource::Tip => Self::Tip,
            CaseSource::Patrol => Self::Patrol,
            CaseSource::Task => Self::Task,
            CaseSource::Random => Self::Random,
            CaseSource::Open311 => Self::Open311,
        }
    }
}

/// Why a case is turned down.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum RejectReason {
    /// Not a real problem, or not enough to act on.
    Invalid,
    /// The same problem as another case (`duplicateOf`).
    Duplicate,
    /// Not an environmental matter, or not this county's.
    OutOfScope,
}

impl From<dom::CaseSource> for CaseSource {
    fn from(s: dom::CaseSource) -> Self {
        match s {
            dom::CaseSource::Tip => Self::Tip,
            dom::CaseSource::Patrol => Self::Patrol,
            dom::CaseSource::Task => Self::Task,
            dom::CaseSource::Random => Self::Random,
            dom::CaseSource::Open311 => Self::Open311,
        }
    }
}

impl From<RejectReason> for dom::RejectReason {
    fn from(r: RejectReason) -> Self {
        match r {
            RejectReason::Invalid => Self::Invalid,
            RejectReason::Duplicate => Self::Duplicate,
            RejectReason::OutOfScope => Self::OutOfScope,
        }
    }
}

/// What WeChat's text check made of a tip-off's words.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum TextCheck {
    /// Not checked yet (WeChat unreachable or busy): hidden from the public.
    Pending,
    /// Nothing found: the public may see it.
    Pass,
    /// WeChat suggests a person look at it: hidden from the public.
    Review,
    /// Risky: hidden from the public.
    Risky,
}

impl From<entity::enums::TextCheck> for TextCheck {
    fn from(t: entity::enums::TextCheck) -> Self {
        use entity::enums::TextCheck as T;
        match t {
            T::Pending => Self::Pending,
            T::Pass => Self::Pass,
            T::Review => Self::Review,
            T::Risky => Self::Risky,
        }
    }
}
