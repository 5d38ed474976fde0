//! The API test suite: one binary, every database test on SQLite and on PostgreSQL
//! (when TEST_DATABASE_URL is set).

mod helpers;
mod imports;

mod analytics;
mod auth;
mod campaigns;
mod cli;
mod companies;
mod consents;
mod contract;
mod customers;
mod enquiry_channels;
mod errors;
mod events;
mod flows;
mod forms;
mod keys;
mod operations;
mod orders;
mod predictions;
mod privacy;
mod production;
mod products;
mod promo_codes;
mod promotion_costs;
mod questionnaires;
mod recommendations;
mod referrals;
mod reminders;
mod sales_analytics;
mod seed;
mod segments;
mod smtp_sink;
mod walkthrough;
mod webhook_receiver;
mod webhooks;
