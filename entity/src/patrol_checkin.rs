//! `patrol_checkin`: a check-in on patrol, at a supervised site or anywhere; one with
//! `nothing_found` is the record that the place was seen and found in order (零报告).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `patrol_checkin`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "patrol_checkin")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub patrol_id: i64,
    /// The site checked, if any.
    pub site_id: Option<i64>,
    /// WGS-84.
    pub lat: f64,
    pub lng: f64,
    pub accuracy_m: Option<f64>,
    /// The client's time of the check-in.
    pub at: DateTimeUtc,
    /// Nothing wrong was found (零报告).
    pub nothing_found: bool,
    #[sea_orm(column_type = "Text", nullable)]
    pub note: Option<String>,
    /// Metres from the site, when a site is named.
    pub distance_to_site_m: Option<f64>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
