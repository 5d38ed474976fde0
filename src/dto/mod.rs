//! Wire types: serde + utoipa `ToSchema` + validator. Never diesel.

pub mod analytics;
pub mod campaigns;
pub mod consents;
pub mod customers;
pub mod enquiries;
pub mod events;
pub mod flows;
pub mod form_definitions;
pub mod forms;
pub mod health;
pub mod imports;
pub mod json;
pub mod orders;
pub mod pagination;
pub mod predictions;
pub mod privacy;
pub mod problem;
pub mod products;
pub mod promo_codes;
pub mod recommendations;
pub mod referrals;
pub mod reminders;
pub mod schema;
pub mod segments;
pub mod time;

/// `part / whole`, rounded to four decimals; 0 when `whole` is 0.
pub fn rate(part: i64, whole: i64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 / whole as f64 * 10_000.0).round() / 10_000.0
    }
}
