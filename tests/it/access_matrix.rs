//! The authorization matrix: every query and mutation of the schema × each role ×
//! (own object, sibling village, other township, other county) → allowed or the
//! expected code. The operations are read from the schema itself, so a new operation
//! without a row here fails the test.

use std::collections::BTreeSet;

use chrono::Utc;
use entity::case;
use gridwatch::auth::token::Subject;
use gridwatch::domain::accounts::{NewUser, create_user_unscoped};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
use serde_json::{Value, json};
use sha2::Digest;

use crate::both;
use crate::helpers::{Backend, TestApp};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Admin,
    Supervisor,
    Inspector,
    Public,
    Anonymous,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Own,
    SiblingVillage,
    OtherTownship,
    OtherCounty,
}

impl Target {
    fn village(self) -> &'static str {
        match self {
            Self::Own => "140521100201",
            Self::SiblingVillage => "140521100202",
            Self::OtherTownship => "140521101201",
            Self::OtherCounty => "140522100201",
        }
    }
}

const WHO: [Who; 5] = [
    Who::Admin,
    Who::Supervisor,
    Who::Inspector,
    Who::Public,
    Who::Anonymous,
];
const TARGETS: [Target; 4] = [
    Target::Own,
    Target::SiblingVillage,
    Target::OtherTownship,
    Target::OtherCounty,
];

/// What each operation answers, by role and target.
fn expected(op: &str, who: Who, target: Target) -> Option<&'static str> {
    let manage = |who: Who| match who {
        Who::Admin => (target == Target::OtherCounty).then_some("NOT_FOUND"),
        Who::Supervisor => {
            matches!(target, Target::OtherTownship | Target::OtherCounty).then_some("NOT_FOUND")
        }
        Who::Inspector | Who::Public => Some("FORBIDDEN"),
        Who::Anonymous => Some("UNAUTHENTICATED"),
    };
    match op {
        // Public reference data and the doors in.
        "regions" | "region" | "locate" | "categories" | "login" | "refreshToken" | "logout"
        | "loginWithWechat" => None,
        "me" => (who == Who::Anonymous).then_some("UNAUTHENTICATED"),
        "users" | "createUser" | "updateUser" | "deactivateUser" | "resetPassword" => manage(who),
        "myTasks" | "changesSince" => match who {
            Who::Public => Some("FORBIDDEN"),
            Who::Anonymous => Some("UNAUTHENTICATED"),
            _ => None,
        },
        "myTips" | "submitTip" => match who {
            Who::Public => None,
            Who::Anonymous => Some("UNAUTHENTICATED"),
            _ => Some("FORBIDDEN"),
        },
        "tipByTrackingCode" => None,
        "cases" | "createTask" => match who {
            Who::Inspector if op == "cases" => (target != Target::Own).then_some("NOT_FOUND"),
            Who::Inspector => Some("FORBIDDEN"),
            other => manage(other),
        },
        // `case(id)` answers null, not an error, outside scope.
        "case" => match who {
            Who::Admin => (target == Target::OtherCounty).then_some("NULL"),
            Who::Supervisor => {
                matches!(target, Target::OtherTownship | Target::OtherCounty).then_some("NULL")
            }
            Who::Inspector => (target != Target::Own).then_some("NULL"),
            Who::Public => Some("FORBIDDEN"),
            Who::Anonymous => Some("UNAUTHENTICATED"),
        },
        "reportCase" => match who {
            Who::Inspector => (target != Target::Own).then_some("BAD_INPUT"),
            Who::Anonymous => Some("UNAUTHENTICATED"),
            _ => Some("FORBIDDEN"),
        },
        "acceptCase" | "rejectCase" | "assignCase" | "verifyCase" | "extendCase" | "parkCase"
        | "resumeCase" | "mergeCase" | "reviewTipText" => match who {
            Who::Inspector => Some(if target == Target::Own {
                "FORBIDDEN"
            } else {
                "NOT_FOUND"
            }),
            other => manage(other),
        },
        "startCase" | "submitCase" => match who {
            Who::Inspector => (target != Target::Own).then_some("NOT_FOUND"),
            Who::Admin => Some(if target == Target::OtherCounty {
                "NOT_FOUND"
            } else {
                "FORBIDDEN"
            }),
            Who::Supervisor => Some(if matches!(target, Target::Own | Target::SiblingVillage) {
                "FORBIDDEN"
            } else {
                "NOT_FOUND"
            }),
            Who::Public => Some("FORBIDDEN"),
            Who::Anonymous => Some("UNAUTHENTICATED"),
        },
        "escalateCase" => match who {
            Who::Inspector => (target != Target::Own).then_some("NOT_FOUND"),
            other => manage(other),
        },
        "requestEvidenceUpload" | "confirmEvidence" | "uploadEvidence" => match who {
            Who::Inspector => (target != Target::Own).then_some("NOT_FOUND"),
            Who::Public => Some("NOT_FOUND"),
            other => manage(other),
        },
        "rateCase" => match who {
            Who::Public => (target != Target::Own).then_some("NOT_FOUND"),
            Who::Anonymous => Some("UNAUTHENTICATED"),
            _ => Some("FORBIDDEN"),
        },
        // County staff only; webhooks are scoped by region, dead letters are the system's.
        "webhooks" | "deadLetters" | "retryDeadLetter" => match who {
            Who::Admin => None,
            Who::Anonymous => Some("UNAUTHENTICATED"),
            _ => Some("FORBIDDEN"),
        },
        // Open311 api_keys: county staff, scoped by the issuer's county.
        "open311Clients" | "createOpen311Client" => match who {
            Who::Admin => None,
            Who::Anonymous => Some("UNAUTHENTICATED"),
            _ => Some("FORBIDDEN"),
        },
        "createWebhook" | "deactivateWebhook" | "revokeOpen311Client" => match who {
            Who::Admin => (target == Target::OtherCounty).then_some("NOT_FOUND"),
            Who::Anonymous => Some("UNAUTHENTICATED"),
            _ => Some("FORBIDDEN"),
        },
        // A staff member's own notifications; nobody else's exist for them.
        "notifications" | "unreadNotifications" | "markNotificationsRead" => match who {
            Who::Public => Some("FORBIDDEN"),
            Who::Anonymous => Some("UNAUTHENTICATED"),
            _ => None,
        },
        // Which subscribe-message templates to request: public configuration.
        "messageTemplates" => None,
        // 一公开: published for everyone.
        "publicCases" => None,
        // A tipster's own grants. The matrix's server has no templates configured, so
        // the tipster's probe passes authorization and stops at the template check.
        "recordSubscription" => match who {
            Who::Public => Some("BAD_INPUT"),
            Who::Anonymous => Some("UNAUTHENTICATED"),
            _ => Some("FORBIDDEN"),
        },
        // The site register: staff read within scope (inspectors their grid), county
        // staff and supervisors change it; a site outside scope is missing (or null).
        "sites" => match who {
            Who::Inspector => (target != Target::Own).then_some("NOT_FOUND"),
            other => manage(other),
        },
        "site" => match who {
            Who::Admin => (target == Target::OtherCounty).then_some("NULL"),
            Who::Supervisor => {
                matches!(target, Target::OtherTownship | Target::OtherCounty).then_some("NULL")
            }
            Who::Inspector => (target != Target::Own).then_some("NULL"),
            Who::Public => Some("FORBIDDEN"),
            Who::Anonymous => Some("UNAUTHENTICATED"),
        },
        "updateSite" | "archiveSite" => manage(who),
        // Evaluation: staff read figures of a region in (or above) their scope; a region
        // beside it is missing. Only county staff publish a ranking.
        "stats" | "rankings" => match who {
            Who::Admin => (target == Target::OtherCounty).then_some("NOT_FOUND"),
            Who::Supervisor => {
                matches!(target, Target::OtherTownship | Target::OtherCounty).then_some("NOT_FOUND")
            }
            Who::Inspector => (target != Target::Own).then_some("NOT_FOUND"),
            Who::Public => Some("FORBIDDEN"),
            Who::Anonymous => Some("UNAUTHENTICATED"),
        },
        "publishRanking" => match who {
            Who::Admin => (target == Target::OtherCounty).then_some("NOT_FOUND"),
            Who::Anonymous => Some("UNAUTHENTICATED"),
            _ => Some("FORBIDDEN"),
        },
        // A location (or a file's row) outside the viewer's region is an input error.
        "createSite" | "importSites" => match who {
            Who::Admin => (target == Target::OtherCounty).then_some("BAD_INPUT"),
            Who::Supervisor => {
                matches!(target, Target::OtherTownship | Target::OtherCounty).then_some("BAD_INPUT")
            }
            Who::Inspector | Who::Public => Some("FORBIDDEN"),
            Who::Anonymous => Some("UNAUTHENTICATED"),
        },
        // Patrols: plans and patrols read like sites (an inspector reads only their own:
        // the target's plan or patrol belongs to the target village's inspector).
        "patrolPlans" | "patrols" => match who {
            Who::Inspector => (target != Target::Own).then_some("NOT_FOUND"),
            other => manage(other),
        },
        "patrolPlan" | "patrol" => match who {
            Who::Admin => (target == Target::OtherCounty).then_some("NULL"),
            Who::Supervisor => {
                matches!(target, Target::OtherTownship | Target::OtherCounty).then_some("NULL")
            }
            Who::Inspector => (target != Target::Own).then_some("NULL"),
            Who::Public => Some("FORBIDDEN"),
            Who::Anonymous => Some("UNAUTHENTICATED"),
        },
        "myPatrolPlan" => match who {
            Who::Public => Some("FORBIDDEN"),
            Who::Anonymous => Some("UNAUTHENTICATED"),
            _ => None,
        },
        "patrolCoverage" | "createPatrolPlan" | "updatePatrolPlan" | "archivePatrolPlan" => {
            manage(who)
        }
        // Only the inspector walking a patrol writes to it.
        "startPatrol" => match who {
            Who::Inspector => None,
            Who::Anonymous => Some("UNAUTHENTICATED"),
            _ => Some("FORBIDDEN"),
        },
        "appendTrack" | "checkIn" | "endPatrol" => match who {
            Who::Inspector => (target != Target::Own).then_some("NOT_FOUND"),
            Who::Anonymous => Some("UNAUTHENTICATED"),
            _ => Some("FORBIDDEN"),
        },
        "revealTipster" => match who {
            Who::Admin => (target == Target::OtherCounty).then_some("NOT_FOUND"),
            Who::Supervisor | Who::Inspector | Who::Public => Some("FORBIDDEN"),
            Who::Anonymous => Some("UNAUTHENTICATED"),
        },
        // 双随机: county staff and supervisors draw, read, verify and publish within their
        // region; a draw (or region) outside it is missing, `draw(id)` answers null.
        "drawRandomInspection" | "draws" | "verifyDraw" | "publishDraw" => manage(who),
        "draw" => match who {
            Who::Admin => (target == Target::OtherCounty).then_some("NULL"),
            Who::Supervisor => {
                matches!(target, Target::OtherTownship | Target::OtherCounty).then_some("NULL")
            }
            Who::Inspector | Who::Public => Some("FORBIDDEN"),
            Who::Anonymous => Some("UNAUTHENTICATED"),
        },
        // 一公开: published draws are for everyone.
        "publicDraws" => None,
        // Campaigns (专项行动): county staff manage them within their county; township
        // supervisors read those reaching their township; `campaign(id)` answers null
        // outside scope.
        "campaigns" => manage(who),
        "campaign" => match who {
            Who::Admin => (target == Target::OtherCounty).then_some("NULL"),
            Who::Supervisor => {
                matches!(target, Target::OtherTownship | Target::OtherCounty).then_some("NULL")
            }
            Who::Inspector | Who::Public => Some("FORBIDDEN"),
            Who::Anonymous => Some("UNAUTHENTICATED"),
        },
        "createCampaign" | "updateCampaign" | "endCampaign" => match who {
            Who::Admin => (target == Target::OtherCounty).then_some("NOT_FOUND"),
            Who::Anonymous => Some("UNAUTHENTICATED"),
            _ => Some("FORBIDDEN"),
        },
        other => panic!("operation `{other}` has no row in the authorization matrix"),
    }
}

fn schema_operations() -> BTreeSet<String> {
    crate::helpers::schema::schema()
        .operations
        .into_iter()
        .map(|o| o.name)
        .collect()
}

struct World {
    admin: String,
    supervisor: String,
    inspector: String,
    public: String,
    public_tipster: i64,
    admin_id: i64,
    seq: std::sync::atomic::AtomicUsize,
}

impl World {
    async fn build(app: &TestApp) -> Self {
        app.state
            .services
            .grid
            .import(crate::helpers::OTHER_COUNTY, app.now())
            .await
            .unwrap();
        let (admin, _) = app.login("demo-admin").await;
        let (supervisor, _) = app.login("demo-sup-140521100").await;
        let (inspector, _) = app.login("demo-insp-140521100201").await;
        let tester =
            gridwatch::domain::tipsters::find_or_create(&app.state.services, "matrix-openid")
                .await
                .unwrap();
        let (public, _) = app
            .state
            .services
            .keys
            .issue(Subject::Tipster(tester.id), app.now())
            .unwrap();
        Self {
            admin,
            supervisor,
            inspector,
            public,
            public_tipster: tester.id,
            admin_id: crate::helpers::cases::user_id(app, "demo-admin").await,
            seq: Default::default(),
        }
    }

    fn token(&self, who: Who) -> Option<&str> {
        match who {
            Who::Admin => Some(&self.admin),
            Who::Supervisor => Some(&self.supervisor),
            Who::Inspector => Some(&self.inspector),
            Who::Public => Some(&self.public),
            Who::Anonymous => None,
        }
    }

    fn next(&self) -> usize {
        self.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// A fresh inspector bound to the target's village (so destructive rows never
    /// touch the viewers).
    async fn target_user(&self, app: &TestApp, target: Target) -> i64 {
        let snap = app.state.services.grid.snapshot();
        let u = create_user_unscoped(
            &app.db,
            &snap,
            NewUser {
                username: format!("target-{}", self.next()),
                password: "Target-pass-2026".into(),
                role: "INSPECTOR".into(),
                region_id: app.region_id(target.village()),
                name: None,
                phone: None,
            },
            app.now(),
        )
        .await
        .unwrap();
        u.id
    }

    /// A pending tip-off case in the target's village with a tipster behind it.
    async fn target_case(&self, app: &TestApp, target: Target) -> i64 {
        self.case_in(app, target, "PENDING", false, None).await
    }

    /// The demo inspector of the target's village (created for the other county).
    async fn village_inspector(&self, app: &TestApp, target: Target) -> i64 {
        use sea_orm::{ColumnTrait, QueryFilter};
        let name = format!("demo-insp-{}", target.village());
        if let Some(u) = entity::app_user::Entity::find()
            .filter(entity::app_user::Column::Username.eq(&name))
            .one(&app.db)
            .await
            .unwrap()
        {
            return u.id;
        }
        let snap = app.state.services.grid.snapshot();
        create_user_unscoped(
            &app.db,
            &snap,
            NewUser {
                username: name,
                password: "Target-pass-2026".into(),
                role: "INSPECTOR".into(),
                region_id: app.region_id(target.village()),
                name: None,
                phone: None,
            },
            app.now(),
        )
        .await
        .unwrap()
        .id
    }

    /// A case in the target's village in `status`, assigned to that village's
    /// inspector when `assigned`, reported by `tipster` (a fresh one when `None`).
    async fn case_in(
        &self,
        app: &TestApp,
        target: Target,
        status: &str,
        assigned: bool,
        tipster: Option<i64>,
    ) -> i64 {
        let tipster_id = match tipster {
            Some(t) => t,
            None => {
                gridwatch::domain::tipsters::find_or_create(
                    &app.state.services,
                    &format!("openid-{}", self.next()),
                )
                .await
                .unwrap()
                .id
            }
        };
        let assignee = if assigned {
            Some(self.village_inspector(app, target).await)
        } else {
            None
        };
        let snap = app.state.services.grid.snapshot();
        let region = snap.by_code(target.village()).unwrap();
        let category = entity::category::Entity::find()
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        let now = Utc::now();
        let (lat, lng) = region.centroid.unwrap();
        let n = self.next();
        case::ActiveModel {
            number: Set(format!("T-{n}")),
            tracking_code: Set(Some(format!("TRKA-{:04}-{:04}", n / 10_000, n % 10_000))),
            source: Set(crate::helpers::closed("TIP")),
            category_id: Set(category.id),
            title: Set("测试".into()),
            description: Set("测试案件".into()),
            status: Set(crate::helpers::closed(status)),
            priority: Set(crate::helpers::closed("NORMAL")),
            region_id: Set(region.id),
            region_path: Set(region.path.clone()),
            lat: Set(lat),
            lng: Set(lng),
            outside_grid: Set(false),
            tipster_id: Set(Some(tipster_id)),
            assignee_id: Set(assignee),
            rework_count: Set(0),
            escalation_level: Set(0),
            version: Set(1),
            parked_seconds: Set(0),
            extended_count: Set(0),
            checkin_far: Set(false),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&app.db)
        .await
        .unwrap()
        .id
    }

    /// A pending evidence of `case_id` whose bytes are already in storage.
    async fn uploaded_evidence(&self, app: &TestApp, case_id: i64) -> i64 {
        let photo = gridwatch::domain::media::fixtures::test_jpeg(64, 48, None);
        let key = gridwatch::storage::random_key("ev");
        app.state
            .services
            .storage
            .put_stream(
                &key,
                "image/jpeg",
                Box::new(std::io::Cursor::new(photo.clone())),
                1 << 20,
            )
            .await
            .unwrap();
        let now = Utc::now();
        entity::evidence::ActiveModel {
            case_id: Set(case_id),
            phase: Set(crate::helpers::closed("AFTER")),
            status: Set(crate::helpers::closed("PENDING")),
            object_key: Set(key.as_str().to_owned()),
            content_type: Set("image/jpeg".into()),
            byte_size: Set(photo.len() as i64),
            sha256: Set(hex::encode(sha2::Sha256::digest(&photo))),
            created_at: Set(now),
            expires_at: Set(now + chrono::Duration::minutes(10)),
            ..Default::default()
        }
        .insert(&app.db)
        .await
        .unwrap()
        .id
    }

    /// The request that exercises `op` against `target`.
    async fn probe(&self, app: &TestApp, op: &str, target: Target) -> (String, Value) {
        let snap = app.state.services.grid.snapshot();
        let village = snap.by_code(target.village()).unwrap();
        let (lat, lng) = village.centroid.unwrap();
        let q = |s: &str| s.to_owned();
        match op {
            "me" => (q("{ me { id } }"), json!({})),
            "notifications" => (
                q("{ notifications(first: 5, unreadOnly: true) { edges { node { id } } } }"),
                json!({}),
            ),
            "unreadNotifications" => (q("{ unreadNotifications }"), json!({})),
            "messageTemplates" => (q("{ messageTemplates { kind templateId } }"), json!({})),
            "recordSubscription" => (
                q(
                    "mutation { recordSubscription(templateIds: [\"tplNotConfigured\"]) { remaining } }",
                ),
                json!({}),
            ),
            "webhooks" => (q("{ webhooks { id } }"), json!({})),
            "deadLetters" => (
                q("{ deadLetters(first: 5) { edges { node { id } } } }"),
                json!({}),
            ),
            "createWebhook" => (
                q(
                    "mutation($r: ID!) { createWebhook(regionId: $r, url: \"http://127.0.0.1:9/h\") { secret } }",
                ),
                json!({ "r": village.id.to_string() }),
            ),
            "open311Clients" => (q("{ open311Clients { id } }"), json!({})),
            "createOpen311Client" => (
                q("mutation { createOpen311Client(name: \"矩阵测试应用\") { apiKey } }"),
                json!({}),
            ),
            "revokeOpen311Client" => {
                let county = snap
                    .ancestor_at(village, gridwatch::domain::grid::RegionLevel::County)
                    .unwrap();
                let client =
                    entity::open311_client::Entity::insert(entity::open311_client::ActiveModel {
                        name: Set("矩阵测试应用".into()),
                        key_hash: Set(uuid::Uuid::new_v4().simple().to_string()),
                        key_prefix: Set("o311_matrix".into()),
                        region_id: Set(county.id),
                        created_by: Set(self.admin_id),
                        created_at: Set(app.now()),
                        ..Default::default()
                    })
                    .exec(&app.db)
                    .await
                    .unwrap()
                    .last_insert_id;
                (
                    q("mutation($id: ID!) { revokeOpen311Client(id: $id) { revokedAt } }"),
                    json!({ "id": client.to_string() }),
                )
            }
            "deactivateWebhook" => {
                let hook = entity::webhook::Entity::insert(entity::webhook::ActiveModel {
                    region_id: Set(village.id),
                    url: Set("http://127.0.0.1:9/h".into()),
                    secret_enc: Set(vec![0]),
                    active: Set(true),
                    created_by: Set(self.admin_id),
                    created_at: Set(app.now()),
                    ..Default::default()
                })
                .exec(&app.db)
                .await
                .unwrap()
                .last_insert_id;
                (
                    q("mutation($id: ID!) { deactivateWebhook(id: $id) { active } }"),
                    json!({ "id": hook.to_string() }),
                )
            }
            "retryDeadLetter" => {
                let dead = entity::outbox::Entity::insert(entity::outbox::ActiveModel {
                    topic: Set("WEBHOOK".into()),
                    payload: Set(json!({})),
                    created_at: Set(app.now()),
                    available_at: Set(app.now()),
                    attempts: Set(8),
                    dead_at: Set(Some(app.now())),
                    ..Default::default()
                })
                .exec(&app.db)
                .await
                .unwrap()
                .last_insert_id;
                (
                    q("mutation($id: ID!) { retryDeadLetter(id: $id) { attempts } }"),
                    json!({ "id": dead.to_string() }),
                )
            }
            "markNotificationsRead" => {
                (q("mutation { markNotificationsRead(ids: []) }"), json!({}))
            }
            "regions" => (
                q("query($p: ID) { regions(parentId: $p) { id } }"),
                json!({ "p": village.parent_id.unwrap().to_string() }),
            ),
            "region" => (
                q("query($id: ID!) { region(id: $id) { id } }"),
                json!({ "id": village.id.to_string() }),
            ),
            "locate" => (
                q("query($a: Float!, $o: Float!) { locate(lat: $a, lng: $o) { id } }"),
                json!({ "a": lat, "o": lng }),
            ),
            "categories" => (q("{ categories { id } }"), json!({})),
            "users" => (
                q("query($r: ID) { users(filter: { regionId: $r }) { edges { node { id } } } }"),
                json!({ "r": village.id.to_string() }),
            ),
            "login" => (
                q(
                    "mutation($p: String!) { login(username: \"demo-admin\", password: $p) { accessToken } }",
                ),
                json!({ "p": gridwatch::seed::DEMO_PASSWORD }),
            ),
            "refreshToken" | "logout" => {
                let (_, refresh) = app.login("demo-sup-140521101").await;
                let field = if op == "logout" {
                    "logout(refreshToken: $t)"
                } else {
                    "refreshToken(refreshToken: $t) { accessToken }"
                };
                (
                    format!("mutation($t: String!) {{ {field} }}"),
                    json!({ "t": refresh }),
                )
            }
            "loginWithWechat" => {
                let code = app.wechat_code(&format!("wx-openid-{}", self.next()));
                (
                    q("mutation($c: String!) { loginWithWechat(code: $c) { accessToken } }"),
                    json!({ "c": code }),
                )
            }
            "createUser" => (
                q("mutation($i: CreateUserInput!) { createUser(input: $i) { id } }"),
                json!({ "i": { "username": format!("new-{}", self.next()), "password": "Grid-2026-pass", "role": "INSPECTOR", "regionId": village.id.to_string() } }),
            ),
            "updateUser" => {
                let id = self.target_user(app, target).await;
                (
                    q(
                        "mutation($id: ID!) { updateUser(id: $id, input: { name: \"改名\" }) { id } }",
                    ),
                    json!({ "id": id.to_string() }),
                )
            }
            "deactivateUser" => {
                let id = self.target_user(app, target).await;
                (
                    q("mutation($id: ID!) { deactivateUser(id: $id) { id } }"),
                    json!({ "id": id.to_string() }),
                )
            }
            "resetPassword" => {
                let id = self.target_user(app, target).await;
                (
                    q(
                        "mutation($id: ID!) { resetPassword(id: $id, password: \"Reset-pass-2026\") }",
                    ),
                    json!({ "id": id.to_string() }),
                )
            }
            "revealTipster" => {
                let id = self.target_case(app, target).await;
                (
                    q(
                        "mutation($id: ID!) { revealTipster(caseId: $id, reason: \"核实举报内容需要联系举报人\") { openid } }",
                    ),
                    json!({ "id": id.to_string() }),
                )
            }
            "cases" => (
                q("query($r: ID) { cases(filter: { regionId: $r }) { edges { node { id } } } }"),
                json!({ "r": village.id.to_string() }),
            ),
            "case" => {
                let id = self.target_case(app, target).await;
                (
                    q("query($id: ID!) { case(id: $id) { id } }"),
                    json!({ "id": id.to_string() }),
                )
            }
            "myTasks" => (q("{ myTasks { edges { node { id } } } }"), json!({})),
            "publicCases" => (
                q("{ publicCases(first: 5) { edges { node { number outcome } } } }"),
                json!({}),
            ),
            "changesSince" => (
                q("{ changesSince(first: 5) { cases { id } removed cursor } }"),
                json!({}),
            ),
            "myTips" => (q("{ myTips { trackingCode } }"), json!({})),
            "tipByTrackingCode" => {
                let id = self.target_case(app, target).await;
                let c = case::Entity::find_by_id(id)
                    .one(&app.db)
                    .await
                    .unwrap()
                    .unwrap();
                (
                    q("query($c: String!) { tipByTrackingCode(code: $c) { status } }"),
                    json!({ "c": c.tracking_code }),
                )
            }
            "submitTip" => (
                q("mutation($i: SubmitTipInput!) { submitTip(input: $i) { trackingCode } }"),
                json!({ "i": { "categoryCode": "DUST", "description": "工地扬尘严重", "location": { "lat": lat, "lng": lng }, "idempotencyKey": format!("matrix-{}", self.next()) } }),
            ),
            "reportCase" => (
                q("mutation($i: ReportCaseInput!) { reportCase(input: $i) { id } }"),
                json!({ "i": { "categoryCode": "DUST", "description": "巡查发现工地扬尘", "location": { "lat": lat, "lng": lng }, "idempotencyKey": format!("matrix-{}", self.next()) } }),
            ),
            "createTask" => (
                q("mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }"),
                json!({ "i": { "categoryCode": "DUST", "title": "检查工地", "description": "检查工地六个百分百", "regionId": village.id.to_string() } }),
            ),
            "acceptCase" | "rejectCase" | "extendCase" | "parkCase" | "assignCase"
            | "mergeCase" => {
                let id = self.case_in(app, target, "PENDING", false, None).await;
                let (args, extra) = match op {
                    "acceptCase" => ("", json!({})),
                    "rejectCase" => (", reason: INVALID", json!({})),
                    "extendCase" => (
                        ", until: $until, reason: \"等待检测结果\"",
                        json!({ "until": (Utc::now() + chrono::Duration::days(30)).to_rfc3339() }),
                    ),
                    "parkCase" => (", reason: \"等待上级认定\"", json!({})),
                    "assignCase" => (
                        ", assigneeId: $a",
                        json!({ "a": self.village_inspector(app, target).await.to_string() }),
                    ),
                    _ => (
                        ", into: $into",
                        json!({ "into": self.case_in(app, target, "PENDING", false, None).await.to_string() }),
                    ),
                };
                workflow_probe(op, id, args, extra)
            }
            "verifyCase" => {
                let id = self.case_in(app, target, "SUBMITTED", true, None).await;
                workflow_probe(op, id, ", approve: true", json!({}))
            }
            "reviewTipText" => {
                let id = self.case_in(app, target, "PENDING", false, None).await;
                let mut am: case::ActiveModel = case::Entity::find_by_id(id)
                    .one(&app.db)
                    .await
                    .unwrap()
                    .unwrap()
                    .into();
                am.text_check = Set(Some(crate::helpers::closed("REVIEW")));
                am.update(&app.db).await.unwrap();
                workflow_probe(op, id, ", publish: true", json!({}))
            }
            "resumeCase" => {
                let id = self.case_in(app, target, "PENDING", false, None).await;
                let mut am: case::ActiveModel = case::Entity::find_by_id(id)
                    .one(&app.db)
                    .await
                    .unwrap()
                    .unwrap()
                    .into();
                am.parked_at = Set(Some(Utc::now()));
                am.update(&app.db).await.unwrap();
                workflow_probe(op, id, "", json!({}))
            }
            "startCase" => {
                let id = self.case_in(app, target, "ASSIGNED", true, None).await;
                workflow_probe(
                    op,
                    id,
                    ", location: $loc",
                    json!({ "loc": { "lat": lat, "lng": lng } }),
                )
            }
            "submitCase" => {
                let id = self.case_in(app, target, "IN_PROGRESS", true, None).await;
                for phase in ["BEFORE", "AFTER"] {
                    let ev = self.uploaded_evidence(app, id).await;
                    let mut am: entity::evidence::ActiveModel =
                        entity::evidence::Entity::find_by_id(ev)
                            .one(&app.db)
                            .await
                            .unwrap()
                            .unwrap()
                            .into();
                    am.phase = Set(crate::helpers::closed(phase));
                    am.status = Set(crate::helpers::closed("CONFIRMED"));
                    am.update(&app.db).await.unwrap();
                }
                workflow_probe(op, id, ", note: \"已处置\"", json!({}))
            }
            "escalateCase" => {
                let id = self.case_in(app, target, "ASSIGNED", true, None).await;
                workflow_probe(op, id, ", reason: \"需要县级协调\"", json!({}))
            }
            "rateCase" => {
                let tipster = (target == Target::Own).then_some(self.public_tipster);
                let id = self.case_in(app, target, "CLOSED", true, tipster).await;
                (
                    q("mutation($id: ID!) { rateCase(id: $id, score: 4) { rating } }"),
                    json!({ "id": id.to_string() }),
                )
            }
            "requestEvidenceUpload" => {
                let id = self.case_in(app, target, "ASSIGNED", true, None).await;
                let photo = gridwatch::domain::media::fixtures::test_jpeg(64, 48, None);
                (
                    q(
                        "mutation($i: RequestEvidenceUploadInput!) { requestEvidenceUpload(input: $i) { url } }",
                    ),
                    json!({ "i": { "caseId": id.to_string(), "phase": "AFTER", "contentType": "image/jpeg", "byteSize": photo.len(), "sha256": hex::encode(sha2::Sha256::digest(&photo)) } }),
                )
            }
            "confirmEvidence" => {
                let case_id = self.case_in(app, target, "ASSIGNED", true, None).await;
                let id = self.uploaded_evidence(app, case_id).await;
                (
                    q("mutation($id: ID!) { confirmEvidence(id: $id) { status } }"),
                    json!({ "id": id.to_string() }),
                )
            }
            "uploadEvidence" => {
                let id = self.case_in(app, target, "ASSIGNED", true, None).await;
                (q("MULTIPART"), json!({ "c": id.to_string() }))
            }
            "stats" => (
                q(
                    "query($r: ID!) { stats(regionId: $r, from: \"2026-10-01\", to: \"2026-10-31\") { total { closed } } }",
                ),
                json!({ "r": village.id.to_string() }),
            ),
            "rankings" => (
                q("query($r: ID!) { rankings(regionId: $r, month: \"2026-10\") { month } }"),
                json!({ "r": village.id.to_string() }),
            ),
            "publishRanking" => (
                q(
                    "mutation($r: ID!) { publishRanking(regionId: $r, month: \"2026-10\") { month } }",
                ),
                json!({ "r": village.id.to_string() }),
            ),
            "sites" => (
                q("query($r: ID) { sites(filter: { regionId: $r }) { edges { node { id } } } }"),
                json!({ "r": village.id.to_string() }),
            ),
            "site" => {
                let id = crate::sites::seed_site(app, target.village()).await;
                (
                    q("query($id: ID!) { site(id: $id) { id } }"),
                    json!({ "id": id.to_string() }),
                )
            }
            "createSite" => (
                q("mutation($i: CreateSiteInput!) { createSite(input: $i) { id } }"),
                json!({ "i": { "name": format!("矩阵养殖场{}", self.next()), "kind": "FARM", "location": { "lat": lat, "lng": lng }, "riskLevel": "LOW", "inspectEveryDays": 30 } }),
            ),
            "updateSite" | "archiveSite" => {
                let id = crate::sites::seed_site(app, target.village()).await;
                let call = if op == "updateSite" {
                    "updateSite(id: $id, input: { riskLevel: LOW })"
                } else {
                    "archiveSite(id: $id)"
                };
                (
                    format!("mutation($id: ID!) {{ {call} {{ id }} }}"),
                    json!({ "id": id.to_string() }),
                )
            }
            "importSites" => (
                q("MULTIPART_SITES"),
                json!({ "csv": format!("名称,类型,经度,纬度,风险等级,巡查频次(天)\n矩阵堆场{},堆场,{lng},{lat},高,7\n", self.next()) }),
            ),
            "drawRandomInspection" => {
                crate::sites::seed_site(app, target.village()).await;
                (
                    q(
                        "mutation($i: DrawRandomInspectionInput!) { drawRandomInspection(input: $i) { id } }",
                    ),
                    json!({ "i": { "regionId": village.id.to_string(), "count": 1, "period": "2026-Q4" } }),
                )
            }
            "draws" => (
                q("query($r: ID) { draws(regionId: $r) { edges { node { id } } } }"),
                json!({ "r": village.id.to_string() }),
            ),
            "draw" | "verifyDraw" | "publishDraw" => {
                let id = crate::draws::seed_draw(app, target.village()).await;
                let call = match op {
                    "draw" => "query($id: ID!) { draw(id: $id) { id } }",
                    "verifyDraw" => "query($id: ID!) { verifyDraw(id: $id) { matches } }",
                    _ => "mutation($id: ID!) { publishDraw(id: $id) { id } }",
                };
                (q(call), json!({ "id": id.to_string() }))
            }
            "publicDraws" => (
                q("query($r: ID) { publicDraws(regionId: $r) { edges { node { id } } } }"),
                json!({ "r": village.id.to_string() }),
            ),
            "patrolPlans" | "patrols" => (
                format!(
                    "query($r: ID) {{ {op}(filter: {{ regionId: $r }}) {{ edges {{ node {{ id }} }} }} }}"
                ),
                json!({ "r": village.id.to_string() }),
            ),
            "patrolPlan" | "patrol" => {
                let insp = self.village_inspector(app, target).await;
                let id = if op == "patrol" {
                    crate::patrols::seed_patrol(app, insp, target.village()).await
                } else {
                    crate::patrols::seed_plan(app, insp, target.village()).await
                };
                (
                    format!("query($id: ID!) {{ {op}(id: $id) {{ id }} }}"),
                    json!({ "id": id.to_string() }),
                )
            }
            "myPatrolPlan" => (
                q("{ myPatrolPlan(date: \"2026-12-04\") { done } }"),
                json!({}),
            ),
            "patrolCoverage" => (
                q(
                    "query($r: ID!) { patrolCoverage(regionId: $r, from: \"2026-12-01\", to: \"2026-12-03\") { days { planned } } }",
                ),
                json!({ "r": village.id.to_string() }),
            ),
            "createPatrolPlan" => {
                let insp = self.village_inspector(app, target).await;
                (
                    q(
                        "mutation($i: CreatePatrolPlanInput!) { createPatrolPlan(input: $i) { id } }",
                    ),
                    json!({ "i": { "inspectorId": insp.to_string(), "name": "矩阵日巡", "frequency": "DAILY", "windowStart": "08:00", "windowEnd": "10:00", "startsOn": "2026-12-01" } }),
                )
            }
            "updatePatrolPlan" | "archivePatrolPlan" => {
                // A fresh inspector each time, so no one inspector's plan cap is reached.
                let insp = self.target_user(app, target).await;
                let id = crate::patrols::seed_plan(app, insp, target.village()).await;
                let call = if op == "updatePatrolPlan" {
                    "updatePatrolPlan(id: $id, input: { windowEnd: \"11:00\" })"
                } else {
                    "archivePatrolPlan(id: $id)"
                };
                (
                    format!("mutation($id: ID!) {{ {call} {{ id }} }}"),
                    json!({ "id": id.to_string() }),
                )
            }
            "startPatrol" => (q("mutation { startPatrol { id } }"), json!({})),
            "appendTrack" | "checkIn" | "endPatrol" => {
                let insp = self.village_inspector(app, target).await;
                let id = crate::patrols::seed_patrol(app, insp, target.village()).await;
                let now = Utc::now().to_rfc3339();
                match op {
                    "appendTrack" => (
                        q(
                            "mutation($p: ID!, $pts: [TrackPointInput!]!) { appendTrack(patrolId: $p, points: $pts) { id } }",
                        ),
                        json!({ "p": id.to_string(), "pts": [{ "at": now, "lat": lat, "lng": lng }] }),
                    ),
                    "checkIn" => (
                        q("mutation($i: CheckInInput!) { checkIn(input: $i) { id } }"),
                        json!({ "i": { "patrolId": id.to_string(), "location": { "lat": lat, "lng": lng }, "nothingFound": true } }),
                    ),
                    _ => (
                        q("mutation($p: ID!) { endPatrol(patrolId: $p) { id } }"),
                        json!({ "p": id.to_string() }),
                    ),
                }
            }
            "campaigns" => (
                q("query($r: ID!) { campaigns(regionId: $r) { id } }"),
                json!({ "r": village.id.to_string() }),
            ),
            "createCampaign" => {
                let township = snap
                    .ancestor_at(village, gridwatch::domain::grid::RegionLevel::Township)
                    .unwrap();
                // Dates of their own, so that probes never overlap one another.
                let start = chrono::NaiveDate::from_ymd_opt(2030, 3, 1).unwrap()
                    + chrono::Duration::days(2 * self.next() as i64);
                (
                    q("mutation($i: CreateCampaignInput!) { createCampaign(input: $i) { id } }"),
                    json!({ "i": { "name": "矩阵专项行动", "regionId": township.id.to_string(), "categoryCodes": ["DUST"], "startsOn": start.to_string(), "endsOn": start.to_string(), "timeLimits": [{ "priority": "NORMAL", "step": "HANDLE", "amount": 4, "unit": "HOURS" }] } }),
                )
            }
            "campaign" | "updateCampaign" | "endCampaign" => {
                let id = crate::campaigns::seed_campaign(app, target.village()).await;
                let call = match op {
                    "campaign" => "query($id: ID!) { campaign(id: $id) { id } }",
                    "updateCampaign" => {
                        "mutation($id: ID!) { updateCampaign(id: $id, input: { name: \"矩阵改名\" }) { id } }"
                    }
                    _ => "mutation($id: ID!) { endCampaign(id: $id) { id } }",
                };
                (q(call), json!({ "id": id.to_string() }))
            }
            other => panic!("operation `{other}` has no probe in the authorization matrix"),
        }
    }
}

fn workflow_probe(op: &str, id: i64, args: &str, extra: Value) -> (String, Value) {
    let mut vars = extra;
    vars["id"] = json!(id.to_string());
    vars["version"] = json!(1);
    let decls = [
        ("until", "DateTime!"),
        ("a", "ID!"),
        ("into", "ID!"),
        ("loc", "LocationInput!"),
    ]
    .iter()
    .filter(|(k, _)| vars.get(*k).is_some())
    .map(|(k, t)| format!(", ${k}: {t}"))
    .collect::<String>();
    (
        format!(
            "mutation($id: ID!, $version: Int!{decls}) {{ {op}(id: $id, version: $version{args}) {{ id }} }}"
        ),
        vars,
    )
}

async fn authorization_matrix(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let world = World::build(&app).await;
    let ops = schema_operations();
    assert!(ops.len() >= 15, "{ops:?}");
    let mut failures = Vec::new();
    let mut rows = 0;
    for op in &ops {
        for who in WHO {
            for target in TARGETS {
                let want = expected(op, who, target);
                let (query, vars) = world.probe(&app, op, target).await;
                let body = if query == "MULTIPART" {
                    crate::helpers::evidence::multipart_upload(&app, world.token(who), &vars["c"])
                        .await
                } else if query == "MULTIPART_SITES" {
                    let csv = vars["csv"].as_str().unwrap().as_bytes().to_vec();
                    crate::sites::import_file(&app, world.token(who), "matrix.csv", csv).await
                } else {
                    app.gql(world.token(who), &query, vars).await
                };
                let got = body["errors"][0]["extensions"]["code"].as_str();
                let data_ok = body["data"].is_object() && body.get("errors").is_none();
                let field_null = body["data"][op.as_str()].is_null();
                let pass = match want {
                    None => data_ok && !field_null,
                    Some("NULL") => data_ok && field_null,
                    Some(code) => got == Some(code),
                };
                rows += 1;
                if !pass {
                    failures.push(format!(
                        "{op} × {who:?} × {target:?}: want {want:?}, got {body}"
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {rows} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
both!(authorization_matrix_holds, authorization_matrix);

#[test]
fn every_operation_has_a_row() {
    let ops = schema_operations();
    // The parser found the whole schema (a parser that found nothing would pass).
    assert!(ops.len() >= 35, "{} operations", ops.len());
    assert!(ops.contains("submitTip") && ops.contains("cases"));
    for op in ops {
        for who in WHO {
            for target in TARGETS {
                let _ = expected(&op, who, target);
            }
        }
    }
}
