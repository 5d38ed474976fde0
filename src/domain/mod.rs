//! Domain newtypes: values that are normalized and valid by construction.

pub mod analytics;
pub mod attribution;
pub mod campaign;
pub mod cohorts;
pub mod consent;
mod contact;
pub mod costs;
pub mod customer;
pub mod events;
pub mod flows;
pub mod form_definitions;
pub mod form_page;
pub mod forms;
pub mod imports;
pub mod orders;
mod patch;
pub mod period;
pub mod predictions;
pub mod products;
pub mod promo;
pub mod purchase_days;
pub mod recommendations;
pub mod sales;
pub mod segment;
pub mod templates;
pub mod token;
mod vocabulary;

pub use contact::{clean_text, parse_sku, Country, Currency, Email, Language, Phone, Tag, CURRENCY_CODES};
pub use patch::{merge_patch, merge_patch_object, Patch};
pub use vocabulary::{
    ConsentChannel, ConsentSource, ConsentState, CustomerKind, CustomerSource, DeliveryStatus, EndpointStatus,
    EnquiryChannel, EnquiryStatus, FlowOutcome, FlowStatus, Gender, MessageStatus, OptInLevel, OrderStatus,
    ResponseKind, RunState, SalesChannel,
};

use chrono::{NaiveDateTime, SubsecRound, Utc};

/// Now, in UTC, truncated to microseconds (what both backends store exactly).
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}
