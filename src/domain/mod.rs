//! Domain newtypes: values that are normalized and valid by construction.

mod contact;
pub mod customer;
mod patch;
mod vocabulary;

pub use contact::{clean_text, Country, Email, Language, Phone, Tag};
pub use patch::Patch;
pub use vocabulary::{CustomerKind, CustomerSource, Gender};
