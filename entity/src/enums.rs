//! The closed sets of gridwatch, typed end to end: each is stored as its name in a
//! text column, read back through sea-orm's `ActiveEnum` (an unknown name in the
//! database is an error, never a default), and exchanged under the same name.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Where a case is in its life.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CaseStatus {
    /// 待受理: reported, waiting to be filed and dispatched.
    #[sea_orm(string_value = "PENDING")]
    Pending,
    /// 已派发: dispatched to an inspector.
    #[sea_orm(string_value = "ASSIGNED")]
    Assigned,
    /// 处置中: the inspector checked in on site (or found it on patrol).
    #[sea_orm(string_value = "IN_PROGRESS")]
    InProgress,
    /// 待核查: the result is submitted, waiting for verification.
    #[sea_orm(string_value = "SUBMITTED")]
    Submitted,
    /// 已办结: verified and closed.
    #[sea_orm(string_value = "CLOSED")]
    Closed,
    /// 不予受理: invalid, duplicate or out of scope.
    #[sea_orm(string_value = "REJECTED")]
    Rejected,
}

impl CaseStatus {
    /// Every status.
    pub const ALL: [Self; 6] = [
        Self::Pending,
        Self::Assigned,
        Self::InProgress,
        Self::Submitted,
        Self::Closed,
        Self::Rejected,
    ];

    /// The statuses of cases that still need work.
    pub const OPEN: [Self; 4] = [
        Self::Pending,
        Self::Assigned,
        Self::InProgress,
        Self::Submitted,
    ];

    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Assigned => "ASSIGNED",
            Self::InProgress => "IN_PROGRESS",
            Self::Submitted => "SUBMITTED",
            Self::Closed => "CLOSED",
            Self::Rejected => "REJECTED",
        }
    }

    /// Whether the case still needs work.
    pub fn is_open(self) -> bool {
        !matches!(self, Self::Closed | Self::Rejected)
    }

    /// Chinese label for people.
    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Pending => "待受理",
            Self::Assigned => "已派发",
            Self::InProgress => "处置中",
            Self::Submitted => "待核查",
            Self::Closed => "已办结",
            Self::Rejected => "不予受理",
        }
    }
}

/// How a case came in.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CaseSource {
    /// A public tip-off (举报).
    #[sea_orm(string_value = "TIP")]
    Tip,
    /// Found by an inspector on patrol (巡查上报).
    #[sea_orm(string_value = "PATROL")]
    Patrol,
    /// An inspection task created by a supervisor.
    #[sea_orm(string_value = "TASK")]
    Task,
    /// A random inspection (双随机).
    #[sea_orm(string_value = "RANDOM")]
    Random,
    /// A public tip-off through an Open311 GeoReport v2 client app.
    #[sea_orm(string_value = "OPEN311")]
    Open311,
}

/// A person's place on the team of a case (a 双随机 inspection's drawn team).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TeamRole {
    /// 主办: drawn first; the case's assignee when it was created.
    #[sea_orm(string_value = "LEAD")]
    Lead,
    /// 检查组成员: drawn with the lead.
    #[sea_orm(string_value = "MEMBER")]
    Member,
}

/// Priority of a case; time limits differ per priority.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Priority {
    /// 紧急.
    #[sea_orm(string_value = "URGENT")]
    Urgent,
    /// 较急.
    #[sea_orm(string_value = "HIGH")]
    High,
    /// 一般.
    #[sea_orm(string_value = "NORMAL")]
    Normal,
}

/// A step of handling a case that has a time limit.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Step {
    /// 受理: from report to acceptance.
    #[sea_orm(string_value = "ACCEPT")]
    Accept,
    /// 到场: from acceptance to on-site check-in.
    #[sea_orm(string_value = "ONSITE")]
    Onsite,
    /// 处置办结: from acceptance to the submitted result.
    #[sea_orm(string_value = "HANDLE")]
    Handle,
}

/// How a time limit is counted.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LimitUnit {
    /// Clock hours, around the clock.
    #[sea_orm(string_value = "HOURS")]
    Hours,
    /// Hours inside working hours on working days.
    #[sea_orm(string_value = "WORKING_HOURS")]
    WorkingHours,
    /// Working days on the work calendar.
    #[sea_orm(string_value = "WORKING_DAYS")]
    WorkingDays,
}

/// A role in the grid system.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    /// County staff: everything in their county.
    #[sea_orm(string_value = "COUNTY_ADMIN")]
    CountyAdmin,
    /// Township supervisor: everything under their township.
    #[sea_orm(string_value = "TOWNSHIP_SUPERVISOR")]
    TownshipSupervisor,
    /// Grid inspector: their village grid and what is assigned to them.
    #[sea_orm(string_value = "INSPECTOR")]
    Inspector,
    /// A member of the public (WeChat mini-program).
    #[sea_orm(string_value = "PUBLIC")]
    Public,
}

impl Role {
    /// The stored and exchanged name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CountyAdmin => "COUNTY_ADMIN",
            Self::TownshipSupervisor => "TOWNSHIP_SUPERVISOR",
            Self::Inspector => "INSPECTOR",
            Self::Public => "PUBLIC",
        }
    }

    /// Parses a name (input from the CLI).
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::CountyAdmin,
            Self::TownshipSupervisor,
            Self::Inspector,
            Self::Public,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }

    /// The region level a staff member of this role is bound to.
    pub fn region_level(self) -> Option<RegionLevel> {
        match self {
            Self::CountyAdmin => Some(RegionLevel::County),
            Self::TownshipSupervisor => Some(RegionLevel::Township),
            Self::Inspector => Some(RegionLevel::Village),
            Self::Public => None,
        }
    }
}

/// Tier of a region in the grid.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RegionLevel {
    /// 县: a county, the root of a tree.
    #[sea_orm(string_value = "COUNTY")]
    County,
    /// 乡镇: a township.
    #[sea_orm(string_value = "TOWNSHIP")]
    Township,
    /// 村/社区网格: a village or community grid.
    #[sea_orm(string_value = "VILLAGE")]
    Village,
}

impl RegionLevel {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::County => "COUNTY",
            Self::Township => "TOWNSHIP",
            Self::Village => "VILLAGE",
        }
    }

    /// Parses a name (input from an import file).
    pub fn parse(s: &str) -> Option<Self> {
        [Self::County, Self::Township, Self::Village]
            .into_iter()
            .find(|l| l.as_str() == s)
    }

    /// Digits of the administrative code at this level.
    pub fn code_len(self) -> usize {
        match self {
            Self::County => 6,
            Self::Township => 9,
            Self::Village => 12,
        }
    }

    /// The level one tier up.
    pub fn parent_level(self) -> Option<Self> {
        match self {
            Self::County => None,
            Self::Township => Some(Self::County),
            Self::Village => Some(Self::Township),
        }
    }
}

/// When a photo was taken relative to the problem.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EvidencePhase {
    /// 发现: the problem as found.
    #[sea_orm(string_value = "BEFORE")]
    Before,
    /// 处置中.
    #[sea_orm(string_value = "DURING")]
    During,
    /// 整改后: after the fix.
    #[sea_orm(string_value = "AFTER")]
    After,
}

impl EvidencePhase {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Before => "BEFORE",
            Self::During => "DURING",
            Self::After => "AFTER",
        }
    }
}

/// Where an evidence item is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EvidenceStatus {
    /// Waiting for the upload and its confirmation.
    #[sea_orm(string_value = "PENDING")]
    Pending,
    /// Verified.
    #[sea_orm(string_value = "CONFIRMED")]
    Confirmed,
    /// Failed verification; the object was removed.
    #[sea_orm(string_value = "REJECTED")]
    Rejected,
}

/// Why a tip-off is not a case.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RejectReason {
    /// Not a real problem, or not enough to act on.
    #[sea_orm(string_value = "INVALID")]
    Invalid,
    /// The same problem as another case.
    #[sea_orm(string_value = "DUPLICATE")]
    Duplicate,
    /// Not an environmental matter, or not this county's.
    #[sea_orm(string_value = "OUT_OF_SCOPE")]
    OutOfScope,
}

impl RejectReason {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invalid => "INVALID",
            Self::Duplicate => "DUPLICATE",
            Self::OutOfScope => "OUT_OF_SCOPE",
        }
    }
}

impl CaseSource {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tip => "TIP",
            Self::Patrol => "PATROL",
            Self::Task => "TASK",
            Self::Random => "RANDOM",
            Self::Open311 => "OPEN311",
        }
    }
}

impl Priority {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Urgent => "URGENT",
            Self::High => "HIGH",
            Self::Normal => "NORMAL",
        }
    }
}

impl Step {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accept => "ACCEPT",
            Self::Onsite => "ONSITE",
            Self::Handle => "HANDLE",
        }
    }
}

impl LimitUnit {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hours => "HOURS",
            Self::WorkingHours => "WORKING_HOURS",
            Self::WorkingDays => "WORKING_DAYS",
        }
    }
}

impl EvidenceStatus {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Confirmed => "CONFIRMED",
            Self::Rejected => "REJECTED",
        }
    }
}

/// What the sweeper did about a deadline.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SlaKind {
    /// The deadline is near: those responsible were told.
    #[sea_orm(string_value = "WARN")]
    Warn,
    /// The deadline passed: the case went one tier up.
    #[sea_orm(string_value = "ESCALATE")]
    Escalate,
}

impl SlaKind {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Warn => "WARN",
            Self::Escalate => "ESCALATE",
        }
    }
}

/// The text check (WeChat `msg_sec_check`) of a tip-off's words.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TextCheck {
    /// Not checked yet (or the check is to be retried): not shown to the public.
    #[sea_orm(string_value = "PENDING")]
    Pending,
    /// Nothing found: may be shown to the public.
    #[sea_orm(string_value = "PASS")]
    Pass,
    /// WeChat suggests a person look at it: kept for staff, hidden from the public.
    #[sea_orm(string_value = "REVIEW")]
    Review,
    /// Risky text: kept for staff, hidden from the public.
    #[sea_orm(string_value = "RISKY")]
    Risky,
}

impl TextCheck {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Pass => "PASS",
            Self::Review => "REVIEW",
            Self::Risky => "RISKY",
        }
    }
}

/// Every closed set shows as its stored name.
macro_rules! display_as_str {
    ($($t:ty),*) => {$(
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )*};
}

display_as_str!(
    CaseStatus,
    CaseSource,
    Priority,
    Step,
    LimitUnit,
    Role,
    RegionLevel,
    EvidencePhase,
    EvidenceStatus,
    RejectReason,
    SlaKind,
    TextCheck
);

/// What kind of place a supervised site (监管对象) is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SiteKind {
    /// 畜禽养殖场: a livestock or poultry farm.
    #[sea_orm(string_value = "FARM")]
    Farm,
    /// 建筑工地: a construction site.
    #[sea_orm(string_value = "CONSTRUCTION")]
    Construction,
    /// 企业: an enterprise (factory, workshop).
    #[sea_orm(string_value = "ENTERPRISE")]
    Enterprise,
    /// 煤层气井场: a coal-bed-methane well site.
    #[sea_orm(string_value = "WELL_SITE")]
    WellSite,
    /// 入河排污口: a river outfall.
    #[sea_orm(string_value = "OUTFALL")]
    Outfall,
    /// 堆场: a stockpile (coal, sand, gangue, bare earth).
    #[sea_orm(string_value = "STOCKPILE")]
    Stockpile,
    /// 其他.
    #[sea_orm(string_value = "OTHER")]
    Other,
}

impl SiteKind {
    /// Every kind.
    pub const ALL: [Self; 7] = [
        Self::Farm,
        Self::Construction,
        Self::Enterprise,
        Self::WellSite,
        Self::Outfall,
        Self::Stockpile,
        Self::Other,
    ];

    /// Stored and exchanged name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Farm => "FARM",
            Self::Construction => "CONSTRUCTION",
            Self::Enterprise => "ENTERPRISE",
            Self::WellSite => "WELL_SITE",
            Self::Outfall => "OUTFALL",
            Self::Stockpile => "STOCKPILE",
            Self::Other => "OTHER",
        }
    }

    /// Chinese label, as written in import files.
    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Farm => "养殖场",
            Self::Construction => "建筑工地",
            Self::Enterprise => "企业",
            Self::WellSite => "井场",
            Self::Outfall => "排污口",
            Self::Stockpile => "堆场",
            Self::Other => "其他",
        }
    }
}

/// How much attention a supervised site needs.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RiskLevel {
    /// 低.
    #[sea_orm(string_value = "LOW")]
    Low,
    /// 中.
    #[sea_orm(string_value = "MEDIUM")]
    Medium,
    /// 高.
    #[sea_orm(string_value = "HIGH")]
    High,
}

impl RiskLevel {
    /// Every level.
    pub const ALL: [Self; 3] = [Self::Low, Self::Medium, Self::High];

    /// Stored and exchanged name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "LOW",
            Self::Medium => "MEDIUM",
            Self::High => "HIGH",
        }
    }

    /// Chinese label, as written in import files.
    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Low => "低",
            Self::Medium => "中",
            Self::High => "高",
        }
    }
}
