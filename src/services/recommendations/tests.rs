//! The refresh job and the batch recommender on both backends, against a small dataset:
//! 1 Ann: Silver ring + Necklace (06-01), 2 teas (06-02), 2 Gold rings one refunded (06-03).
//! 2 Ben: Silver ring + Necklace. 3 Cara: no orders. 4 Dan: erased, Silver ring + Necklace.
//! 5 Eve: a cancelled Gold ring. 6 Fay: a Silver ring.

use std::collections::HashMap;

use diesel::prelude::*;

use super::{for_customers, profile, refresh_customers, refresh_in_chunks, refresh_with};
use crate::db::schema::{customer_affinities, customer_price_bands, product_associations, product_popularity};
use crate::db::testing::{db_tests, TestDb};
use crate::domain::recommendations::Source;
use crate::models::recommendations::{AffinityRow, AssociationRow, PriceBandRow};
use crate::repositories::orders;

fn fixture(db: &mut TestDb) {
    db.exec(
        "INSERT INTO customers (kind, first_name, source, attributes, created_at, updated_at, erased_at) VALUES
           ('person', 'Ann', 'api', '{}', '2026-01-01 00:00:00', '2026-01-01 00:00:00', NULL),
           ('person', 'Ben', 'api', '{}', '2026-01-01 00:00:00', '2026-01-01 00:00:00', NULL),
           ('person', 'Cara', 'api', '{}', '2026-01-01 00:00:00', '2026-01-01 00:00:00', NULL),
           ('person', 'Dan', 'api', '{}', '2026-01-01 00:00:00', '2026-01-01 00:00:00', '2026-03-01 00:00:00'),
           ('person', 'Eve', 'api', '{}', '2026-01-01 00:00:00', '2026-01-01 00:00:00', NULL),
           ('person', 'Fay', 'api', '{}', '2026-01-01 00:00:00', '2026-01-01 00:00:00', NULL);
         INSERT INTO products (sku, name, product_type, price, currency, track_inventory, active, created_at, updated_at) VALUES
           ('RING-S', 'Silver ring', 'ring', 3000, 'EUR', FALSE, TRUE, '2025-01-01 00:00:00', '2025-01-01 00:00:00'),
           ('RING-G', 'Gold ring', 'ring', 9000, 'EUR', FALSE, TRUE, '2025-01-01 00:00:00', '2025-01-01 00:00:00'),
           ('NECK', 'Necklace', 'necklace', 3500, 'EUR', FALSE, TRUE, '2025-01-01 00:00:00', '2025-01-01 00:00:00'),
           ('TEA', 'Tea', 'tea', 800, 'EUR', FALSE, TRUE, '2025-01-01 00:00:00', '2025-01-01 00:00:00');
         INSERT INTO orders (customer_id, status, channel, placed_at, currency, subtotal, discount_total, shipping_total,
           tax_total, total, refunded_total, created_by, created_at, updated_at) VALUES
           (1, 'paid', 'web', '2026-06-01 10:00:00', 'EUR', 7000, 0, 0, 0, 7000, 0, 't', '2026-06-01 10:00:00', '2026-06-01 10:00:00'),
           (1, 'paid', 'web', '2026-06-02 10:00:00', 'EUR', 1600, 0, 0, 0, 1600, 0, 't', '2026-06-02 10:00:00', '2026-06-02 10:00:00'),
           (2, 'paid', 'web', '2026-06-01 10:00:00', 'EUR', 7000, 0, 0, 0, 7000, 0, 't', '2026-06-01 10:00:00', '2026-06-01 10:00:00'),
           (4, 'paid', 'web', '2026-06-01 10:00:00', 'EUR', 7000, 0, 0, 0, 7000, 0, 't', '2026-06-01 10:00:00', '2026-06-01 10:00:00'),
           (5, 'cancelled', 'web', '2026-06-01 10:00:00', 'EUR', 9000, 0, 0, 0, 9000, 0, 't', '2026-06-01 10:00:00', '2026-06-01 10:00:00'),
           (1, 'paid', 'web', '2026-06-03 10:00:00', 'EUR', 18000, 0, 0, 0, 18000, 9000, 't', '2026-06-03 10:00:00', '2026-06-03 10:00:00'),
           (6, 'paid', 'web', '2026-06-04 10:00:00', 'EUR', 3000, 0, 0, 0, 3000, 0, 't', '2026-06-04 10:00:00', '2026-06-04 10:00:00');
         INSERT INTO order_lines (order_id, product_id, sku, name, product_type, attributes, quantity, unit_price, refunded_quantity) VALUES
           (1, 1, 'RING-S', 'Silver ring', 'ring', '{\"material\": \"silver\"}', 1, 3000, 0),
           (1, 3, 'NECK', 'Necklace', 'necklace', '{\"material\": \"silver\"}', 1, 4000, 0),
           (2, 4, 'TEA', 'Tea', 'tea', '{}', 2, 800, 0),
           (3, 1, 'RING-S', 'Silver ring', 'ring', '{}', 1, 3000, 0),
           (3, 3, 'NECK', 'Necklace', 'necklace', '{}', 1, 4000, 0),
           (4, 1, 'RING-S', 'Silver ring', 'ring', '{}', 1, 3000, 0),
           (4, 3, 'NECK', 'Necklace', 'necklace', '{}', 1, 4000, 0),
           (5, 2, 'RING-G', 'Gold ring', 'ring', '{}', 1, 9000, 0),
           (6, 2, 'RING-G', 'Gold ring', 'ring', '{\"material\": \"gold\"}', 2, 9000, 1),
           (7, 1, 'RING-S', 'Silver ring', 'ring', '{}', 1, 3000, 0);",
    );
    for customer in [1, 2, 4, 5, 6] {
        orders::refresh_stats(&mut db.conn, customer, "EUR").unwrap();
    }
}

fn bands(db: &mut TestDb) -> Vec<PriceBandRow> {
    customer_price_bands::table
        .order((customer_price_bands::customer_id, customer_price_bands::currency))
        .select(PriceBandRow::as_select())
        .load(&mut db.conn)
        .unwrap()
}

fn associations(db: &mut TestDb) -> Vec<(i64, i64, i64, f64, i64)> {
    product_associations::table
        .order((product_associations::product_id, product_associations::position))
        .select(AssociationRow::as_select())
        .load(&mut db.conn)
        .unwrap()
        .into_iter()
        .map(|a| (a.product_id, a.related_id, a.customers, (a.lift * 1000.0).round() / 1000.0, a.position))
        .collect()
}

fn type_share(db: &mut TestDb, customer: i64, value: &str) -> Option<f64> {
    customer_affinities::table
        .filter(customer_affinities::customer_id.eq(customer))
        .filter(customer_affinities::dimension.eq("product_type"))
        .filter(customer_affinities::value.eq(value))
        .select(AffinityRow::as_select())
        .first(&mut db.conn)
        .optional()
        .unwrap()
        .map(|a| a.unit_share)
}

fn band(customer_id: i64, low: i64, high: i64, units: i64) -> PriceBandRow {
    PriceBandRow { customer_id, currency: "EUR".into(), low, high, units }
}

fn refreshes_the_stored_tables_and_only_when_orders_changed(db: &mut TestDb, chunk: i64) {
    fixture(db);
    // A stale row of a customer without orders goes.
    db.exec("INSERT INTO customer_price_bands (customer_id, currency, low, high, units) VALUES (3, 'EUR', 1, 2, 1)");
    assert!(refresh_in_chunks(&mut db.conn, chunk).unwrap());
    // Ann: 800 x2, 3000, 4000, 9000 (one of two gold rings refunded) -> p25 800, p75 4000.
    // Ben: 3000, 4000 -> 3250, 3750. Fay: 3000. Dan is erased, Eve's order cancelled.
    assert_eq!(bands(db), [band(1, 800, 4000, 5), band(2, 3250, 3750, 2), band(6, 3000, 3000, 1)]);
    assert_eq!(type_share(db, 1, "ring"), Some(0.4));
    assert_eq!(type_share(db, 1, "tea"), Some(0.4));
    assert_eq!(type_share(db, 4, "ring"), None);
    // Over Ann, Ben and Fay: ring 3 customers, necklace 2, both 2: lift = (2/3) / (3/3 * 2/3) = 1.
    assert_eq!(associations(db), [(1, 3, 2, 1.0, 1), (3, 1, 2, 1.0, 1)]);
    let popular: Vec<(i64, String, i64, i64)> = product_popularity::table
        .order(product_popularity::product_id)
        .select((
            product_popularity::product_id,
            product_popularity::product_type,
            product_popularity::customers,
            product_popularity::units,
        ))
        .load(&mut db.conn)
        .unwrap();
    assert_eq!(
        popular,
        [(1, "ring".into(), 3, 3), (2, "ring".into(), 1, 1), (3, "necklace".into(), 2, 2), (4, "tea".into(), 1, 2)]
    );
    // Nothing changed: nothing recomputed.
    db.exec("DELETE FROM customer_price_bands WHERE customer_id = 6");
    assert!(!refresh_in_chunks(&mut db.conn, chunk).unwrap());
    assert_eq!(bands(db).len(), 2);
    // Ben's order is cancelled: his band and the association (now one customer) go.
    db.exec("UPDATE orders SET status = 'cancelled' WHERE id = 3");
    orders::refresh_stats(&mut db.conn, 2, "EUR").unwrap();
    assert!(refresh_in_chunks(&mut db.conn, chunk).unwrap());
    assert_eq!(bands(db), [band(1, 800, 4000, 5), band(6, 3000, 3000, 1)]);
    assert!(associations(db).is_empty());
}

fn refresh_in_one_chunk(db: &mut TestDb) {
    refreshes_the_stored_tables_and_only_when_orders_changed(db, 2_000);
}

fn refresh_one_customer_per_chunk(db: &mut TestDb) {
    refreshes_the_stored_tables_and_only_when_orders_changed(db, 1);
}

fn refresh_of_an_empty_database(db: &mut TestDb) {
    assert!(refresh_with(&mut db.conn).unwrap());
    assert!(bands(db).is_empty() && associations(db).is_empty());
    assert!(!refresh_with(&mut db.conn).unwrap());
    assert!(for_customers(&mut db.conn, &[], &[1, 2], 5).unwrap().values().all(Vec::is_empty));
}

fn recommends_in_a_batch(db: &mut TestDb) {
    fixture(db);
    refresh_with(&mut db.conn).unwrap();
    let recs = for_customers(&mut db.conn, &[], &[1, 2, 3, 6], 3).unwrap();
    let ids = |id: i64| recs[&id].iter().map(|r| r.product.product_id).collect::<Vec<_>>();
    // Fay bought the Silver ring: the Necklace (3500, inside 3000 +- 20 %), also bought.
    assert_eq!(ids(6), [3]);
    assert_eq!(recs[&6][0].source, Source::AlsoBought);
    assert_eq!(
        recs[&6][0].reason,
        "customers who bought Silver ring also bought this; your usual price range 30-30 EUR"
    );
    // Cara, no orders: best sellers by customers (ring 3, necklace 2, then by id).
    assert_eq!(ids(3), [1, 3, 2]);
    assert_eq!(recs[&3][0].reason, "a best seller");
    // Ann bought everything; Ben everything in his band.
    assert!(ids(1).is_empty() && ids(2).is_empty(), "{recs:?}");
    // Tea is repeatable: Ann gets it again (800, in her band), as a best seller of her types.
    let recs = for_customers(&mut db.conn, &["tea".to_string()], &[1], 3).unwrap();
    assert_eq!(recs[&1].iter().map(|r| r.product.product_id).collect::<Vec<_>>(), [4]);
    assert_eq!(recs[&1][0].source, Source::TypeBestSeller);
    // An inactive or sold-out product is never recommended.
    db.exec("UPDATE products SET track_inventory = TRUE, stock_quantity = 0 WHERE id = 3");
    db.exec("UPDATE products SET active = FALSE WHERE id = 1");
    let recs = for_customers(&mut db.conn, &[], &[3, 6], 3).unwrap();
    assert_eq!(recs[&6].len(), 0);
    assert_eq!(recs[&3].iter().map(|r| r.product.product_id).collect::<Vec<_>>(), [2, 4]);
    let _: HashMap<i64, Vec<_>> = recs;
}

fn live_profile_and_per_customer_refresh(db: &mut TestDb) {
    fixture(db);
    let ann = profile(&mut db.conn, 1).unwrap();
    assert_eq!(ann.units, 5);
    assert_eq!((ann.price_bands[0].low, ann.price_bands[0].high), (800, 4000));
    assert!(profile(&mut db.conn, 4).is_err(), "erased: no such customer");
    assert_eq!(profile(&mut db.conn, 3).unwrap().units, 0);
    // Ben's orders move to Fay (as a merge does): both stored profiles follow at once.
    refresh_with(&mut db.conn).unwrap();
    db.exec("UPDATE orders SET customer_id = 6 WHERE customer_id = 2");
    refresh_customers(&mut db.conn, &[2, 6]).unwrap();
    assert_eq!(bands(db), [band(1, 800, 4000, 5), band(6, 3000, 3500, 3)]);
}

db_tests!(
    refresh_in_one_chunk,
    refresh_one_customer_per_chunk,
    refresh_of_an_empty_database,
    recommends_in_a_batch,
    live_profile_and_per_customer_refresh,
);
