//! What one order adds to the sales figures, the definitions every analytics endpoint shares.
//!
//! An order that is not cancelled counts on the local day it was placed. Its figures:
//! - `gross`: what it would have cost without discounts (total + discount), before refunds;
//! - `discounts`: the order discount; `refunds`: what was refunded;
//! - revenue = gross − refunds; net revenue = gross − discounts − refunds = total − refunded.
//!
//! A product (or product type) gets its lines' share: gross = quantity × unit price,
//! discounts = the order discount shared pro rata to line value (rounded down), refunds =
//! refunded quantity × unit price; units are quantities net of refunded quantities.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::{AddAssign, Neg};

use chrono::{NaiveDate, NaiveDateTime};
use chrono_tz::Tz;

use super::period::Granularity;

/// The dimensions sales are kept by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dimension {
    All,
    Channel,
    PromoCode,
    ProductType,
    Sku,
    /// The source of the order's customer (where the record was first captured).
    Source,
}

impl Dimension {
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::All => "all",
            Dimension::Channel => "channel",
            Dimension::PromoCode => "promo_code",
            Dimension::ProductType => "product_type",
            Dimension::Sku => "sku",
            Dimension::Source => "source",
        }
    }

    pub fn parse(text: &str) -> Option<Dimension> {
        [
            Dimension::All,
            Dimension::Channel,
            Dimension::PromoCode,
            Dimension::ProductType,
            Dimension::Sku,
            Dimension::Source,
        ]
        .into_iter()
        .find(|d| d.as_str() == text)
    }
}

/// Additive sales figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Figures {
    pub orders: i64,
    pub units: i64,
    pub gross: i64,
    pub discounts: i64,
    pub refunds: i64,
    /// Orders that were their customer's first (in this currency).
    pub new_customers: i64,
}

impl Figures {
    pub fn revenue(&self) -> i64 {
        self.gross - self.refunds
    }

    pub fn net_revenue(&self) -> i64 {
        self.gross - self.discounts - self.refunds
    }

    /// Net revenue per order, rounded; none without orders.
    pub fn average_order_value(&self) -> Option<i64> {
        (self.orders > 0).then(|| (self.net_revenue() as f64 / self.orders as f64).round() as i64)
    }

    pub fn is_zero(&self) -> bool {
        *self == Figures::default()
    }
}

impl AddAssign for Figures {
    fn add_assign(&mut self, other: Figures) {
        self.orders += other.orders;
        self.units += other.units;
        self.gross += other.gross;
        self.discounts += other.discounts;
        self.refunds += other.refunds;
        self.new_customers += other.new_customers;
    }
}

impl Neg for Figures {
    type Output = Figures;
    fn neg(self) -> Figures {
        Figures {
            orders: -self.orders,
            units: -self.units,
            gross: -self.gross,
            discounts: -self.discounts,
            refunds: -self.refunds,
            new_customers: -self.new_customers,
        }
    }
}

/// Where a contribution is kept: dimension, its value ("" for `All`), currency, local day.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RollupKey {
    pub dimension: Dimension,
    pub value: String,
    pub currency: String,
    pub day: NaiveDate,
}

#[derive(Debug, Clone)]
pub struct LineFacts {
    pub sku: String,
    pub product_type: Option<String>,
    pub quantity: i64,
    pub refunded_quantity: i64,
    pub unit_price: i64,
}

/// What the figures need to know about an order.
#[derive(Debug, Clone)]
pub struct OrderFacts {
    pub id: i64,
    pub customer_id: i64,
    pub currency: String,
    pub channel: String,
    /// The customer's source.
    pub source: String,
    pub placed_at: NaiveDateTime,
    pub cancelled: bool,
    /// The promo code, when it was applied.
    pub promo_code: Option<String>,
    pub subtotal: i64,
    pub discount_total: i64,
    pub total: i64,
    pub refunded_total: i64,
    pub lines: Vec<LineFacts>,
}

/// The local date of a UTC instant.
pub fn local_day(timezone: Tz, at: NaiveDateTime) -> NaiveDate {
    at.and_utc().with_timezone(&timezone).date_naive()
}

impl OrderFacts {
    /// The whole order's figures.
    pub fn figures(&self, is_first: bool) -> Figures {
        Figures {
            orders: 1,
            units: self.lines.iter().map(|l| l.quantity - l.refunded_quantity).sum(),
            gross: self.total + self.discount_total,
            discounts: self.discount_total,
            refunds: self.refunded_total,
            new_customers: i64::from(is_first),
        }
    }

    /// One line's share of the order.
    fn line_figures(&self, line: &LineFacts) -> Figures {
        let value = line.quantity * line.unit_price;
        let discount_share = if self.subtotal > 0 { self.discount_total * value / self.subtotal } else { 0 };
        Figures {
            orders: 0,
            units: line.quantity - line.refunded_quantity,
            gross: value,
            discounts: discount_share,
            refunds: line.refunded_quantity * line.unit_price,
            new_customers: 0,
        }
    }

    /// The figures of the lines grouped by `key` (one order counted once per group).
    pub fn line_groups<F>(&self, is_first: bool, key: F) -> BTreeMap<String, Figures>
    where
        F: Fn(&LineFacts) -> Option<String>,
    {
        let mut groups: BTreeMap<String, Figures> = BTreeMap::new();
        for line in &self.lines {
            let Some(group) = key(line) else { continue };
            *groups.entry(group).or_default() += self.line_figures(line);
        }
        for figures in groups.values_mut() {
            figures.orders = 1;
            figures.new_customers = i64::from(is_first);
        }
        groups
    }

    /// Every (dimension, value) the order counts under: all sales, its channel, its applied
    /// promo code, the product types and SKUs of its lines.
    pub fn dimension_values(&self) -> BTreeSet<(Dimension, String)> {
        let mut values = BTreeSet::from([
            (Dimension::All, String::new()),
            (Dimension::Channel, self.channel.clone()),
            (Dimension::Source, self.source.clone()),
        ]);
        if let Some(code) = &self.promo_code {
            values.insert((Dimension::PromoCode, code.clone()));
        }
        for line in &self.lines {
            if let Some(product_type) = &line.product_type {
                values.insert((Dimension::ProductType, product_type.clone()));
            }
            values.insert((Dimension::Sku, line.sku.clone()));
        }
        values
    }

    /// Everything this order adds to the rollups; nothing once cancelled.
    pub fn contributions(&self, is_first: bool, timezone: Tz) -> Vec<(RollupKey, Figures)> {
        if self.cancelled {
            return Vec::new();
        }
        let day = local_day(timezone, self.placed_at);
        let key = |dimension: Dimension, value: &str| RollupKey {
            dimension,
            value: value.to_string(),
            currency: self.currency.clone(),
            day,
        };
        let whole = self.figures(is_first);
        let mut out = vec![
            (key(Dimension::All, ""), whole),
            (key(Dimension::Channel, &self.channel), whole),
            (key(Dimension::Source, &self.source), whole),
        ];
        if let Some(code) = &self.promo_code {
            out.push((key(Dimension::PromoCode, code), whole));
        }
        for (product_type, figures) in self.line_groups(is_first, |l| l.product_type.clone()) {
            out.push((key(Dimension::ProductType, &product_type), figures));
        }
        for (sku, figures) in self.line_groups(is_first, |l| Some(l.sku.clone())) {
            out.push((key(Dimension::Sku, &sku), figures));
        }
        out
    }
}

/// Which sales to count: by channel, applied promo code, product type of the lines, SKU.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SalesFilter {
    pub channel: Option<String>,
    pub promo_code: Option<String>,
    pub product_type: Option<String>,
    pub sku: Option<String>,
}

impl SalesFilter {
    /// The rollup dimension that answers this filter alone: `All` without a filter, the
    /// filter's own with one; None when several are combined.
    pub fn rollup_dimension(&self) -> Option<(Dimension, String)> {
        let set: Vec<(Dimension, &String)> = [
            (Dimension::Channel, &self.channel),
            (Dimension::PromoCode, &self.promo_code),
            (Dimension::ProductType, &self.product_type),
            (Dimension::Sku, &self.sku),
        ]
        .into_iter()
        .filter_map(|(dimension, value)| value.as_ref().map(|v| (dimension, v)))
        .collect();
        match set.as_slice() {
            [] => Some((Dimension::All, String::new())),
            [(dimension, value)] => Some((*dimension, (*value).clone())),
            _ => None,
        }
    }

    /// An order's figures under this filter (only its matching lines when the filter is
    /// on products); None when it does not count.
    pub fn figures(&self, order: &OrderFacts, is_first: bool) -> Option<Figures> {
        if order.cancelled
            || self.channel.as_ref().is_some_and(|c| *c != order.channel)
            || self.promo_code.as_ref().is_some_and(|p| Some(p) != order.promo_code.as_ref())
        {
            return None;
        }
        if self.product_type.is_none() && self.sku.is_none() {
            return Some(order.figures(is_first));
        }
        let matches = |line: &LineFacts| {
            self.product_type.as_ref().is_none_or(|t| Some(t) == line.product_type.as_ref())
                && self.sku.as_ref().is_none_or(|s| *s == line.sku)
        };
        order.line_groups(is_first, |line| matches(line).then(String::new)).remove("")
    }
}

pub const GRANULARITIES: [Granularity; 4] =
    [Granularity::Day, Granularity::Week, Granularity::Month, Granularity::Year];

pub fn granularity_name(granularity: Granularity) -> &'static str {
    match granularity {
        Granularity::Day => "day",
        Granularity::Week => "week",
        Granularity::Month => "month",
        Granularity::Year => "year",
    }
}

/// Where a distinct-customer count is kept: granularity, period start, currency, dimension
/// and value.
pub type PeriodKey = (&'static str, NaiveDate, String, Dimension, String);

/// A customer's presence in a period under a dimension value.
pub type ActivePeriod = (PeriodKey, i64);

/// Every (period, dimension value, customer) the orders (not cancelled) are active in.
pub fn active_periods(orders: &[OrderFacts], timezone: Tz) -> BTreeSet<ActivePeriod> {
    let mut periods = BTreeSet::new();
    for order in orders.iter().filter(|o| !o.cancelled) {
        let day = local_day(timezone, order.placed_at);
        let values = order.dimension_values();
        for granularity in GRANULARITIES {
            let start = granularity.start_of(day);
            for (dimension, value) in &values {
                let key = (granularity_name(granularity), start, order.currency.clone(), *dimension, value.clone());
                periods.insert((key, order.customer_id));
            }
        }
    }
    periods
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order() -> OrderFacts {
        OrderFacts {
            id: 1,
            customer_id: 7,
            currency: "EUR".into(),
            channel: "web".into(),
            source: "checkout".into(),
            placed_at: NaiveDate::from_ymd_opt(2026, 11, 20).unwrap().and_hms_opt(23, 30, 0).unwrap(),
            cancelled: false,
            promo_code: Some("SPRING".into()),
            subtotal: 10_000,
            discount_total: 1_000,
            total: 9_500,
            refunded_total: 2_000,
            lines: vec![
                LineFacts {
                    sku: "A".into(),
                    product_type: Some("shoes".into()),
                    quantity: 2,
                    refunded_quantity: 1,
                    unit_price: 3_000,
                },
                LineFacts {
                    sku: "B".into(),
                    product_type: Some("shoes".into()),
                    quantity: 1,
                    refunded_quantity: 0,
                    unit_price: 4_000,
                },
            ],
        }
    }

    #[test]
    fn an_order_counts_in_every_dimension_on_its_local_day() {
        let paris: Tz = "Europe/Paris".parse().unwrap();
        let rows = order().contributions(true, paris);
        assert_eq!(rows.len(), 7, "all, channel, source, promo code, one product type, two skus");
        let source = rows.iter().find(|(k, _)| k.dimension == Dimension::Source).unwrap();
        assert_eq!((source.0.value.as_str(), source.1), ("checkout", rows[0].1), "the whole order, by source");
        assert!(rows.iter().all(|(key, _)| key.day == NaiveDate::from_ymd_opt(2026, 11, 21).unwrap()));
        let whole = rows[0].1;
        assert_eq!((whole.gross, whole.revenue(), whole.net_revenue(), whole.units), (10_500, 8_500, 7_500, 2));
        let shoes = rows.iter().find(|(k, _)| k.dimension == Dimension::ProductType).unwrap().1;
        assert_eq!(
            (shoes.orders, shoes.units, shoes.gross, shoes.discounts, shoes.refunds),
            (1, 2, 10_000, 1_000, 3_000)
        );
        let sku_a = rows.iter().find(|(k, _)| k.value == "A").unwrap().1;
        assert_eq!((sku_a.discounts, sku_a.net_revenue(), sku_a.new_customers), (600, 2_400, 1));
    }

    #[test]
    fn cancelled_orders_add_nothing() {
        let mut cancelled = order();
        cancelled.cancelled = true;
        assert!(cancelled.contributions(false, chrono_tz::UTC).is_empty());
    }
}
