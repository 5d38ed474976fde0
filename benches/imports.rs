//! CSV import throughput: a 100,000-row file through `services::imports::run_job`, as the
//! background worker runs it, beside hand-written SQL inserting the same customers, on the
//! same database in the same run.
//!
//!     cargo bench --bench imports
//!     TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench imports
//!
//! IMPORT_ROWS (default 100000) sets the number of data rows.
//!
//! The file is deterministic: unique emails, valid French mobile numbers, cities of
//! FR/BE/DE/CH/LU, `;`-separated tags, an `attributes.colour` column and an email consent
//! (with its RFC 3339 time, in the past) on about half the rows. One row in 1,000 has an
//! invalid email, so the rejection path runs too.
//!
//! Per backend, on a freshly migrated database:
//! 1. `create_only` import of the file (timed: `run_job` only; the upload's `check_file`
//!    pass and `create_job` are timed apart);
//! 2. the same file again in `upsert` mode: every row is found and unchanged;
//! 3. the imported customers are deleted (untimed), then the same customers, prepared by the
//!    app's own validation code before the clock starts, are inserted with hand-written SQL
//!    in transactions of 500 rows: as one multi-row INSERT each, then (after another
//!    untimed delete) as 500 single-row INSERTs each.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::connection::SimpleConnection;
use diesel::sql_types::{Date, Nullable, Text, Timestamp};
use diesel::RunQueryDsl;
use rapport::db::{Backend, Database};
use rapport::domain::customer::CustomerProfile;
use rapport::domain::CustomerSource;
use rapport::dto::customers::{AddressInput, CustomerInput};
use rapport::error::AppError;
use rapport::models::customers::CustomerColumns;
use rapport::models::imports::ImportJobRow;
use rapport::services::imports::{self as imports, ImportContext, ImportMode, BATCH_ROWS};

#[path = "support/mod.rs"]
mod support;

use support::{app_state, env_number, on_each_backend, scalar, DbBackend};

const DEFAULT_ROWS: usize = 100_000;
/// Rows per transaction of the raw SQL baseline: the importer's own batch size.
const RAW_BATCH: usize = 500;
const SEED: u64 = 0x5eed_2026_1122;

fn main() {
    let rows = row_count();
    let file = CsvFile::generate(rows);
    print_header(&file);

    on_each_backend(|backend, database_url| bench_backend(backend, database_url, &file));
}

fn row_count() -> usize {
    env_number("IMPORT_ROWS", DEFAULT_ROWS as u64) as usize
}

fn print_header(file: &CsvFile) {
    println!(
        "command: cargo bench --bench imports   (release profile; IMPORT_ROWS={} rows; PostgreSQL too when \
         TEST_DATABASE_URL is set)",
        file.rows
    );
    println!(
        "file: {} data rows, {:.1} MB, columns {}; {} rows with an invalid email, {} with an email consent",
        file.rows,
        file.csv.len() as f64 / 1e6,
        CsvFile::HEADER.join(","),
        file.bad_rows,
        file.consent_rows,
    );
    println!(
        "import: services::imports::run_job on the calling thread, batches of {BATCH_ROWS} rows per transaction, \
         pool of 8 connections; {} cores shared by the benchmark and the database",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    println!(
        "raw SQL: customers table only, {RAW_BATCH} rows per transaction, values prepared before the clock \
         starts; it leaves out CSV parsing and validation, the suppression-list and existing-email lookups, \
         customer_tags, customer_search_terms, consent_events and customer_consents rows, and the job's \
         progress update per batch"
    );
    println!();
}

/// Everything measured on one backend, printed as it goes.
fn bench_backend(backend: &'static str, database_url: &str, file: &CsvFile) {
    let state = app_state(database_url);
    let context = ImportContext {
        database: state.db.clone(),
        keys: state.keys.clone(),
        default_country: state.config.default_country,
    };
    let valid_rows = (file.rows - file.bad_rows) as i64;

    // What `POST /v1/imports` does before the job starts.
    let started = Instant::now();
    let counted = imports::check_file(&file.csv).expect("check_file accepts the file");
    let check_seconds = started.elapsed();
    assert_eq!(counted, file.rows as i64, "check_file counts every data row");

    // 1. create_only into an empty database.
    let (job, created_seconds, elapsed) = import(&context, ImportMode::CreateOnly, file);
    assert_eq!(job.status, "completed", "create_only import: {job:?}");
    assert_eq!((job.created, job.rejected), (valid_rows, file.bad_rows as i64), "create_only counts: {job:?}");
    println!(
        "{backend:<8} import create_only: {} | check_file {:.2} s, create_job {:.2} s (untimed above)",
        summary(&job, elapsed),
        check_seconds.as_secs_f64(),
        created_seconds.as_secs_f64(),
    );
    println!("{:<8} first rejection: {}", "", first_error(&job));
    let written = table_counts(&state.db);
    println!("{:<8} wrote: {written}", "");

    // 2. The same file again, as an upsert: nothing changes.
    let (rerun, _, rerun_elapsed) = import(&context, ImportMode::Upsert, file);
    assert_eq!(rerun.status, "completed", "upsert re-run: {rerun:?}");
    assert_eq!(
        (rerun.created, rerun.updated, rerun.unchanged, rerun.rejected),
        (0, 0, valid_rows, file.bad_rows as i64),
        "upsert re-run counts: {rerun:?}"
    );
    assert_eq!(table_counts(&state.db), written, "an unchanged re-run writes nothing");
    println!("{backend:<8} import upsert re-run (all unchanged): {}", summary(&rerun, rerun_elapsed));

    // 3. Hand-written SQL, customers table only, on the same database emptied again.
    let columns = raw_columns(file);
    assert_eq!(columns.len() as i64, valid_rows, "the raw baseline inserts the rows the import created");
    let multi_row = raw_insert(&state.db, &columns, RawStyle::MultiRow);
    let per_row = raw_insert(&state.db, &columns, RawStyle::PerRow);
    let import_rate = job.created as f64 / elapsed.as_secs_f64();
    for (label, raw_elapsed) in [("multi-row INSERT", multi_row), ("per-row INSERT  ", per_row)] {
        let raw_rate = columns.len() as f64 / raw_elapsed.as_secs_f64();
        println!(
            "{backend:<8} raw SQL {label} ({RAW_BATCH} per tx): {} customers in {:.2} s = {:>7.0} rows/s \
             | import/raw time {:.1}x (created rows/s: import {:.0}, raw {:.0})",
            columns.len(),
            raw_elapsed.as_secs_f64(),
            raw_rate,
            elapsed.as_secs_f64() / raw_elapsed.as_secs_f64(),
            import_rate,
            raw_rate,
        );
    }
    println!();
}

/// Stores the file as a job (untimed) and runs it to the end (timed).
fn import(context: &ImportContext, mode: ImportMode, file: &CsvFile) -> (ImportJobRow, Duration, Duration) {
    let started = Instant::now();
    let id = context
        .database
        .with_conn(|conn| imports::create_job(conn, mode, file.csv.clone(), file.rows as i64, "bench"))
        .expect("create the import job");
    let create_elapsed = started.elapsed();

    let started = Instant::now();
    assert!(imports::run_job(context, id).expect("run the import job"), "the job was free to run");
    let elapsed = started.elapsed();

    let job = context.database.with_conn(|conn| imports::get_job(conn, id)).expect("read the job back");
    (job, create_elapsed, elapsed)
}

fn summary(job: &ImportJobRow, elapsed: Duration) -> String {
    format!(
        "rows {} created {} updated {} unchanged {} rejected {} in {:.2} s = {:.0} rows/s",
        job.rows_total,
        job.created,
        job.updated,
        job.unchanged,
        job.rejected,
        elapsed.as_secs_f64(),
        job.rows_total as f64 / elapsed.as_secs_f64(),
    )
}

fn first_error(job: &ImportJobRow) -> String {
    let errors: Vec<serde_json::Value> = job.errors.0.iter().map(|e| serde_json::json!(e)).collect();
    match errors.first() {
        Some(error) => format!("{error} ({} reported)", errors.len()),
        None => "none".to_string(),
    }
}

fn table_counts(database: &Database) -> String {
    database
        .with_conn(|conn| {
            let mut text = String::new();
            for table in ["customers", "customer_tags", "customer_search_terms", "consent_events", "customer_consents"]
            {
                let count = scalar(conn, &format!("SELECT COUNT(*) AS n FROM {table}"));
                write!(text, "{table} {count}  ").expect("write to a String");
            }
            Ok::<_, AppError>(text.trim_end().to_string())
        })
        .expect("count rows")
}

// ---------------------------------------------------------------------------------------
// The raw SQL baseline

#[derive(Clone, Copy)]
enum RawStyle {
    /// One `INSERT ... VALUES (...), (...), ...` of 500 rows per transaction.
    MultiRow,
    /// 500 `INSERT ... VALUES (...)` per transaction.
    PerRow,
}

const INSERT_HEAD: &str = "INSERT INTO customers (kind, first_name, last_name, company_name, email, phone, birthday, \
     gender, address_line1, address_line2, city, region, postal_code, country, preferred_language, source, \
     attributes, notes, name_key, company_key, updated_at, created_at) VALUES ";
const COLUMNS: usize = 22;

/// `($1, ..., $22), ($23, ...)` for `rows` rows; `(?, ...)` on SQLite, where `$N` are
/// named parameters that SQLite looks up one by one (quadratic in a 11,000-value INSERT).
fn placeholders(backend: Backend, rows: usize) -> String {
    let mut sql = String::new();
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..COLUMNS {
            if column > 0 {
                sql.push_str(", ");
            }
            match backend {
                Backend::Postgres => write!(sql, "${}", row * COLUMNS + column + 1).expect("write to a String"),
                Backend::Sqlite => sql.push('?'),
            }
        }
        sql.push(')');
    }
    sql
}

/// The customers rows the import writes for the file's valid rows, made by the app's own
/// code (the same steps as the importer's `parse_row`).
fn raw_columns(file: &CsvFile) -> Vec<CustomerColumns> {
    let now = rapport::services::now();
    file.records
        .iter()
        .filter_map(|r| {
            let input = CustomerInput {
                kind: None,
                first_name: Some(r.first_name.to_string()),
                last_name: Some(r.last_name.to_string()),
                company_name: None,
                email: Some(r.email.clone()),
                phone: Some(r.phone.clone()),
                birthday: None,
                gender: None,
                address: Some(AddressInput {
                    city: Some(r.city.to_string()),
                    postal_code: Some(r.postal_code.to_string()),
                    country: Some(r.country.to_string()),
                    ..AddressInput::default()
                }),
                preferred_language: None,
                source: None,
                tags: Some(r.tags.split(';').map(str::to_owned).collect()),
                attributes: Some(
                    [("colour".to_string(), serde_json::Value::String(r.colour.to_string()))].into_iter().collect(),
                ),
                notes: None,
                founded_on: None,
                industry: None,
                employees: None,
                website: None,
                registration_number: None,
                vat_number: None,
                rating: None,
                particularities: None,
                company_id: None,
                role: None,
            };
            let mut draft = input.into_draft(None).ok()?;
            draft.source.get_or_insert(CustomerSource::Import);
            let profile = CustomerProfile::from_draft(draft).ok()?;
            Some(CustomerColumns::from_profile(&profile, now))
        })
        .collect()
}

/// Empties the customers table (untimed; the cascades take what the import wrote with it),
/// then times inserting `rows` by hand-written SQL.
fn raw_insert(database: &Database, rows: &[CustomerColumns], style: RawStyle) -> Duration {
    database
        .with_conn(|conn| {
            conn.batch_execute("DELETE FROM customers")?;
            match conn.backend() {
                Backend::Postgres => conn.batch_execute("VACUUM ANALYZE")?,
                Backend::Sqlite => conn.batch_execute("VACUUM")?,
            }
            let now = rapport::services::now();
            let backend = conn.backend();
            let single_row_sql = format!("{INSERT_HEAD}{}", placeholders(backend, 1));
            let full_batch_sql = format!("{INSERT_HEAD}{}", placeholders(backend, RAW_BATCH));
            let started = Instant::now();
            for batch in rows.chunks(RAW_BATCH) {
                conn.write_transaction(|conn| -> Result<(), AppError> {
                    match style {
                        RawStyle::MultiRow => {
                            let sql = if batch.len() == RAW_BATCH {
                                full_batch_sql.clone()
                            } else {
                                format!("{INSERT_HEAD}{}", placeholders(backend, batch.len()))
                            };
                            let mut query = diesel::sql_query(sql).into_boxed::<DbBackend>();
                            for c in batch {
                                query = bind_customer(query, c, now);
                            }
                            let inserted = query.execute(conn)?;
                            assert_eq!(inserted, batch.len());
                        }
                        RawStyle::PerRow => {
                            for c in batch {
                                let query = diesel::sql_query(single_row_sql.as_str()).into_boxed::<DbBackend>();
                                assert_eq!(bind_customer(query, c, now).execute(conn)?, 1);
                            }
                        }
                    }
                    Ok(())
                })?;
            }
            let elapsed = started.elapsed();
            assert_eq!(scalar(conn, "SELECT COUNT(*) AS n FROM customers"), rows.len() as i64, "every raw row is in");
            Ok(elapsed)
        })
        .expect("raw SQL inserts")
}

fn bind_customer<'a>(
    query: diesel::query_builder::BoxedSqlQuery<'a, DbBackend, diesel::query_builder::SqlQuery>,
    c: &'a CustomerColumns,
    now: NaiveDateTime,
) -> diesel::query_builder::BoxedSqlQuery<'a, DbBackend, diesel::query_builder::SqlQuery> {
    query
        .bind::<Text, _>(&c.kind)
        .bind::<Nullable<Text>, _>(&c.first_name)
        .bind::<Nullable<Text>, _>(&c.last_name)
        .bind::<Nullable<Text>, _>(&c.company_name)
        .bind::<Nullable<Text>, _>(&c.email)
        .bind::<Nullable<Text>, _>(&c.phone)
        .bind::<Nullable<Date>, _>(c.birthday)
        .bind::<Nullable<Text>, _>(&c.gender)
        .bind::<Nullable<Text>, _>(&c.address_line1)
        .bind::<Nullable<Text>, _>(&c.address_line2)
        .bind::<Nullable<Text>, _>(&c.city)
        .bind::<Nullable<Text>, _>(&c.region)
        .bind::<Nullable<Text>, _>(&c.postal_code)
        .bind::<Nullable<Text>, _>(&c.country)
        .bind::<Nullable<Text>, _>(&c.preferred_language)
        .bind::<Text, _>(&c.source)
        .bind::<Text, _>(&c.attributes)
        .bind::<Nullable<Text>, _>(&c.notes)
        .bind::<Nullable<Text>, _>(&c.name_key)
        .bind::<Nullable<Text>, _>(&c.company_key)
        .bind::<Timestamp, _>(c.updated_at)
        .bind::<Timestamp, _>(now)
}

// ---------------------------------------------------------------------------------------
// The CSV file

/// SplitMix64: a fixed sequence on every machine and every `rand` version.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// (as written, as in an email address)
const FIRST_NAMES: [(&str, &str); 24] = [
    ("Léa", "lea"),
    ("Louis", "louis"),
    ("Chloé", "chloe"),
    ("Hugo", "hugo"),
    ("Inès", "ines"),
    ("Jules", "jules"),
    ("Camille", "camille"),
    ("Gabriel", "gabriel"),
    ("Zoé", "zoe"),
    ("Nathan", "nathan"),
    ("Manon", "manon"),
    ("Raphaël", "raphael"),
    ("Emma", "emma"),
    ("Lucas", "lucas"),
    ("Anaïs", "anais"),
    ("Théo", "theo"),
    ("Sarah", "sarah"),
    ("Noah", "noah"),
    ("Élise", "elise"),
    ("Maxime", "maxime"),
    ("Lena", "lena"),
    ("Jonas", "jonas"),
    ("Marie-Claire", "marie-claire"),
    ("Jean-Luc", "jean-luc"),
];
const LAST_NAMES: [(&str, &str); 24] = [
    ("Martin", "martin"),
    ("Bernard", "bernard"),
    ("Dubois", "dubois"),
    ("Thomas", "thomas"),
    ("Robert", "robert"),
    ("Richard", "richard"),
    ("Petit", "petit"),
    ("Durand", "durand"),
    ("Leroy", "leroy"),
    ("Moreau", "moreau"),
    ("Lefèvre", "lefevre"),
    ("Girard", "girard"),
    ("Bonnet", "bonnet"),
    ("Peeters", "peeters"),
    ("Janssens", "janssens"),
    ("Müller", "mueller"),
    ("Schmidt", "schmidt"),
    ("Fournier", "fournier"),
    ("Da Silva", "dasilva"),
    ("N'Diaye", "ndiaye"),
    ("Rousseau", "rousseau"),
    ("Weber", "weber"),
    ("Dupont", "dupont"),
    ("Mercier", "mercier"),
];
/// (city, postal code, country); France more often than the others.
const CITIES: [(&str, &str, &str); 16] = [
    ("Paris", "75011", "FR"),
    ("Paris", "75015", "FR"),
    ("Lyon", "69003", "FR"),
    ("Marseille", "13001", "FR"),
    ("Toulouse", "31000", "FR"),
    ("Nantes", "44000", "FR"),
    ("Lille", "59000", "FR"),
    ("Bordeaux", "33000", "FR"),
    ("Saint-Étienne", "42000", "FR"),
    ("Strasbourg", "67000", "FR"),
    ("Bruxelles", "1000", "BE"),
    ("Liège", "4000", "BE"),
    ("Berlin", "10115", "DE"),
    ("Köln", "50667", "DE"),
    ("Genève", "1201", "CH"),
    ("Luxembourg", "1111", "LU"),
];
const DOMAINS: [&str; 6] = ["example.com", "example.fr", "example.org", "mail.example.net", "example.be", "example.de"];
const TAGS: [&str; 8] = ["vip", "web", "newsletter", "b2c", "loyalty", "events", "wholesale", "store"];
const COLOURS: [&str; 7] = ["green", "blue", "red", "black", "yellow", "navy blue", "bordeaux"];
/// Second digit of a French mobile number (06 xx): those valid in every first-digit block.
const MOBILE_BLOCKS: [u32; 7] = [0, 1, 2, 4, 5, 6, 7];

/// One data row, kept to build the raw SQL baseline from the same values.
struct Record {
    email: String,
    first_name: &'static str,
    last_name: &'static str,
    phone: String,
    city: &'static str,
    postal_code: &'static str,
    country: &'static str,
    tags: String,
    colour: &'static str,
    consent: Option<(&'static str, String)>,
}

struct CsvFile {
    rows: usize,
    bad_rows: usize,
    consent_rows: usize,
    csv: String,
    records: Vec<Record>,
}

impl CsvFile {
    const HEADER: [&'static str; 11] = [
        "email",
        "first_name",
        "last_name",
        "phone",
        "city",
        "postal_code",
        "country",
        "tags",
        "attributes.colour",
        "consent_email",
        "consent_email_at",
    ];

    fn generate(rows: usize) -> CsvFile {
        let mut rng = SplitMix(SEED);
        // Consents were given between 2019-01-01 and 2025-12-31, long before any run.
        let earliest = DateTime::parse_from_rfc3339("2019-01-01T00:00:00Z").expect("a time").timestamp();
        let span = DateTime::parse_from_rfc3339("2025-12-31T00:00:00Z").expect("a time").timestamp() - earliest;
        let mut records = Vec::with_capacity(rows);
        let mut bad_rows = 0;
        for n in 0..rows {
            let (first_name, first_ascii) = rng.pick(&FIRST_NAMES);
            let (last_name, last_ascii) = rng.pick(&LAST_NAMES);
            let domain = rng.pick(&DOMAINS);
            // The row number makes every email unique; one row in 1,000 has no `@`.
            let email = if n % 1000 == 500 {
                bad_rows += 1;
                format!("{first_ascii}.{last_ascii}.{n}.{domain}")
            } else {
                format!("{first_ascii}.{last_ascii}.{n}@{domain}")
            };
            // +33 6 BD xx xx xx: `n` scrambled (coprime multiplier) into the last 7 digits,
            // so numbers are unique below 10 million rows.
            let digits = (n as u64 * 3_214_567 + 1_000_003) % 10_000_000;
            let block = rng.pick(&MOBILE_BLOCKS);
            let d = format!("{block}{digits:07}");
            let phone = format!("+33 6 {} {} {} {}", &d[0..2], &d[2..4], &d[4..6], &d[6..8]);
            let (city, postal_code, country) = rng.pick(&CITIES);
            let tag_count = rng.below(3) + 1;
            let mut tags: Vec<&str> = Vec::with_capacity(tag_count);
            for _ in 0..tag_count {
                let tag = rng.pick(&TAGS);
                if !tags.contains(&tag) {
                    tags.push(tag);
                }
            }
            let consent = (rng.below(2) == 0).then(|| {
                let state = if rng.below(10) == 0 { "unsubscribed" } else { "subscribed" };
                let at = DateTime::<Utc>::from_timestamp(earliest + rng.below(span as usize) as i64, 0)
                    .expect("a time")
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                (state, at)
            });
            records.push(Record {
                email,
                first_name,
                last_name,
                phone,
                city,
                postal_code,
                country,
                tags: tags.join(";"),
                colour: rng.pick(&COLOURS),
                consent,
            });
        }

        let mut writer = csv::Writer::from_writer(Vec::with_capacity(rows * 150));
        writer.write_record(CsvFile::HEADER).expect("write the header");
        for r in &records {
            let (consent, consent_at) = r.consent.as_ref().map_or(("", ""), |(state, at)| (*state, at.as_str()));
            writer
                .write_record([
                    r.email.as_str(),
                    r.first_name,
                    r.last_name,
                    r.phone.as_str(),
                    r.city,
                    r.postal_code,
                    r.country,
                    r.tags.as_str(),
                    r.colour,
                    consent,
                    consent_at,
                ])
                .expect("write a row");
        }
        let csv = String::from_utf8(writer.into_inner().expect("flush the CSV")).expect("UTF-8");
        let consent_rows = records.iter().filter(|r| r.consent.is_some()).count();
        CsvFile { rows, bad_rows, consent_rows, csv, records }
    }
}
