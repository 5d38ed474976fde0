//! Diesel models: rows as the database stores them. DTOs live in `dto`.

pub mod analytics;
pub mod campaigns;
pub mod consents;
pub mod customers;
pub mod events;
pub mod flows;
pub mod form_definitions;
pub mod forms;
pub mod imports;
pub mod keys;
pub mod messages;
pub mod orders;
pub mod predictions;
pub mod privacy;
pub mod products;
pub mod promo_codes;
pub mod recommendations;
pub mod referrals;
pub mod segments;
