//! Consent changes: what makes one valid, and which event is current.

use std::net::IpAddr;

use chrono::{Duration, NaiveDateTime};

use super::{clean_text, ConsentChannel, ConsentSource, ConsentState, OptInLevel};

/// How far in the future an `occurred_at` may be (client clocks drift).
pub const CLOCK_SKEW: Duration = Duration::minutes(5);

/// One consent change to append to the ledger, already validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsentChange {
    pub channel: ConsentChannel,
    pub state: ConsentState,
    pub source: ConsentSource,
    pub method_detail: Option<String>,
    pub consent_text: Option<String>,
    pub consent_text_version: Option<String>,
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    pub occurred_at: NaiveDateTime,
}

impl ConsentChange {
    /// The opt-in level this change proves.
    pub fn opt_in_level(&self) -> OptInLevel {
        match self.state {
            ConsentState::Subscribed => OptInLevel::for_subscription(self.source),
            _ => OptInLevel::Unknown,
        }
    }
}

/// A state a change may set: `not_set` means "never asked" and cannot be recorded.
pub fn recordable_state(state: ConsentState) -> Result<ConsentState, String> {
    match state {
        ConsentState::NotSet => Err("`not_set` cannot be recorded; use `unsubscribed` to withdraw consent".into()),
        other => Ok(other),
    }
}

/// `occurred_at` may be in the past (back-fill), never in the future beyond the skew.
pub fn check_occurred_at(occurred_at: NaiveDateTime, now: NaiveDateTime) -> Result<NaiveDateTime, String> {
    if occurred_at > now + CLOCK_SKEW {
        Err("must not be in the future".into())
    } else {
        Ok(occurred_at)
    }
}

/// A single line of printable text: trimmed, at most `max` characters, no control characters.
pub fn single_line(raw: &str, max: usize) -> Result<Option<String>, String> {
    if raw.chars().any(|c| c.is_control() && c != '\t') {
        return Err("must not contain control characters".into());
    }
    // Counted as sent, surrounding blanks included, as the document's `maxLength` counts.
    if raw.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    Ok(clean_text(raw))
}

/// Free text that may span lines (a consent wording, a message): no other control
/// characters, at most `max` characters, trimmed.
pub fn multi_line(raw: &str, max: usize) -> Result<Option<String>, String> {
    if raw.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err("must not contain control characters".into());
    }
    // Counted as sent, surrounding blanks included, as the document's `maxLength` counts.
    if raw.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    let trimmed = raw.trim();
    Ok((!trimmed.is_empty()).then(|| trimmed.to_string()))
}

/// Of several events, the one that is current: latest `occurred_at`, ties to the latest
/// recorded (highest id). An older back-filled event never wins over a newer one.
pub fn is_newer(candidate: (NaiveDateTime, i64), current: (NaiveDateTime, i64)) -> bool {
    candidate > current
}

/// The current event of each key (a customer's channel) among `events`: the newest by
/// `is_newer`.
pub fn current_events<E, K: std::hash::Hash + Eq>(
    events: Vec<E>,
    key: impl Fn(&E) -> K,
    order: impl Fn(&E) -> (NaiveDateTime, i64),
) -> Vec<E> {
    let mut latest: std::collections::HashMap<K, E> = std::collections::HashMap::new();
    for event in events {
        match latest.get(&key(&event)) {
            Some(current) if !is_newer(order(&event), order(current)) => {}
            _ => {
                latest.insert(key(&event), event);
            }
        }
    }
    latest.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(day: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 1, day).unwrap().and_hms_opt(12, 0, 0).unwrap()
    }

    #[test]
    fn latest_occurrence_wins_then_latest_record() {
        assert!(is_newer((at(2), 1), (at(1), 9)), "a later occurrence wins even if recorded first");
        assert!(!is_newer((at(1), 9), (at(2), 1)), "a back-filled event does not override");
        assert!(is_newer((at(1), 2), (at(1), 1)), "ties go to the later record");
    }

    #[test]
    fn future_beyond_skew_is_refused() {
        let now = at(10);
        assert!(check_occurred_at(now + Duration::minutes(4), now).is_ok());
        assert!(check_occurred_at(now + Duration::minutes(6), now).is_err());
        assert!(check_occurred_at(at(1), now).is_ok());
    }

    #[test]
    fn text_rules() {
        assert_eq!(single_line("  shop  counter ", 50).unwrap().as_deref(), Some("shop counter"));
        assert!(single_line("bad\u{0}byte", 50).is_err());
        assert!(single_line(&"x".repeat(51), 50).is_err());
        assert_eq!(multi_line("line 1\nline 2", 50).unwrap().as_deref(), Some("line 1\nline 2"));
        assert!(multi_line("bell\u{7}", 50).is_err());
    }

    #[test]
    fn opt_in_levels() {
        assert!(recordable_state(ConsentState::NotSet).is_err());
        assert_eq!(OptInLevel::for_subscription(ConsentSource::ConfirmationLink), OptInLevel::ConfirmedOptIn);
        assert_eq!(OptInLevel::for_subscription(ConsentSource::Checkout), OptInLevel::SingleOptIn);
        assert_eq!(OptInLevel::for_subscription(ConsentSource::Import), OptInLevel::Unknown);
    }
}
