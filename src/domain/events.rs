//! What an integration can follow: the types of the events in the event log.

/// Declares the event types: each variant's wire name (`noun.verb`, past tense).
macro_rules! event_types {
    ($($(#[$meta:meta])* $variant:ident => $text:literal),+ $(,)?) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum EventType {
            $($(#[$meta])* $variant),+
        }

        impl EventType {
            pub const ALL: &'static [EventType] = &[$(EventType::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self { $(EventType::$variant => $text),+ }
            }

            pub fn parse(text: &str) -> Option<EventType> {
                match text { $($text => Some(EventType::$variant),)+ _ => None }
            }
        }
    };
}

event_types!(
    CustomerCreated => "customer.created",
    CustomerUpdated => "customer.updated",
    CustomerMerged => "customer.merged",
    CustomerErased => "customer.erased",
    ConsentChanged => "consent.changed",
    EnquiryCreated => "enquiry.created",
    EnquiryUpdated => "enquiry.updated",
    OrderCreated => "order.created",
    OrderStatusChanged => "order.status_changed",
    OrderRefunded => "order.refunded",
    ProductStockLow => "product.stock_low",
    ImportCompleted => "import.completed",
    CampaignLaunched => "campaign.launched",
    CampaignSent => "campaign.sent",
    MessageFailed => "message.failed",
    WebhookDisabled => "webhook.disabled",
    /// Sent to one endpoint by `POST /v1/webhooks/{id}/test`; never in the feed.
    WebhookTest => "webhook.test",
);

impl EventType {
    /// The types a webhook endpoint can subscribe to and the feed can be filtered by.
    pub fn subscribable() -> impl Iterator<Item = EventType> {
        Self::ALL.iter().copied().filter(|t| *t != EventType::WebhookTest)
    }
}

/// The API version that shapes `data`, stored with each event.
pub const API_VERSION: &str = "v1";

/// What a webhook endpoint receives: every type (`*`) or the listed ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subscription {
    All,
    Only(Vec<EventType>),
}

impl Subscription {
    pub const ALL_TEXT: &'static str = "*";

    /// From the API's list: `["*"]` or event type names, each known and once.
    pub fn parse(names: &[String]) -> Result<Subscription, String> {
        if names.is_empty() {
            return Err("give at least one event type, or \"*\" for all".into());
        }
        if names.iter().any(|n| n == Self::ALL_TEXT) {
            if names.len() > 1 {
                return Err("\"*\" already means every event type; give it alone".into());
            }
            return Ok(Subscription::All);
        }
        let mut types = Vec::new();
        for name in names {
            let known = EventType::parse(name)
                .filter(|t| *t != EventType::WebhookTest)
                .ok_or_else(|| format!("unknown event type `{name}`"))?;
            if !types.contains(&known) {
                types.push(known);
            }
        }
        Ok(Subscription::Only(types))
    }

    pub fn matches(&self, event_type: &str) -> bool {
        match self {
            Subscription::All => true,
            Subscription::Only(types) => types.iter().any(|t| t.as_str() == event_type),
        }
    }

    pub fn names(&self) -> Vec<String> {
        match self {
            Subscription::All => vec![Self::ALL_TEXT.to_string()],
            Subscription::Only(types) => types.iter().map(|t| t.as_str().to_string()).collect(),
        }
    }
}

/// When the next attempt of a failed delivery comes, after `attempts` attempts: about three
/// days in all (5 s, 5 min, 30 min, 2 h, 5 h, then every 10 h), None when they are spent.
pub fn retry_delay_seconds(attempts: i32) -> Option<i64> {
    const SCHEDULE: [i64; 11] = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000, 36_000, 36_000, 36_000, 36_000];
    usize::try_from(attempts - 1).ok().and_then(|i| SCHEDULE.get(i).copied())
}

/// An endpoint whose every attempt failed for this long is disabled.
pub const DISABLE_AFTER_DAYS: i64 = 5;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(*t));
        }
    }

    #[test]
    fn the_retries_last_about_three_days() {
        let total: i64 = (1..).map_while(retry_delay_seconds).sum();
        assert!((2.5 * 86_400.0..3.5 * 86_400.0).contains(&(total as f64)), "{total}");
        assert_eq!(retry_delay_seconds(1), Some(5));
        assert_eq!(retry_delay_seconds(0), None);
    }

    #[test]
    fn subscriptions() {
        assert_eq!(Subscription::parse(&["*".into()]), Ok(Subscription::All));
        assert!(Subscription::parse(&["*".into(), "order.created".into()]).is_err());
        assert!(Subscription::parse(&["order.made".into()]).is_err());
        assert!(Subscription::parse(&["webhook.test".into()]).is_err());
        let only = Subscription::parse(&["order.created".into(), "order.created".into()]).unwrap();
        assert_eq!(only.names(), vec!["order.created".to_string()]);
        assert!(only.matches("order.created") && !only.matches("order.refunded"));
    }
}
