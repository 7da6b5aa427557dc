use std::io::BufRead;
use std::process::ExitCode;

use actix_web::{HttpServer, web};
use chrono::Duration;
use clap::Parser;
use griddesk::clock::Clock;
use griddesk::config::{
    Cli, Command, ConfigError, JWT_SECRET_ENV, LogFormat, ServeArgs, build_state, configured_jwt_secret,
};
use griddesk::db::{DatabaseUrl, Db, models::NewUserRow, queries};
use griddesk::domain::people::{Password, Role, Username, display_name};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, None | Some(Command::Serve)) {
        bound_malloc_arenas();
    }
    init_logging(cli.log_format);
    let result = match cli.command {
        None | Some(Command::Serve) => serve(&cli.database_url, cli.serve),
        Some(Command::Migrate) => open_db(&cli.database_url).map(|_| println!("migrations applied")),
        Some(Command::Openapi) => {
            print!("{}", griddesk::openapi_json());
            Ok(())
        }
        Some(Command::CreateAdmin { username, display_name }) => {
            create_admin(&cli.database_url, &username, display_name.as_deref())
        }
        Some(Command::Demo { tickets }) => demo(&cli.database_url, tickets),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("griddesk: {message}");
            ExitCode::FAILURE
        }
    }
}

/// glibc's malloc gives each thread that allocates an arena of its own, up
/// to eight a core, and each arena keeps the memory freed into it. The
/// server's allocating threads (a worker a core, the writer, the audit
/// thread) gain nothing from more arenas than cores: on 2 cores under the
/// read loads of `bench/speed.sh`, 2 arenas kept about 2.7 MiB less
/// resident at the same throughput (a single arena cost a third of it).
/// glibc reads the limit only as a process starts, so `serve` starts
/// itself again, once, with `GLIBC_TUNABLES` set (same process id). An
/// operator's own `GLIBC_TUNABLES` is left as it is.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn bound_malloc_arenas() {
    use std::os::unix::process::CommandExt;
    const TUNABLES: &str = "GLIBC_TUNABLES";
    if std::env::var_os(TUNABLES).is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else { return };
    let arenas = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
    let mut args = std::env::args_os();
    let mut again = std::process::Command::new(exe);
    if let Some(name) = args.next() {
        again.arg0(name);
    }
    // Returns only if the exec failed; the server then runs as it is.
    let error = again
        .args(args)
        .env(TUNABLES, format!("glibc.malloc.arena_max={arenas}"))
        .exec();
    eprintln!("griddesk: could not restart with bounded malloc arenas ({error}); going on without");
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn bound_malloc_arenas() {}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn open_db(database_url: &str) -> Result<Db, String> {
    let url = DatabaseUrl::parse(database_url).map_err(|e| e.to_string())?;
    Db::connect(&url, 2).map_err(|e| e.to_string())
}

fn serve(database_url: &str, args: ServeArgs) -> Result<(), String> {
    if args.metrics_bind.as_deref() == Some(args.bind.as_str()) {
        return Err(format!("--metrics-bind must differ from --bind ({})", args.bind));
    }
    let secret = configured_jwt_secret(std::env::var(JWT_SECRET_ENV).ok(), args.jwt_secret_file.as_deref())
        .map_err(|e| e.to_string())?;
    let state = build_state(
        database_url,
        secret,
        Duration::seconds(args.access_token_ttl),
        Duration::days(args.refresh_token_days),
        griddesk::db::DbSettings {
            pool_size: args.db_pool_size,
            sqlite_synchronous: args.sqlite_synchronous,
        },
        Clock::system(),
    )
    .map_err(|e: ConfigError| e.to_string())?;
    let mut state = state;
    state.swagger = !args.no_swagger;
    state.cors_origins = args.cors_origins.clone();
    state.body_timeout = std::time::Duration::from_secs(args.body_timeout);
    state.time_zone = args.time_zone;
    state.webhook_reach = args.webhook_reach();
    let deliverer = griddesk::webhooks::Deliverer::new(args.webhook_settings(args.time_zone));
    state.limits.sign_in_address.allowed = args.login_failures_per_address;
    state.limits.registration_address.allowed = args.registrations_per_address;
    let hash_concurrency = args
        .hash_concurrency
        .map_or_else(griddesk::auth::password::cores, |n| usize::try_from(n).unwrap_or(1));
    state.hash_gate = griddesk::auth::password::HashGate::new(
        hash_concurrency,
        std::time::Duration::from_secs(args.hash_queue_timeout),
    );
    let backend = state.db.backend();
    let (worker_db, worker_clock) = (state.db.clone(), state.clock.clone());
    let (webhook_db, webhook_clock) = (state.db.clone(), state.clock.clone());
    let audit = state.audit.clone();
    let blocking_threads = usize::try_from(state.db.pool_size()).unwrap_or(16) + hash_concurrency + 2;
    let (metrics, metrics_db) = (state.metrics.clone(), state.db.clone());
    let worker_metrics = state.metrics.clone();
    let state = web::Data::new(state);
    let system = actix_web::rt::System::new();
    let served = system.block_on(async move {
        let mut server = HttpServer::new(move || griddesk::build_app(state.clone()))
            // Blocking threads wait for a pooled connection or hash a
            // password: more than those can use only queue and cost memory.
            .worker_max_blocking_threads(blocking_threads)
            .shutdown_timeout(30)
            .client_request_timeout(std::time::Duration::from_secs(args.request_timeout))
            .client_disconnect_timeout(std::time::Duration::from_secs(1))
            .bind(&args.bind)
            .map_err(|e| format!("cannot listen on {}: {e}", args.bind))?;
        if let Some(workers) = args.workers {
            server = server.workers(workers);
        }
        // Metrics get a listener of their own, so /metrics is never reachable
        // on the API's address (typically kept to a private network).
        let metrics_server = match &args.metrics_bind {
            None => None,
            Some(addr) => {
                let server = HttpServer::new(move || griddesk::build_metrics_app(metrics.clone(), metrics_db.clone()))
                    .workers(1)
                    .shutdown_timeout(1)
                    .client_request_timeout(std::time::Duration::from_secs(args.request_timeout))
                    .bind(addr)
                    .map_err(|e| format!("cannot listen on {addr} (--metrics-bind): {e}"))?;
                tracing::info!(metrics_bind = %addr, "Prometheus metrics at /metrics on their own listener");
                Some(server.run())
            }
        };
        if args.no_worker {
            tracing::info!("the deadline worker and webhook deliveries are off in this process (--no-worker)");
        } else {
            let interval = std::time::Duration::from_secs(args.worker_interval);
            actix_web::rt::spawn(griddesk::worker::run_forever(
                worker_db,
                worker_clock,
                interval,
                args.deadline_warning(),
                args.notification_retention_days,
                worker_metrics.clone(),
            ));
            // Webhook deliveries run beside it, on their own loop: a slow
            // endpoint never holds up the deadlines.
            actix_web::rt::spawn(griddesk::webhooks::run_forever(
                webhook_db,
                webhook_clock,
                deliverer,
                worker_metrics,
            ));
        }
        tracing::info!(bind = %args.bind, database = backend, "griddesk is serving; Swagger UI at /swagger-ui/");
        // actix-web stops gracefully on SIGTERM and SIGINT: it stops accepting,
        // lets requests in flight finish (up to the shutdown timeout), then exits.
        let served = match metrics_server {
            None => server.run().await,
            Some(metrics_server) => futures_util::future::try_join(server.run(), metrics_server)
                .await
                .map(|_| ()),
        };
        served.map_err(|e| format!("server error: {e}"))
    });
    // Audit rows of the last requests may still be queued: write them.
    audit.drain_before_exit(std::time::Duration::from_secs(10));
    served
}

fn create_admin(database_url: &str, username: &str, display: Option<&str>) -> Result<(), String> {
    let username = Username::parse(username).map_err(|e| format!("--username: {}", e.message.en))?;
    let display =
        display_name(display.unwrap_or(username.as_str())).map_err(|e| format!("--display-name: {}", e.message.en))?;
    let raw = match std::env::var("GRIDDESK_ADMIN_PASSWORD") {
        Ok(p) => p,
        Err(_) => {
            eprintln!("Password for {} (from standard input):", username.as_str());
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(|e| format!("cannot read the password: {e}"))?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    let password = Password::parse(&raw).map_err(|e| format!("password: {}", e.message.en))?;
    let hash = griddesk::auth::password::hash(password.expose()).map_err(|e| e.to_string())?;
    let db = open_db(database_url)?;
    let now = Clock::system().now_naive();
    let user = db
        .write_blocking(move |conn| {
            queries::insert_user(
                conn,
                &NewUserRow::new(username.as_str(), &display, &hash, Role::Superadmin.as_str(), now),
            )
        })
        .map_err(|e| e.to_string())?;
    println!("created super-admin {} (id {})", user.username, user.id);
    Ok(())
}

fn demo(database_url: &str, tickets: Option<u64>) -> Result<(), String> {
    let db = open_db(database_url)?;
    let summary = griddesk::demo::load(&db, Clock::system().now_naive(), true).map_err(|e| e.to_string())?;
    if summary.created {
        println!(
            "Loaded the demo community 军门社区: 1 committee, 3 branches, 6 buildings, 18 households, \
             20 residents, 29 staff and admin accounts, and 15 sample tickets in every status \
             (overdue ones among them, one auto-escalated by the deadline worker, one with an approved extension, \
             and a mediated dispute settled under an agreement whose follow-up visit is due)."
        );
    } else {
        println!("The demo community 军门社区 is already loaded; nothing was added.");
    }
    println!();
    println!("Start the server (`cargo run --release`), open http://127.0.0.1:8080/swagger-ui/,");
    println!("call POST /api/v1/auth/login with one of these accounts, then paste access_token into \"Authorize\".");
    println!("Every demo account's password is: {}", griddesk::demo::DEMO_PASSWORD);
    println!();
    for (role, username, note) in summary.accounts {
        println!("  {role:<9} {username:<16} {note}");
    }
    if let Some(target) = tickets {
        println!();
        println!("Generating tickets until the database holds {target} …");
        let started = std::time::Instant::now();
        let added =
            griddesk::generate::fill(&db, target, Clock::system().now_naive(), 2026).map_err(|e| e.to_string())?;
        println!("Added {added} tickets in {:.1} s.", started.elapsed().as_secs_f64());
    }
    Ok(())
}
