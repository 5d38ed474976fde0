//! A corrupt stored JSON value fails the read loudly, on both backends.

use actix_web::ResponseError;

use crate::db::testing::{db_tests, TestDb};
use crate::error::AppError;
use crate::repositories::{campaigns, customers, orders, segments};

fn fixture(db: &mut TestDb) {
    db.exec(
        "INSERT INTO customers (kind, source, attributes, created_at, updated_at) \
         VALUES ('person', 'api', '{\"tier\": \"gold\"}', '2026-01-01 00:00:00', '2026-01-01 00:00:00');
         INSERT INTO orders (customer_id, status, channel, placed_at, currency, subtotal, discount_total, \
           shipping_total, tax_total, total, created_by, created_at, updated_at) VALUES \
           (1, 'paid', 'web', '2026-03-01 10:00:00', 'EUR', 1000, 0, 0, 0, 1000, 't', '2026-03-01 10:00:00', '2026-03-01 10:00:00');
         INSERT INTO order_lines (order_id, sku, name, attributes, quantity, unit_price) \
           VALUES (1, 'A', 'A', '{\"size\": \"M\"}', 1, 1000);
         INSERT INTO segments (name, rules, created_at, updated_at) \
           VALUES ('s', '{\"field\": \"tag\", \"op\": \"eq\", \"value\": \"vip\"}', '2026-01-01 00:00:00', '2026-01-01 00:00:00');
         INSERT INTO campaigns (name, channel, promo_kind, cap_max_contacts, cap_per_days, exclude_campaign_ids, \
           holdout_percent, attribution_window_days, status, created_by, created_at, updated_at) \
           VALUES ('c', 'email', 'none', 1, 7, '[]', 0, 30, 'draft', 't', '2026-01-01 00:00:00', '2026-01-01 00:00:00');",
    );
}

/// The error is a deserialization error that the app answers with a 500 whose logged
/// cause says what failed.
fn assert_loud(error: diesel::result::Error) {
    assert!(matches!(error, diesel::result::Error::DeserializationError(_)), "{error:?}");
    let app = AppError::from(error);
    assert_eq!(app.status_code(), actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    let AppError::Internal(cause) = app else { panic!("not an internal error") };
    assert!(cause.contains("Error deserializing field") && cause.contains("does not decode"), "{cause}");
}

fn valid_values_read_typed(db: &mut TestDb) {
    fixture(db);
    let customer = customers::find(&mut db.conn, 1).unwrap().unwrap();
    assert_eq!(customer.attributes()["tier"], "gold");
    let order = orders::find(&mut db.conn, 1).unwrap().unwrap();
    assert_eq!(order.lines[0].attributes.0["size"], "M");
    let segment = segments::find(&mut db.conn, 1).unwrap().unwrap();
    assert_eq!(segment.rules.0["field"], "tag");
    let campaign = campaigns::find(&mut db.conn, 1).unwrap().unwrap();
    assert!(campaign.exclude_campaign_ids.0.is_empty());
    assert_eq!(campaign.rules, None);
    assert_eq!(campaign.audience, None);
}

fn corrupt_values_fail_the_read(db: &mut TestDb) {
    fixture(db);
    db.exec("UPDATE customers SET attributes = '{\"tier\": ' WHERE id = 1");
    assert_loud(customers::find(&mut db.conn, 1).unwrap_err());

    db.exec("UPDATE order_lines SET attributes = 'null' WHERE id = 1");
    assert_loud(orders::find(&mut db.conn, 1).unwrap_err());

    db.exec("UPDATE segments SET rules = '' WHERE id = 1");
    assert_loud(segments::find(&mut db.conn, 1).unwrap_err());

    db.exec("UPDATE campaigns SET exclude_campaign_ids = '[\"one\"]' WHERE id = 1");
    assert_loud(campaigns::find(&mut db.conn, 1).unwrap_err());

    db.exec("UPDATE campaigns SET exclude_campaign_ids = '[]', audience = '{}' WHERE id = 1");
    assert_loud(campaigns::find(&mut db.conn, 1).unwrap_err());
}

db_tests!(valid_values_read_typed, corrupt_values_fail_the_read);
