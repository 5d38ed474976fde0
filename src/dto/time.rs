//! Timestamp filters of list queries (`*_after`, `*_before`): an RFC 3339 timestamp, or a
//! date alone, which means the start (after) or the end (before) of that day in the shop's
//! time zone.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer};
use utoipa::openapi::schema::{AnyOfBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Schema};

use crate::domain::period::local_midnight_utc;

/// A point in time from a query: an instant, or a local day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeFilter {
    At(DateTime<Utc>),
    Day(NaiveDate),
}

impl TimeFilter {
    pub fn parse(text: &str) -> Result<TimeFilter, String> {
        let text = text.trim();
        if text.len() == 10 {
            if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
                return Ok(TimeFilter::Day(day));
            }
        }
        DateTime::parse_from_rfc3339(text)
            .map(|at| TimeFilter::At(at.with_timezone(&Utc)))
            .map_err(|_| format!("`{text}` is neither an RFC 3339 timestamp nor a date (YYYY-MM-DD)"))
    }

    /// As a lower bound (inclusive): the instant, or the start of the local day, in UTC.
    pub fn start_utc(self, timezone: chrono_tz::Tz) -> NaiveDateTime {
        match self {
            TimeFilter::At(at) => at.naive_utc(),
            TimeFilter::Day(day) => local_midnight_utc(timezone, day),
        }
    }

    /// As an upper bound (exclusive): the instant, or the end of the local day (the start
    /// of the next one), in UTC.
    pub fn end_utc(self, timezone: chrono_tz::Tz) -> NaiveDateTime {
        match self {
            TimeFilter::At(at) => at.naive_utc(),
            TimeFilter::Day(day) => match day.checked_add_signed(Duration::days(1)) {
                Some(next) => local_midnight_utc(timezone, next),
                None => NaiveDateTime::MAX,
            },
        }
    }
}

impl<'de> Deserialize<'de> for TimeFilter {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        TimeFilter::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for TimeFilter {
    fn schema() -> RefOr<Schema> {
        let string =
            |format| ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(format)));
        AnyOfBuilder::new()
            .item(string(KnownFormat::DateTime))
            .item(string(KnownFormat::Date))
            .description(Some(
                "An RFC 3339 timestamp, or a date (YYYY-MM-DD): the start (after) or end (before) of that day in the shop's time zone",
            ))
            .into()
    }
}

impl utoipa::ToSchema for TimeFilter {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_timestamps() {
        let paris = chrono_tz::Europe::Paris;
        let day = TimeFilter::parse("2026-11-01").unwrap();
        assert_eq!(day.start_utc(paris).to_string(), "2026-10-31 23:00:00");
        assert_eq!(day.end_utc(paris).to_string(), "2026-11-01 23:00:00");
        let at = TimeFilter::parse("2026-11-01T10:00:00+01:00").unwrap();
        assert_eq!(at.start_utc(paris).to_string(), "2026-11-01 09:00:00");
        assert_eq!(at.end_utc(paris), at.start_utc(paris));
        assert!(TimeFilter::parse("2026-11-31").is_err());
        assert!(TimeFilter::parse("yesterday").is_err());
    }
}
