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
    /// An open enquiry's follow-up time has come (once per follow-up).
    EnquiryFollowUpDue => "enquiry.follow_up_due",
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

/// An event's id on the wire: `id` in the feed, `webhook-id` of its deliveries.
pub fn event_wire_id(id: i64) -> String {
    format!("evt_{id}")
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
            if names.iter().any(|n| n != Self::ALL_TEXT) {
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

/// A new endpoint as asked for.
pub struct EndpointDraft {
    pub url: String,
    pub subscription: Subscription,
    pub description: String,
}

/// A change to an endpoint (None: unchanged).
#[derive(Default)]
pub struct EndpointPatch {
    pub url: Option<String>,
    pub subscription: Option<Subscription>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
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

/// Whether a webhook may be sent to `address`: not loopback, private, link-local (where
/// cloud metadata services answer), shared (CGNAT), multicast, unspecified or reserved,
/// including IPv4 addresses carried in IPv6 (mapped, NAT64, 6to4).
pub fn is_public_address(address: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match address {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let segments = v6.segments();
            let embedded_v4 = |high: u16, low: u16| std::net::Ipv4Addr::from(((high as u32) << 16) | low as u32);
            // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) reach the IPv4 address inside them.
            if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return is_public_v4(embedded_v4(segments[6], segments[7]));
            }
            if segments[0] == 0x2002 {
                return is_public_v4(embedded_v4(segments[1], segments[2]));
            }
            // SIIT (::ffff:0:a.b.c.d) carries an IPv4 address too.
            if segments[..6] == [0, 0, 0, 0, 0xffff, 0] {
                return is_public_v4(embedded_v4(segments[6], segments[7]));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (segments[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (segments[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (segments[0] & 0xffc0) == 0xfec0 // site-local (deprecated) fec0::/10
                || (segments[0] == 0x2001 && segments[1] == 0x0db8) // documentation
                || (segments[0] == 0x2001 && segments[1] < 0x0200) // IETF protocol assignments, incl. Teredo
                || segments[..3] == [0x64, 0xff9b, 1] // local-use NAT64 64:ff9b:1::/48
                || segments[..4] == [0x100, 0, 0, 0] // discard-only 100::/64
                || segments[..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible ::a.b.c.d
        }
    }
}

fn is_public_v4(v4: std::net::Ipv4Addr) -> bool {
    let [a, b, c, _] = v4.octets();
    !(v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()
        || v4.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT), incl. 100.100.100.200
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || a >= 240) // reserved
}

/// A webhook URL as given: `https` (or `http` when private addresses are allowed), a host,
/// no credentials; a literal IP address must be public unless private ones are allowed.
/// Names are resolved and checked on every delivery (so that rebinding cannot pass).
pub fn check_webhook_url(text: &str, allow_private: bool) -> Result<url::Url, String> {
    if text.chars().count() > 2_048 {
        return Err("must be at most 2048 characters".into());
    }
    if text.chars().any(|c| c.is_whitespace() || c.is_control() || c == '\u{feff}') {
        return Err("must not contain spaces or control characters".into());
    }
    let url = url::Url::parse(text).map_err(|e| format!("not a URL ({e})"))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        "http" => return Err("must use https (http is allowed only with RAPPORT_WEBHOOK_ALLOW_PRIVATE=true)".into()),
        other => return Err(format!("must use https, not `{other}`")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry a user name or password".into());
    }
    let refused = |what: &str| {
        Err(format!(
            "{what} is not a public address; webhooks reach only public addresses \
             (RAPPORT_WEBHOOK_ALLOW_PRIVATE=true allows others, for development)"
        ))
    };
    match url.host() {
        None => return Err("must have a host".into()),
        Some(url::Host::Ipv4(ip)) if !allow_private && !is_public_address(ip.into()) => {
            return refused(&ip.to_string())
        }
        Some(url::Host::Ipv6(ip)) if !allow_private && !is_public_address(ip.into()) => {
            return refused(&ip.to_string())
        }
        _ => {}
    }
    Ok(url)
}

#[cfg(test)]
mod address_tests {
    use super::*;

    #[test]
    fn private_and_metadata_addresses_are_not_public() {
        for refused in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.100.100.200",
            "0.0.0.0",
            "::1",
            "::",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
            "2001:0:4136:e378::1",
            "64:ff9b:1::a00:1",
            "::ffff:0:a00:1",
            "100::1",
            "192.88.99.1",
        ] {
            assert!(!is_public_address(refused.parse().unwrap()), "{refused}");
        }
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"] {
            assert!(is_public_address(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn urls() {
        assert!(check_webhook_url("https://hooks.example.com/x", false).is_ok());
        assert!(check_webhook_url("http://hooks.example.com/x", false).is_err());
        assert!(check_webhook_url("http://127.0.0.1:9/x", true).is_ok());
        assert!(check_webhook_url("https://127.0.0.1/x", false).is_err());
        assert!(check_webhook_url("https://[::1]/x", false).is_err());
        assert!(check_webhook_url("https://169.254.169.254/latest", false).is_err());
        // Names pass here; the addresses they resolve to are checked on every delivery.
        assert!(check_webhook_url("https://localhost/x", false).is_ok());
        assert!(check_webhook_url("https://user:pw@hooks.example.com/", false).is_err());
        assert!(check_webhook_url("ftp://hooks.example.com/", false).is_err());
        assert!(check_webhook_url("not a url", false).is_err());
        assert!(check_webhook_url("https://hooks.example.com/a b", false).is_err());
    }
}
