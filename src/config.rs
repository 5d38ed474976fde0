//! Configuration from environment variables (and `.env`). A bad value stops startup
//! with one line naming the variable.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::auth::MIN_SECRET_BYTES;
use crate::db::DatabaseTarget;
use crate::domain::Country;
use crate::telemetry::LogFormat;

pub const DEFAULT_DATABASE_FILE: &str = "rapport.db";
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";

#[derive(Debug, Clone)]
pub struct Config {
    pub database: DatabaseTarget,
    pub addr: SocketAddr,
    pub jwt_secret: JwtSecret,
    /// `RAPPORT_JWT_PREVIOUS_SECRETS`: former token secrets whose tokens are still accepted.
    pub jwt_previous_secrets: Vec<String>,
    /// Region for phone numbers written without +CC.
    pub default_country: Option<Country>,
    /// `RAPPORT_TIMEZONE`: the shop's IANA time zone (days, birthdays, analytics periods).
    pub timezone: chrono_tz::Tz,
    /// `RAPPORT_RFM_REFRESH_SECONDS`: how often RFM scores are brought up to date in the
    /// background (0: only when segments or analytics need them).
    pub rfm_refresh: Duration,
    /// `RAPPORT_RECOMMENDATIONS_REFRESH_SECONDS`: how often the stored price bands,
    /// affinities and "also bought" associations are brought up to date (0: never).
    pub recommendations_refresh: Duration,
    /// `RAPPORT_REPEATABLE_PRODUCT_TYPES`: product types bought again and again
    /// (consumables), recommended even to customers who bought the product before.
    pub repeatable_product_types: Vec<String>,
    /// Largest accepted JSON body on authenticated endpoints, in bytes.
    pub body_limit: usize,
    pub db_pool_size: u32,
    /// How long to wait for a pooled connection before answering 503.
    pub db_acquire_timeout: Duration,
    /// How long startup retries an unreachable PostgreSQL before giving up.
    pub db_startup_timeout: Duration,
    pub log_filter: String,
    pub log_format: LogFormat,
    pub mail: MailConfig,
    pub forms: FormsConfig,
    pub campaigns: CampaignsConfig,
    pub predictions: PredictionsConfig,
    pub webhooks: WebhooksConfig,
}

/// Events and webhooks (services::events, services::webhooks).
#[derive(Debug, Clone, Copy)]
pub struct WebhooksConfig {
    /// `RAPPORT_EVENT_RETENTION_DAYS`: how long events (and their deliveries) are kept.
    pub event_retention_days: u32,
    /// `RAPPORT_WEBHOOK_ALLOW_PRIVATE`: for development only, lets webhooks use `http` and
    /// reach loopback, private and link-local addresses.
    pub allow_private: bool,
}

/// Purchase predictions (domain::predictions).
#[derive(Debug, Clone, Copy)]
pub struct PredictionsConfig {
    /// `RAPPORT_PREDICTIONS_REFRESH_SECONDS`: how often the background job checks whether
    /// the orders or the day changed and, if so, refits and rescores (0: never).
    pub refresh: Duration,
    /// `RAPPORT_PREDICTION_HORIZON_DAYS`: the days ahead `expected_orders` covers.
    pub horizon_days: u32,
    /// `RAPPORT_CLV_DISCOUNT_RATE`: the annual rate the 12-month value is discounted at.
    pub clv_discount_rate: f64,
}

/// Outbound mail.
#[derive(Debug, Clone)]
pub struct MailConfig {
    /// `RAPPORT_SMTP_URL`; without it, messages wait in the outbox.
    pub smtp_url: Option<String>,
    pub from: lettre::message::Mailbox,
    pub reply_to: Option<lettre::message::Mailbox>,
    /// Base of the links in messages (confirm, unsubscribe), without a trailing slash.
    pub public_url: String,
    /// `RAPPORT_SHOP_NAME`: the shop's name in messages (`{{shop_name}}`); defaults to the
    /// sender's display name.
    pub shop_name: String,
    /// `RAPPORT_SHOP_EMAIL`: where flows' `notify_shop` steps write; defaults to the sender.
    pub shop_email: lettre::message::Mailbox,
}

/// The public forms and links.
#[derive(Debug, Clone)]
pub struct FormsConfig {
    pub double_opt_in: bool,
    pub confirm_ttl: chrono::Duration,
    /// Requests per minute per client IP across the public endpoints.
    pub rate_limit_per_minute: u32,
    /// Origins allowed to call the public endpoints from a browser.
    pub cors_origins: Vec<String>,
    /// Take the client IP from `X-Forwarded-For` (only behind a trusted proxy).
    pub trust_proxy: bool,
}

/// Campaign defaults.
#[derive(Debug, Clone, Copy)]
pub struct CampaignsConfig {
    /// `RAPPORT_FREQUENCY_CAP` `N/D`: at most N campaign contacts per customer in D days.
    pub frequency_cap: (i64, i64),
    /// `RAPPORT_CAMPAIGN_SEND_RATE`: campaign mails queued per minute.
    pub send_rate_per_minute: i64,
}

/// An IANA time zone name, e.g. `Europe/Paris`.
pub fn parse_timezone(name: &str) -> Result<chrono_tz::Tz, String> {
    name.trim()
        .parse::<chrono_tz::Tz>()
        .map_err(|_| format!("`{}` is not an IANA time zone like Europe/Paris", name.trim()))
}

/// `N/D`, e.g. `2/7`: at most N contacts per D days.
pub fn parse_frequency_cap(text: &str) -> Result<(i64, i64), String> {
    let parsed =
        text.split_once('/').and_then(|(n, d)| Some((n.trim().parse::<i64>().ok()?, d.trim().parse::<i64>().ok()?)));
    match parsed {
        Some((n, d)) if (1..=100).contains(&n) && (1..=365).contains(&d) => Ok((n, d)),
        _ => Err(format!("`{text}`: expected N/D, at most N contacts (1-100) per D days (1-365), e.g. 2/7")),
    }
}

/// A comma-separated list of product types, e.g. `coffee, tea` (blanks and empty items
/// ignored; each type 1 to 100 characters, without control characters).
pub fn parse_product_types(list: &str) -> Result<Vec<String>, String> {
    let mut types: Vec<String> = Vec::new();
    for item in list.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        if item.chars().count() > 100 || item.chars().any(char::is_control) {
            return Err(format!("`{item}` is not a product type (1 to 100 characters, no control characters)"));
        }
        if !types.iter().any(|t| t == item) {
            types.push(item.to_string());
        }
    }
    Ok(types)
}

/// A comma-separated list of former token secrets, each as long as a current one must be.
pub fn parse_previous_secrets(list: &str) -> Result<Vec<String>, String> {
    let secrets: Vec<String> = list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect();
    for (position, secret) in secrets.iter().enumerate() {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(format!(
                "secret {} of the list is {} bytes; each needs at least {MIN_SECRET_BYTES}, like RAPPORT_JWT_SECRET",
                position + 1,
                secret.len()
            ));
        }
    }
    Ok(secrets)
}

/// Where the token signing secret comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwtSecret {
    /// `RAPPORT_JWT_SECRET`.
    Given(String),
    /// Zero-config SQLite start: a generated secret in a file beside the database.
    File(PathBuf),
}

impl JwtSecret {
    /// The secret bytes, creating the file on first use.
    pub fn load(&self) -> Result<Vec<u8>, String> {
        match self {
            JwtSecret::Given(secret) => Ok(secret.as_bytes().to_vec()),
            JwtSecret::File(path) => crate::auth::load_or_create_secret_file(path)
                .map_err(|e| format!("cannot read or create the secret file {}: {e}", path.display())),
        }
    }
}

/// One invalid variable and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

fn invalid(variable: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError { variable, problem: problem.into() }
}

impl Config {
    /// Reads the process environment (after loading `.env` if there is one).
    pub fn from_env() -> Result<Config, ConfigError> {
        let _ = dotenvy::dotenv();
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`; empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());

        let database = parse_database_url(get("DATABASE_URL").as_deref())?;
        let addr = get("RAPPORT_ADDR")
            .unwrap_or_else(|| DEFAULT_ADDR.to_string())
            .parse::<SocketAddr>()
            .map_err(|_| invalid("RAPPORT_ADDR", "expected HOST:PORT with an IP address, e.g. 127.0.0.1:8080"))?;

        let jwt_secret = match (get("RAPPORT_JWT_SECRET"), &database) {
            (Some(secret), _) if secret.len() < MIN_SECRET_BYTES => {
                return Err(invalid(
                    "RAPPORT_JWT_SECRET",
                    format!("is {} bytes; use at least {MIN_SECRET_BYTES} (e.g. `openssl rand -hex 32`)", secret.len()),
                ))
            }
            (Some(secret), _) => JwtSecret::Given(secret),
            (None, DatabaseTarget::Sqlite(path)) => JwtSecret::File(secret_file_beside(path)),
            (None, DatabaseTarget::Postgres(_)) => {
                return Err(invalid(
                    "RAPPORT_JWT_SECRET",
                    "is required with PostgreSQL (at least 32 bytes, e.g. `openssl rand -hex 32`)",
                ))
            }
        };

        let jwt_previous_secrets = match get("RAPPORT_JWT_PREVIOUS_SECRETS") {
            None => Vec::new(),
            Some(list) => parse_previous_secrets(&list).map_err(|e| invalid("RAPPORT_JWT_PREVIOUS_SECRETS", e))?,
        };

        let default_country = match get("RAPPORT_DEFAULT_COUNTRY") {
            None => None,
            Some(code) => Some(Country::parse(&code).map_err(|_| {
                invalid("RAPPORT_DEFAULT_COUNTRY", format!("`{code}` is not an ISO 3166-1 alpha-2 country code"))
            })?),
        };

        let body_limit = parse_number(&get, "RAPPORT_BODY_LIMIT", 1024 * 1024, 1024, 64 * 1024 * 1024)?;
        let db_pool_size = parse_number(&get, "RAPPORT_DB_POOL_SIZE", 8, 1, 256)? as u32;
        let db_startup_timeout =
            Duration::from_secs(parse_number(&get, "RAPPORT_DB_STARTUP_TIMEOUT", 30, 0, 3600)? as u64);

        let log_filter = get("RUST_LOG").unwrap_or_else(|| "info".to_string());
        tracing_subscriber::EnvFilter::try_new(&log_filter)
            .map_err(|e| invalid("RUST_LOG", format!("not a valid filter: {e}")))?;
        let log_format = match get("RAPPORT_LOG_FORMAT").as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => return Err(invalid("RAPPORT_LOG_FORMAT", format!("`{other}`: use `text` or `json`"))),
        };

        let from = parse_mailbox(
            get("RAPPORT_MAIL_FROM").as_deref().unwrap_or("rapport <no-reply@localhost>"),
            "RAPPORT_MAIL_FROM",
        )?;
        let mail = MailConfig {
            shop_name: match get("RAPPORT_SHOP_NAME") {
                Some(name) if !name.trim().is_empty() => name.trim().to_string(),
                _ => from.name.clone().unwrap_or_else(|| "rapport".to_string()),
            },
            shop_email: match get("RAPPORT_SHOP_EMAIL") {
                Some(address) => parse_mailbox(&address, "RAPPORT_SHOP_EMAIL")?,
                None => from.clone(),
            },
            smtp_url: match get("RAPPORT_SMTP_URL") {
                None => None,
                Some(url) => {
                    lettre::SmtpTransport::from_url(&url).map_err(|e| {
                        invalid(
                            "RAPPORT_SMTP_URL",
                            format!("expected smtp://HOST:PORT or smtps://USER:PASSWORD@HOST ({e})"),
                        )
                    })?;
                    Some(url)
                }
            },
            from,
            reply_to: get("RAPPORT_MAIL_REPLY_TO").map(|m| parse_mailbox(&m, "RAPPORT_MAIL_REPLY_TO")).transpose()?,
            public_url: match get("RAPPORT_PUBLIC_URL") {
                None => format!("http://{addr}"),
                Some(url) => {
                    url::Url::parse(&url).ok().filter(|u| matches!(u.scheme(), "http" | "https")).ok_or_else(|| {
                        invalid("RAPPORT_PUBLIC_URL", "expected an http(s) URL, e.g. https://shop.example")
                    })?;
                    url.trim_end_matches('/').to_string()
                }
            },
        };
        let forms = FormsConfig {
            double_opt_in: parse_bool(&get, "RAPPORT_DOUBLE_OPT_IN", true)?,
            confirm_ttl: match get("RAPPORT_CONFIRM_TTL") {
                None => chrono::Duration::days(7),
                Some(text) => crate::auth::parse_ttl(&text).map_err(|e| invalid("RAPPORT_CONFIRM_TTL", e))?,
            },
            rate_limit_per_minute: parse_number(&get, "RAPPORT_FORM_RATE_LIMIT", 10, 1, 100_000)? as u32,
            cors_origins: match get("RAPPORT_CORS_ORIGINS") {
                None => Vec::new(),
                Some(list) => list
                    .split(',')
                    .map(str::trim)
                    .filter(|o| !o.is_empty())
                    .map(|origin| {
                        url::Url::parse(origin)
                            .ok()
                            .filter(|u| matches!(u.scheme(), "http" | "https") && u.path() == "/")
                            .map(|_| origin.trim_end_matches('/').to_string())
                            .ok_or_else(|| {
                                invalid(
                                    "RAPPORT_CORS_ORIGINS",
                                    format!("`{origin}` is not an origin like https://shop.example"),
                                )
                            })
                    })
                    .collect::<Result<_, _>>()?,
            },
            trust_proxy: parse_bool(&get, "RAPPORT_TRUST_PROXY", false)?,
        };

        let timezone = match get("RAPPORT_TIMEZONE") {
            None => chrono_tz::UTC,
            Some(name) => parse_timezone(&name).map_err(|e| invalid("RAPPORT_TIMEZONE", e))?,
        };
        let campaigns = CampaignsConfig {
            frequency_cap: match get("RAPPORT_FREQUENCY_CAP") {
                None => (2, 7),
                Some(text) => parse_frequency_cap(&text).map_err(|e| invalid("RAPPORT_FREQUENCY_CAP", e))?,
            },
            send_rate_per_minute: parse_number(&get, "RAPPORT_CAMPAIGN_SEND_RATE", 600, 1, 100_000)? as i64,
        };

        Ok(Config {
            mail,
            forms,
            campaigns,
            database,
            addr,
            jwt_secret,
            jwt_previous_secrets,
            default_country,
            timezone,
            rfm_refresh: Duration::from_secs(parse_number(&get, "RAPPORT_RFM_REFRESH_SECONDS", 60, 0, 86_400)? as u64),
            predictions: PredictionsConfig {
                refresh: Duration::from_secs(
                    parse_number(&get, "RAPPORT_PREDICTIONS_REFRESH_SECONDS", 600, 0, 86_400)? as u64,
                ),
                horizon_days: parse_number(&get, "RAPPORT_PREDICTION_HORIZON_DAYS", 90, 1, 3_650)? as u32,
                clv_discount_rate: parse_rate(&get, "RAPPORT_CLV_DISCOUNT_RATE", 0.10)?,
            },
            webhooks: WebhooksConfig {
                event_retention_days: parse_number(&get, "RAPPORT_EVENT_RETENTION_DAYS", 30, 1, 3_650)? as u32,
                allow_private: parse_bool(&get, "RAPPORT_WEBHOOK_ALLOW_PRIVATE", false)?,
            },
            recommendations_refresh: Duration::from_secs(parse_number(
                &get,
                "RAPPORT_RECOMMENDATIONS_REFRESH_SECONDS",
                300,
                0,
                86_400,
            )? as u64),
            repeatable_product_types: match get("RAPPORT_REPEATABLE_PRODUCT_TYPES") {
                None => Vec::new(),
                Some(list) => parse_product_types(&list).map_err(|e| invalid("RAPPORT_REPEATABLE_PRODUCT_TYPES", e))?,
            },
            body_limit,
            db_pool_size,
            db_acquire_timeout: Duration::from_secs(5),
            db_startup_timeout,
            log_filter,
            log_format,
        })
    }
}

fn parse_mailbox(text: &str, name: &'static str) -> Result<lettre::message::Mailbox, ConfigError> {
    text.parse().map_err(|_| invalid(name, format!("`{text}` is not an address like `Shop <news@shop.example>`")))
}

fn parse_bool(get: &impl Fn(&str) -> Option<String>, name: &'static str, default: bool) -> Result<bool, ConfigError> {
    match get(name).map(|v| v.to_ascii_lowercase()).as_deref() {
        None => Ok(default),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some("0" | "false" | "no" | "off") => Ok(false),
        Some(other) => Err(invalid(name, format!("`{other}`: use true or false"))),
    }
}

/// A rate from 0 to 1 (`0.1` or `10%`).
fn parse_rate(get: &impl Fn(&str) -> Option<String>, name: &'static str, default: f64) -> Result<f64, ConfigError> {
    let Some(text) = get(name) else { return Ok(default) };
    let trimmed = text.trim();
    let parsed = match trimmed.strip_suffix('%') {
        Some(percent) => percent.trim().parse::<f64>().ok().map(|p| p / 100.0),
        None => trimmed.parse::<f64>().ok(),
    };
    parsed
        .filter(|rate| (0.0..=1.0).contains(rate))
        .ok_or_else(|| invalid(name, format!("`{text}` must be a rate from 0 to 1, e.g. 0.1 or 10%")))
}

fn parse_number(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: usize,
    min: usize,
    max: usize,
) -> Result<usize, ConfigError> {
    match get(name) {
        None => Ok(default),
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| invalid(name, format!("`{text}` must be a whole number from {min} to {max}"))),
    }
}

/// `sqlite://PATH`, `sqlite:PATH`, a plain path, or `postgres://` / `postgresql://`.
pub fn parse_database_url(value: Option<&str>) -> Result<DatabaseTarget, ConfigError> {
    let Some(value) = value else {
        return Ok(DatabaseTarget::Sqlite(PathBuf::from(DEFAULT_DATABASE_FILE)));
    };
    if value.starts_with("postgres://") || value.starts_with("postgresql://") {
        url::Url::parse(value).ok().filter(|u| u.host_str().is_some()).ok_or_else(|| {
            invalid("DATABASE_URL", "is not a valid postgres:// URL (postgres://USER:PASSWORD@HOST:PORT/DATABASE)")
        })?;
        return Ok(DatabaseTarget::Postgres(value.to_string()));
    }
    let path = value.strip_prefix("sqlite://").or_else(|| value.strip_prefix("sqlite:")).unwrap_or(value);
    if path.is_empty() || path.contains("://") {
        return Err(invalid("DATABASE_URL", "expected sqlite://PATH, a file path, or postgres://USER@HOST/DATABASE"));
    }
    if path == ":memory:" {
        return Err(invalid("DATABASE_URL", "an in-memory SQLite database is not supported; give a file path"));
    }
    Ok(DatabaseTarget::Sqlite(PathBuf::from(path)))
}

/// `data/rapport.db` -> `data/rapport.db.jwt-secret`.
pub fn secret_file_beside(database: &Path) -> PathBuf {
    let mut name = database.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".jwt-secret");
    database.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_to_sqlite_file_and_secret_beside_it() {
        let config = config(&[]).unwrap();
        assert_eq!(config.database, DatabaseTarget::Sqlite("rapport.db".into()));
        assert_eq!(config.jwt_secret, JwtSecret::File("rapport.db.jwt-secret".into()));
        assert_eq!(config.addr.to_string(), "127.0.0.1:8080");
        assert_eq!(config.body_limit, 1024 * 1024);
    }

    #[test]
    fn database_url_forms() {
        assert_eq!(parse_database_url(Some("sqlite://data/x.db")).unwrap(), DatabaseTarget::Sqlite("data/x.db".into()));
        assert_eq!(parse_database_url(Some("sqlite:///tmp/x.db")).unwrap(), DatabaseTarget::Sqlite("/tmp/x.db".into()));
        assert_eq!(parse_database_url(Some("x.db")).unwrap(), DatabaseTarget::Sqlite("x.db".into()));
        assert!(matches!(parse_database_url(Some("postgres://u@localhost/db")).unwrap(), DatabaseTarget::Postgres(_)));
        assert_eq!(parse_database_url(Some("mysql://x")).unwrap_err().variable, "DATABASE_URL");
    }

    #[test]
    fn postgres_needs_a_secret() {
        let error = config(&[("DATABASE_URL", "postgres://u@localhost/db")]).unwrap_err();
        assert_eq!(error.variable, "RAPPORT_JWT_SECRET");
    }

    #[test]
    fn short_secret_is_refused() {
        let error = config(&[("RAPPORT_JWT_SECRET", "too-short")]).unwrap_err();
        assert_eq!(error.variable, "RAPPORT_JWT_SECRET");
        assert!(error.to_string().contains("at least 32"));
    }

    #[test]
    fn previous_secrets_are_a_list_of_long_secrets() {
        let (a, b) = ("a".repeat(32), "b".repeat(40));
        let list = format!(" {a} ,, {b},");
        let parsed = config(&[("RAPPORT_JWT_PREVIOUS_SECRETS", list.as_str())]).unwrap();
        assert_eq!(parsed.jwt_previous_secrets, vec![a.clone(), b]);
        assert!(config(&[]).unwrap().jwt_previous_secrets.is_empty());
        let short = format!("{a},short");
        let error = config(&[("RAPPORT_JWT_PREVIOUS_SECRETS", short.as_str())]).unwrap_err();
        assert_eq!(error.variable, "RAPPORT_JWT_PREVIOUS_SECRETS");
        assert!(error.to_string().contains("secret 2") && error.to_string().contains("at least 32"), "{error}");
    }

    #[test]
    fn bad_values_name_their_variable() {
        assert_eq!(config(&[("RAPPORT_ADDR", "nowhere")]).unwrap_err().variable, "RAPPORT_ADDR");
        assert_eq!(config(&[("RAPPORT_DEFAULT_COUNTRY", "XX")]).unwrap_err().variable, "RAPPORT_DEFAULT_COUNTRY");
        assert_eq!(config(&[("RAPPORT_BODY_LIMIT", "-1")]).unwrap_err().variable, "RAPPORT_BODY_LIMIT");
        assert_eq!(config(&[("RUST_LOG", "info,[[")]).unwrap_err().variable, "RUST_LOG");
        assert_eq!(config(&[("RAPPORT_LOG_FORMAT", "xml")]).unwrap_err().variable, "RAPPORT_LOG_FORMAT");
        assert_eq!(config(&[("RAPPORT_SMTP_URL", "ftp://x")]).unwrap_err().variable, "RAPPORT_SMTP_URL");
        assert_eq!(config(&[("RAPPORT_MAIL_FROM", "not an address")]).unwrap_err().variable, "RAPPORT_MAIL_FROM");
        assert_eq!(config(&[("RAPPORT_PUBLIC_URL", "shop")]).unwrap_err().variable, "RAPPORT_PUBLIC_URL");
        assert_eq!(config(&[("RAPPORT_DOUBLE_OPT_IN", "maybe")]).unwrap_err().variable, "RAPPORT_DOUBLE_OPT_IN");
        assert_eq!(config(&[("RAPPORT_CONFIRM_TTL", "7")]).unwrap_err().variable, "RAPPORT_CONFIRM_TTL");
        assert_eq!(config(&[("RAPPORT_CORS_ORIGINS", "shop.example")]).unwrap_err().variable, "RAPPORT_CORS_ORIGINS");
        for cap in ["2", "0/7", "2/0", "2/x", "101/7"] {
            assert_eq!(config(&[("RAPPORT_FREQUENCY_CAP", cap)]).unwrap_err().variable, "RAPPORT_FREQUENCY_CAP");
        }
        assert_eq!(config(&[("RAPPORT_TIMEZONE", "Mars/Olympus")]).unwrap_err().variable, "RAPPORT_TIMEZONE");
        assert_eq!(config(&[("RAPPORT_CAMPAIGN_SEND_RATE", "0")]).unwrap_err().variable, "RAPPORT_CAMPAIGN_SEND_RATE");
        let refresh = "RAPPORT_RFM_REFRESH_SECONDS";
        assert_eq!(config(&[(refresh, "86401")]).unwrap_err().variable, refresh);
    }

    #[test]
    fn predictions_settings_have_defaults_and_limits() {
        let defaults = config(&[]).unwrap().predictions;
        assert_eq!(defaults.refresh, Duration::from_secs(600));
        assert_eq!(defaults.horizon_days, 90);
        assert_eq!(defaults.clv_discount_rate, 0.10);
        let set = config(&[
            ("RAPPORT_CLV_DISCOUNT_RATE", "8%"),
            ("RAPPORT_PREDICTION_HORIZON_DAYS", "30"),
            ("RAPPORT_PREDICTIONS_REFRESH_SECONDS", "0"),
        ])
        .unwrap()
        .predictions;
        assert!((set.clv_discount_rate - 0.08).abs() < 1e-12);
        assert_eq!(set.horizon_days, 30);
        assert_eq!(set.refresh, Duration::ZERO);
        assert_eq!(config(&[("RAPPORT_CLV_DISCOUNT_RATE", "0.25")]).unwrap().predictions.clv_discount_rate, 0.25);
        for bad in ["-0.1", "1.5", "ten", "150%"] {
            let error = config(&[("RAPPORT_CLV_DISCOUNT_RATE", bad)]).unwrap_err().to_string();
            assert!(error.contains("RAPPORT_CLV_DISCOUNT_RATE"), "{bad}: {error}");
        }
        assert!(config(&[("RAPPORT_PREDICTION_HORIZON_DAYS", "0")]).is_err());
    }

    #[test]
    fn rfm_refresh_defaults_to_a_minute_and_zero_turns_it_off() {
        assert_eq!(config(&[]).unwrap().rfm_refresh, Duration::from_secs(60));
        assert_eq!(config(&[("RAPPORT_RFM_REFRESH_SECONDS", "0")]).unwrap().rfm_refresh, Duration::ZERO);
    }

    #[test]
    fn webhooks_are_safe_by_default_and_events_kept_thirty_days() {
        let defaults = config(&[]).unwrap().webhooks;
        assert!(!defaults.allow_private);
        assert_eq!(defaults.event_retention_days, 30);
        let set = config(&[("RAPPORT_WEBHOOK_ALLOW_PRIVATE", "true"), ("RAPPORT_EVENT_RETENTION_DAYS", "7")]).unwrap();
        assert!(set.webhooks.allow_private);
        assert_eq!(set.webhooks.event_retention_days, 7);
        assert_eq!(
            config(&[("RAPPORT_EVENT_RETENTION_DAYS", "0")]).unwrap_err().variable,
            "RAPPORT_EVENT_RETENTION_DAYS"
        );
    }

    #[test]
    fn recommendations_refresh_defaults_to_five_minutes_and_zero_turns_it_off() {
        let variable = "RAPPORT_RECOMMENDATIONS_REFRESH_SECONDS";
        assert_eq!(config(&[]).unwrap().recommendations_refresh, Duration::from_secs(300));
        assert_eq!(config(&[(variable, "0")]).unwrap().recommendations_refresh, Duration::ZERO);
        assert_eq!(config(&[(variable, "60")]).unwrap().recommendations_refresh, Duration::from_secs(60));
        for bad in ["86401", "-1", "soon"] {
            assert_eq!(config(&[(variable, bad)]).unwrap_err().variable, variable);
        }
    }

    #[test]
    fn repeatable_product_types_are_a_list() {
        let variable = "RAPPORT_REPEATABLE_PRODUCT_TYPES";
        assert!(config(&[]).unwrap().repeatable_product_types.is_empty());
        let parsed = config(&[(variable, " coffee ,, tea,coffee, ")]).unwrap();
        assert_eq!(parsed.repeatable_product_types, ["coffee", "tea"]);
        let long = "x".repeat(101);
        assert_eq!(config(&[(variable, long.as_str())]).unwrap_err().variable, variable);
        assert_eq!(config(&[(variable, "tea,bad\u{7}type")]).unwrap_err().variable, variable);
    }

    #[test]
    fn campaign_defaults() {
        let config = config(&[("RAPPORT_FREQUENCY_CAP", " 3 / 30 ")]).unwrap();
        assert_eq!((config.campaigns.frequency_cap, config.campaigns.send_rate_per_minute), ((3, 30), 600));
    }
}
