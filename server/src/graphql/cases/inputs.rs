//! What clients send: locations, tip-offs, patrol reports, tasks, filters.

use async_graphql::{ID, InputObject};
use chrono::{DateTime, Utc};

use super::super::grid::{CoordSystem, Priority};
use super::types::{CaseSource, CaseStatus};
use crate::domain::cases::intake::Location;

/// A reported location.
#[derive(InputObject, Clone, Copy)]
pub struct LocationInput {
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lng: f64,
    /// Datum of `lat`/`lng` (WGS84 when omitted).
    pub coord: Option<CoordSystem>,
    /// Horizontal accuracy in metres.
    pub accuracy_m: Option<f64>,
}

impl From<LocationInput> for Location {
    fn from(l: LocationInput) -> Self {
        Location {
            lat: l.lat,
            lng: l.lng,
            gcj02: l.coord == Some(CoordSystem::Gcj02),
            accuracy_m: l.accuracy_m,
        }
    }
}

/// A public tip-off.
#[derive(InputObject)]
pub struct SubmitTipInput {
    /// Category code, e.g. `OPEN_BURNING`.
    pub category_code: String,
    /// What you saw (5–2000 characters).
    pub description: String,
    /// Where (GCJ-02 from `wx.getLocation({type: 'gcj02'})` is fine: say so in `coord`).
    pub location: LocationInput,
    /// Address in words.
    pub address: Option<String>,
    /// A mobile number for a call-back (kept confidential).
    pub phone: Option<String>,
    /// A fresh key per tip-off (e.g. a UUID); resending with the same key after a lost
    /// answer returns the first answer and never creates a second case.
    pub idempotency_key: String,
}

/// A problem found on patrol.
#[derive(InputObject)]
pub struct ReportCaseInput {
    /// Category code.
    pub category_code: String,
    /// What was found.
    pub description: String,
    /// Where (inside your own grid).
    pub location: LocationInput,
    /// A fresh key per report (retries return the first answer).
    pub idempotency_key: String,
    /// Your open patrol it was found on: the case is linked to it.
    pub patrol_id: Option<ID>,
}

/// An inspection task.
#[derive(InputObject)]
pub struct CreateTaskInput {
    /// Category code.
    pub category_code: String,
    /// Short title.
    pub title: String,
    /// What to do.
    pub description: String,
    /// Where, if a point is known; otherwise the site's location; otherwise the grid's
    /// centre.
    pub location: Option<LocationInput>,
    /// The grid, when neither a location nor a site is given.
    pub region_id: Option<ID>,
    /// Inspector to dispatch to at once.
    pub assignee_id: Option<ID>,
    /// Deadline, at most a year ahead (default: the category's handling limit on the
    /// work calendar).
    pub due_at: Option<DateTime<Utc>>,
    /// The supervised site concerned; it must lie within your region.
    pub site_id: Option<ID>,
    /// Priority (NORMAL when omitted).
    pub priority: Option<Priority>,
    /// Optional key making retries safe.
    pub idempotency_key: Option<String>,
}

/// Filters of `cases`.
#[derive(InputObject, Default)]
pub struct CaseFilter {
    /// Only these statuses.
    pub status: Option<Vec<CaseStatus>>,
    /// Only this category.
    pub category_code: Option<String>,
    /// Only within this region's subtree.
    pub region_id: Option<ID>,
    /// Only assigned to this user.
    pub assignee_id: Option<ID>,
    /// Only this source.
    pub source: Option<CaseSource>,
    /// Only overdue (true) or not overdue (false).
    pub overdue: Option<bool>,
    /// Created at or after.
    pub created_from: Option<DateTime<Utc>>,
    /// Created before.
    pub created_to: Option<DateTime<Utc>>,
    /// Number, title or description contains this text.
    pub text: Option<String>,
}
