use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Declares a closed vocabulary stored as text: serde names, `as_str` and `parse`.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        // `rename_all` rather than a rename per variant: the OpenAPI generator reads it
        // (it cannot read renames built by this macro); `as_str` below must agree with it,
        // which a unit test checks.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        $(#[$meta])*
        pub enum $name {
            $($variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(text: &str) -> Option<$name> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

vocabulary!(
    /// A person or a company.
    CustomerKind { Person => "person", Company => "company" }
);

vocabulary!(
    /// Where the customer record was first captured.
    CustomerSource {
        Checkout => "checkout",
        ContactForm => "contact_form",
        NewsletterForm => "newsletter_form",
        Phone => "phone",
        Email => "email",
        Store => "store",
        Event => "event",
        Import => "import",
        Referral => "referral",
        Questionnaire => "questionnaire",
        Api => "api",
    }
);

vocabulary!(
    Gender {
        Female => "female",
        Male => "male",
        NonBinary => "non_binary",
        Other => "other",
        PreferNotToSay => "prefer_not_to_say",
    }
);

vocabulary!(
    /// A way of contacting a customer that needs their permission.
    ConsentChannel { Email => "email", Sms => "sms", Phone => "phone", Post => "post" }
);

vocabulary!(
    /// Permission on one channel. `not_set`: never asked; `pending`: double opt-in awaiting
    /// confirmation.
    ConsentState {
        NotSet => "not_set",
        Pending => "pending",
        Subscribed => "subscribed",
        Unsubscribed => "unsubscribed",
    }
);

vocabulary!(
    /// How strongly a subscription was confirmed.
    OptInLevel {
        SingleOptIn => "single_opt_in",
        ConfirmedOptIn => "confirmed_opt_in",
        Unknown => "unknown",
    }
);

vocabulary!(
    /// Where a consent change came from.
    ConsentSource {
        Checkout => "checkout",
        ContactForm => "contact_form",
        NewsletterForm => "newsletter_form",
        Import => "import",
        Admin => "admin",
        Api => "api",
        UnsubscribeLink => "unsubscribe_link",
        CampaignReply => "campaign_reply",
        ConfirmationLink => "confirmation_link",
        Questionnaire => "questionnaire",
    }
);

vocabulary!(
    /// What a contacted customer did with a campaign.
    ResponseKind {
        Delivered => "delivered",
        Opened => "opened",
        Clicked => "clicked",
        Replied => "replied",
        Bounced => "bounced",
        Unsubscribed => "unsubscribed",
        Complained => "complained",
    }
);

vocabulary!(
    /// Where an order was placed.
    SalesChannel {
        Web => "web",
        Marketplace => "marketplace",
        Phone => "phone",
        Email => "email",
        Store => "store",
        Event => "event",
        Other => "other",
    }
);

vocabulary!(
    /// Where an order is in its life.
    #[schema(as = OrderStatusName)]
    OrderStatus {
        Placed => "placed",
        Paid => "paid",
        Fulfilled => "fulfilled",
        Cancelled => "cancelled",
    }
);

impl OrderStatus {
    /// placed -> paid | cancelled; paid -> fulfilled | cancelled. Nothing leaves
    /// fulfilled or cancelled (refunds handle returns).
    pub fn can_become(self, next: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!((self, next), (Placed, Paid) | (Placed, Cancelled) | (Paid, Fulfilled) | (Paid, Cancelled))
    }

    /// The statuses a client may ask an order to move to: every one but `placed`, which
    /// only a new order has.
    pub const SETTABLE: &'static [OrderStatus] = &[OrderStatus::Paid, OrderStatus::Fulfilled, OrderStatus::Cancelled];
}

vocabulary!(
    /// Where an enquiry stands in the shop's handling.
    EnquiryStatus { New => "new", InProgress => "in_progress", Resolved => "resolved", Spam => "spam" }
);

impl EnquiryStatus {
    /// Still waiting for the shop: what the to-do list and follow-up reminders look at.
    pub const OPEN: &'static [EnquiryStatus] = &[EnquiryStatus::New, EnquiryStatus::InProgress];
}

vocabulary!(
    /// How a person reached the shop with an enquiry.
    EnquiryChannel {
        Phone => "phone",
        Email => "email",
        InPerson => "in_person",
        Social => "social",
        Form => "form",
        Letter => "letter",
    }
);

impl EnquiryChannel {
    /// The source of a customer first captured through an enquiry on this channel.
    pub fn customer_source(self) -> CustomerSource {
        match self {
            EnquiryChannel::Phone => CustomerSource::Phone,
            EnquiryChannel::Email => CustomerSource::Email,
            EnquiryChannel::InPerson => CustomerSource::Store,
            EnquiryChannel::Form => CustomerSource::ContactForm,
            EnquiryChannel::Social | EnquiryChannel::Letter => CustomerSource::Api,
        }
    }
}

vocabulary!(
    /// Where an outgoing message stands in the outbox.
    MessageStatus { Pending => "pending", Sent => "sent", Failed => "failed" }
);

vocabulary!(
    /// Where one event's delivery to one webhook endpoint stands.
    DeliveryStatus { Pending => "pending", Succeeded => "succeeded", Failed => "failed" }
);

vocabulary!(
    /// A flow's life: built as a `draft`, `active` while it enrols and runs, `paused` while
    /// it neither enrols nor runs steps.
    FlowStatus { Draft => "draft", Active => "active", Paused => "paused" }
);

vocabulary!(
    /// Where a customer's run through a flow stands.
    RunState { Active => "active", Completed => "completed", Exited => "exited" }
);

vocabulary!(
    /// What one step did for one run: `messaged` (an email queued), `listed` (an sms, post or
    /// phone contact on the delivery list), `holdout` (recorded, never sent), `held_cap`,
    /// `held_consent` (not `subscribed` at send time), `suppressed` (erasure list),
    /// `unreachable` (no address), `skipped_late` (its moment passed by more than its
    /// tolerance), and the effects of the other steps.
    FlowOutcome {
        Messaged => "messaged",
        Listed => "listed",
        Holdout => "holdout",
        HeldCap => "held_cap",
        HeldConsent => "held_consent",
        Suppressed => "suppressed",
        Unreachable => "unreachable",
        SkippedLate => "skipped_late",
        Offered => "offered",
        Tagged => "tagged",
        Untagged => "untagged",
        Notified => "notified",
    }
);

vocabulary!(
    /// Whether a webhook endpoint receives deliveries.
    EndpointStatus { Enabled => "enabled", Disabled => "disabled" }
);

impl OptInLevel {
    /// The level a subscription recorded from `source` proves: a confirmation link proves
    /// a confirmed opt-in, an import proves nothing we can check, anything else is single.
    pub fn for_subscription(source: ConsentSource) -> OptInLevel {
        match source {
            ConsentSource::ConfirmationLink => OptInLevel::ConfirmedOptIn,
            ConsentSource::Import => OptInLevel::Unknown,
            _ => OptInLevel::SingleOptIn,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wire names (serde) and the stored names (`as_str`) are the same words.
    fn agree<T: Serialize + Copy>(all: &[T], as_str: impl Fn(T) -> &'static str) {
        for &value in all {
            assert_eq!(serde_json::to_value(value).unwrap(), serde_json::json!(as_str(value)));
        }
    }

    #[test]
    fn serde_names_match_stored_names() {
        agree(CustomerKind::ALL, CustomerKind::as_str);
        agree(CustomerSource::ALL, CustomerSource::as_str);
        agree(Gender::ALL, Gender::as_str);
        agree(ConsentChannel::ALL, ConsentChannel::as_str);
        agree(ConsentState::ALL, ConsentState::as_str);
        agree(OptInLevel::ALL, OptInLevel::as_str);
        agree(ConsentSource::ALL, ConsentSource::as_str);
        agree(ResponseKind::ALL, ResponseKind::as_str);
        agree(SalesChannel::ALL, SalesChannel::as_str);
        agree(OrderStatus::ALL, OrderStatus::as_str);
        agree(EnquiryStatus::ALL, EnquiryStatus::as_str);
        agree(EnquiryChannel::ALL, EnquiryChannel::as_str);
        agree(MessageStatus::ALL, MessageStatus::as_str);
        agree(DeliveryStatus::ALL, DeliveryStatus::as_str);
        agree(EndpointStatus::ALL, EndpointStatus::as_str);
        agree(FlowStatus::ALL, FlowStatus::as_str);
        agree(RunState::ALL, RunState::as_str);
        agree(FlowOutcome::ALL, FlowOutcome::as_str);
    }

    #[test]
    fn order_transitions() {
        use OrderStatus::*;
        assert!(Placed.can_become(Paid) && Placed.can_become(Cancelled));
        assert!(Paid.can_become(Fulfilled) && Paid.can_become(Cancelled));
        for &next in OrderStatus::ALL {
            assert!(!Fulfilled.can_become(next) && !Cancelled.can_become(next));
            assert!(!next.can_become(Placed));
        }
        assert!(!Placed.can_become(Fulfilled));
    }
}
