use std::process::ExitCode;

use actix_web::HttpServer;
use clap::{Parser, Subcommand};

use rapport::auth::{parse_ttl, JwtKeys, Scope};
use rapport::config::Config;
use rapport::state::AppState;
use rapport::{build_app, db, openapi, telemetry};

/// rapport: a self-hostable customer database served as a REST/JSON API.
///
/// Configuration comes from environment variables (and a `.env` file in the working
/// directory): DATABASE_URL (default: SQLite file rapport.db), RAPPORT_ADDR
/// (127.0.0.1:8080), RAPPORT_JWT_SECRET, RAPPORT_JWT_PREVIOUS_SECRETS, RAPPORT_DEFAULT_COUNTRY, RAPPORT_BODY_LIMIT,
/// RAPPORT_DB_POOL_SIZE, RAPPORT_DB_STARTUP_TIMEOUT, RAPPORT_SMTP_URL, RAPPORT_MAIL_FROM,
/// RAPPORT_MAIL_REPLY_TO, RAPPORT_PUBLIC_URL, RAPPORT_DOUBLE_OPT_IN, RAPPORT_CONFIRM_TTL,
/// RAPPORT_FORM_RATE_LIMIT, RAPPORT_CORS_ORIGINS, RAPPORT_TRUST_PROXY, RAPPORT_TIMEZONE,
/// RAPPORT_FREQUENCY_CAP, RAPPORT_CAMPAIGN_SEND_RATE, RAPPORT_RFM_REFRESH_SECONDS,
/// RAPPORT_PREDICTIONS_REFRESH_SECONDS, RAPPORT_PREDICTION_HORIZON_DAYS, RAPPORT_CLV_DISCOUNT_RATE,
/// RAPPORT_RECOMMENDATIONS_REFRESH_SECONDS, RAPPORT_REPEATABLE_PRODUCT_TYPES,
/// RAPPORT_WEBHOOK_ALLOW_PRIVATE, RAPPORT_EVENT_RETENTION_DAYS, RUST_LOG,
/// RAPPORT_LOG_FORMAT. See README.md for each.
#[derive(Parser)]
#[command(name = "rapport", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending migrations and serve the API (the default).
    Serve,
    /// Apply pending database migrations, then exit.
    Migrate,
    /// Print a signed API token (JWT) for a client.
    Token {
        /// Who the token is for (the `sub` claim), e.g. "shop-checkout".
        #[arg(long)]
        sub: String,
        /// Space-separated scopes, e.g. "customers:read customers:write" (`admin` grants all).
        #[arg(long)]
        scope: String,
        /// Lifetime: a number and a unit (s, m, h, d, w), e.g. 30d.
        #[arg(long, default_value = "30d")]
        ttl: String,
    },
    /// Print the OpenAPI document (JSON) to stdout.
    Openapi,
    /// Apply pending migrations, then fill an empty database with a deterministic demo
    /// dataset: three years of customers, orders, consents, promo codes and campaigns.
    ///
    /// The same --customers, --orders and --seed always give the same data. The database
    /// must be empty (no customers, orders, products, promo codes, segments or
    /// campaigns): seeding a database that holds data is refused.
    Seed {
        /// How many customers.
        #[arg(long, default_value_t = 1000)]
        customers: u64,
        /// How many orders.
        #[arg(long, default_value_t = 10000)]
        orders: u64,
        /// The random seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Check the rollups (sales, purchase days, campaign results and responders) against a
    /// recomputation from the orders and responses (exit status 1 and the differences when
    /// they disagree), or rebuild them.
    Rollups {
        /// Recompute them from the orders and replace them.
        #[arg(long)]
        rebuild: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Openapi = command {
        print!("{}", openapi::to_pretty_json(&openapi::document()));
        return ExitCode::SUCCESS;
    }
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => return fail(error),
    };
    telemetry::init(&config.log_filter, config.log_format);
    let outcome = match command {
        Command::Serve => serve(config),
        Command::Migrate => migrate(&config),
        Command::Token { sub, scope, ttl } => token(&config, &sub, &scope, &ttl),
        Command::Seed { customers, orders, seed } => seed_database(&config, customers, orders, seed),
        Command::Rollups { rebuild } => rollups(&config, rebuild),
        Command::Openapi => unreachable!("handled above"),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(message),
    }
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("rapport: {message}");
    ExitCode::FAILURE
}

fn open_database(config: &Config, migrate: bool) -> Result<db::Database, String> {
    db::open(&config.database, config.db_pool_size, config.db_acquire_timeout, config.db_startup_timeout, migrate)
        .map_err(|e| e.to_string())
}

fn migrate(config: &Config) -> Result<(), String> {
    let database = open_database(config, true)?;
    ensure_data_keys(&database, &config.jwt_secret.load()?)?;
    ensure_rollups(&database, config)?;
    println!("migrations are up to date on {}", config.database.redacted());
    Ok(())
}

/// The keys of suppression hashes and link signatures, created once (see services::keys).
fn ensure_data_keys(database: &db::Database, secret: &[u8]) -> Result<rapport::keys::DataKeys, String> {
    rapport::services::keys::ensure(database, secret).map_err(|e| format!("cannot load the data keys: {e}"))
}

/// The sales rollups follow RAPPORT_TIMEZONE: built on first start, rebuilt when it changes.
fn ensure_rollups(database: &db::Database, config: &Config) -> Result<(), String> {
    let started = std::time::Instant::now();
    if rapport::services::rollups::ensure(database, config.timezone).map_err(|e| e.to_string())? {
        tracing::info!(
            timezone = config.timezone.name(),
            seconds = started.elapsed().as_secs_f64(),
            "sales rollups built from the orders"
        );
    }
    Ok(())
}

fn rollups(config: &Config, rebuild: bool) -> Result<(), String> {
    let database = open_database(config, true)?;
    let started = std::time::Instant::now();
    if rebuild {
        database
            .with_conn(|conn| rapport::services::rollups::rebuild(conn, config.timezone))
            .map_err(|e| e.to_string())?;
        println!("sales rollups rebuilt in {} in {:.1} s", config.timezone.name(), started.elapsed().as_secs_f64());
        return Ok(());
    }
    ensure_rollups(&database, config)?;
    let differences = database.with_conn(rapport::services::rollups::check).map_err(|e| e.to_string())?;
    if differences.is_empty() {
        println!("sales rollups agree with the orders ({:.1} s)", started.elapsed().as_secs_f64());
        return Ok(());
    }
    for difference in differences.iter().take(50) {
        println!("{difference}");
    }
    Err(format!(
        "{} rollup rows disagree with the orders; `rapport rollups --rebuild` recomputes them",
        differences.len()
    ))
}

fn seed_database(config: &Config, customers: u64, orders: u64, seed: u64) -> Result<(), String> {
    let database = open_database(config, true)?;
    // Before the data, so that a demo database gets random data keys, not the token secret.
    ensure_data_keys(&database, &config.jwt_secret.load()?)?;
    let options = rapport::seed::SeedOptions { customers, orders, seed, progress: true, timezone: config.timezone };
    let summary = rapport::seed::run(&database, &options).map_err(|e| e.to_string())?;
    println!(
        "seeded {} in {:.1} s (seed {seed}):\n{summary}",
        config.database.redacted(),
        summary.elapsed.as_secs_f64()
    );
    Ok(())
}

fn token(config: &Config, sub: &str, scope: &str, ttl: &str) -> Result<(), String> {
    let scopes = scope
        .split_whitespace()
        .map(|s| Scope::parse(s).ok_or_else(|| format!("--scope: unknown scope `{s}`; known: {}", known_scopes())))
        .collect::<Result<Vec<_>, _>>()?;
    if scopes.is_empty() {
        return Err(format!("--scope: give at least one of: {}", known_scopes()));
    }
    if sub.trim().is_empty() {
        return Err("--sub: must not be empty".into());
    }
    let ttl = parse_ttl(ttl).map_err(|e| format!("--ttl: {e}"))?;
    let keys = JwtKeys::new(&config.jwt_secret.load()?);
    println!("{}", keys.issue(sub.trim(), &scopes, ttl));
    Ok(())
}

fn known_scopes() -> String {
    Scope::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
}

/// Starts delivery when SMTP is configured; otherwise says what waits in the outbox.
fn start_outbox(database: &db::Database, config: &Config) -> Result<(), String> {
    match rapport::services::messages::Mailer::from_config(&config.mail)? {
        Some(mailer) => {
            tracing::info!("outbox delivery over SMTP is on");
            rapport::services::messages::spawn_worker(database.clone(), mailer);
        }
        None => {
            let pending = database.with_conn(rapport::services::messages::count_pending).unwrap_or(0);
            tracing::warn!(
                pending,
                "RAPPORT_SMTP_URL is not set: messages stay undelivered in the outbox (GET /v1/messages)"
            );
        }
    }
    Ok(())
}

fn serve(config: Config) -> Result<(), String> {
    let secret = config.jwt_secret.load()?;
    if let rapport::config::JwtSecret::File(path) = &config.jwt_secret {
        tracing::info!(path = %path.display(), "token signing secret (RAPPORT_JWT_SECRET unset)");
    }
    let database = open_database(&config, true)?;
    let keys = std::sync::Arc::new(ensure_data_keys(&database, &secret)?);
    ensure_rollups(&database, &config)?;
    tracing::info!(database = %config.database.redacted(), addr = %config.addr, "rapport listening; docs at /docs/");
    let addr = config.addr;
    start_outbox(&database, &config)?;
    let import_context = rapport::services::imports::ImportContext {
        database: database.clone(),
        keys: keys.clone(),
        default_country: config.default_country,
    };
    rapport::services::imports::spawn_resumer(import_context);
    rapport::services::idempotency::spawn_cleanup(database.clone());
    rapport::services::segments::spawn_rfm_refresh(database.clone(), config.rfm_refresh);
    rapport::services::predictions::spawn_refresh(database.clone(), config.predictions);
    rapport::services::recommendations::spawn_recommendations_refresh(database.clone(), config.recommendations_refresh);
    // Runs for as long as the process does (dropping the handle does not stop it).
    let _webhook_worker = rapport::services::webhooks::spawn_worker(database.clone(), config.webhooks)?;
    rapport::services::flows::spawn_worker(database.clone(), config.clone(), keys.clone());
    rapport::services::enquiries::spawn_follow_up_worker(database.clone());
    rapport::services::events::spawn_retention(
        database.clone(),
        chrono::Duration::days(config.webhooks.event_retention_days.into()),
    );
    let state = AppState::new(database, JwtKeys::with_previous(&secret, &config.jwt_previous_secrets), keys, config);
    // actix handles SIGINT/SIGTERM: stop accepting, finish in-flight requests, exit.
    actix_web::rt::System::new()
        .block_on(async move {
            HttpServer::new(move || build_app(state.clone())).bind(addr)?.shutdown_timeout(30).run().await
        })
        .map_err(|e| format!("cannot serve on {addr}: {e}"))
}
