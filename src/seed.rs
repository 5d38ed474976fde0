//! `rapport seed`: a deterministic, realistic demo dataset of any size.
//!
//! Three years of history before 2026-11-01: customers from eight countries (newsletter
//! sign-ups, an old list imported at the start, trade fairs, shops, and mostly first
//! orders), orders with seasonality (Black Friday, Christmas, a quiet summer), weekday
//! and hour patterns, four channels, repeat buyers with a heavy-tailed propensity, a
//! jewellery catalogue with attributes, promo codes (with their limits applied by the
//! same rules as the API), cancellations, refunds, consent histories (checkout opt-ins,
//! double opt-in, imports, unsubscribes), saved segments and five launched campaigns with
//! holdout groups and responses.
//!
//! The same `--customers`, `--orders` and `--seed` give the same rows, ids included, on
//! SQLite and PostgreSQL. Everything is written with explicit ids in large batches: on
//! SQLite multi-row INSERTs of up to `SQLITE_ROWS` rows (under its 32,766 bind
//! variables), on PostgreSQL binary COPY (which writes identity columns as given; the
//! sequences are moved past the seeded ids at the end). Derived data is computed the
//! way the API computes it: search terms and name keys by the domain code, purchase
//! statistics by one set-based `refresh_stats`, promo redemption counters from the
//! redemptions.

mod catalogue;
mod orders;
mod plan;
mod rng;

use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use crate::db::schema::{
    campaigns, customer_consents, customers, orders as orders_table, products, promo_codes, segments,
};
use crate::db::Json;
use crate::db::{Database, DbConn};
use crate::models::campaigns::{CampaignRow, ContactRow, ResponseRow};
use crate::models::consents::{ConsentEventRow, CurrentConsentRow};
use crate::models::customers::{CustomerColumns, CustomerRow, CustomerTagRow, SearchTermRow};
use crate::models::products::ProductRow;
use crate::models::promo_codes::PromoCodeRow;
use crate::models::segments::SegmentRow;

/// Rows per INSERT on SQLite: 1,000 rows of at most 26 columns stay under its limit of
/// 32,766 bound values.
const SQLITE_ROWS: usize = 1000;
/// Customers (with their tags, search terms and consents) per transaction.
const CUSTOMERS_PER_TRANSACTION: usize = 5_000;
/// Orders (with their lines, redemptions and refunds) per transaction.
const ORDERS_PER_TRANSACTION: usize = 10_000;

#[derive(Debug, Clone)]
pub struct SeedOptions {
    pub customers: u64,
    pub orders: u64,
    pub seed: u64,
    /// Print progress lines to stderr.
    pub progress: bool,
    /// The shop's time zone (`RAPPORT_TIMEZONE`): the sales rollups' local days.
    pub timezone: chrono_tz::Tz,
}

/// What was written, and how long it took.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeedSummary {
    pub customers: u64,
    pub customer_tags: u64,
    pub search_terms: u64,
    pub consent_events: u64,
    pub products: u64,
    pub promo_codes: u64,
    pub segments: u64,
    pub campaigns: u64,
    pub campaign_contacts: u64,
    pub campaign_responses: u64,
    pub orders: u64,
    pub order_lines: u64,
    pub promo_redemptions: u64,
    pub refunds: u64,
    pub elapsed: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("the database is not empty ({0}); seed an empty database (a new DATABASE_URL)")]
    NotEmpty(String),
    #[error("{0}")]
    Invalid(String),
    #[error("seeding failed, the database may be partly seeded (start again on an empty database): {0}")]
    Database(#[from] diesel::result::Error),
    #[error("building the sales rollups failed: {0}")]
    Rollups(String),
    #[error("cannot get a database connection")]
    Unavailable,
}

impl crate::db::Contention for SeedError {
    fn is_contention(&self) -> bool {
        matches!(self, SeedError::Database(error) if error.is_contention())
    }
}

/// Seeds the database behind `database`; see the module documentation.
pub fn run(database: &Database, options: &SeedOptions) -> Result<SeedSummary, SeedError> {
    database.with_conn(|conn| Ok(seed(conn, options))).map_err(|_| SeedError::Unavailable)?
}

/// Writes `rows` into `table` in as few statements as the backend allows. The rows are
/// the models' whole rows, every column given, ids included, so that a seed gives the
/// same ids on both backends; their `treat_none_as_default_value = false` keeps each
/// batch one multi-row statement on SQLite and makes them usable by PostgreSQL's COPY.
macro_rules! write_rows {
    ($conn:expr, $table:expr, $rows:expr) => {{
        let rows = $rows;
        if !rows.is_empty() {
            match $conn {
                DbConn::Pg(pg) => {
                    diesel::copy_from($table).from_insertable(rows).execute(pg)?;
                }
                DbConn::Sqlite(sqlite) => {
                    for chunk in rows.chunks(SQLITE_ROWS) {
                        diesel::insert_into($table).values(chunk).execute(sqlite)?;
                    }
                }
            }
        }
        rows.len() as u64
    }};
}

struct Progress {
    enabled: bool,
    started: Instant,
}

impl Progress {
    fn say(&self, message: impl std::fmt::Display) {
        if self.enabled {
            eprintln!("seed: {message} ({:.1} s)", self.started.elapsed().as_secs_f64());
        }
    }
}

fn check_empty(conn: &mut DbConn) -> Result<(), SeedError> {
    let counts = [
        ("customers", customers::table.count().get_result::<i64>(conn)?),
        ("orders", orders_table::table.count().get_result::<i64>(conn)?),
        ("products", products::table.count().get_result::<i64>(conn)?),
        ("promo codes", promo_codes::table.count().get_result::<i64>(conn)?),
        ("segments", segments::table.count().get_result::<i64>(conn)?),
        ("campaigns", campaigns::table.count().get_result::<i64>(conn)?),
    ];
    let held: Vec<String> = counts.iter().filter(|(_, n)| *n > 0).map(|(name, n)| format!("{name}: {n}")).collect();
    if held.is_empty() {
        Ok(())
    } else {
        Err(SeedError::NotEmpty(held.join(", ")))
    }
}

/// Seeds on one connection; see the module documentation.
pub fn seed(conn: &mut DbConn, options: &SeedOptions) -> Result<SeedSummary, SeedError> {
    let progress = Progress { enabled: options.progress, started: Instant::now() };
    if options.orders > 0 && options.customers == 0 {
        return Err(SeedError::Invalid("--orders needs at least one customer".into()));
    }
    if options.customers > u64::from(u32::MAX) || options.orders > u64::from(u32::MAX) {
        return Err(SeedError::Invalid("--customers and --orders are limited to 4294967295".into()));
    }
    check_empty(conn)?;
    let plan = plan::plan(options.customers, options.orders, options.seed);
    progress.say(format_args!(
        "planned {} customers, {} orders, {} campaigns",
        plan.customers.len(),
        plan.orders.len(),
        plan.campaigns.len()
    ));
    let fast = SessionSettings::apply(conn)?;
    let outcome = write_all(conn, &plan, options, &progress);
    fast.restore(conn)?;
    let mut summary = outcome?;
    // The sales rollups are computed once from the seeded orders, in the shop's time zone.
    crate::services::rollups::rebuild(conn, options.timezone).map_err(|e| SeedError::Rollups(e.to_string()))?;
    progress.say("sales rollups built");
    if let DbConn::Pg(pg) = conn {
        // Fresh bulk-loaded tables: statistics for the planner and a visibility map, so
        // covering indexes answer without reading the tables. (On SQLite, ANALYZE made the
        // distinct-customer counts of rankings twice as slow: its planner does better
        // without statistics here.)
        pg.batch_execute("VACUUM ANALYZE")?;
        progress.say("vacuumed and analyzed");
    }
    summary.elapsed = progress.started.elapsed();
    progress.say("done");
    Ok(summary)
}

/// Settings for a bulk load on this connection, undone afterwards: a larger page cache
/// on SQLite, no waiting for the WAL flush at each commit on PostgreSQL (a crash loses at
/// most the last transactions, which a partly seeded database needs redone anyway).
struct SessionSettings;

impl SessionSettings {
    fn apply(conn: &mut DbConn) -> Result<SessionSettings, SeedError> {
        match conn {
            DbConn::Sqlite(c) => c.batch_execute("PRAGMA cache_size = -262144")?,
            DbConn::Pg(c) => c.batch_execute("SET synchronous_commit = off")?,
        }
        Ok(SessionSettings)
    }

    fn restore(self, conn: &mut DbConn) -> Result<(), SeedError> {
        match conn {
            DbConn::Sqlite(c) => c.batch_execute("PRAGMA cache_size = -2000")?,
            DbConn::Pg(c) => c.batch_execute("RESET synchronous_commit")?,
        }
        Ok(())
    }
}

fn write_all(
    conn: &mut DbConn,
    plan: &plan::Plan,
    options: &SeedOptions,
    progress: &Progress,
) -> Result<SeedSummary, SeedError> {
    let mut summary = SeedSummary::default();
    conn.write_transaction(|conn| write_catalogue(conn, plan, &mut summary))?;
    progress.say("wrote products, promo codes, segments and campaigns");

    let mut next_event = 1i64;
    let customer_count = plan.customers.len();
    for (chunk_index, start) in (0..customer_count).step_by(CUSTOMERS_PER_TRANSACTION).enumerate() {
        let range = start..(start + CUSTOMERS_PER_TRANSACTION).min(customer_count);
        conn.write_transaction(|conn| write_customers(conn, plan, range.clone(), &mut next_event, &mut summary))?;
        if chunk_index % 5 == 4 || range.end == customer_count {
            progress.say(format_args!("customers {}/{customer_count}", range.end));
        }
    }

    let mut filler = orders::OrderFiller::new(options.seed);
    let order_count = plan.orders.len();
    for (chunk_index, start) in (0..order_count).step_by(ORDERS_PER_TRANSACTION).enumerate() {
        let range = start..(start + ORDERS_PER_TRANSACTION).min(order_count);
        let batch = filler.fill(plan, range.clone());
        conn.write_transaction(|conn| -> Result<(), diesel::result::Error> {
            summary.orders += write_rows!(conn, orders_table::table, &batch.orders);
            summary.order_lines += write_rows!(conn, crate::db::schema::order_lines::table, &batch.lines);
            summary.promo_redemptions +=
                write_rows!(conn, crate::db::schema::promo_redemptions::table, &batch.redemptions);
            summary.refunds += write_rows!(conn, crate::db::schema::refunds::table, &batch.refunds);
            Ok(())
        })?;
        if chunk_index % 10 == 9 || range.end == order_count {
            progress.say(format_args!("orders {}/{order_count}", range.end));
        }
    }

    conn.write_transaction(|conn| write_campaign_contacts(conn, plan, &mut summary))?;
    progress.say(format_args!(
        "campaign contacts {} and responses {}",
        summary.campaign_contacts, summary.campaign_responses
    ));

    conn.write_transaction(finish)?;
    if let DbConn::Pg(pg) = conn {
        pg.batch_execute("ANALYZE")?;
    }
    progress.say("purchase statistics, promo code counters and id sequences are up to date");
    Ok(summary)
}

fn write_catalogue(conn: &mut DbConn, plan: &plan::Plan, summary: &mut SeedSummary) -> Result<(), SeedError> {
    let product_rows: Vec<ProductRow> = catalogue::PRODUCTS
        .iter()
        .enumerate()
        .map(|(index, product)| {
            let (from, until) = orders::product_dates(product);
            ProductRow {
                id: index as i64 + 1,
                sku: product.sku.to_string(),
                name: product.name.to_string(),
                product_type: product.product_type.to_string(),
                category: Some(product.category.to_string()),
                attributes: Json(orders::object(orders::product_attributes(product))),
                price: product.price,
                currency: "EUR".to_string(),
                track_inventory: false,
                stock_quantity: 0,
                low_stock_threshold: None,
                active: until.is_none(),
                created_at: from - chrono::Duration::days(7),
                updated_at: until.unwrap_or(from),
            }
        })
        .collect();
    summary.products = write_rows!(conn, products::table, &product_rows);

    let start = plan::history_start();
    let code_rows: Vec<PromoCodeRow> = catalogue::promo_codes()
        .iter()
        .enumerate()
        .map(|(index, code)| {
            let created_at = code.valid_from.unwrap_or(start) - chrono::Duration::days(7);
            PromoCodeRow {
                id: index as i64 + 1,
                code: code.code.to_string(),
                description: Some(code.description.to_string()),
                discount_type: code.discount_type.to_string(),
                discount_value: code.discount_value,
                currency: code.currency.map(str::to_string),
                valid_from: code.valid_from,
                valid_until: code.valid_until,
                max_redemptions: code.max_redemptions,
                max_redemptions_per_customer: code.max_redemptions_per_customer,
                min_subtotal: code.min_subtotal,
                campaign_id: code.campaign.map(|c| c as i64 + 1),
                active: code.active,
                redemptions: 0,
                created_at,
                updated_at: created_at,
                cost_currency: None,
                cost_fixed_minor: None,
                cost_per_redemption_minor: None,
            }
        })
        .collect();
    summary.promo_codes = write_rows!(conn, promo_codes::table, &code_rows);

    let saved = catalogue::segments();
    let segment_rows: Vec<SegmentRow> = saved
        .iter()
        .enumerate()
        .map(|(index, segment)| SegmentRow {
            id: index as i64 + 1,
            name: segment.name.to_string(),
            description: Some(segment.description.to_string()),
            rules: Json(segment.audience.rules()),
            created_at: segment.created_at,
            updated_at: segment.created_at,
        })
        .collect();
    summary.segments = write_rows!(conn, segments::table, &segment_rows);

    let campaign_rows = catalogue::campaigns()
        .iter()
        .zip(&plan.campaigns)
        .enumerate()
        .map(|(index, (campaign, planned))| {
            let sent_at = (campaign.channel == "email").then(|| campaign.launched_at + chrono::Duration::minutes(5));
            let audience = Json(planned.counts);
            Ok(CampaignRow {
                id: index as i64 + 1,
                name: campaign.name.to_string(),
                channel: campaign.channel.to_string(),
                segment_id: campaign.segment.map(|s| s as i64 + 1),
                // At launch, the rules the audience was built from.
                rules: Some(Json(campaign.audience.rules())),
                offer: campaign.offer.map(str::to_string),
                subject: campaign.subject.map(str::to_string),
                content: Some(campaign.content.to_string()),
                content_html: None,
                promo_kind: if campaign.promo.is_some() { "shared" } else { "none" }.to_string(),
                promo_code_id: campaign.promo.map(|p| p as i64 + 1),
                unique_prefix: None,
                unique_discount_type: None,
                unique_discount_value: None,
                unique_currency: None,
                cap_max_contacts: catalogue::CAP_MAX_CONTACTS,
                cap_per_days: catalogue::CAP_PER_DAYS,
                exclude_campaign_ids: Json(Vec::new()),
                holdout_percent: campaign.holdout_percent,
                attribution_window_days: campaign.attribution_window_days,
                status: "launched".to_string(),
                audience: Some(audience),
                launched_at: Some(campaign.launched_at),
                send_requested_at: sent_at,
                created_by: "marketing".to_string(),
                created_at: campaign.launched_at - chrono::Duration::days(3),
                updated_at: sent_at.unwrap_or(campaign.launched_at),
                cost_currency: None,
                cost_fixed_minor: None,
                cost_per_contact_minor: None,
            })
        })
        .collect::<Result<Vec<_>, SeedError>>()?;
    summary.campaigns = write_rows!(conn, campaigns::table, &campaign_rows);
    Ok(())
}

fn write_customers(
    conn: &mut DbConn,
    plan: &plan::Plan,
    range: std::ops::Range<usize>,
    next_event: &mut i64,
    summary: &mut SeedSummary,
) -> Result<(), SeedError> {
    let mut customer_rows = Vec::with_capacity(range.len());
    let mut tag_rows = Vec::new();
    let mut term_rows = Vec::new();
    let mut event_rows = Vec::new();
    let mut current_rows = Vec::new();
    for index in range {
        let customer = &plan.customers[index];
        let id = index as i64 + 1;
        let profile = &customer.profile;
        let c = CustomerColumns::from_profile(profile, customer.updated_at);
        customer_rows.push(CustomerRow {
            id,
            kind: c.kind,
            first_name: c.first_name,
            last_name: c.last_name,
            company_name: c.company_name,
            email: c.email,
            phone: c.phone,
            birthday: c.birthday,
            gender: c.gender,
            address_line1: c.address_line1,
            address_line2: c.address_line2,
            city: c.city,
            region: c.region,
            postal_code: c.postal_code,
            country: c.country,
            preferred_language: c.preferred_language,
            source: c.source,
            attributes: Json(profile.details.attributes.clone()),
            notes: c.notes,
            name_key: c.name_key,
            company_key: c.company_key,
            created_at: customer.created_at,
            updated_at: c.updated_at,
            erased_at: None,
            company_id: c.company_id,
            company_role: c.company_role,
        });
        tag_rows.extend(
            profile.details.tags.iter().map(|tag| CustomerTagRow { customer_id: id, tag: tag.as_str().to_string() }),
        );
        term_rows.extend(profile.search_terms().into_iter().map(|term| SearchTermRow { term, customer_id: id }));
        let first_event = event_rows.len();
        for consent in &customer.consents {
            let event =
                crate::services::consents::new_event(id, consent.change.clone(), consent.actor, consent.recorded_at);
            event_rows.push(ConsentEventRow {
                id: *next_event,
                customer_id: id,
                channel: event.channel,
                state: event.state,
                opt_in_level: event.opt_in_level,
                source: event.source,
                method_detail: event.method_detail,
                consent_text: event.consent_text,
                consent_text_version: event.consent_text_version,
                ip: event.ip,
                user_agent: event.user_agent,
                occurred_at: event.occurred_at,
                recorded_at: event.recorded_at,
                actor: event.actor,
            });
            *next_event += 1;
        }
        // The current state per channel: the latest event (events are in order of
        // occurrence, and a later id wins a tie, as in `domain::consent::is_newer`).
        let events = &event_rows[first_event..];
        for (position, event) in events.iter().enumerate() {
            if events[position + 1..].iter().all(|later| later.channel != event.channel) {
                current_rows.push(CurrentConsentRow {
                    customer_id: id,
                    channel: event.channel.clone(),
                    state: event.state.clone(),
                    opt_in_level: event.opt_in_level.clone(),
                    source: event.source.clone(),
                    event_id: event.id,
                    occurred_at: event.occurred_at,
                });
            }
        }
    }
    summary.customers += write_rows!(conn, customers::table, &customer_rows);
    summary.customer_tags += write_rows!(conn, crate::db::schema::customer_tags::table, &tag_rows);
    summary.search_terms += write_rows!(conn, crate::db::schema::customer_search_terms::table, &term_rows);
    summary.consent_events += write_rows!(conn, crate::db::schema::consent_events::table, &event_rows);
    write_rows!(conn, customer_consents::table, &current_rows);
    Ok(())
}

fn write_campaign_contacts(conn: &mut DbConn, plan: &plan::Plan, summary: &mut SeedSummary) -> Result<(), SeedError> {
    let (mut next_contact, mut next_response) = (1i64, 1i64);
    let launches = catalogue::campaigns();
    for (index, (campaign, planned)) in launches.iter().zip(&plan.campaigns).enumerate() {
        let campaign_id = index as i64 + 1;
        let first_contact = next_contact;
        let contacts: Vec<ContactRow> = planned
            .contacts
            .iter()
            .map(|contact| {
                let row = ContactRow {
                    id: next_contact,
                    campaign_id,
                    customer_id: i64::from(contact.customer) + 1,
                    holdout: contact.holdout,
                    token: contact.token.clone(),
                    promo_code: None,
                    created_at: campaign.launched_at,
                };
                next_contact += 1;
                row
            })
            .collect();
        let responses: Vec<ResponseRow> = planned
            .responses
            .iter()
            .map(|response| {
                let row = ResponseRow {
                    id: next_response,
                    campaign_id,
                    contact_id: first_contact + i64::from(response.contact),
                    customer_id: i64::from(planned.contacts[response.contact as usize].customer) + 1,
                    kind: response.kind.to_string(),
                    occurred_at: response.occurred_at,
                    recorded_at: response.recorded_at,
                    actor: response.actor.to_string(),
                };
                next_response += 1;
                row
            })
            .collect();
        summary.campaign_contacts += write_rows!(conn, crate::db::schema::campaign_contacts::table, &contacts);
        summary.campaign_responses += write_rows!(conn, crate::db::schema::campaign_responses::table, &responses);
    }
    Ok(())
}

/// What the API keeps up to date order by order, computed once for all: purchase
/// statistics (`repositories::orders::refresh_stats` for every customer and currency),
/// promo code counters, and on PostgreSQL the identity sequences past the seeded ids.
fn finish(conn: &mut DbConn) -> Result<(), diesel::result::Error> {
    diesel::sql_query(
        "INSERT INTO customer_order_stats (customer_id, currency, orders_count, total_spent, first_order_at, last_order_at) \
         SELECT customer_id, currency, COUNT(*), CAST(SUM(total - refunded_total) AS BIGINT), MIN(placed_at), MAX(placed_at) \
         FROM orders WHERE status <> 'cancelled' \
         GROUP BY customer_id, currency",
    )
    .execute(conn)?;
    diesel::sql_query(crate::repositories::orders::all_totals_sql()).execute(conn)?;
    diesel::sql_query(
        "UPDATE promo_codes SET redemptions = \
         (SELECT COUNT(*) FROM promo_redemptions r WHERE r.promo_code_id = promo_codes.id)",
    )
    .execute(conn)?;
    if let DbConn::Pg(pg) = conn {
        for table in [
            "customers",
            "consent_events",
            "products",
            "promo_codes",
            "segments",
            "campaigns",
            "orders",
            "order_lines",
            "promo_redemptions",
            "refunds",
            "campaign_contacts",
            "campaign_responses",
        ] {
            pg.batch_execute(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
            ))?;
        }
    }
    Ok(())
}

impl std::fmt::Display for SeedSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} customers ({} tags, {} search terms, {} consent events)",
            self.customers, self.customer_tags, self.search_terms, self.consent_events
        )?;
        writeln!(
            f,
            "{} orders ({} lines, {} promo redemptions, {} refunds)",
            self.orders, self.order_lines, self.promo_redemptions, self.refunds
        )?;
        writeln!(f, "{} products, {} promo codes, {} segments", self.products, self.promo_codes, self.segments)?;
        write!(
            f,
            "{} campaigns ({} contacts, {} responses)",
            self.campaigns, self.campaign_contacts, self.campaign_responses
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_rules_parse_and_references_hold() {
        for segment in catalogue::segments() {
            crate::domain::segment::parse(&segment.audience.rules(), "rules").expect("segment rules are valid");
        }
        let codes = catalogue::promo_codes();
        let launches = catalogue::campaigns();
        for (index, campaign) in launches.iter().enumerate() {
            crate::domain::segment::parse(&campaign.audience.rules(), "rules").expect("campaign rules are valid");
            if let Some(segment) = campaign.segment {
                let saved = &catalogue::segments()[segment];
                assert_eq!(saved.audience.rules(), campaign.audience.rules(), "{}", campaign.name);
                assert!(saved.created_at < campaign.launched_at);
            }
            if let Some(promo) = campaign.promo {
                assert_eq!(codes[promo].campaign, Some(index), "{} and its code point at each other", campaign.name);
            }
            for placeholder in [campaign.subject.unwrap_or_default(), campaign.content] {
                crate::domain::campaign::placeholders(placeholder).expect("known placeholders");
            }
        }
        let mut skus: Vec<&str> = catalogue::PRODUCTS.iter().map(|p| p.sku).collect();
        skus.sort_unstable();
        skus.dedup();
        assert_eq!(skus.len(), catalogue::PRODUCTS.len(), "SKUs are unique");
        assert!((35..=45).contains(&catalogue::PRODUCTS.len()));
    }
}
