//! Schemas of parameters whose rules serde types cannot tell utoipa: the fixed
//! vocabularies (currencies, time zones, channels, statuses). Each is a marker type used
//! as `#[param(value_type = Option<X>)]`; the long enums (currencies, time zones) live once
//! in `components` (see `openapi::complete`) and are referenced.

use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use crate::domain::CURRENCY_CODES;
use crate::domain::{OrderStatus, SalesChannel as Channel};

/// The named component schemas this module defines, for `openapi::complete`.
pub fn components() -> Vec<(String, RefOr<Schema>)> {
    vec![
        (CurrencyCode::name().into_owned(), CurrencyCode::schema()),
        (TimeZoneName::name().into_owned(), TimeZoneName::schema()),
    ]
}

fn enum_of<'a>(values: impl Iterator<Item = &'a str>, description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.map(str::to_string)))
        .description(Some(description))
        .into()
}

macro_rules! vocabulary_schema {
    ($(#[$meta:meta])* $name:ident, $values:expr, $description:literal) => {
        $(#[$meta])*
        pub struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                enum_of($values, $description)
            }
        }

        impl ToSchema for $name {}
    };
}

vocabulary_schema!(
    /// An ISO 4217 currency code.
    CurrencyCode,
    CURRENCY_CODES.split(' '),
    "An ISO 4217 currency code"
);
vocabulary_schema!(
    /// An IANA time zone name.
    TimeZoneName,
    chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()),
    "An IANA time zone name, e.g. Europe/Paris"
);
vocabulary_schema!(
    /// The sales channel of an order.
    SalesChannel,
    Channel::ALL.iter().map(|c| c.as_str()),
    "The sales channel of an order"
);
vocabulary_schema!(
    /// An order status.
    OrderStatusName,
    OrderStatus::ALL.iter().map(|s| s.as_str()),
    "An order status"
);
vocabulary_schema!(
    /// A churn-risk label of the purchase predictions.
    ChurnRiskName,
    crate::domain::predictions::CHURN_RISKS.into_iter(),
    "A churn risk"
);
vocabulary_schema!(
    /// A reporting period granularity.
    GranularityName,
    ["day", "week", "month", "year"].into_iter(),
    "A period granularity"
);

/// An optional email field: an address, or blank or null for none.
pub fn email_or_blank() -> RefOr<Schema> {
    use utoipa::openapi::schema::{AnyOfBuilder, KnownFormat, SchemaFormat};
    AnyOfBuilder::new()
        .item(
            ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::Email))),
        )
        .item(ObjectBuilder::new().schema_type(Type::String).pattern(Some(r"^\s*$")))
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .description(Some("Trimmed and lower-cased; unique across customers. Blank or null: none."))
        .into()
}
