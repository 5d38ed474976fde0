//! Domain newtypes: values that are normalized and valid by construction.

pub mod attribution;
pub mod campaign;
pub mod consent;
mod contact;
pub mod customer;
mod patch;
pub mod period;
pub mod promo;
pub mod purchase_days;
pub mod sales;
pub mod segment;
pub mod token;
mod vocabulary;

pub use contact::{clean_text, parse_sku, Country, Currency, Email, Language, Phone, Tag, CURRENCY_CODES};
pub use patch::Patch;
pub use vocabulary::{
    ConsentChannel, ConsentSource, ConsentState, CustomerKind, CustomerSource, Gender, OptInLevel, ResponseKind,
};
