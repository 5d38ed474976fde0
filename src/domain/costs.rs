//! What a promotion cost, and the figures that set the cost against what it brought:
//! cost per order, cost per incremental order (against a holdout) and return on spend.
//!
//! Only orders in the cost's currency count: a cost in EUR is never set against orders in
//! another currency (there is no exchange rate in rapport). Money is in minor units.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::FieldError;

/// The largest amount a cost part may have (10^12 minor units), so sums cannot overflow.
pub const MAX_MINOR: i64 = 1_000_000_000_000;

/// The cost of a campaign or a flow: a fixed part, and a part per contact made (a message
/// sent or a delivery-list entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"currency": "EUR", "fixed_minor": 5000, "per_contact_minor": 12}))]
pub struct ContactCost {
    /// ISO 4217 (any case; stored upper-case). Only orders in this currency are set
    /// against the cost.
    #[schema(pattern = "^[A-Za-z]{3}$")]
    pub currency: String,
    /// Minor units, 0 to 10^12 (default 0).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1000000000000.0)]
    pub fixed_minor: i64,
    /// Minor units per contact, 0 to 10^12 (default 0).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1000000000000.0)]
    pub per_contact_minor: i64,
}

/// The cost of a promo code: a fixed part, and a part per redemption (an order that
/// applied the code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"currency": "EUR", "fixed_minor": 0, "per_redemption_minor": 150}))]
pub struct RedemptionCost {
    /// ISO 4217 (any case; stored upper-case). Only orders in this currency are set
    /// against the cost.
    #[schema(pattern = "^[A-Za-z]{3}$")]
    pub currency: String,
    /// Minor units, 0 to 10^12 (default 0).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1000000000000.0)]
    pub fixed_minor: i64,
    /// Minor units per redemption, 0 to 10^12 (default 0).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1000000000000.0)]
    pub per_redemption_minor: i64,
}

fn check_parts(path: &str, currency: &str, parts: [(&str, i64); 2], errors: &mut Vec<FieldError>) -> Option<String> {
    for (name, value) in parts {
        if !(0..=MAX_MINOR).contains(&value) {
            errors.push(FieldError::new(format!("{path}.{name}"), "must be a whole number of minor units, 0 to 10^12"));
        }
    }
    match super::Currency::parse(currency) {
        Ok(code) => Some(code.as_str().to_string()),
        Err(message) => {
            errors.push(FieldError::new(format!("{path}.currency"), message));
            None
        }
    }
}

impl ContactCost {
    /// The cost with its currency normalized, or the problems found (under `path`).
    pub fn checked(self, path: &str, errors: &mut Vec<FieldError>) -> Option<ContactCost> {
        let parts = [("fixed_minor", self.fixed_minor), ("per_contact_minor", self.per_contact_minor)];
        let before = errors.len();
        let currency = check_parts(path, &self.currency, parts, errors)?;
        (errors.len() == before).then_some(ContactCost { currency, ..self })
    }

    /// The cost of `contacts` contacts.
    pub fn total(&self, contacts: i64) -> i64 {
        self.fixed_minor.saturating_add(self.per_contact_minor.saturating_mul(contacts.max(0)))
    }
}

impl RedemptionCost {
    pub fn checked(self, path: &str, errors: &mut Vec<FieldError>) -> Option<RedemptionCost> {
        let parts = [("fixed_minor", self.fixed_minor), ("per_redemption_minor", self.per_redemption_minor)];
        let before = errors.len();
        let currency = check_parts(path, &self.currency, parts, errors)?;
        (errors.len() == before).then_some(RedemptionCost { currency, ..self })
    }

    /// The cost of `redemptions` redemptions.
    pub fn total(&self, redemptions: i64) -> i64 {
        self.fixed_minor.saturating_add(self.per_redemption_minor.saturating_mul(redemptions.max(0)))
    }
}

/// A holdout comparison: the treated group (contacted / messaged) and the holdout, in
/// customers (or runs) and how many of them converted (ordered in the window).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holdout {
    pub treated: i64,
    pub treated_converted: i64,
    pub holdout: i64,
    pub holdout_converted: i64,
}

/// What a promotion brought, in the cost's currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Returns {
    /// Orders attributed to the promotion, in the cost's currency.
    pub orders: i64,
    /// Their net revenue, in minor units of the cost's currency.
    pub revenue: i64,
    /// None when the promotion has no holdout (promo codes, or a holdout of 0 %).
    pub holdout: Option<Holdout>,
}

/// The cost set against the returns.
#[derive(Debug, Clone, PartialEq)]
pub struct CostFigures {
    pub currency: String,
    pub cost: i64,
    pub orders: i64,
    pub revenue: i64,
    /// cost / orders, rounded to the minor unit; None without orders.
    pub cost_per_order: Option<i64>,
    /// The orders beyond what the holdout's baseline predicts (see `figures`).
    pub incremental_orders: Option<f64>,
    pub incremental_revenue: Option<i64>,
    /// cost / incremental orders; None without a holdout or when there is no increment.
    pub cost_per_incremental_order: Option<i64>,
    /// revenue / cost (no holdout) or incremental revenue / cost (with a holdout); None
    /// when the cost is 0.
    pub return_on_spend: Option<f64>,
}

fn divide_rounded(numerator: i64, denominator: f64) -> Option<i64> {
    (denominator > 0.0).then(|| (numerator as f64 / denominator).round() as i64)
}

fn round(value: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (value * scale).round() / scale
}

/// Cost per order, per incremental order and return on spend.
///
/// With a holdout, the incremental conversions are `treated_converted − treated ×
/// holdout_converted / holdout` (the lift times the treated group); that share of the
/// treated group's conversions is applied to its orders and revenue:
/// `incremental_orders = orders × incremental conversions / treated_converted` (likewise
/// the revenue). A promotion that did no better than its holdout has no increment:
/// incremental figures of 0, no cost per incremental order, a return on spend of 0.
pub fn figures(currency: &str, cost: i64, returns: Returns) -> CostFigures {
    let incremental = returns.holdout.filter(|h| h.holdout > 0 && h.treated > 0).map(|h| {
        let baseline = h.treated as f64 * h.holdout_converted as f64 / h.holdout as f64;
        let extra = (h.treated_converted as f64 - baseline).max(0.0);
        let share = if h.treated_converted > 0 { extra / h.treated_converted as f64 } else { 0.0 };
        (returns.orders as f64 * share, (returns.revenue as f64 * share).round() as i64)
    });
    let incremental_orders = incremental.map(|(orders, _)| round(orders, 2));
    let incremental_revenue = incremental.map(|(_, revenue)| revenue);
    let earned = incremental_revenue.unwrap_or(returns.revenue);
    CostFigures {
        currency: currency.to_string(),
        cost,
        orders: returns.orders,
        revenue: returns.revenue,
        cost_per_order: divide_rounded(cost, returns.orders as f64),
        incremental_orders,
        incremental_revenue,
        cost_per_incremental_order: incremental.and_then(|(orders, _)| divide_rounded(cost, orders)),
        return_on_spend: (cost > 0).then(|| round(earned as f64 / cost as f64, 4)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_holdout() {
        let f = figures("EUR", 10_000, Returns { orders: 3, revenue: 45_000, holdout: None });
        assert_eq!(f.cost_per_order, Some(3_333));
        assert_eq!(f.cost_per_incremental_order, None);
        assert_eq!(f.return_on_spend, Some(4.5));
        assert_eq!(figures("EUR", 0, Returns { orders: 0, revenue: 0, holdout: None }).return_on_spend, None);
    }

    #[test]
    fn with_holdout() {
        // 100 treated, 20 converted; holdout 50, 5 converted: baseline 10, 10 extra = half.
        let holdout = Holdout { treated: 100, treated_converted: 20, holdout: 50, holdout_converted: 5 };
        let f = figures("EUR", 12_000, Returns { orders: 24, revenue: 96_000, holdout: Some(holdout) });
        assert_eq!(f.cost_per_order, Some(500));
        assert_eq!(f.incremental_orders, Some(12.0));
        assert_eq!(f.incremental_revenue, Some(48_000));
        assert_eq!(f.cost_per_incremental_order, Some(1_000));
        assert_eq!(f.return_on_spend, Some(4.0));
    }

    #[test]
    fn no_better_than_holdout() {
        let holdout = Holdout { treated: 10, treated_converted: 1, holdout: 10, holdout_converted: 3 };
        let f = figures("EUR", 100, Returns { orders: 1, revenue: 500, holdout: Some(holdout) });
        assert_eq!(f.incremental_orders, Some(0.0));
        assert_eq!(f.cost_per_incremental_order, None);
        assert_eq!(f.return_on_spend, Some(0.0));
    }

    #[test]
    fn checks_parts() {
        let mut errors = Vec::new();
        let cost = ContactCost { currency: "eur".into(), fixed_minor: 1, per_contact_minor: 2 };
        assert_eq!(cost.checked("cost", &mut errors).unwrap().currency, "EUR");
        let bad = ContactCost { currency: "EURO".into(), fixed_minor: -1, per_contact_minor: 0 };
        assert!(bad.checked("cost", &mut errors).is_none());
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["cost.fixed_minor", "cost.currency"]);
    }
}
