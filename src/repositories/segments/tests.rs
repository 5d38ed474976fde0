//! The compiler, every field family and operator, run on both backends against one small
//! fixed dataset. The expected members pin the current semantics:
//! - `ne` / `not_in` select the customers the positive form does not, including those
//!   without a value (no city, no birthday, no such attribute, no orders, no consent);
//! - `not` is the complement of its rule among the customers (not erased);
//! - purchases count lines of orders that were not cancelled and not fully refunded.

use chrono::NaiveDateTime;
use serde_json::{json, Value};

use super::{count, count_and_newest, member_ids};
use crate::db::testing::{db_tests, TestDb};
use crate::domain::segment::parse;
use crate::repositories::orders;

/// "Now" for every rule: within_last_days and ages count from here.
fn now() -> NaiveDateTime {
    NaiveDateTime::parse_from_str("2026-06-15 12:00:00", "%Y-%m-%d %H:%M:%S").unwrap()
}

/// 1 Ann: vip (true), gold, 120 points; tags vip + newsletter; email subscribed; born
///   1990-06-20 (35); Berlin; bought TEE-1 (apparel, gift) with code SUMMER on 06-01, and
///   MUG-1 (kitchen) on a cancelled order; contacted by campaign 1; RFM about_to_sleep.
/// 2 Ben: vip (false), 5 points; tag newsletter; email unsubscribed, sms subscribed; no
///   birthday; munich; MUG-1 (kitchen, not a gift) on 03-01 in EUR, TEE-1 on 05-20 in USD;
///   in campaign 1's holdout; RFM at_risk.
/// 3 Cara: no attributes, tags, consents or orders; born 2010-01-05 (16); from the
///   contact form, created 06-10.
/// 4 Dan: erased; matches much, selected by nothing.
/// 5 Eve: a company, silver; bought BOOK-1 on 2025-12-01, fully refunded; RFM lost.
fn fixture(db: &mut TestDb) {
    db.exec(
        "INSERT INTO customers (kind, first_name, city, birthday, gender, source, attributes, created_at, updated_at, erased_at) VALUES
           ('person', 'Ann', 'Berlin', '1990-06-20', 'female', 'api',
            '{\"vip\": true, \"tier\": \"gold\", \"points\": 120}', '2026-01-10 09:00:00', '2026-01-10 09:00:00', NULL),
           ('person', 'Ben', 'munich', NULL, 'male', 'import',
            '{\"vip\": false, \"points\": 5}', '2026-02-10 09:00:00', '2026-02-10 09:00:00', NULL),
           ('person', 'Cara', NULL, '2010-01-05', NULL, 'contact_form',
            '{}', '2026-06-10 09:00:00', '2026-06-10 09:00:00', NULL),
           ('person', 'Dan', 'Berlin', '1990-06-20', NULL, 'api',
            '{\"vip\": true}', '2026-01-10 09:00:00', '2026-01-10 09:00:00', '2026-03-01 00:00:00'),
           ('company', 'Eve', NULL, NULL, NULL, 'store',
            '{\"tier\": \"silver\"}', '2025-11-01 09:00:00', '2025-11-01 09:00:00', NULL);
         INSERT INTO customer_tags (customer_id, tag) VALUES (1, 'vip'), (1, 'newsletter'), (2, 'newsletter'), (4, 'vip');
         INSERT INTO customer_consents (customer_id, channel, state, opt_in_level, source, event_id, occurred_at) VALUES
           (1, 'email', 'subscribed', 'single_opt_in', 'api', 1, '2026-01-10 09:00:00'),
           (2, 'email', 'unsubscribed', 'single_opt_in', 'api', 2, '2026-02-10 09:00:00'),
           (2, 'sms', 'subscribed', 'single_opt_in', 'api', 3, '2026-02-10 09:00:00'),
           (4, 'email', 'subscribed', 'single_opt_in', 'api', 4, '2026-01-10 09:00:00');
         INSERT INTO products (sku, name, product_type, category, price, currency, track_inventory, active, created_at, updated_at) VALUES
           ('TEE-1', 'Tee', 'physical', 'apparel', 2500, 'EUR', FALSE, TRUE, '2025-01-01 00:00:00', '2025-01-01 00:00:00'),
           ('MUG-1', 'Mug', 'physical', 'kitchen', 1000, 'EUR', FALSE, TRUE, '2025-01-01 00:00:00', '2025-01-01 00:00:00'),
           ('BOOK-1', 'Book', 'digital', NULL, 10000, 'EUR', FALSE, TRUE, '2025-01-01 00:00:00', '2025-01-01 00:00:00');
         INSERT INTO orders (customer_id, status, channel, placed_at, currency, subtotal, discount_total, shipping_total,
           tax_total, total, refunded_total, promo_code, promo_code_status, created_by, created_at, updated_at) VALUES
           (1, 'paid', 'web', '2026-06-01 10:00:00', 'EUR', 5000, 0, 0, 0, 5000, 0, 'SUMMER', 'applied', 't', '2026-06-01 10:00:00', '2026-06-01 10:00:00'),
           (1, 'cancelled', 'web', '2026-06-05 10:00:00', 'EUR', 9000, 0, 0, 0, 9000, 0, NULL, NULL, 't', '2026-06-05 10:00:00', '2026-06-05 10:00:00'),
           (2, 'fulfilled', 'web', '2026-03-01 10:00:00', 'EUR', 2000, 0, 0, 0, 2000, 0, NULL, NULL, 't', '2026-03-01 10:00:00', '2026-03-01 10:00:00'),
           (2, 'paid', 'web', '2026-05-20 10:00:00', 'USD', 3000, 0, 0, 0, 3000, 0, NULL, NULL, 't', '2026-05-20 10:00:00', '2026-05-20 10:00:00'),
           (5, 'fulfilled', 'store', '2025-12-01 10:00:00', 'EUR', 10000, 0, 0, 0, 10000, 10000, NULL, NULL, 't', '2025-12-01 10:00:00', '2025-12-01 10:00:00'),
           (4, 'paid', 'web', '2026-06-01 10:00:00', 'EUR', 5000, 0, 0, 0, 5000, 0, 'SUMMER', 'applied', 't', '2026-06-01 10:00:00', '2026-06-01 10:00:00');
         INSERT INTO order_lines (order_id, product_id, sku, name, product_type, attributes, quantity, unit_price, refunded_quantity) VALUES
           (1, 1, 'TEE-1', 'Tee', 'physical', '{\"size\": \"M\", \"gift\": true}', 2, 2500, 0),
           (2, 2, 'MUG-1', 'Mug', 'physical', '{}', 9, 1000, 0),
           (3, 2, 'MUG-1', 'Mug', 'physical', '{\"gift\": false}', 2, 1000, 0),
           (4, 1, 'TEE-1', 'Tee', 'physical', '{\"size\": \"L\"}', 1, 3000, 0),
           (5, 3, 'BOOK-1', 'Book', 'digital', '{}', 1, 10000, 1),
           (6, 1, 'TEE-1', 'Tee', 'physical', '{\"size\": \"M\", \"gift\": true}', 2, 2500, 0);
         INSERT INTO campaigns (name, channel, promo_kind, cap_max_contacts, cap_per_days, exclude_campaign_ids,
           holdout_percent, attribution_window_days, status, created_by, created_at, updated_at) VALUES
           ('c', 'email', 'none', 1, 7, '[]', 50, 30, 'launched', 't', '2026-06-01 00:00:00', '2026-06-01 00:00:00');
         INSERT INTO campaign_contacts (campaign_id, customer_id, holdout, created_at) VALUES
           (1, 1, FALSE, '2026-06-02 00:00:00'), (1, 2, TRUE, '2026-06-02 00:00:00'), (1, 4, FALSE, '2026-06-02 00:00:00');",
    );
    for (customer, currency) in [(1, "EUR"), (2, "EUR"), (2, "USD"), (4, "EUR"), (5, "EUR")] {
        orders::refresh_stats(&mut db.conn, customer, currency).unwrap();
    }
}

/// The members a rule selects, ascending.
fn members(db: &mut TestDb, rules: Value) -> Vec<i64> {
    let rule = parse(&rules, "rules").unwrap_or_else(|errors| panic!("{rules}: {errors:?}"));
    let mut ids = member_ids(&mut db.conn, &rule, now(), None, 100).unwrap_or_else(|e| panic!("{rules}: {e}"));
    // The preview's one statement agrees with the count and the ids, newest first.
    let counted = count(&mut db.conn, &rule, now()).unwrap_or_else(|e| panic!("{rules}: {e}"));
    assert_eq!(counted, ids.len() as i64, "{rules}: count");
    for limit in [1, 2, 100] {
        let newest = count_and_newest(&mut db.conn, &rule, now(), limit).unwrap_or_else(|e| panic!("{rules}: {e}"));
        let expected: Vec<i64> = ids.iter().copied().take(limit as usize).collect();
        assert_eq!(newest, (counted, expected), "{rules}: count_and_newest, limit {limit}");
    }
    ids.sort_unstable();
    ids
}

fn cond(field: &str, op: &str, value: Value) -> Value {
    if value.is_null() {
        json!({"field": field, "op": op})
    } else {
        json!({"field": field, "op": op, "value": value})
    }
}

/// Checks each (rule, expected members); reports every mismatch at once.
/// Checks each rule's members, and that `not` around it selects every other live customer
/// (`not` of some conditions compiles to their opposite condition, not to `NOT (...)`).
fn check(db: &mut TestDb, cases: Vec<(Value, Vec<i64>)>) {
    fixture(db);
    let everyone = members(db, json!({"all": []}));
    let mut wrong = Vec::new();
    for (rules, expected) in cases {
        let got = members(db, rules.clone());
        if got != expected {
            wrong.push(format!("{rules}: expected {expected:?}, got {got:?}"));
        }
        let others: Vec<i64> = everyone.iter().copied().filter(|id| !expected.contains(id)).collect();
        let negated = json!({ "not": rules });
        let got = members(db, negated.clone());
        if got != others {
            wrong.push(format!("{negated}: expected {others:?}, got {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "{:?} backend:\n{}", db.backend(), wrong.join("\n"));
}

fn groups_and_not(db: &mut TestDb) {
    let vip = cond("tag", "eq", json!("vip"));
    let munich = cond("city", "eq", json!("munich"));
    let company = cond("kind", "eq", json!("company"));
    check(
        db,
        vec![
            (json!({"all": []}), vec![1, 2, 3, 5]),
            (json!({"any": []}), vec![]),
            (json!({"not": {"all": []}}), vec![]),
            (json!({"not": vip}), vec![2, 3, 5]),
            (json!({"not": {"not": vip}}), vec![1]),
            (
                json!({"all": [cond("tag", "eq", json!("newsletter")), cond("consent.email", "eq", json!("subscribed"))]}),
                vec![1],
            ),
            (json!({"any": [munich, company]}), vec![2, 5]),
            (json!({"not": {"any": [munich, company]}}), vec![1, 3]),
            // An `any` of sets an index finds is one union of ids; Dan (erased) is in some.
            (json!({"any": [vip, munich]}), vec![1, 2]),
            (
                json!({"any": [cond("city", "in", json!(["BERLIN", "nowhere"])), cond("source", "eq", json!("import"))]}),
                vec![1, 2],
            ),
            (
                json!({"any": [
                    {"any": [vip, cond("purchased.sku", "eq", json!("TEE-1"))]},
                    cond("used_promo_code", "eq", json!("summer")),
                    cond("received_campaign", "in", json!([1]))
                ]}),
                vec![1, 2],
            ),
            (
                json!({"any": [
                    {"field": "purchased.attributes.gift", "op": "eq", "value": true, "within_days": 30},
                    cond("tag", "exists", Value::Null)
                ]}),
                vec![1, 2],
            ),
            (
                json!({"all": [
                    {"any": [cond("tag", "eq", json!("newsletter")), munich]},
                    {"not": cond("consent.email", "eq", json!("unsubscribed"))}
                ]}),
                vec![1],
            ),
            // A member of neither set: no one.
            (json!({"any": [cond("city", "eq", json!("nowhere")), cond("tag", "eq", json!("none"))]}), vec![]),
            // `not` of a condition on a missing value: the complement, so those without it too.
            (json!({"not": cond("attributes.vip", "eq", json!(true))}), vec![2, 3, 5]),
            (json!({"not": cond("city", "eq", json!("berlin"))}), vec![2, 3, 5]),
        ],
    );
}

fn tags_and_text_columns(db: &mut TestDb) {
    check(
        db,
        vec![
            (cond("tag", "eq", json!("vip")), vec![1]),
            (cond("tag", "in", json!(["vip", "newsletter"])), vec![1, 2]),
            (cond("tag", "ne", json!("vip")), vec![2, 3, 5]),
            (cond("tag", "not_in", json!(["newsletter"])), vec![3, 5]),
            (cond("tag", "exists", Value::Null), vec![1, 2]),
            (cond("tag", "not_exists", Value::Null), vec![3, 5]),
            // Free text: without regard to case; ne also selects customers without a city.
            (cond("city", "eq", json!("MUNICH")), vec![2]),
            (cond("city", "in", json!(["berlin", "Munich"])), vec![1, 2]),
            (cond("city", "contains", json!("erl")), vec![1]),
            (cond("city", "ne", json!("berlin")), vec![2, 3, 5]),
            (cond("city", "not_in", json!(["berlin", "munich"])), vec![3, 5]),
            (cond("city", "exists", Value::Null), vec![1, 2]),
            (cond("city", "not_exists", Value::Null), vec![3, 5]),
            (cond("source", "in", json!(["api", "contact_form"])), vec![1, 3]),
            (cond("source", "ne", json!("api")), vec![2, 3, 5]),
            (cond("kind", "eq", json!("company")), vec![5]),
            (cond("gender", "eq", json!("female")), vec![1]),
            (cond("gender", "ne", json!("female")), vec![2, 3, 5]),
            (cond("gender", "not_exists", Value::Null), vec![3, 5]),
        ],
    );
}

fn ages_and_birthdays(db: &mut TestDb) {
    check(
        db,
        vec![
            (cond("age", "gte", json!(18)), vec![1]),
            (cond("age", "gt", json!(35)), vec![]),
            (cond("age", "lt", json!(18)), vec![3]),
            (cond("age", "lte", json!(16)), vec![3]),
            (cond("age", "eq", json!(35)), vec![1]),
            (cond("age", "ne", json!(35)), vec![2, 3, 5]),
            (cond("age", "between", json!([30, 40])), vec![1]),
            (cond("age", "exists", Value::Null), vec![1, 3]),
            (cond("age", "not_exists", Value::Null), vec![2, 5]),
            (cond("birthday_month", "eq", json!(6)), vec![1]),
            (cond("birthday_month", "in", json!([1, 6])), vec![1, 3]),
            (cond("birthday_month", "ne", json!(6)), vec![2, 3, 5]),
            (cond("birthday_month", "not_in", json!([1])), vec![1, 2, 5]),
            (cond("birthday_month", "between", json!([1, 3])), vec![3]),
        ],
    );
}

fn attributes(db: &mut TestDb) {
    check(
        db,
        vec![
            // A boolean compares as its text on both backends.
            (cond("attributes.vip", "eq", json!(true)), vec![1]),
            (cond("attributes.vip", "eq", json!("false")), vec![2]),
            (cond("attributes.vip", "in", json!([true, false])), vec![1, 2]),
            // ne and not_in also select customers without the attribute.
            (cond("attributes.vip", "ne", json!(true)), vec![2, 3, 5]),
            (cond("attributes.tier", "not_in", json!(["gold"])), vec![2, 3, 5]),
            (cond("attributes.vip", "exists", Value::Null), vec![1, 2]),
            (cond("attributes.vip", "not_exists", Value::Null), vec![3, 5]),
            (cond("attributes.tier", "in", json!(["gold", "silver"])), vec![1, 5]),
            (cond("attributes.tier", "contains", json!("OL")), vec![1]),
            (cond("attributes.points", "eq", json!(120)), vec![1]),
            (cond("attributes.points", "gt", json!(100)), vec![1]),
            (cond("attributes.points", "gte", json!(5)), vec![1, 2]),
            (cond("attributes.points", "lt", json!(100)), vec![2]),
            (cond("attributes.points", "lte", json!(120)), vec![1, 2]),
            (cond("attributes.points", "between", json!([0, 10])), vec![2]),
            // A number comparison never matches a text or a missing value.
            (cond("attributes.tier", "gt", json!(0)), vec![]),
        ],
    );
}

fn created_at_and_consent(db: &mut TestDb) {
    check(
        db,
        vec![
            (cond("created_at", "before", json!("2026-02-01")), vec![1, 5]),
            (cond("created_at", "after", json!("2026-06-01T00:00:00Z")), vec![3]),
            (cond("created_at", "between", json!(["2026-01-01", "2026-03-01"])), vec![1, 2]),
            (cond("created_at", "within_last_days", json!(30)), vec![3]),
            (cond("consent.email", "eq", json!("subscribed")), vec![1]),
            (cond("consent.email", "in", json!(["unsubscribed", "not_set"])), vec![2, 3, 5]),
            (cond("consent.email", "ne", json!("subscribed")), vec![2, 3, 5]),
            (cond("consent.email", "not_in", json!(["subscribed", "unsubscribed"])), vec![3, 5]),
            (cond("consent.sms", "eq", json!("not_set")), vec![1, 3, 5]),
            (cond("consent.sms", "ne", json!("not_set")), vec![2]),
            (cond("consent.post", "eq", json!("pending")), vec![]),
            (cond("consent.email", "not_in", json!(["not_set"])), vec![1, 2]),
            (cond("consent.email", "not_in", json!(["pending", "not_set"])), vec![1, 2]),
        ],
    );
}

fn order_statistics(db: &mut TestDb) {
    // Orders (cancelled left out) and net spend: Ann 1 / 5000 EUR; Ben 2 / 2000 EUR + 3000
    // USD; Cara none; Eve 1 / 0 (refunded).
    check(
        db,
        vec![
            (cond("orders_count", "gte", json!(2)), vec![2]),
            (cond("orders_count", "eq", json!(0)), vec![3]),
            (cond("orders_count", "lt", json!(2)), vec![1, 3, 5]),
            (cond("orders_count", "ne", json!(1)), vec![2, 3]),
            (cond("orders_count", "between", json!([1, 1])), vec![1, 5]),
            (cond("total_spent", "gt", json!(4000)), vec![1, 2]),
            (cond("total_spent", "lte", json!(0)), vec![3, 5]),
            (json!({"field": "total_spent", "op": "gt", "value": 4000, "currency": "EUR"}), vec![1]),
            (json!({"field": "orders_count", "op": "eq", "value": 0, "currency": "USD"}), vec![1, 3, 5]),
            // The average needs orders: customers without any never match.
            (cond("average_order_value", "gte", json!(2500)), vec![1, 2]),
            (cond("average_order_value", "lt", json!(1000)), vec![5]),
            (cond("average_order_value", "ne", json!(5000)), vec![2, 5]),
            // The product with the count is NUMERIC: the largest value a rule takes fits.
            (cond("average_order_value", "lt", json!(i64::MAX)), vec![1, 2, 5]),
            (cond("average_order_value", "gte", json!(i64::MAX)), vec![]),
            (cond("last_order_at", "after", json!("2026-05-25")), vec![1]),
            (cond("first_order_at", "before", json!("2026-01-01")), vec![5]),
            (cond("first_order_at", "between", json!(["2026-01-01", "2026-06-30"])), vec![1, 2]),
            (cond("last_order_at", "within_last_days", json!(30)), vec![1, 2]),
            (cond("last_order_at", "exists", Value::Null), vec![1, 2, 5]),
            (cond("last_order_at", "not_exists", Value::Null), vec![3]),
        ],
    );
}

/// The statistics summed over currencies follow every refresh: a cancelled order in one
/// currency, and a merge (the duplicate's orders moved, the survivor refreshed).
fn totals_follow_cancellations_and_merges(db: &mut TestDb) {
    fixture(db);
    db.exec("UPDATE orders SET status = 'cancelled' WHERE id = 4");
    orders::refresh_stats(&mut db.conn, 2, "USD").unwrap();
    assert_eq!(members(db, cond("orders_count", "eq", json!(1))), vec![1, 2, 5], "Ben has his EUR order left");
    assert_eq!(members(db, cond("total_spent", "gt", json!(4000))), vec![1]);
    assert_eq!(members(db, cond("last_order_at", "after", json!("2026-05-01"))), vec![1]);

    orders::move_orders(&mut db.conn, 5, 1).unwrap();
    orders::refresh_stats(&mut db.conn, 1, "EUR").unwrap();
    assert_eq!(members(db, cond("orders_count", "eq", json!(2))), vec![1], "Ann has Eve's order too");
    assert_eq!(members(db, cond("first_order_at", "before", json!("2026-01-01"))), vec![1]);
    assert_eq!(members(db, cond("orders_count", "eq", json!(0))), vec![3, 5], "Eve has no orders left");
    assert_eq!(members(db, cond("last_order_at", "not_exists", Value::Null)), vec![3, 5]);
}

fn purchases(db: &mut TestDb) {
    let within =
        |field: &str, value: &str, days: i64| json!({"field": field, "op": "eq", "value": value, "within_days": days});
    check(
        db,
        vec![
            (cond("purchased.sku", "eq", json!("TEE-1")), vec![1, 2]),
            // On a cancelled order (Ann) it does not count; fully refunded (Eve) neither.
            (cond("purchased.sku", "eq", json!("MUG-1")), vec![2]),
            (cond("purchased.sku", "eq", json!("BOOK-1")), vec![]),
            (cond("purchased.sku", "ne", json!("TEE-1")), vec![3, 5]),
            (cond("purchased.sku", "not_in", json!(["MUG-1"])), vec![1, 3, 5]),
            (cond("purchased.sku", "exists", Value::Null), vec![1, 2]),
            (cond("purchased.sku", "not_exists", Value::Null), vec![3, 5]),
            (cond("purchased.product_type", "eq", json!("physical")), vec![1, 2]),
            (cond("purchased.product_type", "eq", json!("digital")), vec![]),
            (cond("purchased.category", "eq", json!("kitchen")), vec![2]),
            (cond("purchased.category", "in", json!(["apparel", "books"])), vec![1, 2]),
            (cond("purchased.category", "ne", json!("apparel")), vec![3, 5]),
            (cond("purchased.category", "exists", Value::Null), vec![1, 2]),
            (within("purchased.category", "kitchen", 30), vec![]),
            (within("purchased.category", "apparel", 30), vec![1, 2]),
            (within("purchased.category", "apparel", 20), vec![1]),
            (cond("purchased.attributes.size", "eq", json!("M")), vec![1]),
            (cond("purchased.attributes.size", "in", json!(["L", "XL"])), vec![2]),
            (cond("purchased.attributes.gift", "eq", json!(true)), vec![1]),
            (cond("purchased.attributes.gift", "eq", json!(false)), vec![2]),
            // The negations: no line with the value (a line without the key is no match).
            (cond("purchased.attributes.gift", "ne", json!(true)), vec![2, 3, 5]),
            (cond("purchased.attributes.size", "exists", Value::Null), vec![1, 2]),
            (cond("purchased.attributes.size", "not_exists", Value::Null), vec![3, 5]),
            (cond("purchased.attributes.size", "contains", json!("m")), vec![1]),
        ],
    );
}

fn promo_codes_campaigns_and_rfm(db: &mut TestDb) {
    check(
        db,
        vec![
            (cond("used_promo_code", "eq", json!("summer")), vec![1]),
            (cond("used_promo_code", "exists", Value::Null), vec![1]),
            (cond("used_promo_code", "ne", json!("SUMMER")), vec![2, 3, 5]),
            (json!({"field": "used_promo_code", "op": "exists", "within_days": 10}), vec![]),
            // The holdout (Ben) did not receive it.
            (cond("received_campaign", "in", json!([1])), vec![1]),
            (cond("received_campaign", "exists", Value::Null), vec![1]),
            (cond("received_campaign", "not_in", json!([1])), vec![2, 3, 5]),
            (cond("received_campaign", "not_exists", Value::Null), vec![2, 3, 5]),
            // Scores by quintile of rank among the four buyers (Dan, erased, still ranks):
            // Ann r 3, fm 2; Ben r 2, fm 3; Eve r 1, fm 1.
            (cond("rfm_segment", "eq", json!("about_to_sleep")), vec![1]),
            (cond("rfm_segment", "in", json!(["at_risk", "lost"])), vec![2, 5]),
            (cond("rfm_segment", "ne", json!("lost")), vec![1, 2, 3]),
        ],
    );
}

/// Stored by the recommendations refresh: Ann EUR 2500-2500 (tees, size M); Ben EUR
/// 1000-1000 (mugs) and USD 3000-3000 (a tee, size L); Eve's only line was refunded.
fn price_bands_and_affinities(db: &mut TestDb) {
    fixture(db);
    crate::services::recommendations::refresh_with(&mut db.conn).unwrap();
    let band = |min: i64, max: i64, currency: &str| json!({"field": "price_band", "op": "overlaps", "value": {"min": min, "max": max}, "currency": currency});
    let share =
        |field: &str, op: &str, value: &str, share: f64| cond(field, op, json!({"value": value, "share": share}));
    let cases = vec![
        (band(2000, 3000, "EUR"), vec![1]),
        (band(0, 1000, "EUR"), vec![2]),
        (band(0, 99_999, "USD"), vec![2]),
        (band(2600, 2900, "EUR"), vec![]),
        (json!({"not": band(2000, 3000, "EUR")}), vec![2, 3, 5]),
        (share("affinity.product_type", "gte", "physical", 1.0), vec![1, 2]),
        (share("affinity.product_type", "lt", "physical", 0.5), vec![3, 5]),
        (share("affinity.product_type", "gte", "physical", 0.0), vec![1, 2, 3, 5]),
        (share("affinity.attributes.size", "gt", "L", 0.3), vec![2]),
        (share("affinity.attributes.size", "lte", "M", 0.5), vec![2, 3, 5]),
    ];
    let mut wrong = Vec::new();
    for (rules, expected) in cases {
        let got = members(db, rules.clone());
        if got != expected {
            wrong.push(format!("{rules}: expected {expected:?}, got {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "{:?} backend:\n{}", db.backend(), wrong.join("\n"));
}

db_tests!(
    price_bands_and_affinities,
    groups_and_not,
    tags_and_text_columns,
    ages_and_birthdays,
    attributes,
    created_at_and_consent,
    order_statistics,
    totals_follow_cancellations_and_merges,
    purchases,
    promo_codes_campaigns_and_rfm,
);
