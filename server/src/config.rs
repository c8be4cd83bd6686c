//! Typed, layered configuration: defaults < `gridwatch.toml` < `GRIDWATCH__SECTION__KEY`.
//!
//! Passed in explicitly (never global). A bad value stops start-up with a message that
//! names both the TOML key and the environment variable.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::SecretString;
use serde::Deserialize;

/// Where the process runs; production tightens defaults and refuses demo data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// Local development and tests (the default).
    #[default]
    Development,
    /// A real deployment.
    Production,
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `development` (default) or `production`.
    pub env: Environment,
    /// HTTP server.
    pub server: ServerConfig,
    /// Database connection.
    pub database: DatabaseConfig,
    /// Evidence storage.
    pub storage: StorageConfig,
    /// The grid (region tree) index.
    pub grid: GridConfig,
    /// Logging.
    pub log: LogConfig,
    /// Tokens and login throttling.
    pub auth: AuthConfig,
    /// The WeChat mini-program login.
    pub wechat: WechatConfig,
    /// Encryption of personal data at rest (tipster identities, phone numbers).
    pub vault: VaultConfig,
    /// API limits (OWASP GraphQL): depth, complexity, page size, rate limits.
    pub limits: LimitsConfig,
    /// Photo evidence rules.
    pub evidence: EvidenceConfig,
    /// Background jobs (deadline sweeper, deliveries, text checks).
    pub jobs: JobsConfig,
    /// `/metrics` (Prometheus).
    pub metrics: MetricsConfig,
    /// Evaluation (考核): the weights of the ranking score.
    pub evaluation: EvaluationConfig,
}

/// Evaluation (考核): how the composite score (综合指标值) that rankings sort by weighs
/// the indicators. Weights are local policy; a ratio with no data drops out and the
/// remaining weights are rescaled, so a township is never ranked on a missing figure.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvaluationConfig {
    /// Weight of 按期处置率 (on-time handling rate).
    pub on_time_handle_weight: f64,
    /// Weight of 结案率 (closure rate).
    pub close_weight: f64,
    /// Weight of 公众满意度 (public satisfaction).
    pub satisfaction_weight: f64,
    /// Weight of one minus 返工率 (rework rate).
    pub no_rework_weight: f64,
}

impl Default for EvaluationConfig {
    fn default() -> Self {
        Self {
            on_time_handle_weight: 40.0,
            close_weight: 30.0,
            satisfaction_weight: 20.0,
            no_rework_weight: 10.0,
        }
    }
}

/// `/metrics` (Prometheus text).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Serve `/metrics`; default: yes outside production, no in production.
    pub enabled: Option<bool>,
    /// When set, scrapes must send `Authorization: Bearer <token>`.
    pub bearer_token: Option<SecretString>,
}

/// Background jobs run by `serve`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobsConfig {
    /// Run the jobs in this process (every process may: work is claimed per row).
    pub enabled: bool,
    /// How often (seconds) the deadline sweeper runs.
    pub sla_sweep_secs: u64,
    /// How often (seconds) the outbox is delivered.
    pub outbox_secs: u64,
    /// How often (seconds) tip-off texts are checked.
    pub text_check_secs: u64,
    /// Attempts of one delivery before it becomes a dead letter.
    pub max_attempts: i32,
    /// Wait before the first retry of a failed delivery, in seconds (doubled each time,
    /// at most an hour).
    pub retry_base_secs: u64,
    /// How often (seconds) orphaned evidence objects are swept.
    pub orphan_sweep_secs: u64,
    /// How long after an upload URL expired (or a photo was rejected or confirmed) its
    /// leftover objects are kept, in seconds.
    pub orphan_grace_secs: u64,
    /// Only report what the orphan sweep would delete (in the log and `job_run`).
    pub orphan_dry_run: bool,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            sla_sweep_secs: 60,
            outbox_secs: 5,
            text_check_secs: 30,
            max_attempts: 8,
            retry_base_secs: 5,
            orphan_sweep_secs: 3600,
            orphan_grace_secs: 86_400,
            orphan_dry_run: false,
        }
    }
}

/// Photo evidence rules.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvidenceConfig {
    /// Largest photo accepted, in bytes.
    pub max_bytes: u64,
    /// Validity of an upload URL, in seconds (at most 600).
    pub upload_url_secs: u64,
    /// Validity of a download URL, in seconds.
    pub download_url_secs: u64,
    /// A photo whose GPS is farther than this from the case (metres) is flagged.
    pub far_from_case_m: f64,
    /// Longest side of the public derivative, in pixels.
    pub derivative_max_side: u32,
    /// Photos one tipster may attach to their own tip-off.
    pub tipster_max_photos: u64,
    /// Largest photo a tipster may send, in bytes.
    pub tipster_max_bytes: u64,
}

impl Default for EvidenceConfig {
    fn default() -> Self {
        Self {
            max_bytes: 20 * 1024 * 1024,
            upload_url_secs: 600,
            download_url_secs: 300,
            far_from_case_m: 500.0,
            derivative_max_side: 1280,
            tipster_max_photos: 6,
            tipster_max_bytes: 10 * 1024 * 1024,
        }
    }
}

/// Access and refresh tokens.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// HMAC key of access tokens (HS256), at least 32 bytes. Required in production;
    /// development falls back to a fixed, public development key.
    pub jwt_secret: Option<SecretString>,
    /// `iss` of issued tokens, checked on every request.
    pub issuer: String,
    /// `aud` of issued tokens, checked on every request.
    pub audience: String,
    /// Access-token lifetime in seconds (at most 900).
    pub access_ttl_secs: u64,
    /// Refresh-token lifetime in days.
    pub refresh_ttl_days: u64,
    /// Failed logins of one username before it is locked.
    pub max_failed_logins: u32,
    /// How long a locked username stays locked, in seconds.
    pub lockout_secs: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            issuer: "gridwatch".into(),
            audience: "gridwatch-api".into(),
            access_ttl_secs: 900,
            refresh_ttl_days: 30,
            max_failed_logins: 5,
            lockout_secs: 900,
        }
    }
}

/// WeChat mini-program settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WechatConfig {
    /// Base URL of WeChat's API (a local stand-in in tests).
    pub api_base: String,
    /// The mini-program's AppID.
    pub appid: Option<String>,
    /// The mini-program's AppSecret.
    pub secret: Option<SecretString>,
    /// Timeout of one call to WeChat, in milliseconds.
    pub timeout_ms: u64,
    /// Check tip-off texts with `msg_sec_check` before the public may see them; default:
    /// on when an AppID is set. Off, texts count as checked at once.
    pub text_check: Option<bool>,
    /// Subscribe messages to tipsters.
    pub subscribe: SubscribeConfig,
}

impl WechatConfig {
    /// Whether tip-off texts go through `msg_sec_check`.
    pub fn checks_text(&self) -> bool {
        self.text_check
            .unwrap_or_else(|| self.appid.as_deref().is_some_and(|a| !a.trim().is_empty()))
    }
}

impl Default for WechatConfig {
    fn default() -> Self {
        Self {
            api_base: "https://api.weixin.qq.com".into(),
            appid: None,
            secret: None,
            timeout_ms: 5_000,
            text_check: None,
            subscribe: SubscribeConfig::default(),
        }
    }
}

/// Which subscribe-message template goes out on which event, and how it is filled.
/// An event without a template sends nothing.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SubscribeConfig {
    /// The tip-off was accepted (受理).
    pub accepted: Option<TemplateConfig>,
    /// The case was closed after verification (办结; the message invites a rating).
    pub closed: Option<TemplateConfig>,
    /// The tip-off was not accepted (不予受理).
    pub rejected: Option<TemplateConfig>,
    /// `formal` (released), `trial` or `developer`: which version of the mini-program
    /// the message opens.
    pub miniprogram_state: String,
    /// `zh_CN`, `en_US`, `zh_HK` or `zh_TW`.
    pub lang: String,
}

impl Default for SubscribeConfig {
    fn default() -> Self {
        Self {
            accepted: None,
            closed: None,
            rejected: None,
            miniprogram_state: "formal".into(),
            lang: "zh_CN".into(),
        }
    }
}

/// One subscribe-message template.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateConfig {
    /// The template id from the mini-program's admin console.
    pub template_id: String,
    /// The page the message opens, e.g. `pages/tip/detail?code={tracking_code}`.
    #[serde(default)]
    pub page: Option<String>,
    /// The template's keys (`thing1`, `time2` …) and their text, with placeholders
    /// `{case_number}`, `{tracking_code}`, `{title}`, `{category}`, `{status}`,
    /// `{time}`, `{township}`. Values are cut to the key type's limit (`thing` 20
    /// characters, `character_string` and `number` 32, `phrase` 5).
    pub data: std::collections::BTreeMap<String, String>,
}

/// Keys for personal data at rest.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct VaultConfig {
    /// 32-byte AES-256-GCM key, base64. Required in production; development falls back
    /// to a fixed, public development key.
    pub key: Option<SecretString>,
}

/// API limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Deepest allowed query (introspection excluded).
    pub max_depth: usize,
    /// Highest allowed query cost: an upper bound of the values an answer can hold,
    /// multiplied through list sizes (see `graphql::limits`).
    pub max_complexity: usize,
    /// Most aliased fields in one request (a fragment's count at every spread).
    pub max_aliases: usize,
    /// Time budget of one GraphQL request's execution, in seconds.
    pub request_timeout_secs: u64,
    /// Largest serialized GraphQL answer, in bytes.
    pub max_response_bytes: usize,
    /// Largest `first` of a connection.
    pub max_page_size: usize,
    /// Public mutations per client IP per minute.
    pub public_per_ip_per_minute: u32,
    /// Public mutations per WeChat user per minute.
    pub public_per_user_per_minute: u32,
    /// Anonymous reads of published cases (`publicCases`) per client IP per minute.
    pub public_reads_per_ip_per_minute: u32,
    /// Logins per client IP per minute.
    pub login_per_ip_per_minute: u32,
    /// Reverse proxies whose `X-Forwarded-For` is believed (exact IPs).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// `apq` (any operation; automatic persisted queries learnt from clients) or
    /// `allowlist` (only operations registered with `register-operations`).
    pub persisted_queries: crate::persisted::Mode,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_depth: 12,
            max_complexity: 50_000,
            max_aliases: 30,
            request_timeout_secs: 30,
            max_response_bytes: 8 * 1024 * 1024,
            max_page_size: 100,
            public_per_ip_per_minute: 30,
            public_per_user_per_minute: 10,
            public_reads_per_ip_per_minute: 120,
            login_per_ip_per_minute: 30,
            trusted_proxies: Vec::new(),
            persisted_queries: crate::persisted::Mode::Apq,
        }
    }
}

/// HTTP server settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Listen address, e.g. `127.0.0.1:8080` (port 0 picks a free port).
    pub addr: SocketAddr,
    /// Largest accepted request body for GraphQL requests, in bytes.
    pub body_limit_bytes: usize,
    /// Base URL clients reach this server at (e.g. `https://gridwatch.example.cn`), used in
    /// the signed upload and download URLs of the `fs` evidence store. Default:
    /// `http://{server.addr}`.
    pub public_url: Option<String>,
    /// On SIGTERM: how long in-flight requests and jobs may take to finish before the
    /// remaining connections (open WebSockets, slow clients) are cut, in seconds.
    pub shutdown_grace_secs: u64,
}

impl ServerConfig {
    /// The base URL clients reach this server at, without a trailing slash.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.addr),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            body_limit_bytes: 1024 * 1024,
            public_url: None,
            shutdown_grace_secs: 20,
        }
    }
}

/// Database settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://path?mode=rwc` (file created if missing) or `postgres://…`.
    pub url: String,
    /// Pool size.
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://gridwatch.db?mode=rwc".into(),
            max_connections: 10,
        }
    }
}

/// Which evidence store to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    /// A local folder served by gridwatch itself (default).
    #[default]
    Fs,
    /// Any S3-compatible object store.
    S3,
}

/// Evidence storage settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// `fs` (default) or `s3`.
    pub backend: StorageBackend,
    /// Folder of the `fs` backend.
    pub fs_root: PathBuf,
    /// Settings of the `s3` backend.
    pub s3: S3Config,
    /// HMAC key of the `fs` backend's signed upload and download URLs, at least 32 bytes.
    /// Required in production when `backend = fs`; development falls back to a fixed,
    /// public development key.
    pub url_signing_key: Option<SecretString>,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            backend: StorageBackend::Fs,
            fs_root: PathBuf::from("./data/evidence"),
            s3: S3Config::default(),
            url_signing_key: None,
        }
    }
}

/// S3-compatible store settings (AWS S3, Aliyun OSS, Tencent COS, Garage, MinIO, Ceph).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3Config {
    /// Endpoint URL, e.g. `http://127.0.0.1:8014`.
    pub endpoint: String,
    /// Region name the store expects in signatures.
    pub region: String,
    /// Bucket holding the evidence.
    pub bucket: String,
    /// Access key id.
    pub access_key: Option<SecretString>,
    /// Secret access key.
    pub secret_key: Option<SecretString>,
    /// Path-style addressing (`endpoint/bucket/key`) instead of virtual hosts.
    pub path_style: bool,
    /// Timeout of one request to the store, in seconds (a whole download included), so an
    /// unreachable store fails fast instead of hanging requests.
    pub timeout_secs: u64,
}

impl Default for S3Config {
    fn default() -> Self {
        Self {
            endpoint: String::new(),
            region: "us-east-1".into(),
            bucket: "evidence".into(),
            access_key: None,
            secret_key: None,
            path_style: true,
            timeout_secs: 30,
        }
    }
}

/// Grid index settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GridConfig {
    /// How often (seconds) to check whether another process changed the grid.
    pub refresh_secs: u64,
}

impl Default for GridConfig {
    fn default() -> Self {
        Self { refresh_secs: 10 }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// JSON in production, compact text otherwise.
    #[default]
    Auto,
    /// One JSON object per line.
    Json,
    /// Human-readable text.
    Compact,
}

/// Logging settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// Output format.
    pub format: LogFormat,
    /// `tracing` filter directives (overridden by `RUST_LOG`).
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Auto,
            filter: "info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn".into(),
        }
    }
}

/// A configuration that cannot be used, with the offending key named.
#[derive(Debug, thiserror::Error)]
#[error("配置错误 / invalid configuration: {0}")]
pub struct ConfigError(String);

impl Config {
    /// Loads defaults, then the TOML file, then `GRIDWATCH__…` variables. An explicitly
    /// named file must exist; without one, `./gridwatch.toml` is read when present.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::new();
        match file {
            Some(path) if !path.is_file() => {
                return Err(ConfigError(format!(
                    "config file {} not found (--config / GRIDWATCH_CONFIG)",
                    path.display()
                )));
            }
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None if Path::new("gridwatch.toml").is_file() => {
                figment = figment.merge(Toml::file_exact("gridwatch.toml"));
            }
            None => {}
        }
        Self::from_figment(figment.merge(Env::prefixed("GRIDWATCH__").split("__")))
    }

    /// Loads from an explicit figment (tests use this to avoid the process environment).
    pub fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let config: Config = figment.extract().map_err(|e| {
            let errors: Vec<String> = e
                .into_iter()
                .map(|err| {
                    let key = err.path.join(".");
                    let var = format!(
                        "GRIDWATCH__{}",
                        err.path
                            .iter()
                            .map(|p| p.to_ascii_uppercase())
                            .collect::<Vec<_>>()
                            .join("__")
                    );
                    if key.is_empty() {
                        err.kind.to_string()
                    } else {
                        format!("`{key}` ({var}): {}", err.kind)
                    }
                })
                .collect();
            ConfigError(errors.join("; "))
        })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let url = &self.database.url;
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(ConfigError(format!(
                "`database.url` (GRIDWATCH__DATABASE__URL): expected sqlite:… or postgres://…, got `{url}`"
            )));
        }
        if self.database.max_connections == 0 {
            return Err(ConfigError(
                "`database.max_connections` (GRIDWATCH__DATABASE__MAX_CONNECTIONS): must be at least 1"
                    .into(),
            ));
        }
        if self.storage.backend == StorageBackend::S3 && self.storage.s3.endpoint.is_empty() {
            return Err(ConfigError(
                "`storage.s3.endpoint` (GRIDWATCH__STORAGE__S3__ENDPOINT): required when storage.backend = s3"
                    .into(),
            ));
        }
        if let Some(url) = &self.server.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(ConfigError(format!(
                "`server.public_url` (GRIDWATCH__SERVER__PUBLIC_URL): expected http://… or https://…, got `{url}`"
            )));
        }
        if self.storage.s3.timeout_secs == 0 {
            return Err(ConfigError(
                "`storage.s3.timeout_secs` (GRIDWATCH__STORAGE__S3__TIMEOUT_SECS): must be at least 1"
                    .into(),
            ));
        }
        if self.server.body_limit_bytes < 1024 {
            return Err(ConfigError(
                "`server.body_limit_bytes` (GRIDWATCH__SERVER__BODY_LIMIT_BYTES): must be at least 1024"
                    .into(),
            ));
        }
        if self.auth.access_ttl_secs == 0 || self.auth.access_ttl_secs > 900 {
            return Err(ConfigError(
                "`auth.access_ttl_secs` (GRIDWATCH__AUTH__ACCESS_TTL_SECS): must be 1..=900".into(),
            ));
        }
        if self.evidence.upload_url_secs == 0 || self.evidence.upload_url_secs > 600 {
            return Err(ConfigError(
                "`evidence.upload_url_secs` (GRIDWATCH__EVIDENCE__UPLOAD_URL_SECS): must be 1..=600".into(),
            ));
        }
        let sub = &self.wechat.subscribe;
        if !["formal", "trial", "developer"].contains(&sub.miniprogram_state.as_str()) {
            return Err(ConfigError(format!(
                "`wechat.subscribe.miniprogram_state` (GRIDWATCH__WECHAT__SUBSCRIBE__MINIPROGRAM_STATE): expected formal, trial or developer, got `{}`",
                sub.miniprogram_state
            )));
        }
        if !["zh_CN", "en_US", "zh_HK", "zh_TW"].contains(&sub.lang.as_str()) {
            return Err(ConfigError(format!(
                "`wechat.subscribe.lang` (GRIDWATCH__WECHAT__SUBSCRIBE__LANG): expected zh_CN, en_US, zh_HK or zh_TW, got `{}`",
                sub.lang
            )));
        }
        for (name, t) in [
            ("accepted", &sub.accepted),
            ("closed", &sub.closed),
            ("rejected", &sub.rejected),
        ] {
            if let Some(t) = t
                && (t.template_id.trim().is_empty() || t.data.is_empty())
            {
                return Err(ConfigError(format!(
                    "`wechat.subscribe.{name}`: needs a template_id and at least one data key"
                )));
            }
        }
        if self.is_production() {
            use secrecy::ExposeSecret;
            let jwt_ok = self
                .auth
                .jwt_secret
                .as_ref()
                .is_some_and(|s| s.expose_secret().len() >= 32 && !is_weak(s.expose_secret()));
            if !jwt_ok {
                return Err(ConfigError(
                    "`auth.jwt_secret` (GRIDWATCH__AUTH__JWT_SECRET): production needs a random secret of at least 32 bytes".into(),
                ));
            }
            let signing_ok = self
                .storage
                .url_signing_key
                .as_ref()
                .is_some_and(|s| s.expose_secret().len() >= 32 && !is_weak(s.expose_secret()));
            if self.storage.backend == StorageBackend::Fs && !signing_ok {
                return Err(ConfigError(
                    "`storage.url_signing_key` (GRIDWATCH__STORAGE__URL_SIGNING_KEY): production with storage.backend = fs needs a random key of at least 32 bytes".into(),
                ));
            }
            if self.vault.key.is_none() {
                return Err(ConfigError(
                    "`vault.key` (GRIDWATCH__VAULT__KEY): production needs a base64 32-byte key"
                        .into(),
                ));
            }
        }
        Ok(())
    }

    /// Whether this is a production deployment.
    pub fn is_production(&self) -> bool {
        self.env == Environment::Production
    }
}

/// A secret made of one repeated character or a well-known placeholder is weak.
fn is_weak(secret: &str) -> bool {
    let mut chars = secret.chars();
    let first = chars.next();
    let all_same = first.is_some_and(|f| secret.chars().all(|c| c == f));
    let lower = secret.to_ascii_lowercase();
    all_same
        || [
            "changeme",
            "secret",
            "password",
            "development",
            "0123456789",
        ]
        .iter()
        .any(|w| lower.contains(w))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use figment::providers::Serialized;

    fn with(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut f = Figment::new();
        for (k, v) in pairs {
            f = f.merge(Serialized::global(k, v));
        }
        Config::from_figment(f)
    }

    #[test]
    fn defaults_are_embedded_sqlite_and_fs() {
        let c = with(&[]).unwrap();
        assert_eq!(c.server.addr.to_string(), "127.0.0.1:8080");
        assert!(c.database.url.starts_with("sqlite:"));
        assert_eq!(c.storage.backend, StorageBackend::Fs);
        assert_eq!(c.env, Environment::Development);
    }

    #[test]
    fn bad_values_name_the_key_and_variable() {
        let cases = [
            ("server.addr", "not-an-address", "GRIDWATCH__SERVER__ADDR"),
            ("env", "staging", "GRIDWATCH__ENV"),
            ("storage.backend", "ftp", "GRIDWATCH__STORAGE__BACKEND"),
            ("database.url", "mysql://x", "GRIDWATCH__DATABASE__URL"),
        ];
        for (key, value, var) in cases {
            let err = with(&[(key, value)]).unwrap_err().to_string();
            assert!(err.contains(var), "{key}={value}: {err}");
        }
    }

    #[test]
    fn production_refuses_missing_or_weak_keys() {
        let key = "k7Qm2vX9pL4sR8tY1wZ3nB6cD0fG5hJ2";
        let vault = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        assert!(with(&[("env", "production"), ("vault.key", vault)]).is_err());
        assert!(
            with(&[
                ("env", "production"),
                ("auth.jwt_secret", "short"),
                ("vault.key", vault)
            ])
            .is_err()
        );
        assert!(
            with(&[
                ("env", "production"),
                ("auth.jwt_secret", &"a".repeat(40)),
                ("vault.key", vault)
            ])
            .is_err()
        );
        assert!(with(&[("env", "production"), ("auth.jwt_secret", key)]).is_err());
        let signing = "Vb3nQ8rT1yW6uI2oP5aS9dF4gH7jK0lZ";
        assert!(
            with(&[
                ("env", "production"),
                ("auth.jwt_secret", key),
                ("vault.key", vault),
                ("storage.url_signing_key", signing)
            ])
            .is_ok()
        );
    }

    #[test]
    fn production_fs_store_needs_a_url_signing_key() {
        let base = [
            ("env", "production"),
            ("auth.jwt_secret", "k7Qm2vX9pL4sR8tY1wZ3nB6cD0fG5hJ2"),
            ("vault.key", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
        ];
        let err = with(&base).unwrap_err().to_string();
        assert!(err.contains("GRIDWATCH__STORAGE__URL_SIGNING_KEY"), "{err}");
        let weak = [&base[..], &[("storage.url_signing_key", "short")]].concat();
        assert!(with(&weak).is_err());
        // The S3 backend signs with its own credentials.
        let s3 = [
            &base[..],
            &[
                ("storage.backend", "s3"),
                ("storage.s3.endpoint", "http://127.0.0.1:9000"),
            ],
        ]
        .concat();
        assert!(with(&s3).is_ok());
    }

    #[test]
    fn public_url_defaults_to_the_listen_address() {
        let c = with(&[]).unwrap();
        assert_eq!(c.server.public_url(), "http://127.0.0.1:8080");
        let c = with(&[("server.public_url", "https://gw.example.cn/")]).unwrap();
        assert_eq!(c.server.public_url(), "https://gw.example.cn");
        let err = with(&[("server.public_url", "gw.example.cn")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("GRIDWATCH__SERVER__PUBLIC_URL"), "{err}");
    }

    #[test]
    fn s3_backend_requires_endpoint() {
        let err = with(&[("storage.backend", "s3")]).unwrap_err().to_string();
        assert!(err.contains("GRIDWATCH__STORAGE__S3__ENDPOINT"), "{err}");
    }
}
