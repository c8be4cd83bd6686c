//! Evaluation: `stats` against a fixture whose every indicator is counted by hand
//! below, rankings frozen on publication, and scope.
//!
//! The fixture: 31 cases over September and October 2026 in two townships of 沁水县 —
//! A = 140521100 (grids A1 = …201, A2 = …202) and B = 140521101 (grid B1 = …201) —
//! spanning 中秋 (25–27 Sep, a Friday holiday), 国庆 (1–7 Oct) and the make-up working
//! days 20 Sep (Sunday) and 10 Oct (Saturday) from the seeded 2026 calendar. Office
//! hours are 08:30–12:00 and 14:30–17:30 (6.5 h a day). "Now" is 5 Nov 10:00.
//! All times below are Asia/Shanghai.

use chrono::{DateTime, NaiveDateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
use serde_json::{Value, json};

use crate::both;
use crate::helpers::cases::user_id;
use crate::helpers::{Backend, TestApp, closed, error_code};

const A1: &str = "140521100201";
const A2: &str = "140521100202";
const B1: &str = "140521101201";
const TOWNSHIP_A: &str = "140521100";
const TOWNSHIP_B: &str = "140521101";
const COUNTY: &str = "140521";

fn t(local: &str) -> DateTime<Utc> {
    let n = NaiveDateTime::parse_from_str(local, "%m-%d %H:%M %Y")
        .or_else(|_| NaiveDateTime::parse_from_str(&format!("{local} 2026"), "%m-%d %H:%M %Y"))
        .unwrap_or_else(|e| panic!("{local}: {e}"));
    (n - chrono::Duration::hours(8)).and_utc()
}

/// One fixture case. Times are `MM-DD HH:MM` in 2026, local.
struct Fx {
    grid: &'static str,
    category: &'static str,
    source: &'static str,
    status: &'static str,
    created: &'static str,
    accepted: Option<&'static str>,
    due: Option<&'static str>,
    first_submitted: Option<&'static str>,
    closed: Option<&'static str>,
    rework: i32,
    rating: Option<i32>,
    parked: Option<&'static str>,
    reject: Option<&'static str>,
    /// Grid whose inspector it is assigned to.
    assignee: Option<&'static str>,
}

const BASE: Fx = Fx {
    grid: A1,
    category: "DUST",
    source: "TIP",
    status: "CLOSED",
    created: "",
    accepted: None,
    due: None,
    first_submitted: None,
    closed: None,
    rework: 0,
    rating: None,
    parked: None,
    reject: None,
    assignee: None,
};

/// The fixture, numbered C1–C31 as in the hand count.
fn fixture() -> Vec<(&'static str, Fx)> {
    let closed_case = |grid, created, accepted, due, fs, cl| Fx {
        grid,
        created,
        accepted: Some(accepted),
        due: Some(due),
        first_submitted: Some(fs),
        closed: Some(cl),
        assignee: Some(grid),
        ..BASE
    };
    vec![
        // Township A. Handling hours are working time from acceptance to first submission.
        (
            "C1",
            Fx {
                rating: Some(5),
                ..closed_case(
                    A1,
                    "09-02 09:00",
                    "09-02 10:00",
                    "09-04 17:30",
                    "09-02 11:00",
                    "09-03 10:00",
                )
            },
        ), // 1 h
        (
            "C2",
            Fx {
                rating: Some(3),
                ..closed_case(
                    A1,
                    "09-10 08:00",
                    "09-10 09:00",
                    "09-11 17:30",
                    "09-10 11:00",
                    "09-10 15:00",
                )
            },
        ), // 2 h
        // Accepted on the eve of 中秋, submitted after it: 1 h + 1 h; late handling and closing.
        (
            "C3",
            Fx {
                rating: Some(4),
                ..closed_case(
                    A1,
                    "09-24 15:00",
                    "09-24 16:30",
                    "09-24 17:30",
                    "09-28 09:30",
                    "09-28 11:00",
                )
            },
        ),
        // Across 国庆: 0.5 h + 1.5 h; returned once; a patrol finding.
        (
            "C4",
            Fx {
                category: "OPEN_BURNING",
                source: "PATROL",
                rework: 1,
                ..closed_case(
                    A1,
                    "09-30 17:00",
                    "09-30 17:00",
                    "10-09 17:30",
                    "10-08 10:00",
                    "10-09 16:00",
                )
            },
        ),
        // Across the make-up Saturday: 0.5 + 6.5 + 1 = 8 h; grid A2 but A1's inspector.
        (
            "C5",
            Fx {
                source: "TASK",
                assignee: Some(A1),
                ..closed_case(
                    A2,
                    "10-09 16:00",
                    "10-09 17:00",
                    "10-12 17:30",
                    "10-12 09:30",
                    "10-12 12:00",
                )
            },
        ),
        // Over lunch: 1 h + 1 h; closed late.
        (
            "C6",
            Fx {
                rating: Some(2),
                ..closed_case(
                    A2,
                    "10-13 10:00",
                    "10-13 11:00",
                    "10-14 17:30",
                    "10-13 15:30",
                    "10-15 09:00",
                )
            },
        ),
        // Overdue in progress (escalated 10-23).
        (
            "C7",
            Fx {
                category: "OPEN_BURNING",
                status: "IN_PROGRESS",
                first_submitted: None,
                closed: None,
                ..closed_case(A2, "10-20 09:00", "10-20 10:00", "10-22 17:30", "", "")
            },
        ),
        // Submitted on time (2.5 + 3 + 1 = 6.5 h), not verified, deadline passed.
        (
            "C8",
            Fx {
                status: "SUBMITTED",
                closed: None,
                ..closed_case(
                    A2,
                    "10-26 09:00",
                    "10-26 09:30",
                    "10-28 17:30",
                    "10-27 09:30",
                    "",
                )
            },
        ),
        // Parked, extended (10-29), not due.
        (
            "C9",
            Fx {
                status: "ASSIGNED",
                first_submitted: None,
                closed: None,
                parked: Some("10-29 10:00"),
                ..closed_case(A1, "10-28 09:00", "10-28 09:00", "11-20 17:30", "", "")
            },
        ),
        (
            "C10",
            Fx {
                status: "REJECTED",
                reject: Some("INVALID"),
                created: "09-05 10:00",
                ..BASE
            },
        ),
        (
            "C11",
            Fx {
                status: "REJECTED",
                reject: Some("DUPLICATE"),
                created: "10-03 10:00",
                ..BASE
            },
        ),
        (
            "C12",
            Fx {
                grid: A2,
                status: "REJECTED",
                reject: Some("OUT_OF_SCOPE"),
                created: "10-16 10:00",
                ..BASE
            },
        ),
        // Not filed; its acceptance deadline passed.
        (
            "C13",
            Fx {
                status: "PENDING",
                created: "10-30 20:00",
                due: Some("10-31 17:30"),
                ..BASE
            },
        ),
        // Reported in August, handled 1 Sep: 6 + 1.5 = 7.5 h; closed late (escalated 08-31).
        (
            "C14",
            Fx {
                rating: Some(5),
                ..closed_case(
                    A1,
                    "08-30 10:00",
                    "08-31 09:00",
                    "09-01 17:30",
                    "09-01 10:00",
                    "09-02 09:00",
                )
            },
        ),
        // Reported in October, everything else in November.
        (
            "C15",
            closed_case(
                A1,
                "10-29 09:00",
                "10-29 09:00",
                "11-02 17:30",
                "11-02 10:00",
                "11-03 10:00",
            ),
        ),
        // 23:30 on the last day: still October.
        (
            "C16",
            Fx {
                grid: A2,
                status: "PENDING",
                created: "10-31 23:30",
                ..BASE
            },
        ),
        // 23:59 on 31 August: not in the period.
        (
            "C17",
            Fx {
                grid: A2,
                status: "REJECTED",
                reject: Some("INVALID"),
                created: "08-31 23:59",
                ..BASE
            },
        ),
        // An inspection task, escalated and extended on 09-15: 1 h.
        (
            "C29",
            Fx {
                source: "TASK",
                ..closed_case(
                    A1,
                    "09-15 09:00",
                    "09-15 09:00",
                    "09-16 17:30",
                    "09-15 10:00",
                    "09-15 11:00",
                )
            },
        ),
        // Township B.
        (
            "C18",
            Fx {
                rating: Some(5),
                ..closed_case(
                    B1,
                    "09-03 09:00",
                    "09-03 09:00",
                    "09-04 17:30",
                    "09-03 11:00",
                    "09-03 16:00",
                )
            },
        ), // 2 h
        // 6 + 6.5 + 1 = 13.5 h, late, returned twice.
        (
            "C19",
            Fx {
                rating: Some(4),
                rework: 2,
                ..closed_case(
                    B1,
                    "09-14 09:00",
                    "09-14 09:00",
                    "09-15 17:30",
                    "09-16 09:30",
                    "09-16 10:00",
                )
            },
        ),
        // 6 + 6.5 + 0.5 = 13 h.
        (
            "C20",
            Fx {
                source: "TASK",
                ..closed_case(
                    B1,
                    "10-12 09:00",
                    "10-12 09:00",
                    "10-16 17:30",
                    "10-14 09:00",
                    "10-14 10:00",
                )
            },
        ),
        // Submitted (1 h), returned, overdue now.
        (
            "C21",
            Fx {
                source: "TASK",
                status: "IN_PROGRESS",
                rework: 1,
                closed: None,
                ..closed_case(
                    B1,
                    "09-28 09:00",
                    "09-28 09:00",
                    "09-29 17:30",
                    "09-28 10:00",
                    "",
                )
            },
        ),
        (
            "C22",
            Fx {
                source: "TASK",
                status: "ASSIGNED",
                first_submitted: None,
                closed: None,
                ..closed_case(B1, "11-01 09:00", "11-01 09:00", "11-10 17:30", "", "")
            },
        ),
        (
            "C23",
            Fx {
                grid: B1,
                status: "REJECTED",
                reject: Some("INVALID"),
                created: "09-20 10:00",
                ..BASE
            },
        ),
        (
            "C24",
            Fx {
                source: "PATROL",
                ..closed_case(
                    B1,
                    "10-20 09:00",
                    "10-20 09:00",
                    "10-21 17:30",
                    "10-20 10:00",
                    "10-20 11:00",
                )
            },
        ), // 1 h
        (
            "C25",
            Fx {
                rating: Some(1),
                ..closed_case(
                    B1,
                    "10-22 09:00",
                    "10-22 09:00",
                    "10-23 17:30",
                    "10-22 14:30",
                    "10-22 15:00",
                )
            },
        ), // 3 h
        (
            "C26",
            closed_case(
                B1,
                "10-23 09:00",
                "10-23 09:00",
                "10-26 17:30",
                "10-23 10:00",
                "10-23 11:00",
            ),
        ), // 1 h
        (
            "C27",
            Fx {
                source: "OPEN311",
                rating: Some(5),
                ..closed_case(
                    B1,
                    "09-08 09:00",
                    "09-08 09:00",
                    "09-09 17:30",
                    "09-08 10:00",
                    "09-08 11:00",
                )
            },
        ), // 1 h
        // Parked past its deadline: due but neither handled nor overdue now.
        (
            "C28",
            Fx {
                status: "IN_PROGRESS",
                first_submitted: None,
                closed: None,
                parked: Some("09-22 09:00"),
                ..closed_case(B1, "09-21 09:00", "09-21 09:00", "09-22 17:30", "", "")
            },
        ),
        (
            "C30",
            Fx {
                grid: B1,
                status: "PENDING",
                created: "10-31 10:00",
                ..BASE
            },
        ),
        // In the county but outside both townships' period figures: a case of 2025.
        (
            "C31",
            Fx {
                grid: B1,
                created: "10-10 10:00 2025",
                status: "REJECTED",
                reject: Some("INVALID"),
                ..BASE
            },
        ),
    ]
}

async fn load(app: &TestApp) -> std::collections::HashMap<&'static str, i64> {
    let snap = app.state.services.grid.snapshot();
    let mut ids = std::collections::HashMap::new();
    let cat = |code: &str| {
        let code = code.to_owned();
        let db = app.db.clone();
        async move {
            use sea_orm::{ColumnTrait, QueryFilter};
            entity::category::Entity::find()
                .filter(entity::category::Column::Code.eq(code))
                .one(&db)
                .await
                .unwrap()
                .unwrap()
                .id
        }
    };
    for (name, f) in fixture() {
        let r = snap.by_code(f.grid).unwrap();
        let (lat, lng) = r.centroid.unwrap();
        let assignee = match f.assignee {
            Some(g) => Some(user_id(app, &format!("demo-insp-{g}")).await),
            None => None,
        };
        let opt = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(t);
        let created = t(f.created);
        let c = entity::case::ActiveModel {
            number: Set(format!("EV-{name}")),
            source: Set(closed(f.source)),
            category_id: Set(cat(f.category).await),
            title: Set(format!("评价测试 {name}")),
            description: Set("评价测试案件".into()),
            status: Set(closed(f.status)),
            priority: Set(closed("NORMAL")),
            region_id: Set(r.id),
            region_path: Set(r.path.clone()),
            lat: Set(lat),
            lng: Set(lng),
            outside_grid: Set(false),
            assignee_id: Set(assignee),
            accepted_at: Set(opt(f.accepted)),
            due_at: Set(opt(f.due)),
            first_submitted_at: Set(opt(f.first_submitted)),
            submitted_at: Set(if f.status == "SUBMITTED" {
                opt(f.first_submitted)
            } else {
                None
            }),
            closed_at: Set(opt(f.closed)),
            reject_reason: Set(f.reject.map(closed)),
            rating: Set(f.rating),
            rated_at: Set(f.rating.and(opt(f.closed))),
            parked_at: Set(opt(f.parked)),
            rework_count: Set(f.rework),
            escalation_level: Set(0),
            version: Set(1),
            parked_seconds: Set(0),
            extended_count: Set(0),
            checkin_far: Set(false),
            created_at: Set(created),
            updated_at: Set(created),
            ..Default::default()
        }
        .insert(&app.db)
        .await
        .unwrap();
        ids.insert(name, c.id);
    }
    // Escalations and extensions: C29 both on 09-15, C7 escalated 10-23, C9 extended
    // 10-29; C14's escalation on 08-31 is outside the period.
    for (seq, (case, action, at)) in [
        ("C29", "ESCALATE", "09-15 09:30"),
        ("C29", "EXTEND", "09-15 09:40"),
        ("C7", "ESCALATE", "10-23 09:00"),
        ("C9", "EXTEND", "10-29 09:00"),
        ("C14", "ESCALATE", "08-31 12:00"),
    ]
    .into_iter()
    .enumerate()
    {
        entity::case_event::ActiveModel {
            case_id: Set(ids[case]),
            seq: Set(100 + seq as i32),
            actor_role: Set("SYSTEM".into()),
            action: Set(action.into()),
            created_at: Set(t(at)),
            ..Default::default()
        }
        .insert(&app.db)
        .await
        .unwrap();
    }
    app.set_now(t("11-05 10:00"));
    ids
}

const INDICATORS: &str = "reports validReports validReportRate dueToHandle handled handledOnTime \
    handleRate onTimeHandleRate reworked returns reworkRate averageHandlingHours dueToClose closed \
    closedOnTime closeRate onTimeCloseRate closedTips rated satisfied satisfaction ratingCoverage \
    overdueNow parkedNow escalations extensions";

async fn stats(app: &TestApp, token: &str, region: &str, from: &str, to: &str, by: &str) -> Value {
    let q = format!(
        "query($r: ID!, $f: NaiveDate!, $t: NaiveDate!, $g: StatsGroupBy) {{ \
         stats(regionId: $r, from: $f, to: $t, groupBy: $g) {{ from to groupBy \
         total {{ {INDICATORS} }} rows {{ group {{ label regionId inspectorId categoryId day }} \
         indicators {{ {INDICATORS} }} }} }} }}"
    );
    app.gql(
        Some(token),
        &q,
        json!({ "r": app.region_id(region).to_string(), "f": from, "t": to, "g": by }),
    )
    .await
}

/// The counters of a hand count, in the order of [`INDICATORS`]' counts.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Hand {
    reports: i64,
    valid: i64,
    due_handle: i64,
    handled: i64,
    handled_on_time: i64,
    reworked: i64,
    returns: i64,
    hours: f64,
    due_close: i64,
    closed: i64,
    closed_on_time: i64,
    closed_tips: i64,
    rated: i64,
    satisfied: i64,
    overdue: i64,
    parked: i64,
    escalations: i64,
    extensions: i64,
}

const ZERO: Hand = Hand {
    reports: 0,
    valid: 0,
    due_handle: 0,
    handled: 0,
    handled_on_time: 0,
    reworked: 0,
    returns: 0,
    hours: 0.0,
    due_close: 0,
    closed: 0,
    closed_on_time: 0,
    closed_tips: 0,
    rated: 0,
    satisfied: 0,
    overdue: 0,
    parked: 0,
    escalations: 0,
    extensions: 0,
};

fn ratio(n: i64, d: i64) -> Value {
    if d == 0 {
        Value::Null
    } else {
        json!(n as f64 / d as f64)
    }
}

fn check(what: &str, got: &Value, h: Hand) {
    let i = |k: &str| {
        got[k]
            .as_i64()
            .unwrap_or_else(|| panic!("{what}.{k}: {got}"))
    };
    let counts = [
        ("reports", h.reports),
        ("validReports", h.valid),
        ("dueToHandle", h.due_handle),
        ("handled", h.handled),
        ("handledOnTime", h.handled_on_time),
        ("reworked", h.reworked),
        ("returns", h.returns),
        ("dueToClose", h.due_close),
        ("closed", h.closed),
        ("closedOnTime", h.closed_on_time),
        ("closedTips", h.closed_tips),
        ("rated", h.rated),
        ("satisfied", h.satisfied),
        ("overdueNow", h.overdue),
        ("parkedNow", h.parked),
        ("escalations", h.escalations),
        ("extensions", h.extensions),
    ];
    for (k, want) in counts {
        assert_eq!(i(k), want, "{what}.{k}: {got}");
    }
    let ratios = [
        ("validReportRate", ratio(h.valid, h.reports)),
        ("handleRate", ratio(h.handled, h.due_handle)),
        ("onTimeHandleRate", ratio(h.handled_on_time, h.due_handle)),
        ("reworkRate", ratio(h.reworked, h.handled)),
        ("closeRate", ratio(h.closed, h.due_close)),
        ("onTimeCloseRate", ratio(h.closed_on_time, h.due_close)),
        ("satisfaction", ratio(h.satisfied, h.rated)),
        ("ratingCoverage", ratio(h.rated, h.closed_tips)),
    ];
    for (k, want) in ratios {
        match (&got[k], &want) {
            (Value::Null, Value::Null) => {}
            (g, w) => assert!(
                (g.as_f64().unwrap_or(f64::NAN) - w.as_f64().unwrap()).abs() < 1e-9,
                "{what}.{k}: got {g}, want {w}"
            ),
        }
    }
    match got["averageHandlingHours"].as_f64() {
        None => assert_eq!(h.handled, 0, "{what}.averageHandlingHours: {got}"),
        Some(avg) => assert!(
            (avg - h.hours / h.handled as f64).abs() < 1e-9,
            "{what}.averageHandlingHours: got {avg}, want {} / {}",
            h.hours,
            h.handled
        ),
    }
}

fn row<'a>(body: &'a Value, key: &str, id: &str) -> &'a Value {
    body["data"]["stats"]["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .find(|r| r["group"][key].as_str() == Some(id))
        .map(|r| &r["indicators"])
        .unwrap_or_else(|| panic!("no row {key} = {id}: {body}"))
}

/// Township A, September–October, counted by hand from the fixture:
/// - reports: C1 C2 C3 C4 C6 C7 C8 C9 C10 C11 C12 C13 C15 C16 = 14 (C5 and C29 are
///   tasks, C14 and C17 are August); valid: all but C10 (invalid), C11 (duplicate) = 12.
/// - due to handle: C1 C2 C3 C4 C5 C6 C8 C14 C29 (first submitted in the period) + C7
///   (due 10-22, not submitted) = 10; handled 9; on time 8 (C3 late); reworked 1 (C4),
///   1 return; hours 1 + 2 + 2 + 2 + 8 + 2 + 6.5 + 7.5 + 1 = 32.
/// - due to close: C1 C2 C3 C4 C5 C6 C14 C29 (closed in the period) + C7 C8 (due, open) =
///   10; closed 8; on time 5 (C3, C6, C14 late); closed tip-offs C1 C2 C3 C6 C14 = 5, all
///   rated, 3 of them 4–5.
/// - now: C7, C8 (submitted counts as open) and C13 (unfiled, acceptance overdue) are
///   overdue; C9 parked. Events: escalations C29, C7; extensions C29, C9.
const A: Hand = Hand {
    reports: 14,
    valid: 12,
    due_handle: 10,
    handled: 9,
    handled_on_time: 8,
    reworked: 1,
    returns: 1,
    hours: 32.0,
    due_close: 10,
    closed: 8,
    closed_on_time: 5,
    closed_tips: 5,
    rated: 5,
    satisfied: 3,
    overdue: 3,
    parked: 1,
    escalations: 2,
    extensions: 2,
};

/// Township B, September–October:
/// - reports: C18 C19 C23 C24 C25 C26 C27 C28 C30 = 9 (C20–C22 are tasks, C31 is 2025);
///   valid 8 (C23 invalid).
/// - due to handle: C18 C19 C20 C21 C24 C25 C26 C27 (submitted) + C28 (due 09-22,
///   parked) = 9; handled 8; on time 7 (C19 late); reworked C19 C21 = 2 with 3 returns;
///   hours 2 + 13.5 + 13 + 1 + 1 + 3 + 1 + 1 = 35.5.
/// - due to close: C18 C19 C20 C24 C25 C26 C27 (closed) + C21 C28 (due, open) = 9;
///   closed 7; on time 6 (C19 late); closed tip-offs C18 C19 C25 C26 C27 = 5; rated 4
///   (C26 not); satisfied 3 (C25 rated 1).
/// - now: C21 overdue; C28 parked (so not overdue). No escalation or extension.
const B: Hand = Hand {
    reports: 9,
    valid: 8,
    due_handle: 9,
    handled: 8,
    handled_on_time: 7,
    reworked: 2,
    returns: 3,
    hours: 35.5,
    due_close: 9,
    closed: 7,
    closed_on_time: 6,
    closed_tips: 5,
    rated: 4,
    satisfied: 3,
    overdue: 1,
    parked: 1,
    escalations: 0,
    extensions: 0,
};

fn sum(a: Hand, b: Hand) -> Hand {
    Hand {
        reports: a.reports + b.reports,
        valid: a.valid + b.valid,
        due_handle: a.due_handle + b.due_handle,
        handled: a.handled + b.handled,
        handled_on_time: a.handled_on_time + b.handled_on_time,
        reworked: a.reworked + b.reworked,
        returns: a.returns + b.returns,
        hours: a.hours + b.hours,
        due_close: a.due_close + b.due_close,
        closed: a.closed + b.closed,
        closed_on_time: a.closed_on_time + b.closed_on_time,
        closed_tips: a.closed_tips + b.closed_tips,
        rated: a.rated + b.rated,
        satisfied: a.satisfied + b.satisfied,
        overdue: a.overdue + b.overdue,
        parked: a.parked + b.parked,
        escalations: a.escalations + b.escalations,
        extensions: a.extensions + b.extensions,
    }
}

async fn indicators_match_the_hand_count(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    load(&app).await;
    let (admin, _) = app.login("demo-admin").await;
    let id = |code: &str| app.region_id(code).to_string();

    // By township.
    let b = stats(&app, &admin, COUNTY, "2026-09-01", "2026-10-31", "REGION").await;
    assert_eq!(b["data"]["stats"]["groupBy"], "REGION", "{b}");
    check("A", row(&b, "regionId", &id(TOWNSHIP_A)), A);
    check("B", row(&b, "regionId", &id(TOWNSHIP_B)), B);
    check("total", &b["data"]["stats"]["total"], sum(A, B));
    // Every township has a row, with or without cases.
    let rows = b["data"]["stats"]["rows"].as_array().unwrap();
    let townships = app
        .state
        .services
        .grid
        .snapshot()
        .children_of(Some(app.region_id(COUNTY)))
        .len();
    assert_eq!(rows.len(), townships, "{b}");
    check(
        "other township",
        row(&b, "regionId", &id("140521102")),
        ZERO,
    );

    // By grid within township A: A1 and A2 split A.
    let b = stats(
        &app,
        &admin,
        TOWNSHIP_A,
        "2026-09-01",
        "2026-10-31",
        "REGION",
    )
    .await;
    // A2: C5 C6 C7 C8 C12 C16 (C17 is August). Reports C6 C7 C8 C12 C16 = 5, all valid;
    // handling C5 (8 h) C6 (2 h) C7 C8 (6.5 h): 4 due, 3 handled on time; closing C5 C6
    // (late) C7 C8: 4 due, 2 closed, 1 on time, 1 tip rated 2; overdue C7 C8; C7 escalated.
    let a2 = Hand {
        reports: 5,
        valid: 5,
        due_handle: 4,
        handled: 3,
        handled_on_time: 3,
        reworked: 0,
        returns: 0,
        hours: 16.5,
        due_close: 4,
        closed: 2,
        closed_on_time: 1,
        closed_tips: 1,
        rated: 1,
        satisfied: 0,
        overdue: 2,
        parked: 0,
        escalations: 1,
        extensions: 0,
    };
    check("A2", row(&b, "regionId", &id(A2)), a2);
    let a1 = Hand {
        reports: A.reports - a2.reports,
        valid: A.valid - a2.valid,
        due_handle: A.due_handle - a2.due_handle,
        handled: A.handled - a2.handled,
        handled_on_time: A.handled_on_time - a2.handled_on_time,
        reworked: 1,
        returns: 1,
        hours: A.hours - a2.hours,
        due_close: A.due_close - a2.due_close,
        closed: A.closed - a2.closed,
        closed_on_time: A.closed_on_time - a2.closed_on_time,
        closed_tips: A.closed_tips - a2.closed_tips,
        rated: A.rated - a2.rated,
        satisfied: A.satisfied - a2.satisfied,
        overdue: 1,
        parked: 1,
        escalations: 1,
        extensions: 2,
    };
    check("A1", row(&b, "regionId", &id(A1)), a1);
    check("A total", &b["data"]["stats"]["total"], A);

    // By assignee within township A: A1's inspector also handled C5 in A2.
    let b = stats(
        &app,
        &admin,
        TOWNSHIP_A,
        "2026-09-01",
        "2026-10-31",
        "INSPECTOR",
    )
    .await;
    let insp = |g: &str| {
        let app = &app;
        let g = g.to_owned();
        async move { user_id(app, &format!("demo-insp-{g}")).await.to_string() }
    };
    // A1's inspector: C1 C2 C3 C4 C5 C9 C14 C15 C29. Reports C1 C2 C3 C4 C9 C15 = 6;
    // handling C1 C2 C3 C4 C5 C14 C29 = 7, all handled, 6 on time, 23.5 h; closing the same
    // 7, on time C1 C2 C4 C5 C29 = 5, tips C1 C2 C3 C14 rated, 3 satisfied; C9 parked;
    // C29 escalated and extended, C9 extended.
    let insp_a1 = Hand {
        reports: 6,
        valid: 6,
        due_handle: 7,
        handled: 7,
        handled_on_time: 6,
        reworked: 1,
        returns: 1,
        hours: 23.5,
        due_close: 7,
        closed: 7,
        closed_on_time: 5,
        closed_tips: 4,
        rated: 4,
        satisfied: 3,
        overdue: 0,
        parked: 1,
        escalations: 1,
        extensions: 2,
    };
    check(
        "inspector A1",
        row(&b, "inspectorId", &insp(A1).await),
        insp_a1,
    );
    // Unassigned: C10–C13 and C16 reported (C10, C11 invalid); C13 overdue to accept.
    let unassigned = b["data"]["stats"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["group"]["inspectorId"].is_null())
        .unwrap_or_else(|| panic!("{b}"));
    assert_eq!(unassigned["group"]["label"], "未派发");
    check(
        "unassigned",
        &unassigned["indicators"],
        Hand {
            reports: 5,
            valid: 3,
            overdue: 1,
            ..ZERO
        },
    );
    check("A by inspector", &b["data"]["stats"]["total"], A);

    // By category across the county: OPEN_BURNING is C4 and C7.
    let b = stats(&app, &admin, COUNTY, "2026-09-01", "2026-10-31", "CATEGORY").await;
    let burning = {
        use sea_orm::{ColumnTrait, QueryFilter};
        entity::category::Entity::find()
            .filter(entity::category::Column::Code.eq("OPEN_BURNING"))
            .one(&app.db)
            .await
            .unwrap()
            .unwrap()
            .id
            .to_string()
    };
    check(
        "OPEN_BURNING",
        row(&b, "categoryId", &burning),
        Hand {
            reports: 2,
            valid: 2,
            due_handle: 2,
            handled: 1,
            handled_on_time: 1,
            reworked: 1,
            returns: 1,
            hours: 2.0,
            due_close: 2,
            closed: 1,
            closed_on_time: 1,
            overdue: 1,
            escalations: 1,
            ..ZERO
        },
    );
    assert_eq!(
        b["data"]["stats"]["rows"].as_array().unwrap().len(),
        2,
        "{b}"
    );

    // By day: each counter on its own timestamp's local day.
    let b = stats(&app, &admin, COUNTY, "2026-09-01", "2026-10-31", "DAY").await;
    // 2 Sep: C1 reported and first submitted; C14 closed late (rated 5).
    check(
        "09-02",
        row(&b, "day", "2026-09-02"),
        Hand {
            reports: 1,
            valid: 1,
            due_handle: 1,
            handled: 1,
            handled_on_time: 1,
            hours: 1.0,
            due_close: 1,
            closed: 1,
            closed_tips: 1,
            rated: 1,
            satisfied: 1,
            ..ZERO
        },
    );
    // 22 Oct: C7's deadline (due, not handled, not closed); C25 reported, submitted (3 h)
    // and closed on time, rated 1.
    check(
        "10-22",
        row(&b, "day", "2026-10-22"),
        Hand {
            reports: 1,
            valid: 1,
            due_handle: 2,
            handled: 1,
            handled_on_time: 1,
            hours: 3.0,
            due_close: 2,
            closed: 1,
            closed_on_time: 1,
            closed_tips: 1,
            rated: 1,
            ..ZERO
        },
    );
    // 31 Oct: C16 at 23:30 and C30 at 10:00 reported.
    check(
        "10-31",
        row(&b, "day", "2026-10-31"),
        Hand {
            reports: 2,
            valid: 2,
            ..ZERO
        },
    );
    // The "now" counters have no day: only the total carries them.
    check("DAY total", &b["data"]["stats"]["total"], sum(A, B));

    // October alone: C4 (reported 30 Sep) leaves the reports, its handling stays.
    let b = stats(
        &app,
        &admin,
        TOWNSHIP_A,
        "2026-10-01",
        "2026-10-31",
        "REGION",
    )
    .await;
    let total = &b["data"]["stats"]["total"];
    assert_eq!(total["reports"], 9, "{b}");
    assert_eq!(total["dueToHandle"], 5, "{b}");
    assert_eq!(total["handledOnTime"], 4, "{b}");
}
both!(hand_count, indicators_match_the_hand_count);

const PUBLISH: &str = "mutation($m: String!, $r: ID!) { publishRanking(month: $m, regionId: $r) { \
    month weights total { closed } regions { rank score group { regionId label } \
    indicators { handledOnTime dueToHandle satisfaction } } inspectors { rank score group { inspectorId } } } }";
const RANKINGS: &str = "query($m: String!, $r: ID!) { rankings(regionId: $r, month: $m) { \
    month regions { rank score group { regionId label } indicators { handledOnTime dueToHandle satisfaction } } \
    inspectors { rank score group { inspectorId } } } }";

async fn rankings_are_frozen(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ids = load(&app).await;
    let (admin, _) = app.login("demo-admin").await;
    let (sup, _) = app.login("demo-sup-140521100").await;
    let county = app.region_id(COUNTY).to_string();
    let vars = json!({ "m": "2026-10", "r": county });

    // Only county staff publish; not before the month is over.
    let b = app.gql(Some(&sup), PUBLISH, vars.clone()).await;
    assert_eq!(error_code(&b), "FORBIDDEN", "{b}");
    let b = app
        .gql(
            Some(&admin),
            PUBLISH,
            json!({ "m": "2026-11", "r": county }),
        )
        .await;
    assert_eq!(error_code(&b), "BAD_INPUT", "{b}");
    assert_eq!(
        b["errors"][0]["extensions"]["detail"], "MONTH_NOT_OVER",
        "{b}"
    );
    assert_eq!(b["errors"][0]["extensions"]["field"], "month", "{b}");
    let b = app
        .gql(Some(&admin), PUBLISH, json!({ "m": "2026-1", "r": county }))
        .await;
    assert_eq!(
        b["errors"][0]["extensions"]["detail"], "INVALID_MONTH",
        "{b}"
    );

    // Nothing published yet.
    let b = app.gql(Some(&admin), RANKINGS, vars.clone()).await;
    assert!(b["data"]["rankings"].is_null(), "{b}");

    // October: B handled and closed all 4 of its cases on time (C20 C24 C25 C26), one
    // rating of 1, no rework: 40 + 30 + 0 + 10 = 80. A: on time 4 of 5 (C7 not handled),
    // closed 3 of 5 (C7, C8 open), rating 2 → 0, rework 1 of 4:
    // 0.8 × 40 + 0.6 × 30 + 0 × 20 + 0.75 × 10 = 57.5. Other townships: no data, no rank.
    let published = app.gql(Some(&admin), PUBLISH, vars.clone()).await;
    let regions = published["data"]["publishRanking"]["regions"]
        .as_array()
        .unwrap_or_else(|| panic!("{published}"))
        .clone();
    assert_eq!(
        regions[0]["group"]["regionId"],
        app.region_id(TOWNSHIP_B).to_string()
    );
    assert_eq!(regions[0]["rank"], 1);
    assert_eq!(regions[0]["score"], 80.0);
    assert_eq!(
        regions[1]["group"]["regionId"],
        app.region_id(TOWNSHIP_A).to_string()
    );
    assert_eq!(regions[1]["rank"], 2);
    assert_eq!(regions[1]["score"], 57.5);
    assert!(
        regions[2]["rank"].is_null() && regions[2]["score"].is_null(),
        "{published}"
    );
    assert_eq!(
        published["data"]["publishRanking"]["weights"],
        json!([40.0, 30.0, 20.0, 10.0])
    );

    // A late rating of C26 and a late closure of C8 change the live figures...
    use sea_orm::{ColumnTrait, QueryFilter};
    entity::case::Entity::update_many()
        .col_expr(
            entity::case::Column::Rating,
            sea_orm::sea_query::Expr::value(5),
        )
        .filter(entity::case::Column::Id.eq(ids["C26"]))
        .exec(&app.db)
        .await
        .unwrap();
    entity::case::Entity::update_many()
        .col_expr(
            entity::case::Column::Status,
            sea_orm::sea_query::Expr::value("CLOSED"),
        )
        .col_expr(
            entity::case::Column::ClosedAt,
            sea_orm::sea_query::Expr::value(t("10-30 10:00")),
        )
        .filter(entity::case::Column::Id.eq(ids["C8"]))
        .exec(&app.db)
        .await
        .unwrap();
    let live = stats(&app, &admin, COUNTY, "2026-10-01", "2026-10-31", "REGION").await;
    let b_live = row(&live, "regionId", &app.region_id(TOWNSHIP_B).to_string());
    assert_eq!(b_live["satisfaction"], 0.5, "{live}");
    let a_live = row(&live, "regionId", &app.region_id(TOWNSHIP_A).to_string());
    assert_eq!(a_live["closed"], 4, "{live}");

    // ...never the published ranking, read by a township supervisor too.
    for token in [&admin, &sup] {
        let b = app.gql(Some(token), RANKINGS, vars.clone()).await;
        assert_eq!(b["data"]["rankings"]["regions"], json!(regions), "{b}");
    }
    let again = app.gql(Some(&admin), PUBLISH, vars.clone()).await;
    assert_eq!(error_code(&again), "CONFLICT", "{again}");
    let b = app.gql(Some(&admin), RANKINGS, vars).await;
    assert_eq!(b["data"]["rankings"]["regions"], json!(regions), "{b}");
}
both!(frozen_rankings, rankings_are_frozen);

async fn stats_are_scoped(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    load(&app).await;
    let (sup, _) = app.login("demo-sup-140521100").await;
    // Another township: as if it did not exist.
    let b = stats(&app, &sup, TOWNSHIP_B, "2026-09-01", "2026-10-31", "REGION").await;
    assert_eq!(error_code(&b), "NOT_FOUND", "{b}");
    // The county: only the supervisor's own township counts.
    let b = stats(&app, &sup, COUNTY, "2026-09-01", "2026-10-31", "REGION").await;
    check("county seen from A", &b["data"]["stats"]["total"], A);
    check(
        "B seen from A",
        row(&b, "regionId", &app.region_id(TOWNSHIP_B).to_string()),
        ZERO,
    );
    // Periods are checked.
    let b = stats(&app, &sup, TOWNSHIP_A, "2026-10-31", "2026-10-01", "REGION").await;
    assert_eq!(
        b["errors"][0]["extensions"]["detail"], "INVALID_PERIOD",
        "{b}"
    );
    let b = stats(&app, &sup, TOWNSHIP_A, "2025-01-01", "2026-10-01", "REGION").await;
    assert_eq!(
        b["errors"][0]["extensions"]["detail"], "PERIOD_TOO_LONG",
        "{b}"
    );
    // The public gets nothing.
    let public = crate::helpers::cases::public_login(&app, "o-stats-openid").await;
    let b = stats(
        &app,
        &public,
        TOWNSHIP_A,
        "2026-09-01",
        "2026-10-31",
        "REGION",
    )
    .await;
    assert_eq!(error_code(&b), "FORBIDDEN", "{b}");
}
both!(scoped_stats, stats_are_scoped);

/// GET an export; (status, content type, body).
async fn export(app: &TestApp, token: Option<&str>, path: &str) -> (u16, String, Vec<u8>) {
    let mut req = app.client.get(format!("{}/exports/{path}", app.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ct, resp.bytes().await.unwrap().to_vec())
}

fn parse_csv(body: &[u8]) -> Vec<Vec<String>> {
    let text = std::str::from_utf8(body).unwrap();
    let text = text
        .strip_prefix('\u{feff}')
        .expect("CSV starts with a UTF-8 BOM for Excel");
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

fn parse_xlsx(body: &[u8]) -> Vec<Vec<String>> {
    use calamine::{Data, Reader, Xlsx};
    let mut wb = Xlsx::new(std::io::Cursor::new(body.to_vec())).unwrap();
    let range = wb.worksheet_range_at(0).unwrap().unwrap();
    range
        .rows()
        .map(|r| {
            r.iter()
                .map(|c| match c {
                    Data::Empty => String::new(),
                    Data::String(s) => s.clone(),
                    Data::Float(f) if f.fract() == 0.0 => format!("{}", *f as i64),
                    Data::Float(f) => format!("{f:.4}"),
                    Data::Int(i) => i.to_string(),
                    other => format!("{other:?}"),
                })
                .collect()
        })
        .collect()
}

async fn exports_are_tables_people_open(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    load(&app).await;
    let (admin, _) = app.login("demo-admin").await;
    let county = app.region_id(COUNTY);
    let q = format!("regionId={county}&from=2026-09-01&to=2026-10-31");
    let snap = app.state.services.grid.snapshot();
    let name = |code: &str| snap.by_code(code).unwrap().name.clone();
    let inspector = {
        use sea_orm::{ColumnTrait, QueryFilter};
        entity::app_user::Entity::find()
            .filter(entity::app_user::Column::Username.eq(format!("demo-insp-{A1}")))
            .one(&app.db)
            .await
            .unwrap()
            .unwrap()
            .name
    };
    // C3: late handling, rated 4 (times in Asia/Shanghai).
    let c3 = |rows: &[Vec<String>]| -> Vec<String> {
        rows.iter()
            .find(|r| r[0] == "EV-C3")
            .unwrap_or_else(|| panic!("no C3 in {rows:?}"))
            .clone()
    };
    let expect_c3 = |r: &[String]| {
        assert_eq!(r[1], "群众举报");
        assert_eq!(r[3], name(TOWNSHIP_A));
        assert_eq!(r[4], name(A1));
        assert_eq!(r[5], "已办结");
        assert_eq!(r[8], "2026-09-24 15:00:00");
        assert_eq!(r[10], "2026-09-24 17:30:00");
        assert_eq!(r[11], "2026-09-28 09:30:00");
        assert_eq!(r[12], "2026-09-28 11:00:00");
        assert_eq!(r[13], "否");
        assert_eq!(r[14], "0");
        assert_eq!(r[15], "4");
        assert_eq!(r[16], inspector);
    };
    // The cases created in the period: 16 in A (C1–C13, C15, C16, C29), 11 in B.
    let (status, ct, body) = export(&app, Some(&admin), &format!("cases.csv?{q}")).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(ct.starts_with("text/csv"), "{ct}");
    let rows = parse_csv(&body);
    assert_eq!(rows[0][0], "案件编号");
    assert_eq!(rows[0].len(), 18);
    assert_eq!(rows.len(), 1 + 27, "{rows:?}");
    expect_c3(&c3(&rows));
    let (status, ct, body) = export(&app, Some(&admin), &format!("cases.xlsx?{q}")).await;
    assert_eq!(status, 200);
    assert!(ct.contains("spreadsheetml"), "{ct}");
    let rows = parse_xlsx(&body);
    assert_eq!(rows.len(), 1 + 27);
    assert_eq!(rows[0][13], "按期处置");
    expect_c3(&c3(&rows));

    // The indicator table: one row per township, then 合计.
    let (status, _, body) =
        export(&app, Some(&admin), &format!("stats.csv?{q}&groupBy=REGION")).await;
    assert_eq!(status, 200);
    let rows = parse_csv(&body);
    assert_eq!(rows[0][0], "区域");
    assert_eq!(rows[0][1], "上报数");
    let a = rows.iter().find(|r| r[0] == name(TOWNSHIP_A)).unwrap();
    assert_eq!(
        (a[1].as_str(), a[2].as_str(), a[3].as_str()),
        ("14", "12", "85.7%")
    );
    let total = rows.last().unwrap();
    assert_eq!((total[0].as_str(), total[1].as_str()), ("合计", "23"));
    let (status, _, body) = export(&app, Some(&admin), &format!("stats.xlsx?{q}")).await;
    assert_eq!(status, 200);
    let rows = parse_xlsx(&body);
    let b = rows.iter().find(|r| r[0] == name(TOWNSHIP_B)).unwrap();
    // 有效上报率 of B: 8 / 9, stored as a number formatted as a percentage.
    assert_eq!((b[1].as_str(), b[3].as_str()), ("9", "0.8889"));

    // Scope and input errors, as JSON with a status.
    let (sup, _) = app.login("demo-sup-140521100").await;
    let (status, _, body) = export(&app, Some(&sup), &format!("cases.csv?{q}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        parse_csv(&body).len(),
        1 + 16,
        "the supervisor's township only"
    );
    let b_region = app.region_id(TOWNSHIP_B);
    let err = |body: &[u8]| -> Value { serde_json::from_slice(body).unwrap() };
    let (status, _, body) = export(
        &app,
        Some(&sup),
        &format!("cases.xlsx?regionId={b_region}&from=2026-09-01&to=2026-10-31"),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(err(&body)["errors"][0]["extensions"]["code"], "NOT_FOUND");
    let (status, _, body) = export(&app, None, &format!("cases.csv?{q}")).await;
    assert_eq!(status, 401);
    assert_eq!(
        err(&body)["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );
    let public = crate::helpers::cases::public_login(&app, "o-export-openid").await;
    let (status, _, _) = export(&app, Some(&public), &format!("stats.csv?{q}")).await;
    assert_eq!(status, 403);
    let (status, _, body) = export(
        &app,
        Some(&admin),
        &format!("cases.csv?regionId={county}&from=2026/09/01&to=2026-10-31"),
    )
    .await;
    assert_eq!(status, 400);
    let e = err(&body);
    assert_eq!(
        e["errors"][0]["extensions"]["detail"], "INVALID_DATE",
        "{e}"
    );
    assert_eq!(e["errors"][0]["extensions"]["field"], "from", "{e}");
    let (status, _, body) =
        export(&app, Some(&admin), &format!("stats.csv?{q}&groupBy=WEEK")).await;
    assert_eq!(status, 400);
    assert_eq!(err(&body)["errors"][0]["extensions"]["field"], "groupBy");
    let (status, _, _) = export(&app, Some(&admin), &format!("cases.pdf?{q}")).await;
    assert_eq!(status, 404);
}
both!(exports, exports_are_tables_people_open);
