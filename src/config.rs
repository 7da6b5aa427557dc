//! Settings from flags and the environment, and the start-up that turns
//! them into an [`AppState`].

use chrono::Duration;
use clap::{Parser, Subcommand, ValueEnum};

use crate::auth::jwt::JwtKeys;
use crate::auth::secrets;
use crate::clock::Clock;
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

    /// Do not run the deadline worker in this process (e.g. on all but some replicas).
    #[arg(long, global = true, env = "GRIDDESK_NO_WORKER")]
    pub no_worker: bool,

    /// Largest database pool.
    #[arg(long, global = true, env = "GRIDDESK_DB_POOL_SIZE", default_value_t = 16)]
    pub db_pool_size: u32,

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

pub const JWT_SECRET_ENV: &str = "GRIDDESK_JWT_SECRET";
const JWT_SECRET_SETTING: &str = "jwt_secret";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Url(#[from] crate::db::DatabaseUrlError),
    #[error(transparent)]
    Startup(#[from] crate::db::StartupError),
    #[error("GRIDDESK_JWT_SECRET must be at least 32 bytes long")]
    WeakSecret,
    #[error("cannot read or store the JWT secret: {0}")]
    Secret(String),
}

/// Opens the database (applying migrations) and prepares the app state.
/// Blocking: call it before the server starts.
pub fn build_state(
    database_url: &str,
    jwt_secret: Option<String>,
    access_ttl: Duration,
    refresh_ttl: Duration,
    pool_size: u32,
    clock: Clock,
) -> Result<AppState, ConfigError> {
    let url = DatabaseUrl::parse(database_url)?;
    let db = Db::connect(&url, pool_size)?;
    let secret = match jwt_secret.filter(|s| !s.is_empty()) {
        Some(secret) if secret.len() < 32 => return Err(ConfigError::WeakSecret),
        Some(secret) => secret,
        None => {
            let mut conn = db.conn().map_err(|e| ConfigError::Secret(e.to_string()))?;
            let generated = secrets::random_token(48);
            let stored = queries::get_or_insert_setting(&mut conn, JWT_SECRET_SETTING, &generated, clock.now_naive())
                .map_err(|e| ConfigError::Secret(e.to_string()))?;
            tracing::warn!(
                "{JWT_SECRET_ENV} is not set: using a generated secret kept in the database. \
                 Set it explicitly in production, the same on every replica."
            );
            stored
        }
    };
    Ok(AppState {
        db,
        jwt: JwtKeys::new(secret.as_bytes(), access_ttl),
        clock,
        refresh_ttl,
        limits: crate::limits::Limits::new(secret.as_bytes()),
        hash_gate: crate::auth::password::HashGate::per_core(),
        swagger: true,
        cors_origins: Vec::new(),
    })
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
        assert_eq!(defaults.serve.login_failures_per_address, 30);
        assert_eq!(defaults.serve.registrations_per_address, 10);
        assert_eq!(
            (defaults.serve.hash_concurrency, defaults.serve.hash_queue_timeout),
            (None, 5)
        );
        assert!(Cli::try_parse_from(["griddesk", "--hash-concurrency", "0"]).is_err());
        assert!(Cli::try_parse_from(["griddesk", "--login-failures-per-address", "0"]).is_err());
    }
}
