use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::config::parse_timezone;
use crate::domain::period::{buckets, Granularity, Periods};
use crate::domain::ConsentChannel;
use crate::dto::problem::FieldError;
use crate::dto::rate;
use crate::error::AppError;
use crate::services::analytics::ConsentFigures;

/// The period parameters every analytics endpoint takes.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PeriodQuery {
    /// First local date (inclusive), `YYYY-MM-DD`.
    pub from: Option<String>,
    /// Last local date (inclusive), `YYYY-MM-DD`.
    pub to: Option<String>,
    /// `day`, `week` (ISO, from Monday), `month` or `year` (default `month`).
    pub granularity: Option<String>,
    /// IANA time zone of the dates and buckets (default `RAPPORT_TIMEZONE`).
    pub timezone: Option<String>,
}

impl PeriodQuery {
    /// The buckets asked for; every problem is a 422 naming its parameter.
    pub fn periods(&self, default_timezone: chrono_tz::Tz) -> Result<Periods, AppError> {
        let mut errors = Vec::new();
        let date = |name: &str, raw: &Option<String>, errors: &mut Vec<FieldError>| match raw {
            None => {
                errors.push(FieldError::new(name, "is required (YYYY-MM-DD)"));
                None
            }
            Some(text) => NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                .map_err(|_| errors.push(FieldError::new(name, format!("`{text}` is not a date (YYYY-MM-DD)"))))
                .ok(),
        };
        let from = date("from", &self.from, &mut errors);
        let to = date("to", &self.to, &mut errors);
        let granularity = Granularity::parse(self.granularity.as_deref().unwrap_or("month"))
            .map_err(|e| errors.push(FieldError::new("granularity", e)))
            .ok();
        let timezone = match &self.timezone {
            None => Some(default_timezone),
            Some(name) => parse_timezone(name).map_err(|e| errors.push(FieldError::new("timezone", e))).ok(),
        };
        match (from, to, granularity, timezone) {
            (Some(from), Some(to), Some(granularity), Some(timezone)) if errors.is_empty() => {
                let buckets = buckets(granularity, timezone, from, to).map_err(|e| {
                    let field = if to < from { "to" } else { "granularity" };
                    AppError::invalid(field, e)
                })?;
                Ok(Periods { granularity, timezone, buckets })
            }
            _ => Err(AppError::Validation(errors)),
        }
    }
}

/// Current consent states on one channel.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelStates {
    pub channel: String,
    pub subscribed: i64,
    pub unsubscribed: i64,
    pub pending: i64,
}

/// Consent changes in one period.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentBucket {
    pub period_start: NaiveDate,
    /// Events that made a channel `subscribed`, per channel.
    #[schema(value_type = Object)]
    pub opt_ins: BTreeMap<String, i64>,
    /// Events that made a channel `unsubscribed`, per channel.
    #[schema(value_type = Object)]
    pub opt_outs: BTreeMap<String, i64>,
}

/// How customers captured through one source stand on email now.
#[derive(Debug, Serialize, ToSchema)]
pub struct SourceOptIn {
    pub source: String,
    pub customers: i64,
    /// Customers of this source whose email consent is `subscribed`.
    pub email_subscribed: i64,
    pub email_opt_in_rate: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentAnalytics {
    pub channels: Vec<ChannelStates>,
    pub buckets: Vec<ConsentBucket>,
    pub by_source: Vec<SourceOptIn>,
}

impl From<ConsentFigures> for ConsentAnalytics {
    fn from(figures: ConsentFigures) -> Self {
        let channels = ConsentChannel::ALL
            .iter()
            .map(|channel| {
                let count = |state: &str| {
                    figures
                        .states
                        .iter()
                        .find(|(c, s, _)| c == channel.as_str() && s == state)
                        .map_or(0, |(_, _, n)| *n)
                };
                ChannelStates {
                    channel: channel.as_str().to_string(),
                    subscribed: count("subscribed"),
                    unsubscribed: count("unsubscribed"),
                    pending: count("pending"),
                }
            })
            .collect();
        let zeros = || ConsentChannel::ALL.iter().map(|c| (c.as_str().to_string(), 0)).collect::<BTreeMap<_, _>>();
        let buckets = figures
            .periods
            .into_iter()
            .map(|period| {
                let (mut opt_ins, mut opt_outs) = (zeros(), zeros());
                for (channel, subscribed) in period.changes {
                    *if subscribed { &mut opt_ins } else { &mut opt_outs }.entry(channel).or_default() += 1;
                }
                ConsentBucket { period_start: period.period_start, opt_ins, opt_outs }
            })
            .collect();
        let by_source = figures
            .by_source
            .into_iter()
            .map(|(source, customers, subscribed)| SourceOptIn {
                email_opt_in_rate: rate(subscribed, customers),
                source,
                customers,
                email_subscribed: subscribed,
            })
            .collect();
        ConsentAnalytics { channels, buckets, by_source }
    }
}
