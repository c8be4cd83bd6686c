//! sea-orm entities of gridwatch, one module per table.
//!
//! Models mirror the columns created by the `migration` crate exactly; closed sets
//! (roles, statuses, levels…) are the typed enums of [`enums`], stored as their names.
//! All timestamps are UTC.

pub mod app_user;
pub mod auth_attempt;
pub mod campaign;
pub mod campaign_category;
pub mod campaign_time_limit;
pub mod case;
pub mod case_change;
pub mod case_event;
pub mod case_follower;
pub mod case_team;
pub mod category;
pub mod category_time_limit;
pub mod enums;
pub mod escalation_rule;
pub mod evidence;
pub mod idempotency_record;
pub mod job_run;
pub mod notification;
pub mod open311_client;
pub mod outbox;
pub mod patrol;
pub mod patrol_case;
pub mod patrol_checkin;
pub mod patrol_miss;
pub mod patrol_plan;
pub mod patrol_track_batch;
pub mod persisted_operation;
pub mod random_draw;
pub mod random_draw_site;
pub mod ranking;
pub mod refresh_token;
pub mod region;
pub mod sla_mark;
pub mod supervised_site;
pub mod tipster;
pub mod tipster_reveal;
pub mod tipster_subscription;
pub mod webhook;
pub mod wechat_token;
pub mod work_calendar_day;

/// The entities under distinct names, for glob import.
pub mod prelude {
    pub use super::app_user::Entity as AppUser;
    pub use super::auth_attempt::Entity as AuthAttempt;
    pub use super::case::Entity as Case;
    pub use super::case_event::Entity as CaseEvent;
    pub use super::case_follower::Entity as CaseFollower;
    pub use super::case_team::Entity as CaseTeam;
    pub use super::category::Entity as Category;
    pub use super::category_time_limit::Entity as CategoryTimeLimit;
    pub use super::evidence::Entity as Evidence;
    pub use super::idempotency_record::Entity as IdempotencyRecord;
    pub use super::open311_client::Entity as Open311Client;
    pub use super::outbox::Entity as Outbox;
    pub use super::refresh_token::Entity as RefreshToken;
    pub use super::region::Entity as Region;
    pub use super::supervised_site::Entity as SupervisedSite;
    pub use super::tipster::Entity as Tipster;
    pub use super::tipster_reveal::Entity as TipsterReveal;
    pub use super::work_calendar_day::Entity as WorkCalendarDay;
}
