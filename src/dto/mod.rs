//! Wire types: serde + utoipa `ToSchema` + validator. Never diesel.

pub mod analytics;
pub mod campaigns;
pub mod consents;
pub mod customers;
pub mod enquiries;
pub mod forms;
pub mod health;
pub mod imports;
pub mod orders;
pub mod pagination;
pub mod privacy;
pub mod problem;
pub mod products;
pub mod promo_codes;
pub mod referrals;
pub mod reminders;
pub mod segments;
