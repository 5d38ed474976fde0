//! Promo code rules: whether a code applies to a purchase, and how much it takes off.

use crate::domain::{Email, Patch};
use chrono::NaiveDateTime;

/// A promo code, normalized once: trimmed and upper-cased (`spring10` and `SPRING10` are
/// one code), 2 to 40 letters, digits, `-` or `_`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PromoCode(String);

impl PromoCode {
    pub fn parse(raw: &str) -> Result<PromoCode, String> {
        let code = raw.trim().to_uppercase();
        let valid = (2..=40).contains(&code.chars().count())
            && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if valid {
            Ok(PromoCode(code))
        } else {
            Err(format!("`{}` is not a code (2 to 40 letters, digits, - or _)", raw.trim()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<PromoCode> for String {
    fn from(code: PromoCode) -> String {
        code.0
    }
}

/// A referral code as a buyer typed it, normalized once: surrounding spaces ignored and
/// matched case-insensitively. A blank code is no code.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReferralCode(String);

impl ReferralCode {
    pub fn parse(raw: &str) -> Option<ReferralCode> {
        let code = raw.trim().to_uppercase();
        (!code.is_empty()).then_some(ReferralCode(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a code does not apply, as reported on an order (`promo_code_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromoRefusal {
    Unknown,
    Expired,
    Exhausted,
    NotEligible,
}

impl PromoRefusal {
    pub fn as_str(self) -> &'static str {
        match self {
            PromoRefusal::Unknown => "unknown",
            PromoRefusal::Expired => "expired",
            PromoRefusal::Exhausted => "exhausted",
            PromoRefusal::NotEligible => "not_eligible",
        }
    }
}

/// The rules of one code.
#[derive(Debug, Clone)]
pub struct PromoRules {
    pub discount_type: String,
    pub discount_value: i64,
    pub currency: Option<String>,
    pub valid_from: Option<NaiveDateTime>,
    pub valid_until: Option<NaiveDateTime>,
    pub max_redemptions: Option<i64>,
    pub max_redemptions_per_customer: Option<i64>,
    pub min_subtotal: Option<i64>,
    pub active: bool,
    pub redemptions: i64,
}

/// One purchase the code would apply to.
#[derive(Debug, Clone)]
pub struct Purchase<'a> {
    pub subtotal: i64,
    pub shipping: i64,
    pub currency: &'a str,
    pub at: NaiveDateTime,
    /// How often this customer already redeemed the code (0 when unknown).
    pub customer_redemptions: i64,
}

/// The discount the code gives, or why it does not apply. Every rule is checked:
/// active, window, total and per-customer limits, currency and minimum subtotal.
pub fn evaluate(
    rules: &PromoRules,
    purchase: &Purchase<'_>,
) -> Result<(i64, &'static str), (PromoRefusal, &'static str)> {
    if !rules.active {
        return Err((PromoRefusal::NotEligible, "the code is not active"));
    }
    if rules.valid_from.is_some_and(|from| purchase.at < from) {
        return Err((PromoRefusal::NotEligible, "the code is not valid yet"));
    }
    if rules.valid_until.is_some_and(|until| purchase.at > until) {
        return Err((PromoRefusal::Expired, "the code has expired"));
    }
    if rules.max_redemptions.is_some_and(|max| rules.redemptions >= max) {
        return Err((PromoRefusal::Exhausted, "the code has been used up"));
    }
    if rules.max_redemptions_per_customer.is_some_and(|max| purchase.customer_redemptions >= max) {
        return Err((PromoRefusal::NotEligible, "this customer already used the code"));
    }
    if rules.currency.as_deref().is_some_and(|currency| currency != purchase.currency) {
        return Err((PromoRefusal::NotEligible, "the code is for another currency"));
    }
    if rules.min_subtotal.is_some_and(|min| purchase.subtotal < min) {
        return Err((PromoRefusal::NotEligible, "the subtotal is below the code's minimum"));
    }
    let amount = match rules.discount_type.as_str() {
        // In i128: a large subtotal times the percentage must not overflow.
        "percent" => {
            i64::try_from(i128::from(purchase.subtotal) * i128::from(rules.discount_value) / 100).unwrap_or(i64::MAX)
        }
        "fixed" => rules.discount_value.min(purchase.subtotal),
        _ => purchase.shipping,
    };
    Ok((amount, "applied"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_normalized_once() {
        assert_eq!(PromoCode::parse(" spring-10 ").unwrap().as_str(), "SPRING-10");
        assert!(PromoCode::parse("x").is_err() && PromoCode::parse("no spaces").is_err());
        assert_eq!(ReferralCode::parse("  ab2cd3ef ").unwrap().as_str(), "AB2CD3EF");
        assert!(ReferralCode::parse("   ").is_none());
    }
    use chrono::NaiveDate;

    fn at(day: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 3, day).unwrap().and_hms_opt(12, 0, 0).unwrap()
    }

    fn rules(kind: &str, value: i64) -> PromoRules {
        PromoRules {
            discount_type: kind.into(),
            discount_value: value,
            currency: None,
            valid_from: Some(at(1)),
            valid_until: Some(at(20)),
            max_redemptions: Some(10),
            max_redemptions_per_customer: Some(1),
            min_subtotal: Some(1000),
            active: true,
            redemptions: 0,
        }
    }

    fn purchase(subtotal: i64, day: u32) -> Purchase<'static> {
        Purchase { subtotal, shipping: 490, currency: "EUR", at: at(day), customer_redemptions: 0 }
    }

    #[test]
    fn amounts() {
        assert_eq!(evaluate(&rules("percent", 10), &purchase(5000, 5)).unwrap().0, 500);
        assert_eq!(
            evaluate(&rules("fixed", 8000), &purchase(5000, 5)).unwrap().0,
            5000,
            "never more than the subtotal"
        );
        assert_eq!(evaluate(&rules("free_shipping", 0), &purchase(5000, 5)).unwrap().0, 490);
    }

    #[test]
    fn every_rule_is_checked() {
        let base = rules("percent", 10);
        assert_eq!(evaluate(&base, &purchase(5000, 25)).unwrap_err().0, PromoRefusal::Expired);
        assert_eq!(
            evaluate(&PromoRules { valid_from: Some(at(10)), ..base.clone() }, &purchase(5000, 5)).unwrap_err().0,
            PromoRefusal::NotEligible
        );
        assert_eq!(
            evaluate(&PromoRules { redemptions: 10, ..base.clone() }, &purchase(5000, 5)).unwrap_err().0,
            PromoRefusal::Exhausted
        );
        assert_eq!(
            evaluate(&base, &Purchase { customer_redemptions: 1, ..purchase(5000, 5) }).unwrap_err().0,
            PromoRefusal::NotEligible
        );
        assert_eq!(evaluate(&base, &purchase(999, 5)).unwrap_err().0, PromoRefusal::NotEligible);
        assert_eq!(
            evaluate(&PromoRules { active: false, ..base.clone() }, &purchase(5000, 5)).unwrap_err().0,
            PromoRefusal::NotEligible
        );
        assert_eq!(
            evaluate(&PromoRules { currency: Some("USD".into()), ..base }, &purchase(5000, 5)).unwrap_err().0,
            PromoRefusal::NotEligible
        );
    }
}

/// A parsed merge patch of a code.
#[derive(Debug, Clone, Default)]
pub struct PromoPatch {
    pub description: Patch<String>,
    pub valid_from: Patch<NaiveDateTime>,
    pub valid_until: Patch<NaiveDateTime>,
    pub max_redemptions: Patch<i64>,
    pub max_redemptions_per_customer: Patch<i64>,
    pub min_subtotal: Patch<i64>,
    pub campaign_id: Patch<i64>,
    pub active: Option<bool>,
    pub cost: Patch<crate::domain::costs::RedemptionCost>,
}

/// Who a validation is for.
#[derive(Debug, Clone)]
pub enum CustomerRef {
    Id(i64),
    Email(Email),
}
