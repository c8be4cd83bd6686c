//! The one test harness: `TestApp` (a running gridwatch on a fresh database), fresh
//! databases, the `both!` macro, and the shared steps in submodules — cases and the
//! workflow ([`cases`]), photos ([`evidence`]), the real S3 server ([`s3`]), the
//! WeChat stand-in ([`wechat_stub`]). Test modules import from here, never from each
//! other.

pub mod cases;
pub mod evidence;
pub mod pgcluster;
pub mod proxy;
pub mod receiver;
pub mod s3;
pub mod schema;
pub mod server;
pub mod wechat_stub;
pub mod ws;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use gridwatch::app::{self, BuildOptions};
use gridwatch::config::Config;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};

/// Which database a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Which evidence store a test runs against. An app on the folder store runs on
/// SQLite, an app on S3 on PostgreSQL (see [`evidence::spawn`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Fs,
    /// The suite's S3 server (s3s-fs by default, which does not verify checksums).
    S3,
    /// Garage, the second S3 server scripts/test.sh starts: it verifies the checksum of
    /// a POST policy, so upload tickets carry the declared SHA-256.
    Garage,
}

/// Runs an async test body once per backend: `both!(name, body_fn)` makes
/// `name::sqlite` and `name::postgres`; `both!(name, body_fn, stores)` makes `name::fs`,
/// `name::s3` and `name::garage` with a [`Store`].
#[macro_export]
macro_rules! both {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$body($crate::helpers::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$body($crate::helpers::Backend::Postgres).await;
            }
        }
    };
    ($name:ident, $body:ident, stores) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn fs() {
                super::$body($crate::helpers::Store::Fs).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn s3() {
                super::$body($crate::helpers::Store::S3).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn garage() {
                super::$body($crate::helpers::Store::Garage).await;
            }
        }
    };
}

/// The PostgreSQL server used for per-test databases (trust auth). CI sets nothing
/// and gets the machine's server; a server that cannot be reached fails the tests.
pub fn pg_admin_url() -> String {
    std::env::var("GRIDWATCH_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn pg_url_for(db: &str) -> String {
    let admin = pg_admin_url();
    match admin.rfind('/') {
        Some(i) => format!("{}/{db}", &admin[..i]),
        None => panic!("GRIDWATCH_TEST_PG_URL has no database part: {admin}"),
    }
}

fn unique_name(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        nanos % 1_000_000_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh, empty database (nothing migrated). Dropped with the guard.
pub struct FreshDb {
    pub url: String,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl FreshDb {
    pub async fn create(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("gridwatch.db");
                Self {
                    url: format!("sqlite://{}?mode=rwc", path.display()),
                    pg_name: None,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres => {
                let name = unique_name("gw_test");
                admin_exec(&format!("CREATE DATABASE \"{name}\"")).await;
                Self {
                    url: pg_url_for(&name),
                    pg_name: Some(name),
                    _dir: None,
                }
            }
        }
    }

    /// A fresh database already migrated and seeded, copied from a per-build template
    /// (PostgreSQL `CREATE DATABASE … TEMPLATE`), so tests do not migrate each time.
    pub async fn seeded(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let fresh = Self::create(backend).await;
                let db = fresh.connect().await;
                gridwatch::db::migrate(&db).await.unwrap();
                gridwatch::seed::seed_demo(&db, &dev_vault()).await.unwrap();
                db.close().await.unwrap();
                fresh
            }
            Backend::Postgres => {
                let template = pg_template().await;
                let name = unique_name("gw_test");
                admin_exec(&format!(
                    "CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""
                ))
                .await;
                Self {
                    url: pg_url_for(&name),
                    pg_name: Some(name),
                    _dir: None,
                }
            }
        }
    }

    pub async fn connect(&self) -> DatabaseConnection {
        Database::connect(self.url.as_str()).await.unwrap()
    }
}

impl Drop for FreshDb {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            // Drop needs async work; run it on its own small runtime.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(admin_exec(&format!(
                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                )));
            })
            .join();
        }
    }
}

async fn admin_exec(sql: &str) {
    let admin = Database::connect(pg_admin_url()).await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL at {} is required for the test suite and cannot be reached: {e}",
            pg_admin_url()
        )
    });
    admin
        .execute_raw(Statement::from_string(admin.get_database_backend(), sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    admin.close().await.ok();
}

/// The name of a migrated and seeded template database for this test binary build,
/// created once (under an advisory lock, so parallel test processes agree) and reused.
async fn pg_template() -> String {
    static NAME: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    NAME.get_or_init(|| async {
        let exe = std::env::current_exe().unwrap();
        let meta = std::fs::metadata(&exe).unwrap();
        let stamp = meta
            .modified()
            .unwrap()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let name = format!("gw_tpl_{stamp}_{}", meta.len() % 1_000_000);
        let admin = Database::connect(pg_admin_url()).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL at {} is required for the test suite: {e}",
                pg_admin_url()
            )
        });
        let backend = admin.get_database_backend();
        let txn_free_exec = |sql: String| {
            let admin = admin.clone();
            async move {
                admin
                    .execute_raw(Statement::from_string(backend, sql.clone()))
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
        };
        txn_free_exec("SELECT pg_advisory_lock(7411)".into()).await;
        let exists = admin
            .query_one_raw(Statement::from_string(
                backend,
                format!("SELECT 1 AS one FROM pg_database WHERE datname = '{name}'"),
            ))
            .await
            .unwrap()
            .is_some();
        if !exists {
            // Templates of builds more than a day older go; newer ones may belong to a
            // test run in progress elsewhere (another worktree, a CI clone).
            let old = admin
                .query_all_raw(Statement::from_string(
                    backend,
                    "SELECT datname FROM pg_database WHERE datname LIKE 'gw\\_tpl\\_%'".to_owned(),
                ))
                .await
                .unwrap();
            for row in old {
                let n: String = row.try_get("", "datname").unwrap();
                let their_stamp = n
                    .strip_prefix("gw_tpl_")
                    .and_then(|r| r.split('_').next())
                    .and_then(|s| s.parse::<u64>().ok())
                    .unwrap_or(0);
                if their_stamp + 86_400 < stamp {
                    txn_free_exec(format!("DROP DATABASE IF EXISTS \"{n}\" WITH (FORCE)")).await;
                }
            }
            let building = format!("{name}_building");
            txn_free_exec(format!(
                "DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"
            ))
            .await;
            txn_free_exec(format!("CREATE DATABASE \"{building}\"")).await;
            {
                let db = Database::connect(pg_url_for(&building)).await.unwrap();
                gridwatch::db::migrate(&db).await.unwrap();
                gridwatch::seed::seed_demo(&db, &dev_vault()).await.unwrap();
                db.close().await.unwrap();
            }
            txn_free_exec(format!(
                "ALTER DATABASE \"{building}\" RENAME TO \"{name}\""
            ))
            .await;
        }
        txn_free_exec("SELECT pg_advisory_unlock(7411)".into()).await;
        admin.close().await.ok();
        name
    })
    .await
    .clone()
}

/// The vault of the test configuration (the development key).
pub fn dev_vault() -> gridwatch::auth::vault::Vault {
    gridwatch::auth::vault::Vault::from_config(&Default::default(), false).unwrap()
}

/// A running server on a fresh database (base data and demo accounts seeded).
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub db: DatabaseConnection,
    pub state: gridwatch::app::AppState,
    /// The WeChat stand-in this server logs the public in through.
    pub wechat: wechat_stub::WechatStub,
    pub fresh: FreshDb,
    pub evidence_dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestApp {
    /// The test configuration for a database URL (no file, no process environment).
    pub fn config(db_url: &str, evidence_root: &std::path::Path) -> Config {
        let mut c = Config::default();
        c.server.addr = "127.0.0.1:0".parse().unwrap();
        c.database.url = db_url.to_owned();
        c.database.max_connections = 5;
        c.storage.fs_root = evidence_root.to_path_buf();
        c.grid.refresh_secs = 1;
        // Tests log in often from one address; the rate-limit tests set their own.
        c.limits.login_per_ip_per_minute = 100_000;
        c.limits.public_per_ip_per_minute = 100_000;
        c.limits.public_per_user_per_minute = 100_000;
        // Tests run the jobs themselves, at the moments the clock says.
        c.jobs.enabled = false;
        c
    }

    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Self {
        let fresh = FreshDb::seeded(backend).await;
        Self::spawn_on_with(fresh, tweak).await
    }

    pub async fn spawn_on_with(fresh: FreshDb, tweak: impl FnOnce(&mut Config)) -> Self {
        let evidence_dir = tempfile::tempdir().unwrap();
        let wechat = wechat_stub::WechatStub::start().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = Self::config(&fresh.url, evidence_dir.path());
        config.wechat = wechat.config();
        // Signed evidence URLs of the fs store must point at this very server.
        config.server.public_url = Some(format!("http://{addr}"));
        tweak(&mut config);
        let app = app::build(
            config,
            BuildOptions {
                demo: false,
                clock: gridwatch::domain::Clock::adjustable(),
            },
        )
        .await
        .unwrap();
        let db = app.state.services.db.clone();
        let state = app.state.clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            app.serve(listener, async {
                rx.await.ok();
            })
            .await
            .unwrap();
        });
        Self {
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            db,
            state,
            wechat,
            fresh,
            evidence_dir,
            shutdown: Some(tx),
        }
    }

    /// On PostgreSQL, waits until the server hears table changes (and so keeps
    /// `domain::cache` in memory); nothing to wait for on SQLite.
    pub async fn wait_for_cache(&self, backend: Backend) {
        if backend != Backend::Postgres {
            return;
        }
        for _ in 0..100 {
            if self.state.services.cache.caching() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the live listener never connected");
    }

    /// Now, on the server's clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.state.services.clock.now()
    }

    /// Sets the server's clock to `t` (it keeps running from there).
    pub fn set_now(&self, t: chrono::DateTime<chrono::Utc>) {
        self.advance(t - self.now());
    }

    /// Moves the server's clock (tests never sleep to let time pass).
    pub fn advance(&self, by: chrono::Duration) {
        assert!(
            self.state.services.clock.advance(by),
            "the test clock is adjustable"
        );
    }

    /// POSTs a GraphQL request and returns the JSON body (whatever the status).
    pub async fn graphql(&self, query: &str, variables: Value) -> Value {
        self.graphql_with(query, variables, &[]).await
    }

    pub async fn graphql_with(
        &self,
        query: &str,
        variables: Value,
        headers: &[(&str, &str)],
    ) -> Value {
        let mut req = self
            .client
            .post(format!("{}/graphql", self.base))
            .json(&json!({ "query": query, "variables": variables }));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let body = req.send().await.unwrap().json().await.unwrap();
        check_bad_input(&body);
        body
    }

    /// A GraphQL request with an optional bearer token.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut req = self
            .client
            .post(format!("{}/graphql", self.base))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let body = req.send().await.unwrap().json().await.unwrap();
        check_bad_input(&body);
        body
    }

    /// A GraphQL request with an optional bearer token; the answer's raw text (for
    /// what a parsed `Value` loses, such as the order of keys).
    pub async fn gql_text(&self, token: Option<&str>, query: &str) -> String {
        let mut req = self
            .client
            .post(format!("{}/graphql", self.base))
            .json(&json!({ "query": query }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap().text().await.unwrap()
    }

    /// A GraphQL multipart request (`operations`, `map`, one file part): `query` with
    /// `variables`, the file `(name, content type, bytes)` given as `$f`. The whole answer.
    pub async fn gql_upload(
        &self,
        token: Option<&str>,
        query: &str,
        mut variables: Value,
        (name, mime, bytes): (&str, &str, Vec<u8>),
    ) -> Value {
        variables["f"] = Value::Null;
        let form = reqwest::multipart::Form::new()
            .text(
                "operations",
                json!({ "query": query, "variables": variables }).to_string(),
            )
            .text("map", json!({ "0": ["variables.f"] }).to_string())
            .part(
                "0",
                reqwest::multipart::Part::bytes(bytes)
                    .file_name(name.to_owned())
                    .mime_str(mime)
                    .unwrap(),
            );
        let mut req = self
            .client
            .post(format!("{}/graphql", self.base))
            .multipart(form);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap().json().await.unwrap()
    }

    /// Logs a demo account in (password [`gridwatch::seed::DEMO_PASSWORD`]) and returns
    /// (access token, refresh token).
    pub async fn login(&self, username: &str) -> (String, String) {
        self.login_with(username, gridwatch::seed::DEMO_PASSWORD)
            .await
    }

    pub async fn login_with(&self, username: &str, password: &str) -> (String, String) {
        let body = self
            .graphql(
                "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken refreshToken } }",
                json!({ "u": username, "p": password }),
            )
            .await;
        assert!(body.get("errors").is_none(), "login {username}: {body:#}");
        (
            body["data"]["login"]["accessToken"]
                .as_str()
                .unwrap()
                .to_owned(),
            body["data"]["login"]["refreshToken"]
                .as_str()
                .unwrap()
                .to_owned(),
        )
    }

    /// A one-use `wx.login()` code for `openid` from the WeChat stand-in.
    pub fn wechat_code(&self, openid: &str) -> String {
        self.wechat.issue_code(openid)
    }

    /// The id of a region by code.
    pub fn region_id(&self, code: &str) -> i64 {
        self.state
            .services
            .grid
            .snapshot()
            .by_code(code)
            .unwrap_or_else(|| panic!("no region {code}"))
            .id
    }

    /// The data of a request that must succeed.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let body = self.graphql(query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }

    /// The `extensions.code` of the first error of a request that must fail.
    pub async fn error_code(&self, query: &str, variables: Value) -> String {
        let body = self.graphql(query, variables).await;
        error_code(&body)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The `extensions.code` of the first error in a response body.
pub fn error_code(body: &Value) -> String {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {body:#}"))
        .to_owned()
}

/// `BAD_INPUT` details about the request as a whole rather than one input (the query,
/// the body, the state of the case or upload): they name no field.
pub const WHOLE_REQUEST_DETAILS: &[&str] = &[
    "INVALID_QUERY",
    "MALFORMED_REQUEST",
    "UNREADABLE_BODY",
    "TOO_COMPLEX",
    "RESPONSE_TOO_LARGE",
    "MUTATION_OVER_GET",
    "TOO_MANY_PHOTOS",
    "TOO_MANY_WEBHOOKS",
    "TOO_MANY_CLIENTS",
    "NOT_UPLOADED_YET",
    "NOT_UPLOADED",
    "UPLOAD_UNREADABLE",
    "UPLOAD_INTERRUPTED",
    "SIZE_MISMATCH",
    "HASH_MISMATCH",
    "NOT_AN_IMAGE",
    "TYPE_MISMATCH",
    "DIMENSIONS_TOO_LARGE",
    "TOO_LARGE",
];

/// The suite-wide rule of every GraphQL answer a test reads through [`TestApp`]: each
/// `BAD_INPUT` carries a stable `detail`, and — unless it is about the whole request —
/// the `field` a form can highlight.
pub fn check_bad_input(body: &Value) {
    let Some(errors) = body.get("errors").and_then(Value::as_array) else {
        return;
    };
    for e in errors {
        let ext = &e["extensions"];
        if ext["code"] != "BAD_INPUT" {
            continue;
        }
        let detail = ext["detail"]
            .as_str()
            .unwrap_or_else(|| panic!("BAD_INPUT without a detail: {body}"));
        if !WHOLE_REQUEST_DETAILS.contains(&detail) {
            assert!(
                ext["field"].as_str().is_some_and(|f| !f.is_empty()),
                "BAD_INPUT {detail} names no field: {body}"
            );
        }
    }
}

/// Path of the built `gridwatch` binary.
pub fn gridwatch_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_gridwatch"))
}

/// A `gridwatch` command with a clean environment pointed at `db_url`.
pub fn gridwatch_cmd(db_url: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(gridwatch_bin());
    for (k, _) in std::env::vars() {
        if k.starts_with("GRIDWATCH") {
            cmd.env_remove(k);
        }
    }
    cmd.env("GRIDWATCH__DATABASE__URL", db_url)
        .env("RUST_LOG", "warn");
    cmd
}

/// A second county (阳城县) with one township and one village, for scope tests across
/// counties: `app.state.services.grid.import(OTHER_COUNTY, app.now())`.
pub const OTHER_COUNTY: &str = r#"{"type":"FeatureCollection","features":[
 {"type":"Feature","properties":{"code":"140522","name":"阳城县","level":"COUNTY","parent_code":null},"geometry":{"type":"Polygon","coordinates":[[[112.9,35.3],[113.1,35.3],[113.1,35.5],[112.9,35.5],[112.9,35.3]]]}},
 {"type":"Feature","properties":{"code":"140522100","name":"凤城镇","level":"TOWNSHIP","parent_code":"140522"},"geometry":{"type":"Polygon","coordinates":[[[112.9,35.3],[113.1,35.3],[113.1,35.5],[112.9,35.5],[112.9,35.3]]]}},
 {"type":"Feature","properties":{"code":"140522100201","name":"测试村","level":"VILLAGE","parent_code":"140522100"},"geometry":{"type":"Polygon","coordinates":[[[112.9,35.3],[113.1,35.3],[113.1,35.5],[112.9,35.5],[112.9,35.3]]]}}
]}"#;

/// A closed-set value by its stored name (`"PENDING"`), for rows a test writes itself.
pub fn closed<T: sea_orm::ActiveEnum<Value = String>>(name: &str) -> T {
    T::try_from_value(&name.to_owned()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Waits until the background job `name` has finished at least `passes` more runs (in
/// any process), as its `job_run.last_finished_at` moves; panics after `within`. For
/// tests of real server processes, whose jobs run on the wall clock.
pub async fn wait_for_job_passes(
    db: &DatabaseConnection,
    name: &str,
    passes: usize,
    within: std::time::Duration,
) {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let last = || async {
        entity::job_run::Entity::find()
            .filter(entity::job_run::Column::Name.eq(name))
            .one(db)
            .await
            .unwrap()
            .and_then(|r| r.last_finished_at)
    };
    let deadline = std::time::Instant::now() + within;
    let mut seen = last().await;
    let mut counted = 0;
    while counted < passes {
        assert!(
            std::time::Instant::now() < deadline,
            "job {name} finished only {counted} of {passes} runs within {within:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let now = last().await;
        if now != seen {
            counted += 1;
            seen = now;
        }
    }
}

/// On PostgreSQL, waits until every transaction that began before now has ended. The
/// log is read only below the oldest open transaction *of the cluster* (xids are
/// cluster-wide), so a long transaction of another test running beside this one (the
/// 100,000-row plan test, a database being created) holds this test's changes back for
/// a while: delayed by design, never lost. Waiting for the horizon keeps a sync test's
/// exact assertions free of that timing.
pub async fn settle(app: &TestApp) {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    if app.db.get_database_backend() != DbBackend::Postgres {
        return;
    }
    let now = app
        .db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT pg_current_xact_id()::text AS x",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<String>("", "x")
        .unwrap();
    for _ in 0..1200 {
        let passed = app
            .db
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_snapshot_xmin(pg_current_snapshot()) > $1::text::xid8 AS p",
                [now.clone().into()],
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get::<bool>("", "p")
            .unwrap();
        if passed {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("a transaction of the cluster stayed open for a minute");
}
