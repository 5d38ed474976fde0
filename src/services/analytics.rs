//! Analytics for dashboards.

use std::collections::BTreeMap;

use crate::db::DbConn;
use crate::domain::period::{bucket_index, Bucket};
use crate::domain::ConsentChannel;
use crate::dto::analytics::{ChannelStates, ConsentAnalytics, ConsentBucket, SourceOptIn};
use crate::error::AppError;
use crate::repositories::analytics as repo;

fn rate(part: i64, whole: i64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 / whole as f64 * 10_000.0).round() / 10_000.0
    }
}

/// Consent now per channel, opt-ins and opt-outs per period, email opt-in rate by source.
pub fn consent(conn: &mut DbConn, buckets: &[Bucket]) -> Result<ConsentAnalytics, AppError> {
    let states = repo::consent_states(conn)?;
    let channels = ConsentChannel::ALL
        .iter()
        .map(|channel| {
            let count = |state: &str| {
                states.iter().find(|(c, s, _)| c == channel.as_str() && s == state).map_or(0, |(_, _, n)| *n)
            };
            ChannelStates {
                channel: channel.as_str().to_string(),
                subscribed: count("subscribed"),
                unsubscribed: count("unsubscribed"),
                pending: count("pending"),
            }
        })
        .collect();
    let empty = || ConsentChannel::ALL.iter().map(|c| (c.as_str().to_string(), 0)).collect::<BTreeMap<_, _>>();
    let mut periods: Vec<ConsentBucket> = buckets
        .iter()
        .map(|b| ConsentBucket { period_start: b.period_start, opt_ins: empty(), opt_outs: empty() })
        .collect();
    if let (Some(first), Some(last)) = (buckets.first(), buckets.last()) {
        for (at, channel, state) in repo::consent_changes(conn, first.utc_start, last.utc_end)? {
            let Some(index) = bucket_index(buckets, at) else { continue };
            let counts = if state == "subscribed" { &mut periods[index].opt_ins } else { &mut periods[index].opt_outs };
            *counts.entry(channel).or_default() += 1;
        }
    }
    let by_source = repo::email_opt_in_by_source(conn)?
        .into_iter()
        .map(|(source, customers, subscribed)| SourceOptIn {
            email_opt_in_rate: rate(subscribed, customers),
            source,
            customers,
            email_subscribed: subscribed,
        })
        .collect();
    Ok(ConsentAnalytics { channels, buckets: periods, by_source })
}
