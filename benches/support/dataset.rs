//! The dataset the segments and flows benchmarks load: 1,000,000 customers (by default)
//! with names, birthdays, places, sources, attributes, tags, email and SMS consents with
//! their ledger events, and 40 % buyers with 600,000 orders of one line among 200 products
//! and their customer_order_stats rows. Every value is derived from the row number, so
//! both backends hold the same rows. It is written with set-based SQL (PostgreSQL:
//! `generate_series`; SQLite: a recursive CTE) into a database migrated by rapport's own
//! migrations, and a saved segment named after the dataset marks it complete.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use chrono::{NaiveDateTime, SubsecRound, Utc};
use diesel::connection::SimpleConnection;
use diesel::Connection;
use rapport::db::{Backend, DbConn};

use super::scalar;

/// Products in the catalogue.
pub const PRODUCTS: i64 = 200;
/// Bump when the generated rows change, so that an older dataset is rebuilt.
pub const DATASET_VERSION: u32 = 1;

/// Coprime with the number of buyers: spreads second and third orders over them.
pub const SECOND_ORDER_STEP: i64 = 7_919;
pub const THIRD_ORDER_STEP: i64 = 104_729;

pub const FIRST_NAMES: [&str; 20] = [
    "Ana", "Louis", "Chloe", "Hugo", "Lea", "Jules", "Ines", "Gabriel", "Camille", "Nathan", "Emma", "Lucas", "Sofia",
    "Noah", "Marta", "Paul", "Julia", "Tom", "Alice", "Omar",
];
pub const LAST_NAMES: [&str; 20] = [
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau", "Muller",
    "Schmidt", "Peeters", "Janssens", "Rossi", "Garcia", "Smith", "Weber", "Fontaine", "Girard",
];
pub const STREETS: [&str; 8] = [
    "rue de la Paix",
    "avenue Jean Jaures",
    "Hauptstrasse",
    "rue Neuve",
    "Bahnhofstrasse",
    "Via Roma",
    "Calle Mayor",
    "High Street",
];
/// (city, postal code, country, preferred language)
pub type Place = (&'static str, &'static str, &'static str, &'static str);
pub const PLACES: [Place; 21] = [
    ("Paris", "75011", "FR", "fr"),
    ("Paris", "75015", "FR", "fr"),
    ("Lyon", "69003", "FR", "fr"),
    ("Marseille", "13001", "FR", "fr"),
    ("Nantes", "44000", "FR", "fr"),
    ("Lille", "59000", "FR", "fr"),
    ("Bordeaux", "33000", "FR", "fr"),
    ("Toulouse", "31000", "FR", "fr"),
    ("Brussels", "1000", "BE", "fr"),
    ("Antwerp", "2000", "BE", "nl"),
    ("Liege", "4000", "BE", "fr"),
    ("Berlin", "10115", "DE", "de"),
    ("Munich", "80331", "DE", "de"),
    ("Hamburg", "20095", "DE", "de"),
    ("Geneva", "1201", "CH", "fr"),
    ("Zurich", "8001", "CH", "de"),
    ("Luxembourg", "1009", "LU", "fr"),
    ("Madrid", "28001", "ES", "es"),
    ("Barcelona", "08001", "ES", "es"),
    ("Milan", "20121", "IT", "it"),
    ("London", "EC1A 1BB", "GB", "en"),
];
pub const SOURCES: [&str; 10] = [
    "checkout",
    "checkout",
    "checkout",
    "import",
    "import",
    "newsletter_form",
    "contact_form",
    "store",
    "event",
    "api",
];
pub const GENDERS: [Option<&str>; 10] = [
    Some("female"),
    Some("female"),
    Some("female"),
    Some("female"),
    Some("male"),
    Some("male"),
    Some("male"),
    Some("male"),
    Some("non_binary"),
    None,
];
pub const COLOURS: [&str; 5] = ["green", "blue", "red", "black", "white"];
pub const TAGS: [&str; 6] = ["newsletter", "vip", "loyalty", "wholesale", "events", "b2b"];
/// (state, opt-in level), weighted: 12 subscribed, 5 unsubscribed, 3 pending in 20.
pub const CONSENT_STATES: [(&str, &str); 20] = [
    ("subscribed", "confirmed_opt_in"),
    ("subscribed", "confirmed_opt_in"),
    ("subscribed", "confirmed_opt_in"),
    ("subscribed", "confirmed_opt_in"),
    ("subscribed", "confirmed_opt_in"),
    ("subscribed", "confirmed_opt_in"),
    ("subscribed", "single_opt_in"),
    ("subscribed", "single_opt_in"),
    ("subscribed", "single_opt_in"),
    ("subscribed", "single_opt_in"),
    ("subscribed", "single_opt_in"),
    ("subscribed", "single_opt_in"),
    ("unsubscribed", "single_opt_in"),
    ("unsubscribed", "single_opt_in"),
    ("unsubscribed", "confirmed_opt_in"),
    ("unsubscribed", "unknown"),
    ("unsubscribed", "unknown"),
    ("pending", "single_opt_in"),
    ("pending", "single_opt_in"),
    ("pending", "single_opt_in"),
];
pub const CONSENT_SOURCES: [&str; 4] = ["checkout", "newsletter_form", "import", "api"];
pub const PRODUCT_TYPES: [&str; 6] = ["shoes", "bags", "shirts", "trousers", "jackets", "accessories"];
pub const CATEGORIES: [&str; 4] = ["women", "men", "kids", "home"];
pub const SIZES: [&str; 4] = ["S", "M", "L", "XL"];
/// 100 in weight: 3 cancelled, 7 placed, 10 paid, 80 fulfilled.
pub const ORDER_STATUSES: [(&str, i64); 4] = [("cancelled", 3), ("placed", 7), ("paid", 10), ("fulfilled", 80)];
pub const CHANNELS: [&str; 3] = ["web", "web", "store"];

pub const DAY: i64 = 86_400;

pub struct Dataset {
    pub customers: i64,
    /// Customers with at least one order: the first `buyers` of them get one, then
    /// `second_orders` of them a second one and `third_orders` a third one.
    pub buyers: i64,
    pub second_orders: i64,
    pub third_orders: i64,
    pub orders: i64,
}

impl Dataset {
    pub fn new(customers: i64) -> Dataset {
        let buyers = customers / 5 * 2;
        let second_orders = customers / 20 * 3;
        let third_orders = customers / 20;
        Dataset { customers, buyers, second_orders, third_orders, orders: buyers + second_orders + third_orders }
    }

    /// The name of the saved segment that marks a complete dataset.
    pub fn marker(&self) -> String {
        format!("rapport benchmark dataset v{DATASET_VERSION}: {} customers, {} orders", self.customers, self.orders)
    }

    /// Every row, in one transaction, then the planner statistics. Returns each step's time.
    pub fn load(&self, conn: &mut DbConn, marker: &str) -> Vec<(&'static str, Duration)> {
        let sql = SqlWriter { backend: conn.backend(), anchor: Utc::now().naive_utc().trunc_subsecs(0) };
        if let DbConn::Sqlite(_) = conn {
            // This connection only: a big page cache for the index inserts of the load.
            conn.batch_execute("PRAGMA cache_size = -1000000; PRAGMA temp_store = MEMORY").expect("loading pragmas");
        }
        let mut timings = Vec::new();
        conn.transaction::<_, diesel::result::Error, _>(|conn| {
            let mut step = |name: &'static str, statements: Vec<String>| {
                let started = Instant::now();
                for statement in statements {
                    conn.batch_execute(&statement).unwrap_or_else(|e| panic!("{name}: {e}\n{statement}"));
                }
                timings.push((name, started.elapsed()));
            };
            step("customers", vec![sql.customers(self.customers)]);
            step("tags", sql.tags(self.customers));
            step("consents", sql.consents(self.customers));
            step("orders", sql.orders(self));
            step("stats", vec![STATS_SQL.to_string(), rapport::repositories::orders::all_totals_sql()]);
            let mut finish = sql.identity_resets();
            finish.push(sql.marker(marker));
            step("marker", finish);
            Ok(())
        })
        .expect("load the dataset");
        let started = Instant::now();
        let analyze = match sql.backend {
            Backend::Postgres => "VACUUM ANALYZE",
            Backend::Sqlite => "ANALYZE; PRAGMA wal_checkpoint(TRUNCATE)",
        };
        conn.batch_execute(analyze).expect(analyze);
        timings.push((if sql.backend == Backend::Postgres { "VACUUM ANALYZE" } else { "ANALYZE" }, started.elapsed()));
        timings
    }

    /// What the database holds, counted.
    pub fn summary(&self, conn: &mut DbConn) -> String {
        let mut count = |sql: &str| scalar(conn, &format!("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM {sql}"));
        let customers = count("customers");
        let erased = count("customers WHERE erased_at IS NOT NULL");
        let tagged = count("(SELECT DISTINCT customer_id FROM customer_tags) t");
        let tags = count("customer_tags");
        let email = count("customer_consents WHERE channel = 'email'");
        let subscribed = count("customer_consents WHERE channel = 'email' AND state = 'subscribed'");
        let unsubscribed = count("customer_consents WHERE channel = 'email' AND state = 'unsubscribed'");
        let sms = count("customer_consents WHERE channel = 'sms'");
        let orders = count("orders");
        let lines = count("order_lines");
        let buyers = count("(SELECT DISTINCT customer_id FROM customer_order_stats) b");
        let stats = count("customer_order_stats");
        format!(
            "{customers} customers ({erased} erased), {tagged} tagged ({tags} tags), email consent {email} \
             ({subscribed} subscribed, {unsubscribed} unsubscribed, {} pending), sms consent {sms}, {orders} orders, \
             {lines} lines, {buyers} customers with stats ({stats} rows)",
            email - subscribed - unsubscribed
        )
    }
}

/// Net purchase statistics per customer and currency, as repositories::orders computes them.
pub const STATS_SQL: &str = "INSERT INTO customer_order_stats (customer_id, currency, orders_count, total_spent, \
     first_order_at, last_order_at) \
     SELECT customer_id, currency, COUNT(*), CAST(SUM(total - refunded_total) AS BIGINT), MIN(placed_at), \
     MAX(placed_at) FROM orders WHERE status <> 'cancelled' GROUP BY customer_id, currency";

/// Writes the loading statements for one backend. Every value is a function of the row
/// number `i` of a series 1..=n.
pub struct SqlWriter {
    pub backend: Backend,
    /// "Now" for the dataset: orders, consents and sign-ups lie before it.
    pub anchor: NaiveDateTime,
}

impl SqlWriter {
    pub fn postgres(&self) -> bool {
        self.backend == Backend::Postgres
    }

    /// (prefix of the statement, FROM item) for the series 1..=n named `s(i)`.
    pub fn series(&self, n: i64) -> (String, String) {
        if self.postgres() {
            (String::new(), format!("generate_series(CAST(1 AS BIGINT), {n}) AS s(i)"))
        } else {
            (format!("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) "), "s".into())
        }
    }

    /// Explicit ids into identity columns.
    pub fn overriding(&self) -> &'static str {
        if self.postgres() {
            "OVERRIDING SYSTEM VALUE"
        } else {
            ""
        }
    }

    /// The anchor minus `seconds` (an integer expression), as a timestamp.
    pub fn before_anchor(&self, seconds: &str) -> String {
        let anchor = self.anchor.format("%F %T");
        if self.postgres() {
            format!("(TIMESTAMP '{anchor}' - CAST({seconds} AS DOUBLE PRECISION) * INTERVAL '1 second')")
        } else {
            format!("datetime('{anchor}', '-' || ({seconds}) || ' seconds')")
        }
    }

    /// `start` plus `days` (an integer expression), as a date.
    pub fn date_after(&self, start: &str, days: &str) -> String {
        if self.postgres() {
            format!("(DATE '{start}' + CAST({days} AS INTEGER))")
        } else {
            format!("date('{start}', '+' || ({days}) || ' days')")
        }
    }

    pub fn customers(&self, n: i64) -> String {
        let (with, from) = self.series(n);
        let erased = "(i % 500 = 0)";
        let company = format!("({} % 20 = 0)", hash(0));
        let place =
            |field: fn(Place) -> &'static str| pick(&format!("{} % {}", hash(7), PLACES.len()), &PLACES.map(field));
        let attributes = format!(
            "CASE WHEN {} % 5 = 0 THEN '{{\"colour\":\"' || {} || '\",\"loyalty_points\":' || ({} % 1000) || '}}' \
             ELSE '{{}}' END",
            hash(9),
            pick(&format!("{} % 5", hash(10)), &COLOURS),
            hash(10),
        );
        let columns = [
            ("id", "i".to_string()),
            ("kind", format!("CASE WHEN {company} THEN 'company' ELSE 'person' END")),
            (
                "first_name",
                format!("CASE WHEN {erased} THEN NULL ELSE {} END", pick(&format!("{} % 20", hash(1)), &FIRST_NAMES)),
            ),
            (
                "last_name",
                format!("CASE WHEN {erased} THEN NULL ELSE {} END", pick(&format!("{} % 20", hash(2)), &LAST_NAMES)),
            ),
            ("company_name", format!("CASE WHEN {company} AND NOT {erased} THEN 'Company ' || i END")),
            ("email", format!("CASE WHEN {erased} THEN NULL ELSE 'customer' || i || '@example.com' END")),
            ("phone", format!("CASE WHEN {erased} OR {} % 3 = 0 THEN NULL ELSE '+3361' || (1000000 + i) END", hash(3))),
            (
                "birthday",
                format!(
                    "CASE WHEN {erased} OR {h} % 10 = 0 THEN NULL ELSE {} END",
                    self.date_after("1940-01-01", &format!("{h} % 23000", h = hash(4))),
                    h = hash(4)
                ),
            ),
            (
                "gender",
                format!(
                    "CASE WHEN {erased} THEN NULL ELSE {} END",
                    pick_or_null(&format!("{} % 10", hash(5)), &GENDERS)
                ),
            ),
            (
                "address_line1",
                format!(
                    "CASE WHEN {erased} THEN NULL ELSE (1 + i % 150) || ' ' || {} END",
                    pick(&format!("{} % {}", hash(6), STREETS.len()), &STREETS)
                ),
            ),
            ("city", format!("CASE WHEN {erased} THEN NULL ELSE {} END", place(|p| p.0))),
            ("postal_code", format!("CASE WHEN {erased} THEN NULL ELSE {} END", place(|p| p.1))),
            ("country", place(|p| p.2)),
            ("preferred_language", place(|p| p.3)),
            ("source", pick(&format!("{} % {}", hash(8), SOURCES.len()), &SOURCES)),
            ("attributes", format!("CASE WHEN {erased} THEN '{{}}' ELSE {attributes} END")),
            ("created_at", self.before_anchor(&format!("{} % {}", hash(11), 5 * 365 * DAY))),
            ("updated_at", self.before_anchor(&format!("{} % {}", hash(11), 5 * 365 * DAY))),
            (
                "erased_at",
                format!("CASE WHEN {erased} THEN {} END", self.before_anchor(&format!("{} % {}", hash(12), 365 * DAY))),
            ),
        ];
        let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
        let values: Vec<&str> = columns.iter().map(|(_, value)| value.as_str()).collect();
        format!(
            "{with}INSERT INTO customers ({}) {} SELECT {} FROM {from}",
            names.join(", "),
            self.overriding(),
            values.join(", ")
        )
    }

    /// 30% of the customers still there: one tag, and a second, different one for a third of them.
    pub fn tags(&self, n: i64) -> Vec<String> {
        let (with, from) = self.series(n);
        let tagged = format!("i % 500 <> 0 AND {} % 10 < 3", hash(13));
        let first = format!("{} % 6", hash(14));
        let second = format!("({} % 6 + 1 + {} % 5) % 6", hash(14), hash(15));
        vec![
            format!("{with}INSERT INTO customer_tags (customer_id, tag) SELECT i, {} FROM {from} WHERE {tagged}", pick(&first, &TAGS)),
            format!(
                "{with}INSERT INTO customer_tags (customer_id, tag) SELECT i, {} FROM {from} WHERE {tagged} AND {} % 10 = 0",
                pick(&second, &TAGS),
                hash(13)
            ),
        ]
    }

    /// Email consent for 60% and SMS consent for 15% of the customers still there: the ledger
    /// event (ids i and n + i) and the current state it gives.
    pub fn consents(&self, n: i64) -> Vec<String> {
        let (with, from) = self.series(n);
        let event = |channel: &str, id_offset: i64, chosen: String, state_hash: usize| {
            let state = format!("{} % 20", hash(state_hash));
            let occurred = self.before_anchor(&format!("{} % {}", hash(state_hash + 1), 4 * 365 * DAY));
            format!(
                "{with}INSERT INTO consent_events (id, customer_id, channel, state, opt_in_level, source, consent_text, \
                 occurred_at, recorded_at, actor) {} \
                 SELECT i + {id_offset}, i, '{channel}', {}, {}, {}, 'Send me offers', {occurred}, {occurred}, 'import' \
                 FROM {from} WHERE i % 500 <> 0 AND {chosen}",
                self.overriding(),
                pick(&state, &CONSENT_STATES.map(|s| s.0)),
                pick(&state, &CONSENT_STATES.map(|s| s.1)),
                pick(&format!("{} % 4", hash(state_hash + 1)), &CONSENT_SOURCES),
            )
        };
        vec![
            event("email", 0, format!("{} % 10 < 6", hash(16)), 17),
            event("sms", n, format!("{} % 20 < 3", hash(19)), 20),
            "INSERT INTO customer_consents (customer_id, channel, state, opt_in_level, source, event_id, occurred_at) \
             SELECT customer_id, channel, state, opt_in_level, source, id, occurred_at FROM consent_events"
                .to_string(),
        ]
    }

    /// The products, then one order and one line per order number `i`.
    pub fn orders(&self, d: &Dataset) -> Vec<String> {
        let (with, from) = self.series(PRODUCTS);
        let products = format!(
            "{with}INSERT INTO products (id, sku, name, product_type, category, attributes, price, currency, \
             track_inventory, stock_quantity, active, created_at, updated_at) {} \
             SELECT i, 'SKU-' || (999 + i), 'Product ' || (999 + i), {}, {}, '{{}}', {}, 'EUR', FALSE, 0, TRUE, \
             {at}, {at} FROM {from}",
            self.overriding(),
            pick("(i - 1) % 6", &PRODUCT_TYPES),
            pick("(i - 1) % 4", &CATEGORIES),
            price("(i - 1)"),
            at = self.before_anchor(&(4 * 365 * DAY).to_string()),
        );

        let (with, from) = self.series(d.orders);
        let (b1, b2) = (d.buyers, d.buyers + d.second_orders);
        // Buyer number b in 0..buyers is customer 1 + 5b/2: two customers in five.
        let buyer = format!(
            "CASE WHEN i <= {b1} THEN i - 1 \
             WHEN i <= {b2} THEN ((i - {b1}) * {SECOND_ORDER_STEP}) % {b1} \
             ELSE ((i - {b2}) * {THIRD_ORDER_STEP}) % {b1} END"
        );
        // Half the lines go to the 20 best sellers.
        let product = format!("CASE WHEN {} % 2 = 0 THEN {h} % 20 ELSE {h} % {PRODUCTS} END", hash(22), h = hash(23));
        let quantity = format!("(1 + {} % 3)", hash(24));
        let line = format!("SELECT i, {product} AS p, {quantity} AS q FROM {from}");
        let status = {
            let h = hash(25);
            let (last, weighted) = ORDER_STATUSES.split_last().expect("statuses");
            let mut case = String::from("CASE");
            let mut bound = 0;
            for (status, weight) in weighted {
                bound += weight;
                write!(case, " WHEN {h} % 100 < {bound} THEN '{status}'").unwrap();
            }
            format!("{case} ELSE '{}' END", last.0)
        };
        let placed_at = self.before_anchor(&format!("{} % {}", hash(21), 3 * 365 * DAY));
        let orders = format!(
            "{with}INSERT INTO orders (id, customer_id, status, channel, placed_at, currency, subtotal, discount_total, \
             shipping_total, tax_total, total, refunded_total, created_by, created_at, updated_at) {} \
             SELECT i, 1 + (({buyer}) * 5) / 2, {status}, {}, placed_at, \
             CASE WHEN {} % 20 = 0 THEN 'CHF' ELSE 'EUR' END, subtotal, 0, 490, subtotal / 5, \
             subtotal + 490 + subtotal / 5, 0, 'import', placed_at, placed_at \
             FROM (SELECT i, q * {} AS subtotal, {placed_at} AS placed_at FROM ({line}) y) x",
            self.overriding(),
            pick(&format!("{} % 3", hash(26)), &CHANNELS),
            hash(27),
            price("p"),
        );
        let lines = format!(
            "{with}INSERT INTO order_lines (id, order_id, product_id, sku, name, product_type, attributes, quantity, \
             unit_price, refunded_quantity) {} \
             SELECT i, i, p + 1, 'SKU-' || (1000 + p), 'Product ' || (1000 + p), {}, \
             CASE WHEN p % 6 IN (0, 4) THEN '{{\"size\":\"' || {} || '\"}}' ELSE '{{}}' END, q, {}, 0 FROM ({line}) y",
            self.overriding(),
            pick("p % 6", &PRODUCT_TYPES),
            pick("i % 4", &SIZES),
            price("p"),
        );
        vec![products, orders, lines]
    }

    /// PostgreSQL identity sequences continue after the explicit ids.
    pub fn identity_resets(&self) -> Vec<String> {
        if !self.postgres() {
            return Vec::new();
        }
        ["customers", "consent_events", "products", "orders", "order_lines"]
            .iter()
            .map(|table| {
                format!("SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
            })
            .collect()
    }

    pub fn marker(&self, name: &str) -> String {
        let at = self.anchor.format("%F %T");
        let at = if self.postgres() { format!("TIMESTAMP '{at}'") } else { format!("'{at}'") };
        format!(
            "INSERT INTO segments (name, description, rules, created_at, updated_at) VALUES \
             ('{name}', 'Marks the benchmark dataset as complete.', '{{\"all\": []}}', {at}, {at})"
        )
    }
}

/// Stream `k` of well spread pseudo-random values in [0, 2^31 - 1) for row `i` (a Weyl
/// sequence modulo a prime), in integer arithmetic that both backends compute alike.
pub fn hash(k: usize) -> String {
    const MULTIPLIERS: [i64; 28] = [
        1_327_217_885,
        889_516_853,
        1_640_531_527,
        1_013_904_223,
        1_103_515_245,
        2_027_808_485,
        1_772_681_243,
        1_213_445_693,
        1_520_972_537,
        1_934_965_607,
        1_181_238_931,
        1_598_386_631,
        1_406_915_659,
        1_860_355_453,
        1_069_871_207,
        1_746_410_827,
        1_288_490_189,
        1_992_881_543,
        1_462_289_311,
        1_134_903_169,
        1_836_311_903,
        1_548_008_755,
        1_073_807_359,
        1_691_443_219,
        1_977_326_743,
        1_254_468_283,
        1_611_623_773,
        1_429_411_493,
    ];
    format!("((i * {} + {}) % 2147483647)", MULTIPLIERS[k], 1_000_003 * k as i64 + 7)
}

/// `CASE <index> WHEN 0 THEN 'values[0]' ... END`
pub fn pick(index: &str, values: &[&str]) -> String {
    let mut sql = format!("CASE {index}");
    for (n, value) in values.iter().enumerate() {
        write!(sql, " WHEN {n} THEN '{value}'").unwrap();
    }
    sql + " END"
}

pub fn pick_or_null(index: &str, values: &[Option<&str>]) -> String {
    let mut sql = format!("CASE {index}");
    for (n, value) in values.iter().enumerate() {
        match value {
            Some(value) => write!(sql, " WHEN {n} THEN '{value}'").unwrap(),
            None => write!(sql, " WHEN {n} THEN NULL").unwrap(),
        }
    }
    sql + " END"
}

/// The unit price of product number `p` (0-based), in cents: 15.00 to 199.99.
pub fn price(p: &str) -> String {
    format!("(1500 + ({p} * 7919) % 18500)")
}
