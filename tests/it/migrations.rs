//! Migrations run up, down and up again on both databases.

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Statement};

use crate::both;
use crate::helpers::{Backend, FreshDb};

async fn table_names(db: &sea_orm::DatabaseConnection, backend: Backend) -> Vec<String> {
    let sql = match backend {
        Backend::Sqlite => {
            "SELECT name AS t FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        }
        Backend::Postgres => {
            "SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        }
    };
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.try_get::<String>("", "t").unwrap())
        .collect()
}

const CORE_TABLES: &[&str] = &[
    "region",
    "app_user",
    "category",
    "category_time_limit",
    "case",
    "case_event",
    "evidence",
    "supervised_site",
    "tipster",
    "refresh_token",
    "idempotency_record",
    "outbox",
    "work_calendar_day",
    "sla_mark",
    "escalation_rule",
    "notification",
    "webhook",
    "tipster_subscription",
    "wechat_token",
    "job_run",
    "rate_limit",
    "open311_client",
];

async fn up_down_up(backend: Backend) {
    let fresh = FreshDb::create(backend).await;
    let db = fresh.connect().await;
    Migrator::up(&db, None).await.unwrap();
    let after_up = table_names(&db, backend).await;
    for t in CORE_TABLES {
        assert!(
            after_up.iter().any(|x| x == t),
            "table {t} missing after up: {after_up:?}"
        );
    }
    Migrator::down(&db, None).await.unwrap();
    let after_down = table_names(&db, backend).await;
    assert!(
        after_down.iter().all(|t| t == "seaql_migrations"),
        "tables left after down: {after_down:?}"
    );
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(table_names(&db, backend).await, after_up);
    assert!(
        Migrator::get_pending_migrations(&db)
            .await
            .unwrap()
            .is_empty()
    );
    db.close().await.unwrap();
}
both!(migrations_up_down_up, up_down_up);

async fn seeding_twice_changes_nothing(backend: Backend) {
    let fresh = FreshDb::create(backend).await;
    let db = fresh.connect().await;
    gridwatch::db::migrate(&db).await.unwrap();
    let first = gridwatch::seed::seed_base(&db).await.unwrap();
    assert_eq!(first.regions, 1 + 12 + 183);
    assert!(first.categories >= 15, "{first:?}");
    assert_eq!(first.time_limits, first.categories * 9);
    assert!(first.calendar_days >= 30, "{first:?}");
    let second = gridwatch::seed::seed_base(&db).await.unwrap();
    assert!(second.is_empty(), "second seeding inserted {second:?}");
    db.close().await.unwrap();
}
both!(seeding_is_idempotent, seeding_twice_changes_nothing);
