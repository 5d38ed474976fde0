use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::domain::consent::{check_occurred_at, multi_line, recordable_state, single_line, ConsentChange};
use crate::domain::{ConsentChannel, ConsentSource, ConsentState, OptInLevel};
use crate::error::AppError;
use crate::error::FieldErrors;
use crate::models::consents::{ConsentEventRow, CurrentConsentRow};

/// The current consent on one channel.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"channel": "email", "state": "subscribed", "opt_in_level": "confirmed_opt_in",
                          "updated_at": "2026-11-20T14:03:00Z", "source": "confirmation_link"}))]
pub struct ChannelConsent {
    pub channel: ConsentChannel,
    pub state: ConsentState,
    pub opt_in_level: OptInLevel,
    /// When the current state's event occurred; null when never asked.
    pub updated_at: Option<DateTime<Utc>>,
    /// Where the current state came from; null when never asked.
    pub source: Option<ConsentSource>,
}

/// All four channels, in the order email, sms, phone, post.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerConsents {
    pub customer_id: i64,
    pub channels: Vec<ChannelConsent>,
}

/// The state of each channel, as shown on a customer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"email": "subscribed", "sms": "not_set", "phone": "not_set", "post": "unsubscribed"}))]
pub struct ConsentSummary {
    pub email: ConsentState,
    pub sms: ConsentState,
    pub phone: ConsentState,
    pub post: ConsentState,
}

fn state_of(rows: &[CurrentConsentRow], channel: ConsentChannel) -> Option<&CurrentConsentRow> {
    rows.iter().find(|row| row.channel == channel.as_str())
}

impl ConsentSummary {
    pub fn from_rows(rows: &[CurrentConsentRow]) -> ConsentSummary {
        let state = |channel| {
            state_of(rows, channel).and_then(|row| ConsentState::parse(&row.state)).unwrap_or(ConsentState::NotSet)
        };
        ConsentSummary {
            email: state(ConsentChannel::Email),
            sms: state(ConsentChannel::Sms),
            phone: state(ConsentChannel::Phone),
            post: state(ConsentChannel::Post),
        }
    }
}

impl CustomerConsents {
    pub fn from_rows(customer_id: i64, rows: &[CurrentConsentRow]) -> CustomerConsents {
        let channels = ConsentChannel::ALL
            .iter()
            .map(|&channel| match state_of(rows, channel) {
                Some(row) => ChannelConsent {
                    channel,
                    state: ConsentState::parse(&row.state).unwrap_or(ConsentState::NotSet),
                    opt_in_level: OptInLevel::parse(&row.opt_in_level).unwrap_or(OptInLevel::Unknown),
                    updated_at: Some(row.occurred_at.and_utc()),
                    source: ConsentSource::parse(&row.source),
                },
                None => ChannelConsent {
                    channel,
                    state: ConsentState::NotSet,
                    opt_in_level: OptInLevel::Unknown,
                    updated_at: None,
                    source: None,
                },
            })
            .collect();
        CustomerConsents { customer_id, channels }
    }
}

/// Body of `PUT /v1/customers/{id}/consents/{channel}`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"state": "subscribed", "source": "admin", "method_detail": "shop counter",
                          "consent_text": "Yes, send me news and offers by email",
                          "occurred_at": "2026-11-20T14:03:00Z"}))]
pub struct ConsentInput {
    /// `pending`, `subscribed` or `unsubscribed`.
    pub state: ConsentState,
    pub source: ConsentSource,
    /// How consent was asked, e.g. "footer form on /contact".
    #[schema(max_length = 500)]
    pub method_detail: Option<String>,
    /// The exact wording shown to the person.
    #[schema(max_length = 10000)]
    pub consent_text: Option<String>,
    /// Or a reference to a versioned wording.
    #[schema(max_length = 100)]
    pub consent_text_version: Option<String>,
    /// The person's IP address when they consented.
    pub ip: Option<String>,
    #[schema(max_length = 512)]
    pub user_agent: Option<String>,
    /// When it happened (default: now). May be in the past (back-fill); never in the future.
    pub occurred_at: Option<DateTime<Utc>>,
}

impl ConsentInput {
    pub fn into_change(self, channel: ConsentChannel) -> Result<ConsentChange, AppError> {
        let mut errors = FieldErrors::default();
        let now = crate::domain::now();
        let state = errors.parse("state", Some(self.state), recordable_state);
        // These two prove a person's own click on an emailed link; only those links record them.
        errors.parse("source", Some(self.source), |source| match source {
            ConsentSource::ConfirmationLink | ConsentSource::UnsubscribeLink => {
                Err(format!("`{}` is recorded by the emailed link itself", source.as_str()))
            }
            other => Ok(other),
        });
        let change = ConsentChange {
            channel,
            state: state.unwrap_or(ConsentState::Subscribed),
            source: self.source,
            method_detail: errors.parse("method_detail", self.method_detail, |t| single_line(&t, 500)).flatten(),
            consent_text: errors.parse("consent_text", self.consent_text, |t| multi_line(&t, 10_000)).flatten(),
            consent_text_version: errors
                .parse("consent_text_version", self.consent_text_version, |t| single_line(&t, 100))
                .flatten(),
            ip: errors.parse("ip", self.ip, |ip| ip.trim().parse().map_err(|_| format!("`{ip}` is not an IP address"))),
            user_agent: errors.parse("user_agent", self.user_agent, |t| single_line(&t, 512)).flatten(),
            occurred_at: errors
                .parse("occurred_at", Some(self.occurred_at.map_or(now, |t| t.naive_utc())), |t| {
                    check_occurred_at(t, now)
                })
                .unwrap_or(now),
        };
        errors.into_result(change)
    }
}

/// One event of the consent ledger.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentEvent {
    pub id: i64,
    pub customer_id: i64,
    pub channel: ConsentChannel,
    pub state: ConsentState,
    pub opt_in_level: OptInLevel,
    pub source: ConsentSource,
    pub method_detail: Option<String>,
    pub consent_text: Option<String>,
    pub consent_text_version: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    /// The token `sub` that recorded it.
    pub actor: String,
}

impl From<ConsentEventRow> for ConsentEvent {
    fn from(row: ConsentEventRow) -> Self {
        ConsentEvent {
            id: row.id,
            customer_id: row.customer_id,
            channel: ConsentChannel::parse(&row.channel).unwrap_or(ConsentChannel::Email),
            state: ConsentState::parse(&row.state).unwrap_or(ConsentState::NotSet),
            opt_in_level: OptInLevel::parse(&row.opt_in_level).unwrap_or(OptInLevel::Unknown),
            source: ConsentSource::parse(&row.source).unwrap_or(ConsentSource::Api),
            method_detail: row.method_detail,
            consent_text: row.consent_text,
            consent_text_version: row.consent_text_version,
            ip: row.ip,
            user_agent: row.user_agent,
            occurred_at: row.occurred_at.and_utc(),
            recorded_at: row.recorded_at.and_utc(),
            actor: row.actor,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentEventPage {
    pub items: Vec<ConsentEvent>,
    pub next_cursor: Option<String>,
}

/// Path of the consent endpoints for one channel.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ConsentPath {
    /// Customer id.
    pub id: i64,
    pub channel: ConsentChannel,
}
