//! Throughput of `POST /v1/customers` and `GET /v1/customers/{id}` at 8 concurrent
//! clients, beside the raw SQL those requests perform, on the same database in the same run.
//!
//!     cargo bench --bench customers
//!     TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench customers
//!
//! BENCH_SECONDS (default 5) sets how long each measured phase runs.
//!
//! The real server runs in-process on 127.0.0.1:0 (its own thread and actix System). The
//! load generator is 8 OS threads, each with one keep-alive HTTP/1.1 connection and a tiny
//! hand-written client, so the figures include no HTTP client library overhead. Every
//! response status is checked: errors are never measured as throughput.
//!
//! The raw SQL baseline is 8 threads with one diesel connection each, running the
//! statements the repository runs per request, written by hand with `diesel::sql_query`.
//! POST is also measured through `repositories::customers::insert`, to separate the cost
//! of diesel's query builder from the cost of the HTTP layer.

use std::collections::BTreeSet;
use std::thread;
use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::sql_types::{BigInt, Date, Nullable, Text, Timestamp};
use diesel::{QueryResult, QueryableByName, RunQueryDsl};
use rapport::auth::Scope;
use rapport::db::schema::{customer_consents, customer_tags, customers};
use rapport::db::DbConn;
use rapport::domain::customer::{Address, CustomerDetails, CustomerProfile};
use rapport::domain::{Country, CustomerKind, CustomerSource, Email, Phone, Tag};
use rapport::models::customers::CustomerColumns;

#[path = "support/mod.rs"]
mod support;

use support::{
    app_state, connect, customer_columns, names, on_each_backend, phase_duration, placeholders, run_phase, token,
    DbBackend, HttpClient, Measurement, RunningServer, Stop, CITIES, TAGS,
};

/// Concurrent clients (HTTP) and concurrent connections (raw SQL).
const CLIENTS: usize = 8;
/// actix workers: one per core of the 2-core machine this was written on.
const SERVER_WORKERS: usize = 2;
/// Fills the server's connection pool and warms caches before anything is measured.
const WARM_UP: Duration = Duration::from_secs(1);

fn main() {
    let phase = phase_duration();
    print_header(phase);

    on_each_backend(|backend, database_url| print_rows(&bench_backend(backend, database_url, phase)));
}

fn print_header(phase: Duration) {
    println!(
        "command: cargo bench --bench customers   (release profile; PostgreSQL too when TEST_DATABASE_URL is set)"
    );
    println!(
        "{CLIENTS} clients x 1 keep-alive HTTP/1.1 connection, {}s per phase after a {}s warm-up; server: {SERVER_WORKERS} \
         actix workers, pool of 8 connections; raw SQL: {CLIENTS} threads x 1 connection; clients, server and database share this \
         machine's {} cores",
        phase.as_secs(),
        WARM_UP.as_secs(),
        thread::available_parallelism().map_or(0, |n| n.get()),
    );
    println!(
        "raw SQL per POST: BEGIN (IMMEDIATE on SQLite); INSERT INTO customers (22 columns) RETURNING the row; \
         INSERT INTO customer_tags (2 rows); INSERT INTO customer_search_terms (5 rows); COMMIT"
    );
    println!(
        "raw SQL per GET:  SELECT the customers row by id (not erased); SELECT its customer_tags; SELECT its \
         customer_consents (none here)"
    );
    println!(
        "the app's pool checks no connection on checkout (a `SELECT 1` only for connections opened before a \
         connection loss)"
    );
    println!();
}

/// One printed line: an API figure beside the raw SQL figure for the same work.
struct Row {
    backend: &'static str,
    endpoint: &'static str,
    api: Measurement,
    raw_sql: Measurement,
    /// POST only: the same inserts through the repository function the API calls.
    repository: Option<Measurement>,
}

fn print_rows(rows: &[Row]) {
    for row in rows {
        println!(
            "{:<8} {:<23} {} | raw SQL {} | API/raw {:.2}",
            row.backend,
            row.endpoint,
            row.api.summary("req/s"),
            row.raw_sql.summary("ops/s"),
            row.api.per_second() / row.raw_sql.per_second(),
        );
        if let Some(repository) = &row.repository {
            println!(
                "{:<32} same inserts via repositories::customers::insert: {} | API/repository {:.2}",
                "",
                repository.summary("ops/s"),
                row.api.per_second() / repository.per_second(),
            );
        }
    }
    println!();
}

/// Runs every phase on one freshly migrated database.
fn bench_backend(backend: &'static str, database_url: &str, phase: Duration) -> Vec<Row> {
    let state = app_state(database_url);
    let token = token(&state, &[Scope::Admin]);
    let target = state.config.database.clone();

    let server = RunningServer::start(state, SERVER_WORKERS);
    run_phase(
        CLIENTS,
        Stop::After(WARM_UP),
        |_| HttpClient::connect(server.addr, &token),
        |client, worker, seq| api_create(client, &FakeCustomer::new("warmup", worker, seq)),
    );
    let api_post = run_phase(
        CLIENTS,
        Stop::After(phase),
        |_| HttpClient::connect(server.addr, &token),
        |client, worker, seq| api_create(client, &FakeCustomer::new("api", worker, seq)),
    );
    let ids = &api_post.outputs;
    let api_get = run_phase(
        CLIENTS,
        Stop::After(phase),
        |_| HttpClient::connect(server.addr, &token),
        |client, worker, seq| api_get(client, pick(ids, worker, seq)),
    );
    server.stop();

    let raw_post = run_phase(
        CLIENTS,
        Stop::After(phase),
        |_| connect(&target),
        |conn, worker, seq| {
            raw_sql_create(conn, &FakeCustomer::new("raw", worker, seq).profile()).expect("raw SQL insert")
        },
    );
    let repository_post = run_phase(
        CLIENTS,
        Stop::After(phase),
        |_| connect(&target),
        |conn, worker, seq| {
            repository_create(conn, &FakeCustomer::new("repo", worker, seq).profile()).expect("repository insert")
        },
    );
    let raw_get = run_phase(
        CLIENTS,
        Stop::After(phase),
        |_| connect(&target),
        |conn, worker, seq| raw_sql_get(conn, pick(ids, worker, seq)).expect("raw SQL select"),
    );

    vec![
        Row {
            backend,
            endpoint: "POST /v1/customers",
            api: api_post.measurement,
            raw_sql: raw_post.measurement,
            repository: Some(repository_post.measurement),
        },
        Row {
            backend,
            endpoint: "GET /v1/customers/{id}",
            api: api_get.measurement,
            raw_sql: raw_get.measurement,
            repository: None,
        },
    ]
}

/// Spreads the readers over all created customers, each worker on its own stride.
fn pick(ids: &[i64], worker: usize, seq: usize) -> i64 {
    ids[(seq * CLIENTS + worker) * 7919 % ids.len()]
}

// ---------------------------------------------------------------------------------------
// The server

fn api_create(client: &mut HttpClient, customer: &FakeCustomer) -> i64 {
    let (status, body) = client.send("POST", "/v1/customers", &[], Some(&customer.json())).expect("POST /v1/customers");
    assert_eq!(status, 201, "POST /v1/customers: {}", String::from_utf8_lossy(&body));
    #[derive(serde::Deserialize)]
    struct Created {
        id: i64,
    }
    serde_json::from_slice::<Created>(&body).expect("a customer with an id").id
}

fn api_get(client: &mut HttpClient, id: i64) {
    let (status, body) = client.send("GET", &format!("/v1/customers/{id}"), &[], None).expect("GET /v1/customers/{id}");
    assert_eq!(status, 200, "GET /v1/customers/{id}: {}", String::from_utf8_lossy(&body));
}

// ---------------------------------------------------------------------------------------
// Realistic, unique customers

struct FakeCustomer {
    first_name: &'static str,
    last_name: &'static str,
    email: String,
    phone: String,
    line1: String,
    city: &'static str,
    postal_code: &'static str,
    tags: [&'static str; 2],
    loyalty_points: usize,
}

impl FakeCustomer {
    /// The `seq`-th customer of `worker` in `phase`; the email is unique per (phase, worker, seq).
    fn new(phase: &str, worker: usize, seq: usize) -> FakeCustomer {
        let n = seq * CLIENTS + worker;
        let (first_name, last_name) = names(n);
        let (city, postal_code) = CITIES[n % CITIES.len()];
        FakeCustomer {
            first_name,
            last_name,
            email: format!("{first_name}.{last_name}.{phase}-{worker}-{seq}@example.com").to_lowercase(),
            // +33 61x xx xx xx: always a valid French mobile number.
            phone: format!("+3361{:07}", n % 10_000_000),
            line1: format!("{} rue des Lilas", n % 120 + 1),
            city,
            postal_code,
            tags: [TAGS[n % TAGS.len()], TAGS[(n + 1) % TAGS.len()]],
            loyalty_points: n % 500,
        }
    }

    fn attributes(&self) -> serde_json::Map<String, serde_json::Value> {
        let attributes = serde_json::json!({"favourite_colour": "green", "loyalty_points": self.loyalty_points});
        attributes.as_object().expect("an object").clone()
    }

    /// The `POST /v1/customers` body.
    fn json(&self) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "first_name": self.first_name,
            "last_name": self.last_name,
            "email": self.email,
            "phone": self.phone,
            "address": {"line1": self.line1, "city": self.city, "postal_code": self.postal_code, "country": "FR"},
            "tags": self.tags,
            "attributes": self.attributes(),
        }))
        .expect("serialize a customer")
    }

    /// What the API makes of `json()` after validation: the same rows get written.
    fn profile(&self) -> CustomerProfile {
        CustomerProfile {
            kind: CustomerKind::Person,
            source: CustomerSource::Api,
            details: CustomerDetails {
                first_name: Some(self.first_name.to_string()),
                last_name: Some(self.last_name.to_string()),
                email: Some(Email::from_stored(self.email.clone())),
                phone: Some(Phone::from_stored(self.phone.clone())),
                address: Address {
                    line1: Some(self.line1.clone()),
                    city: Some(self.city.to_string()),
                    postal_code: Some(self.postal_code.to_string()),
                    country: Some(Country::parse("FR").expect("FR is a country")),
                    ..Address::default()
                },
                tags: self.tags.iter().map(|tag| Tag::from_stored(tag.to_string())).collect::<BTreeSet<_>>(),
                attributes: self.attributes(),
                ..CustomerDetails::default()
            },
        }
    }
}

// ---------------------------------------------------------------------------------------
// The raw SQL baseline

const INSERT_CUSTOMER: &str = concat!(
    "INSERT INTO customers (kind, first_name, last_name, company_name, email, phone, birthday, gender, \
     address_line1, address_line2, city, region, postal_code, country, preferred_language, source, attributes, \
     notes, name_key, company_key, updated_at, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22) \
     RETURNING ",
    customer_columns!()
);

const SELECT_CUSTOMER: &str =
    concat!("SELECT ", customer_columns!(), " FROM customers WHERE id = $1 AND erased_at IS NULL LIMIT 1");

const SELECT_TAGS: &str =
    "SELECT customer_id, tag FROM customer_tags WHERE customer_id IN ($1) ORDER BY customer_id, tag";

const SELECT_CONSENTS: &str = "SELECT customer_id, channel, state, opt_in_level, source, event_id, occurred_at \
                               FROM customer_consents WHERE customer_id IN ($1)";

/// A customers row decoded like the repository decodes it (only `id` is checked here).
#[allow(dead_code)]
#[derive(QueryableByName)]
#[diesel(table_name = customers)]
struct CustomerRowByName {
    id: i64,
    kind: String,
    first_name: Option<String>,
    last_name: Option<String>,
    company_name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    birthday: Option<chrono::NaiveDate>,
    gender: Option<String>,
    address_line1: Option<String>,
    address_line2: Option<String>,
    city: Option<String>,
    region: Option<String>,
    postal_code: Option<String>,
    country: Option<String>,
    preferred_language: Option<String>,
    source: String,
    attributes: String,
    notes: Option<String>,
    name_key: Option<String>,
    company_key: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    erased_at: Option<NaiveDateTime>,
}

#[allow(dead_code)]
#[derive(QueryableByName)]
#[diesel(table_name = customer_tags)]
struct TagByName {
    customer_id: i64,
    tag: String,
}

#[allow(dead_code)]
#[derive(QueryableByName)]
#[diesel(table_name = customer_consents)]
struct ConsentByName {
    customer_id: i64,
    channel: String,
    state: String,
    opt_in_level: String,
    source: String,
    event_id: i64,
    occurred_at: NaiveDateTime,
}

/// What `POST /v1/customers` writes, as hand-written SQL in the same kind of transaction.
/// The column values are prepared by the app's own code, so the rows are identical.
fn raw_sql_create(conn: &mut DbConn, profile: &CustomerProfile) -> QueryResult<i64> {
    let now = rapport::services::now();
    let c = CustomerColumns::from_profile(profile, now);
    let tags: Vec<&str> = profile.details.tags.iter().map(Tag::as_str).collect();
    let terms = profile.search_terms();
    conn.write_transaction(|conn| {
        let row: CustomerRowByName = diesel::sql_query(INSERT_CUSTOMER)
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
            .get_result(conn)?;

        let sql = format!("INSERT INTO customer_tags (customer_id, tag) VALUES {}", placeholders(tags.len(), 2));
        let mut insert_tags = diesel::sql_query(sql).into_boxed::<DbBackend>();
        for tag in &tags {
            insert_tags = insert_tags.bind::<BigInt, _>(row.id).bind::<Text, _>(*tag);
        }
        insert_tags.execute(conn)?;

        let sql =
            format!("INSERT INTO customer_search_terms (term, customer_id) VALUES {}", placeholders(terms.len(), 2));
        let mut insert_terms = diesel::sql_query(sql).into_boxed::<DbBackend>();
        for term in &terms {
            insert_terms = insert_terms.bind::<Text, _>(term.as_str()).bind::<BigInt, _>(row.id);
        }
        insert_terms.execute(conn)?;
        Ok(row.id)
    })
}

/// The same inserts through the repository function `POST /v1/customers` calls.
fn repository_create(conn: &mut DbConn, profile: &CustomerProfile) -> QueryResult<i64> {
    let now = rapport::services::now();
    conn.write_transaction(|conn| rapport::repositories::customers::insert(conn, profile, now)).map(|r| r.row.id)
}

/// What `GET /v1/customers/{id}` reads: the row, then its tags and its current consents.
fn raw_sql_get(conn: &mut DbConn, id: i64) -> QueryResult<()> {
    let row: CustomerRowByName = diesel::sql_query(SELECT_CUSTOMER).bind::<BigInt, _>(id).get_result(conn)?;
    let tags: Vec<TagByName> = diesel::sql_query(SELECT_TAGS).bind::<BigInt, _>(id).load(conn)?;
    let consents: Vec<ConsentByName> = diesel::sql_query(SELECT_CONSENTS).bind::<BigInt, _>(id).load(conn)?;
    assert_eq!((row.id, tags.len(), consents.len()), (id, 2, 0), "customer {id}, its two tags, no consent");
    Ok(())
}
