//! Settings from flags and the environment, and the start-up that turns
//! them into an [`AppState`].

use std::path::{Path, PathBuf};

use chrono::Duration;
use clap::{Parser, Subcommand, ValueEnum};

use crate::auth::jwt::JwtKeys;
use crate::auth::secrets;
use crate::clock::Clock;
use crate::db::audit_queue::AuditQueue;
use crate::db::{DatabaseUrl, Db, queries};
use crate::state::AppState;

#[derive(Debug, Parser)]
#[command(
    name = "griddesk",
    version,
    about = "Resident request desk for urban residential communities"
)]
pub struct Cli {
    /// A SQLite file path, sqlite://PATH, or postgres://… / postgresql://…
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "griddesk.db",
        global = true,
        hide_env_values = true
    )]
    pub database_url: String,

    /// Log format (the level comes from RUST_LOG, default `info`).
    #[arg(long, env = "GRIDDESK_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    #[command(flatten)]
    pub serve: ServeArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply migrations and serve the API (the default).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Print the OpenAPI document.
    Openapi,
    /// Create a super-admin. The password comes from GRIDDESK_ADMIN_PASSWORD
    /// or, when unset, from the first line of standard input.
    CreateAdmin {
        #[arg(long)]
        username: String,
        #[arg(long)]
        display_name: Option<String>,
    },
    /// Load a demo community modelled on Junmen (军门社区); safe to run twice.
    Demo {
        /// Also fill the database with generated tickets until it holds this
        /// many (spread over two years, every unit, category and status).
        #[arg(long)]
        tickets: Option<u64>,
    },
}

/// Settings of `serve`; accepted with or without the subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, global = true, env = "GRIDDESK_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,

    /// Access-token lifetime in seconds.
    #[arg(long, global = true, env = "GRIDDESK_ACCESS_TOKEN_TTL", default_value_t = 900, value_parser = clap::value_parser!(i64).range(60..=86_400))]
    pub access_token_ttl: i64,

    /// Refresh-token lifetime in days.
    #[arg(long, global = true, env = "GRIDDESK_REFRESH_TOKEN_DAYS", default_value_t = 30, value_parser = clap::value_parser!(i64).range(1..=365))]
    pub refresh_token_days: i64,

    /// HTTP worker threads (default: one per CPU core).
    #[arg(long, global = true, env = "GRIDDESK_WORKERS")]
    pub workers: Option<usize>,

    /// Seconds between passes of the deadline worker (督办).
    #[arg(long, global = true, env = "GRIDDESK_WORKER_INTERVAL", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub worker_interval: u64,

    /// Percent of a deadline's time (to sign for, to resolve) after which
    /// the deadline worker warns the unit holding the ticket, once per
    /// deadline.
    #[arg(long, global = true, env = "GRIDDESK_DEADLINE_WARNING_PERCENT", default_value_t = 75, value_parser = clap::value_parser!(u8).range(1..=99))]
    pub deadline_warning_percent: u8,

    /// Days a notification is kept; the worker deletes older ones hourly.
    #[arg(long, global = true, env = "GRIDDESK_NOTIFICATION_RETENTION_DAYS", default_value_t = 180, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub notification_retention_days: u32,

    /// Allow webhook endpoints with plain `http://` URLs. For development
    /// only: a delivery's body and signature then cross the network in clear.
    #[arg(long, global = true, env = "GRIDDESK_WEBHOOK_ALLOW_HTTP")]
    pub webhook_allow_http: bool,

    /// Allow webhook deliveries to loopback, private, link-local and other
    /// internal addresses (refused by default against server-side request
    /// forgery). For tests, or a gateway on the operator's own network.
    #[arg(long, global = true, env = "GRIDDESK_WEBHOOK_ALLOW_PRIVATE")]
    pub webhook_allow_private: bool,

    /// Hours a webhook delivery is retried before it is given up; an
    /// endpoint failing for this long (10 attempts at least) is disabled.
    #[arg(long, global = true, env = "GRIDDESK_WEBHOOK_RETRY_HOURS", default_value_t = 24, value_parser = clap::value_parser!(u32).range(1..=720))]
    pub webhook_retry_hours: u32,

    /// Seconds a webhook delivery attempt may take, connecting included.
    #[arg(long, global = true, env = "GRIDDESK_WEBHOOK_TIMEOUT", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=60))]
    pub webhook_timeout: u64,

    /// Do not run the deadline worker in this process (e.g. on all but some replicas).
    #[arg(long, global = true, env = "GRIDDESK_NO_WORKER")]
    pub no_worker: bool,

    /// Largest database pool; by default four connections a core. Requests
    /// wait for a connection in the order they asked. More connections than
    /// the cores can keep busy only contend: on 2 cores with PostgreSQL, 16
    /// instead of 8 gave reads p99s of 65-136 ms instead of 9-25 ms, and
    /// filings 5-10% fewer a second (DEVELOPERS.md, "Measuring").
    #[arg(long, global = true, env = "GRIDDESK_DB_POOL_SIZE", default_value_t = default_pool_size(),
        value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub db_pool_size: u32,

    /// SQLite only: `full` syncs every commit before answering it (an
    /// acknowledged change survives a power cut); `normal` syncs at
    /// checkpoints (faster; a power cut can lose the last acknowledged commits).
    #[arg(long, global = true, env = "GRIDDESK_SQLITE_SYNCHRONOUS", value_enum, default_value_t = crate::db::Synchronous::Full)]
    pub sqlite_synchronous: crate::db::Synchronous,

    /// Do not serve Swagger UI (the OpenAPI document stays at /api-docs/openapi.json).
    #[arg(long, global = true, env = "GRIDDESK_NO_SWAGGER")]
    pub no_swagger: bool,

    /// Origins whose web pages may call the API (CORS), e.g.
    /// `https://desk.example.org`; comma-separated in the variable. None by default.
    #[arg(long = "cors-origin", global = true, env = "GRIDDESK_CORS_ORIGINS", value_delimiter = ',', value_parser = parse_origin)]
    pub cors_origins: Vec<String>,

    /// Seconds a client has to send a request's headers before the
    /// connection is closed (408), so slow clients cannot hold connections.
    #[arg(long, global = true, env = "GRIDDESK_REQUEST_TIMEOUT", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub request_timeout: u64,

    /// Seconds a client has to send a request's whole body once the
    /// server starts reading it, before it gets 408 and the connection is
    /// closed, so a body dribbled a byte at a time cannot hold a worker.
    #[arg(long, global = true, env = "GRIDDESK_BODY_TIMEOUT", default_value_t = crate::api::DEFAULT_BODY_TIMEOUT_SECONDS, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub body_timeout: u64,

    /// A file holding the key that signs access tokens (at least 32 bytes;
    /// a trailing newline is ignored), e.g. a mounted container secret.
    /// Instead of the GRIDDESK_JWT_SECRET variable, never with it.
    #[arg(long, global = true, env = JWT_SECRET_FILE_ENV)]
    pub jwt_secret_file: Option<PathBuf>,

    /// Failed sign-ins allowed per client address in 15 minutes before that
    /// address gets 429 (behind a proxy all clients share its address).
    #[arg(long, global = true, env = "GRIDDESK_LOGIN_FAILURES_PER_ADDRESS", default_value_t = 30,
        value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub login_failures_per_address: u32,

    /// Registrations allowed per client address in an hour before that
    /// address gets 429 (behind a proxy all clients share its address).
    #[arg(long, global = true, env = "GRIDDESK_REGISTRATIONS_PER_ADDRESS", default_value_t = 10,
        value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub registrations_per_address: u32,

    /// Password hashes computed at once (default: one per CPU core); each
    /// takes 19 MiB while it runs.
    #[arg(long, global = true, env = "GRIDDESK_HASH_CONCURRENCY",
        value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub hash_concurrency: Option<u32>,

    /// Seconds a request waits for its turn to hash a password before it
    /// gets 503 `server_busy` with `Retry-After`.
    #[arg(long, global = true, env = "GRIDDESK_HASH_QUEUE_TIMEOUT", default_value_t = 5,
        value_parser = clap::value_parser!(u64).range(1..=60))]
    pub hash_queue_timeout: u64,

    /// The time zone of the people the deployment serves (an IANA name such
    /// as `Asia/Shanghai` or `Asia/Urumqi`): date-only filters, calendar
    /// months in statistics and the times in CSV files are read in it. JSON
    /// answers stay in UTC.
    #[arg(long, global = true, env = "GRIDDESK_TIME_ZONE", default_value = "Asia/Shanghai",
        value_parser = parse_time_zone)]
    pub time_zone: chrono_tz::Tz,

    /// Serve Prometheus metrics at /metrics on this address (e.g.
    /// `127.0.0.1:9090`), a listener of its own: never on the API's. Off
    /// when unset.
    #[arg(long, global = true, env = "GRIDDESK_METRICS_BIND")]
    pub metrics_bind: Option<String>,
}

fn parse_time_zone(raw: &str) -> Result<chrono_tz::Tz, String> {
    raw.trim()
        .parse()
        .map_err(|_| format!("`{raw}` is not an IANA time zone name such as Asia/Shanghai"))
}

/// A browser origin: `http(s)://host[:port]`, nothing after; never `*`.
fn parse_origin(raw: &str) -> Result<String, String> {
    let origin = raw.trim().trim_end_matches('/');
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or_else(|| format!("`{raw}` is not an origin: use http(s)://host[:port] (`*` is never allowed)"))?;
    let host_ok = !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if host_ok {
        Ok(origin.to_owned())
    } else {
        Err(format!(
            "`{raw}` is not an origin: use http(s)://host[:port] with no path"
        ))
    }
}

/// The key that signs access tokens; only ever an environment variable, as
/// flags show in process lists.
pub const JWT_SECRET_ENV: &str = "GRIDDESK_JWT_SECRET";
/// A file holding that key, instead of the variable.
pub const JWT_SECRET_FILE_ENV: &str = "GRIDDESK_JWT_SECRET_FILE";
const JWT_SECRET_SETTING: &str = "jwt_secret";
/// HS256 keys shorter than the hash are weak; so are short passphrases.
const JWT_SECRET_MIN_BYTES: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Url(#[from] crate::db::DatabaseUrlError),
    #[error(transparent)]
    Startup(#[from] crate::db::StartupError),
    #[error("GRIDDESK_JWT_SECRET must be at least 32 bytes long")]
    WeakSecret,
    #[error("the JWT secret file {0} must hold at least 32 bytes (a trailing newline does not count)")]
    WeakSecretFile(String),
    #[error("cannot read the JWT secret file {path}: {error}")]
    SecretFile { path: String, error: String },
    #[error("set GRIDDESK_JWT_SECRET or GRIDDESK_JWT_SECRET_FILE (--jwt-secret-file), not both")]
    TwoSecrets,
    #[error("cannot read or store the JWT secret: {0}")]
    Secret(String),
    #[error("cannot start a background thread: {0}")]
    Thread(String),
    #[error("cannot set up the metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

/// The configured JWT secret: the `GRIDDESK_JWT_SECRET` value or the
/// contents of the secret file, checked for length. `None` when neither is
/// set: [`build_state`] then uses the key generated into the database.
impl ServeArgs {
    /// Which webhook endpoints may be registered and reached.
    pub fn webhook_reach(&self) -> crate::domain::webhooks::Reach {
        crate::domain::webhooks::Reach {
            allow_http: self.webhook_allow_http,
            allow_private: self.webhook_allow_private,
        }
    }

    /// How webhook deliveries are made.
    pub fn webhook_settings(&self, time_zone: chrono_tz::Tz) -> crate::webhooks::Settings {
        let mut settings = crate::webhooks::Settings::new(self.webhook_reach(), time_zone);
        settings.retry = crate::domain::webhooks::RetryWindow::hours(self.webhook_retry_hours);
        settings.timeout = std::time::Duration::from_secs(self.webhook_timeout);
        settings
    }

    /// When the deadline worker warns of a deadline.
    pub fn deadline_warning(&self) -> crate::domain::sla::WarnAt {
        // The flag's range is the type's.
        crate::domain::sla::WarnAt::percent(self.deadline_warning_percent)
            .unwrap_or(crate::domain::sla::WarnAt::DEFAULT)
    }
}

pub fn configured_jwt_secret(from_env: Option<String>, file: Option<&Path>) -> Result<Option<String>, ConfigError> {
    let from_env = from_env.filter(|s| !s.is_empty());
    match (from_env, file) {
        (Some(_), Some(_)) => Err(ConfigError::TwoSecrets),
        (Some(secret), None) if secret.len() < JWT_SECRET_MIN_BYTES => Err(ConfigError::WeakSecret),
        (Some(secret), None) => Ok(Some(secret)),
        (None, Some(path)) => {
            let shown = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError::SecretFile {
                path: shown.clone(),
                error: e.to_string(),
            })?;
            // `echo … > file` and editors add a newline that is not part of the key.
            let secret = text.trim_end_matches(['\r', '\n']);
            if secret.len() < JWT_SECRET_MIN_BYTES {
                return Err(ConfigError::WeakSecretFile(shown));
            }
            Ok(Some(secret.to_owned()))
        }
        (None, None) => Ok(None),
    }
}

/// Opens the database (applying migrations) and prepares the app state.
/// Blocking: call it before the server starts.
pub fn build_state(
    database_url: &str,
    jwt_secret: Option<String>,
    access_ttl: Duration,
    refresh_ttl: Duration,
    db_settings: impl Into<crate::db::DbSettings>,
    clock: Clock,
) -> Result<AppState, ConfigError> {
    let url = DatabaseUrl::parse(database_url)?;
    let db = Db::connect(&url, db_settings)?;
    let secret = match jwt_secret.filter(|s| !s.is_empty()) {
        Some(secret) if secret.len() < JWT_SECRET_MIN_BYTES => return Err(ConfigError::WeakSecret),
        Some(secret) => secret,
        None => {
            let generated = secrets::random_token(48);
            let now = clock.now_naive();
            let stored = db
                .write_blocking(move |conn| {
                    Ok(queries::get_or_insert_setting(
                        conn,
                        JWT_SECRET_SETTING,
                        &generated,
                        now,
                    )?)
                })
                .map_err(|e| ConfigError::Secret(e.to_string()))?;
            tracing::warn!(
                "{JWT_SECRET_ENV} is not set: access tokens are signed with a key generated into the \
                 database. PRODUCTION MUST SET {JWT_SECRET_ENV} OR {JWT_SECRET_FILE_ENV} (the same on every \
                 replica), kept apart from the database: anyone with a copy of the database or a backup \
                 holds this key, and with it and any one access token can mint tokens for that session \
                 for as long as it lives (session ids are stored hashed, so the copy alone is not \
                 enough). See \"Secrets in production\" in the README."
            );
            stored
        }
    };
    let metrics = crate::metrics::Metrics::new()?;
    let audit =
        AuditQueue::start(db.clone(), metrics.audit_queue().clone()).map_err(|e| ConfigError::Thread(e.to_string()))?;
    Ok(AppState {
        audit,
        db,
        jwt: JwtKeys::new(secret.as_bytes(), access_ttl),
        sessions: crate::auth::session_cache::SessionCache::default(),
        caches: std::sync::Arc::default(),
        clock,
        refresh_ttl,
        limits: crate::limits::Limits::new(secret.as_bytes(), &metrics),
        hash_gate: crate::auth::password::HashGate::per_core(),
        swagger: true,
        cors_origins: Vec::new(),
        body_timeout: std::time::Duration::from_secs(crate::api::DEFAULT_BODY_TIMEOUT_SECONDS),
        streams: crate::api::notification_stream::Streams::default(),
        webhook_reach: crate::domain::webhooks::Reach::default(),
        time_zone: crate::api::local_time::DEFAULT_TIME_ZONE,
        metrics,
    })
}

/// Four database connections a core (at least 4).
pub fn default_pool_size() -> u32 {
    let cores = u32::try_from(crate::auth::password::cores()).unwrap_or(1);
    cores.saturating_mul(4).max(4)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_settings_work_with_and_without_the_subcommand() {
        let bare = Cli::try_parse_from(["griddesk", "--bind", "127.0.0.1:9000"]).unwrap();
        assert!(bare.command.is_none());
        assert_eq!(bare.serve.bind, "127.0.0.1:9000");
        let explicit =
            Cli::try_parse_from(["griddesk", "serve", "--bind", "127.0.0.1:9001", "--workers", "2"]).unwrap();
        assert!(matches!(explicit.command, Some(Command::Serve)));
        assert_eq!(
            (explicit.serve.bind.as_str(), explicit.serve.workers),
            ("127.0.0.1:9001", Some(2))
        );
        assert!(Cli::try_parse_from(["griddesk", "serve", "--access-token-ttl", "5"]).is_err());
        // Passwords are never flags.
        assert!(Cli::try_parse_from(["griddesk", "create-admin", "--username", "a", "--password", "x"]).is_err());
    }

    #[test]
    fn the_jwt_secret_comes_from_the_variable_or_a_file_never_both() {
        let dir = std::env::temp_dir().join(format!("griddesk-secret-{}", secrets::random_token(6)));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let key = "k".repeat(40);
        let good = write("good", &format!("{key}\n"));
        let crlf = write("crlf", &format!("{key}\r\n"));
        let short = write("short", &format!("{}\n", "k".repeat(31)));
        let missing = dir.join("missing");

        assert_eq!(configured_jwt_secret(None, None).unwrap(), None);
        assert_eq!(configured_jwt_secret(Some(String::new()), None).unwrap(), None);
        assert_eq!(
            configured_jwt_secret(Some(key.clone()), None).unwrap(),
            Some(key.clone())
        );
        assert_eq!(configured_jwt_secret(None, Some(&good)).unwrap(), Some(key.clone()));
        assert_eq!(configured_jwt_secret(None, Some(&crlf)).unwrap(), Some(key.clone()));
        assert!(matches!(
            configured_jwt_secret(Some("short".into()), None),
            Err(ConfigError::WeakSecret)
        ));
        let weak = configured_jwt_secret(None, Some(&short)).unwrap_err().to_string();
        assert!(weak.contains("short") && weak.contains("at least 32 bytes"), "{weak}");
        let unreadable = configured_jwt_secret(None, Some(&missing)).unwrap_err().to_string();
        assert!(
            unreadable.starts_with("cannot read the JWT secret file") && unreadable.contains("missing"),
            "{unreadable}"
        );
        assert!(matches!(
            configured_jwt_secret(Some(key), Some(&good)),
            Err(ConfigError::TwoSecrets)
        ));
        let cli = Cli::try_parse_from(["griddesk", "serve", "--jwt-secret-file", "/run/secrets/jwt"]).unwrap();
        assert_eq!(cli.serve.jwt_secret_file, Some(PathBuf::from("/run/secrets/jwt")));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn cors_origins_are_exact_origins_never_a_wildcard() {
        let cli = Cli::try_parse_from([
            "griddesk",
            "--cors-origin",
            "https://desk.example.org/",
            "--cors-origin",
            "http://127.0.0.1:3000",
        ])
        .unwrap();
        assert_eq!(
            cli.serve.cors_origins,
            ["https://desk.example.org", "http://127.0.0.1:3000"]
        );
        for bad in [
            "*",
            "desk.example.org",
            "https://desk.example.org/app",
            "https://",
            "ftp://x",
        ] {
            assert!(
                Cli::try_parse_from(["griddesk", "--cors-origin", bad]).is_err(),
                "{bad}"
            );
        }
        let defaults = Cli::try_parse_from(["griddesk"]).unwrap();
        assert!(defaults.serve.cors_origins.is_empty() && !defaults.serve.no_swagger);
        assert_eq!(defaults.serve.request_timeout, 10);
        assert_eq!(defaults.serve.body_timeout, 10);
        assert!(Cli::try_parse_from(["griddesk", "--body-timeout", "0"]).is_err());
        assert_eq!(defaults.serve.login_failures_per_address, 30);
        assert_eq!(defaults.serve.registrations_per_address, 10);
        assert_eq!(
            (defaults.serve.hash_concurrency, defaults.serve.hash_queue_timeout),
            (None, 5)
        );
        assert!(Cli::try_parse_from(["griddesk", "--hash-concurrency", "0"]).is_err());
        assert_eq!(defaults.serve.time_zone, chrono_tz::Asia::Shanghai);
        let urumqi = Cli::try_parse_from(["griddesk", "--time-zone", "Asia/Urumqi"]).unwrap();
        assert_eq!(urumqi.serve.time_zone, chrono_tz::Asia::Urumqi);
        assert!(Cli::try_parse_from(["griddesk", "--time-zone", "Beijing"]).is_err());
        assert!(Cli::try_parse_from(["griddesk", "--login-failures-per-address", "0"]).is_err());
        assert_eq!(defaults.serve.metrics_bind, None, "metrics are off by default");
        let metrics = Cli::try_parse_from(["griddesk", "serve", "--metrics-bind", "127.0.0.1:9090"]).unwrap();
        assert_eq!(metrics.serve.metrics_bind.as_deref(), Some("127.0.0.1:9090"));
    }
}
