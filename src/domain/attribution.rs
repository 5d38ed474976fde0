//! What a campaign is credited with: conversions (contacts, and holdout members, with an
//! order in the attribution window), attributed orders (the contacts' orders in the window
//! and the orders since the launch with the campaign's codes) and redemptions of its codes.
//!
//! The stored results are kept by difference: the facts of the customers a change touches
//! are taken before and after it (`AttributionFacts::gather`), and `AttributionFacts::delta`
//! gives what to add.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDateTime;

/// A contact of a launched campaign, and the window its customer's orders count in.
#[derive(Debug, Clone)]
pub struct ContactWindow {
    pub contact_id: i64,
    pub campaign_id: i64,
    pub customer_id: i64,
    pub holdout: bool,
    pub opens: NaiveDateTime,
    pub closes: NaiveDateTime,
}

/// An order that stands (not cancelled).
#[derive(Debug, Clone)]
pub struct StandingOrder {
    pub id: i64,
    pub customer_id: i64,
    pub placed_at: NaiveDateTime,
    pub currency: String,
    /// Total minus refunds.
    pub net: i64,
    /// The promo code, when it was applied.
    pub promo_code_id: Option<i64>,
}

/// A launched campaign a promo code belongs to: as one of its own codes, or as its shared
/// code (which counts only since the launch, since it may have been used before).
#[derive(Debug, Clone)]
pub struct CodeCampaign {
    pub promo_code_id: i64,
    pub campaign_id: i64,
    pub launched_at: NaiveDateTime,
    pub shared: bool,
}

/// A redemption of a code on an order.
#[derive(Debug, Clone)]
pub struct Redemption {
    pub id: i64,
    pub order_id: i64,
    pub promo_code_id: i64,
    pub discount: i64,
}

/// Per campaign and currency: attributed orders and their net revenue, redemptions and
/// the discount they gave.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CampaignFigures {
    pub orders: i64,
    pub revenue: i64,
    pub redemptions: i64,
    pub discount: i64,
}

impl std::ops::AddAssign for CampaignFigures {
    fn add_assign(&mut self, other: CampaignFigures) {
        self.orders += other.orders;
        self.revenue += other.revenue;
        self.redemptions += other.redemptions;
        self.discount += other.discount;
    }
}

impl std::ops::Neg for CampaignFigures {
    type Output = CampaignFigures;
    fn neg(self) -> CampaignFigures {
        CampaignFigures {
            orders: -self.orders,
            revenue: -self.revenue,
            redemptions: -self.redemptions,
            discount: -self.discount,
        }
    }
}

/// Converted contacts per (campaign, holdout).
pub type ConversionCounts = BTreeMap<(i64, bool), i64>;
/// Figures per (campaign, currency).
pub type CampaignOrderFigures = BTreeMap<(i64, String), CampaignFigures>;

/// The campaign facts of some customers' orders, each counted once.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct AttributionFacts {
    /// (campaign, holdout, contact) of contacts whose customer ordered in the window.
    converted: BTreeSet<(i64, bool, i64)>,
    /// (campaign, order) -> (currency, net).
    attributed: BTreeMap<(i64, i64), (String, i64)>,
    /// (campaign, redemption) -> (currency, discount).
    redeemed: BTreeMap<(i64, i64), (String, i64)>,
}

impl AttributionFacts {
    /// The facts of `orders` (every standing order of the customers concerned) under the
    /// customers' `contacts`, the campaigns of their codes and their redemptions.
    pub fn gather(
        contacts: &[ContactWindow],
        orders: &[StandingOrder],
        codes: &[CodeCampaign],
        redemptions: &[Redemption],
    ) -> AttributionFacts {
        let mut facts = AttributionFacts::default();
        for contact in contacts {
            let in_window = orders.iter().filter(|o| {
                o.customer_id == contact.customer_id && o.placed_at >= contact.opens && o.placed_at <= contact.closes
            });
            for order in in_window {
                facts.converted.insert((contact.campaign_id, contact.holdout, contact.contact_id));
                if !contact.holdout {
                    facts.attributed.insert((contact.campaign_id, order.id), (order.currency.clone(), order.net));
                }
            }
        }
        for order in orders {
            let Some(code) = order.promo_code_id else { continue };
            for campaign in codes.iter().filter(|c| c.promo_code_id == code && order.placed_at >= c.launched_at) {
                facts.attributed.insert((campaign.campaign_id, order.id), (order.currency.clone(), order.net));
            }
        }
        let by_id: BTreeMap<i64, &StandingOrder> = orders.iter().map(|o| (o.id, o)).collect();
        for redemption in redemptions {
            let Some(order) = by_id.get(&redemption.order_id) else { continue };
            let counts = |c: &&CodeCampaign| {
                c.promo_code_id == redemption.promo_code_id && (!c.shared || order.placed_at >= c.launched_at)
            };
            for campaign in codes.iter().filter(counts) {
                facts
                    .redeemed
                    .insert((campaign.campaign_id, redemption.id), (order.currency.clone(), redemption.discount));
            }
        }
        facts
    }

    /// What to add to the stored results when the facts went from `before` to `self`.
    pub fn delta(&self, before: &AttributionFacts) -> (ConversionCounts, CampaignOrderFigures) {
        let mut conversions = ConversionCounts::new();
        for &(campaign, holdout, _) in self.converted.difference(&before.converted) {
            *conversions.entry((campaign, holdout)).or_default() += 1;
        }
        for &(campaign, holdout, _) in before.converted.difference(&self.converted) {
            *conversions.entry((campaign, holdout)).or_default() -= 1;
        }
        let mut figures = CampaignOrderFigures::new();
        for (sign, facts) in [(1, self), (-1, before)] {
            for (&(campaign, _), (currency, net)) in &facts.attributed {
                let entry = figures.entry((campaign, currency.clone())).or_default();
                *entry += CampaignFigures { orders: sign, revenue: sign * net, ..Default::default() };
            }
            for (&(campaign, _), (currency, discount)) in &facts.redeemed {
                let entry = figures.entry((campaign, currency.clone())).or_default();
                *entry += CampaignFigures { redemptions: sign, discount: sign * discount, ..Default::default() };
            }
        }
        conversions.retain(|_, n| *n != 0);
        figures.retain(|_, f| *f != CampaignFigures::default());
        (conversions, figures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(day: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 3, day).unwrap().and_hms_opt(12, 0, 0).unwrap()
    }

    fn order(id: i64, customer_id: i64, day: u32, code: Option<i64>) -> StandingOrder {
        StandingOrder { id, customer_id, placed_at: at(day), currency: "EUR".into(), net: 1_000, promo_code_id: code }
    }

    fn contact(contact_id: i64, customer_id: i64, holdout: bool) -> ContactWindow {
        ContactWindow { contact_id, campaign_id: 9, customer_id, holdout, opens: at(10), closes: at(20) }
    }

    #[test]
    fn an_order_both_in_the_window_and_with_the_code_counts_once() {
        let codes = [CodeCampaign { promo_code_id: 5, campaign_id: 9, launched_at: at(10), shared: true }];
        let orders = [order(1, 7, 12, Some(5)), order(2, 7, 25, Some(5)), order(3, 7, 5, Some(5))];
        let redemptions: Vec<Redemption> = orders
            .iter()
            .map(|o| Redemption { id: o.id * 10, order_id: o.id, promo_code_id: 5, discount: 100 })
            .collect();
        let facts = AttributionFacts::gather(&[contact(1, 7, false)], &orders, &codes, &redemptions);
        let (conversions, figures) = facts.delta(&AttributionFacts::default());
        assert_eq!(conversions, BTreeMap::from([((9, false), 1)]));
        // Orders 1 (window and code) and 2 (code after the launch); order 3 predates the
        // launch, so neither it nor its use of the shared code counts.
        let expected = CampaignFigures { orders: 2, revenue: 2_000, redemptions: 2, discount: 200 };
        assert_eq!(figures, BTreeMap::from([((9, "EUR".to_string()), expected)]));
    }

    #[test]
    fn holdout_members_convert_but_bring_no_revenue() {
        let facts = AttributionFacts::gather(&[contact(1, 7, true)], &[order(1, 7, 15, None)], &[], &[]);
        let (conversions, figures) = facts.delta(&AttributionFacts::default());
        assert_eq!(conversions, BTreeMap::from([((9, true), 1)]));
        assert!(figures.is_empty());
    }

    #[test]
    fn the_delta_takes_back_what_a_change_removed() {
        let before = AttributionFacts::gather(&[contact(1, 7, false)], &[order(1, 7, 15, None)], &[], &[]);
        let after = AttributionFacts::gather(&[contact(1, 7, false)], &[], &[], &[]);
        let (conversions, figures) = after.delta(&before);
        assert_eq!(conversions, BTreeMap::from([((9, false), -1)]));
        let expected = CampaignFigures { orders: -1, revenue: -1_000, ..Default::default() };
        assert_eq!(figures, BTreeMap::from([((9, "EUR".to_string()), expected)]));
        assert_eq!(after.delta(&after), (ConversionCounts::new(), CampaignOrderFigures::new()));
    }
}
