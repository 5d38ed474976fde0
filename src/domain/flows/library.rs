//! Ready-made flows: a treatment strategy a shop turns on with a few calls. Each is a
//! definition as JSON that `POST /v1/flows {"from_template": key, ...}` starts from.

use serde_json::{json, Value};

pub struct FlowTemplate {
    pub key: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub definition: fn() -> Value,
}

pub const TEMPLATES: &[FlowTemplate] = &[
    FlowTemplate {
        key: "welcome_series",
        name: "Welcome series",
        description: "A newly subscribed customer gets a welcome now and the best sellers three days later.",
        definition: welcome_series,
    },
    FlowTemplate {
        key: "post_purchase",
        name: "Post-purchase",
        description: "A thank-you after each order, and what goes with it 14 days later unless they ordered again.",
        definition: post_purchase,
    },
    FlowTemplate {
        key: "birthday_offer",
        name: "Birthday offer",
        description: "A personal code valid 14 days, a week before the customer's birthday.",
        definition: birthday_offer,
    },
    FlowTemplate {
        key: "win_back",
        name: "Win-back",
        description: "A customer late by twice their own rhythm gets an offer, then a reminder; an order ends it.",
        definition: win_back,
    },
    FlowTemplate {
        key: "referral_reward",
        name: "Referral reward",
        description: "A customer whose referred friend placed a first order gets a thank-you code.",
        definition: referral_reward,
    },
    FlowTemplate {
        key: "unresolved_enquiry_alert",
        name: "Unresolved enquiry alert",
        description: "The shop is told when an enquiry has had no answer for 24 hours.",
        definition: unresolved_enquiry_alert,
    },
];

pub fn find(key: &str) -> Option<&'static FlowTemplate> {
    TEMPLATES.iter().find(|t| t.key == key)
}

const FOOTER: &str = "\n\n{{ shop_name }}\nUnsubscribe: {{ unsubscribe_url }}";

fn text(body: &str) -> String {
    format!("{body}{FOOTER}")
}

fn welcome_series() -> Value {
    json!({
        "trigger": {"type": "consent_subscribed"},
        "channel": "email",
        "holdout_percent": 10,
        "reentry": {"policy": "once"},
        "quiet_hours": {"start": "21:00", "end": "08:00"},
        "steps": [
            {"type": "send", "subject": "Welcome to {{ shop_name }}",
             "text": text("Hello {{ first_name }},\nthank you for subscribing. We will only write when it is worth it.")},
            {"type": "wait", "days": 3},
            {"type": "send", "subject": "What our customers love",
             "text": text("Hello {{ first_name }},\nour best sellers right now:\n{% for p in recommendations %}- {{ p.name }}\n{% endfor %}")}
        ]
    })
}

fn post_purchase() -> Value {
    json!({
        "trigger": {"type": "order_created"},
        "channel": "email",
        "holdout_percent": 10,
        "reentry": {"policy": "every", "days": 1},
        "steps": [
            {"type": "send", "subject": "Thank you for your order",
             "text": text("Hello {{ first_name }},\nthank you for your order {{ last_order.external_id or last_order.id }}.")},
            {"type": "wait", "days": 14},
            {"type": "branch", "condition": {"ordered_since_entry": true}, "then_step": 4},
            {"type": "send", "subject": "Goes well with what you bought",
             "text": text("Hello {{ first_name }},\ncustomers who bought what you bought also liked:\n{% for p in recommendations %}- {{ p.name }}\n{% endfor %}")}
        ]
    })
}

fn birthday_offer() -> Value {
    json!({
        "trigger": {"type": "birthday", "days_before": 7},
        "channel": "email",
        "holdout_percent": 10,
        "reentry": {"policy": "every", "days": 300},
        "steps": [
            {"type": "offer", "prefix": "BDAY", "discount_type": "percent", "discount_value": 15, "valid_days": 14},
            {"type": "send", "subject": "A birthday present from {{ shop_name }}",
             "text": text("Happy birthday soon, {{ first_name }}!\nYour code {{ promo_code }} takes 15% off until {{ promo_expires_at }}.")}
        ]
    })
}

fn win_back() -> Value {
    json!({
        "trigger": {"type": "lapsed", "interval_multiple": 2.0},
        "channel": "email",
        "holdout_percent": 10,
        "reentry": {"policy": "every", "days": 90},
        "exit_rules": {"ordered_since_entry": true},
        "steps": [
            {"type": "offer", "prefix": "BACK", "discount_type": "percent", "discount_value": 10, "valid_days": 21},
            {"type": "send", "subject": "We miss you, {{ first_name }}",
             "text": text("Hello {{ first_name }},\nit has been a while. {{ promo_code }} takes 10% off until {{ promo_expires_at }}.")},
            {"type": "wait", "days": 7},
            {"type": "send", "subject": "Your code is still waiting",
             "text": text("Hello {{ first_name }},\n{{ promo_code }} is valid until {{ promo_expires_at }}.")}
        ]
    })
}

fn referral_reward() -> Value {
    json!({
        "trigger": {"type": "referral_converted"},
        "channel": "email",
        "reentry": {"policy": "every", "days": 1},
        "steps": [
            {"type": "offer", "prefix": "THANKS", "discount_type": "percent", "discount_value": 10, "valid_days": 60},
            {"type": "send", "subject": "Your friend ordered: thank you",
             "text": text("Hello {{ first_name }},\na friend you referred placed an order. {{ promo_code }} takes 10% off your next one.")}
        ]
    })
}

fn unresolved_enquiry_alert() -> Value {
    json!({
        "trigger": {"type": "enquiry_unresolved", "hours": 24},
        "channel": "email",
        "exit_rules": {"unsubscribed": false},
        "steps": [
            {"type": "notify_shop", "subject": "Enquiry {{ enquiry.id }} waits for an answer",
             "text": "Enquiry {{ enquiry.id }} ({{ enquiry.kind }}) from {{ enquiry.email }} has had no answer since {{ enquiry.updated_at }}."}
        ]
    })
}
