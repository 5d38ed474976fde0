//! Each fragment run on both backends.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Nullable, Text};

use super::*;
use crate::db::testing::{db_tests, TestDb};
use crate::db::Backend;
use crate::domain::analytics::LineGroup;
use crate::repositories::analytics::{self, LineQuery};

fn at(text: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
}

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

#[derive(QueryableByName)]
struct Number {
    #[diesel(sql_type = Double)]
    v: f64,
}

#[derive(QueryableByName)]
struct MaybeText {
    #[diesel(sql_type = Nullable<Text>)]
    v: Option<String>,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// A customer and orders in three states (one cancelled), with lines whose attributes
/// hold a boolean, and stable ids 1, 2, 3.
fn orders_fixture(db: &mut TestDb) {
    db.exec(
        "INSERT INTO customers (kind, source, attributes, created_at, updated_at) \
         VALUES ('person', 'api', '{}', '2026-01-01 00:00:00', '2026-01-01 00:00:00');
         INSERT INTO orders (customer_id, status, channel, placed_at, currency, subtotal, discount_total, \
           shipping_total, tax_total, total, created_by, created_at, updated_at) VALUES \
           (1, 'paid', 'web', '2026-03-01 10:00:00', 'EUR', 1000, 0, 0, 0, 1000, 't', '2026-03-01 10:00:00', '2026-03-01 10:00:00'),
           (1, 'cancelled', 'web', '2026-03-02 10:00:00', 'EUR', 2000, 0, 0, 0, 2000, 't', '2026-03-02 10:00:00', '2026-03-02 10:00:00'),
           (1, 'fulfilled', 'web', '2026-03-03 10:00:00', 'EUR', 3000, 0, 0, 0, 3000, 't', '2026-03-03 10:00:00', '2026-03-03 10:00:00');
         INSERT INTO order_lines (order_id, sku, name, attributes, quantity, unit_price) VALUES \
           (1, 'A', 'A', '{\"gift\": true, \"size\": \"M\"}', 1, 1000),
           (2, 'A', 'A', '{\"gift\": true}', 1, 2000),
           (3, 'B', 'B', '{\"gift\": false}', 1, 3000);",
    );
}

fn placeholders_are_numbered_per_backend(db: &mut TestDb) {
    let mut sql = Sql::new(db.backend());
    sql.push("SELECT CAST(")
        .bind(SqlValue::Int(7))
        .push(" - ")
        .bind(SqlValue::Int(2))
        .push(" AS DOUBLE PRECISION) AS v");
    let expected = match db.backend() {
        Backend::Postgres => "SELECT CAST($1 - $2 AS DOUBLE PRECISION) AS v",
        Backend::Sqlite => "SELECT CAST(?1 - ?2 AS DOUBLE PRECISION) AS v",
    };
    assert_eq!(sql.text, expected);
    let row: Number = sql.query().get_result(&mut db.conn).unwrap();
    assert_eq!(row.v, 5.0);
}

fn days_between_timestamps_dates_and_columns(db: &mut TestDb) {
    let days = |db: &mut TestDb, later: SqlValue, earlier: SqlValue| {
        let mut sql = Sql::new(db.backend());
        sql.push("SELECT CAST(");
        days_between(&mut sql, Term::Value(later), Term::Value(earlier));
        sql.push(" AS DOUBLE PRECISION) AS v");
        sql.query().get_result::<Number>(&mut db.conn).unwrap().v
    };
    let time = |t: &str| SqlValue::Time(at(t));
    assert_eq!(days(db, time("2026-03-02 12:00:00"), time("2026-03-01 00:00:00")), 1.5);
    assert_eq!(days(db, time("2026-03-01 00:00:00"), time("2026-03-02 12:00:00")), -1.5);
    // Across the end of February 2028 (a leap year) and a year.
    assert_eq!(days(db, SqlValue::Date(day("2028-03-01")), SqlValue::Date(day("2028-02-28"))), 2.0);
    assert_eq!(days(db, SqlValue::Date(day("2027-01-01")), SqlValue::Date(day("2026-01-01"))), 365.0);

    // Columns of a table, as the repositories use it.
    orders_fixture(db);
    let mut sql = Sql::new(db.backend());
    sql.push("SELECT CAST(MAX(");
    days_between(&mut sql, Term::Value(time("2026-03-04 22:00:00")), Term::Sql("o.placed_at"));
    sql.push(") AS DOUBLE PRECISION) AS v FROM orders o");
    let row: Number = sql.query().get_result(&mut db.conn).unwrap();
    assert_eq!(row.v, 3.5);
}

fn json_text_reads_every_kind_alike(db: &mut TestDb) {
    let document = r#"{"s": "x", "n": 3, "f": 1.5, "t": true, "no": false, "z": null, "o": {"a": 1}}"#;
    let mut read = |key: &str| {
        let mut sql = Sql::new(db.backend());
        sql.push("SELECT ");
        json_text(&mut sql, "d.doc", key);
        sql.push(" AS v FROM (SELECT ").bind(SqlValue::Text(document.into())).push(" AS doc) d");
        sql.query().get_result::<MaybeText>(&mut db.conn).unwrap().v
    };
    assert_eq!(read("s").as_deref(), Some("x"));
    assert_eq!(read("n").as_deref(), Some("3"));
    assert_eq!(read("f").as_deref(), Some("1.5"));
    assert_eq!(read("t").as_deref(), Some("true"));
    assert_eq!(read("no").as_deref(), Some("false"));
    assert_eq!(read("z"), None);
    assert_eq!(read("missing"), None);
}

fn a_boolean_attribute_groups_the_same(db: &mut TestDb) {
    orders_fixture(db);
    let query = LineQuery {
        group: LineGroup::Attribute("gift".into()),
        placed: (at("2026-03-01 00:00:00"), at("2026-04-01 00:00:00")),
        currency: "EUR".into(),
        channel: None,
        product_type: None,
        category: None,
    };
    let mut groups: Vec<(String, i64)> =
        analytics::line_groups(&mut db.conn, &query).unwrap().into_iter().map(|g| (g.key, g.units)).collect();
    groups.sort();
    // The cancelled order's line is left out.
    assert_eq!(groups, [("false".to_string(), 1), ("true".to_string(), 1)]);
}

fn live_order_leaves_cancelled_orders_out(db: &mut TestDb) {
    orders_fixture(db);
    let sql = format!("SELECT COUNT(*) AS n FROM orders o WHERE {}", live_order("o"));
    assert_eq!(diesel::sql_query(sql).get_result::<Count>(&mut db.conn).unwrap().n, 2);
    let unaliased = format!("SELECT COUNT(*) AS n FROM orders WHERE {}", live_order("orders"));
    assert_eq!(diesel::sql_query(unaliased).get_result::<Count>(&mut db.conn).unwrap().n, 2);
    use crate::db::schema::orders;
    let ids: Vec<i64> =
        orders::table.filter(live_orders()).select(orders::id).order(orders::id).load(&mut db.conn).unwrap();
    assert_eq!(ids, [1, 3]);
}

fn lock_row_holds_the_row_until_the_transaction_ends(db: &mut TestDb) {
    orders_fixture(db);
    let backend = db.backend();
    let mut other = db.connect();
    db.conn
        .transaction(|conn| {
            lock_row(conn, "orders", 1)?;
            if backend == Backend::Postgres {
                let taken =
                    diesel::sql_query("SELECT id FROM orders WHERE id = 1 FOR UPDATE NOWAIT").execute(&mut other);
                assert!(taken.is_err(), "another transaction could lock the row");
                let free =
                    diesel::sql_query("SELECT id FROM orders WHERE id = 2 FOR UPDATE NOWAIT").execute(&mut other);
                assert!(free.is_ok(), "only the one row is locked");
            }
            Ok::<_, diesel::result::Error>(())
        })
        .unwrap();
    if backend == Backend::Postgres {
        diesel::sql_query("SELECT id FROM orders WHERE id = 1 FOR UPDATE NOWAIT").execute(&mut other).unwrap();
    }
}

fn insert_in_chunks_writes_every_row(db: &mut TestDb) {
    use crate::models::messages::NewMessage;
    let now = at("2026-03-01 00:00:00");
    let rows: Vec<NewMessage> = (0..INSERT_CHUNK * 2 + 3)
        .map(|n| NewMessage {
            customer_id: None,
            kind: "campaign".into(),
            recipient: format!("r{n}@example.com"),
            subject: "s".into(),
            body: "b".into(),
            status: "pending".into(),
            next_attempt_at: now,
            created_at: now,
            campaign_id: None,
            list_unsubscribe: None,
            html_body: None,
        })
        .collect();
    let conn = &mut db.conn;
    insert_in_chunks!(conn, crate::db::schema::messages::table, &rows).unwrap();
    let count: i64 = crate::db::schema::messages::table.count().get_result(&mut db.conn).unwrap();
    assert_eq!(count, rows.len() as i64);
    let none: &[NewMessage] = &[];
    let conn = &mut db.conn;
    insert_in_chunks!(conn, crate::db::schema::messages::table, none).unwrap();
}

fn add_counters_adds_to_existing_rows(db: &mut TestDb) {
    let row = |value: &str, n: i64| {
        vec![
            SqlValue::Text("all".into()),
            SqlValue::Text(value.into()),
            SqlValue::Text("month".into()),
            SqlValue::Text("EUR".into()),
            SqlValue::Date(day("2026-03-01")),
            SqlValue::Int(n),
        ]
    };
    let keys = ["dimension", "value", "granularity", "currency", "period_start"];
    add_counters(&mut db.conn, "sales_customers", &keys, &["customers"], vec![row("a", 2), row("b", 1)]).unwrap();
    add_counters(&mut db.conn, "sales_customers", &keys, &["customers"], vec![row("a", 3)]).unwrap();
    use crate::db::schema::sales_customers as s;
    let counts: Vec<(String, i64)> =
        s::table.select((s::value, s::customers)).order(s::value).load(&mut db.conn).unwrap();
    assert_eq!(counts, [("a".to_string(), 5), ("b".to_string(), 1)]);
}

db_tests!(
    placeholders_are_numbered_per_backend,
    days_between_timestamps_dates_and_columns,
    json_text_reads_every_kind_alike,
    a_boolean_attribute_groups_the_same,
    live_order_leaves_cancelled_orders_out,
    lock_row_holds_the_row_until_the_transaction_ends,
    insert_in_chunks_writes_every_row,
    add_counters_adds_to_existing_rows,
);
