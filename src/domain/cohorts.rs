//! Cohorts kept as a rollup: per granularity and currency, for each cohort (the period of
//! the customers' first order) and each period, how many of its customers ordered in that
//! period and the net revenue of those orders.
//!
//! A cohort report over whole periods of the rollups' time zone then reads a few cells: a
//! cohort's customers are its cell in its own period (every customer orders in the period
//! of their first order), its revenue up to the end of the range is the sum of its cells up
//! to the last period, and its retention is its cells in the following periods.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{NaiveDate, NaiveDateTime};
use chrono_tz::Tz;

use super::period::Granularity;
use super::sales::{granularity_name, local_day, OrderFacts};

/// A cell: (granularity, currency, cohort start, period start).
pub type CohortCell = (&'static str, String, NaiveDate, NaiveDate);

/// Customers of the cohort who ordered in the period, and the net revenue of their orders
/// placed in it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CohortFigures {
    pub customers: i64,
    pub net: i64,
}

impl CohortFigures {
    pub fn is_zero(&self) -> bool {
        self.customers == 0 && self.net == 0
    }
}

impl std::ops::AddAssign for CohortFigures {
    fn add_assign(&mut self, other: CohortFigures) {
        self.customers += other.customers;
        self.net += other.net;
    }
}

impl std::ops::Neg for CohortFigures {
    type Output = CohortFigures;
    fn neg(self) -> CohortFigures {
        CohortFigures { customers: -self.customers, net: -self.net }
    }
}

/// An order that counts (not cancelled): its customer, currency, placing instant and net
/// amount (total less refunds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CohortOrder {
    pub id: i64,
    pub customer_id: i64,
    pub currency: String,
    pub placed_at: NaiveDateTime,
    pub net: i64,
}

impl From<&OrderFacts> for CohortOrder {
    fn from(order: &OrderFacts) -> CohortOrder {
        CohortOrder {
            id: order.id,
            customer_id: order.customer_id,
            currency: order.currency.clone(),
            placed_at: order.placed_at,
            net: order.total - order.refunded_total,
        }
    }
}

/// The cells of some customers in these granularities, from all their orders that count
/// (or, for a range, all of them up to its end).
pub fn cohort_cells(
    orders: &[CohortOrder],
    timezone: Tz,
    granularities: &[Granularity],
) -> BTreeMap<CohortCell, CohortFigures> {
    let mut by_buyer: BTreeMap<(i64, &str), Vec<&CohortOrder>> = BTreeMap::new();
    for order in orders {
        by_buyer.entry((order.customer_id, order.currency.as_str())).or_default().push(order);
    }
    let mut cells: BTreeMap<CohortCell, CohortFigures> = BTreeMap::new();
    for ((_, currency), orders) in by_buyer {
        let first = orders.iter().map(|o| o.placed_at).min().expect("a buyer has orders");
        let first_day = local_day(timezone, first);
        for &granularity in granularities {
            let cohort = granularity.start_of(first_day);
            let mut active: BTreeSet<NaiveDate> = BTreeSet::new();
            for order in &orders {
                let period = granularity.start_of(local_day(timezone, order.placed_at));
                let cell = cells.entry(cell(granularity, currency, cohort, period)).or_default();
                cell.net += order.net;
                if active.insert(period) {
                    cell.customers += 1;
                }
            }
        }
    }
    cells
}

fn cell(granularity: Granularity, currency: &str, cohort: NaiveDate, period: NaiveDate) -> CohortCell {
    (granularity_name(granularity), currency.to_string(), cohort, period)
}

/// `after` less `before`, without the cells that did not change.
pub fn difference(
    before: BTreeMap<CohortCell, CohortFigures>,
    after: BTreeMap<CohortCell, CohortFigures>,
) -> BTreeMap<CohortCell, CohortFigures> {
    let mut deltas = after;
    for (cell, figures) in before {
        *deltas.entry(cell).or_default() += -figures;
    }
    deltas.retain(|_, figures| !figures.is_zero());
    deltas
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::sales::GRANULARITIES;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap()
    }

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn order(customer_id: i64, placed_at: &str, net: i64) -> CohortOrder {
        CohortOrder { id: 0, customer_id, currency: "EUR".into(), placed_at: at(placed_at), net }
    }

    #[test]
    fn a_customer_counts_once_per_period_in_the_cohort_of_the_first_order() {
        let orders =
            [order(1, "2026-10-05 10:00", 100), order(1, "2026-10-20 10:00", 50), order(1, "2026-11-02 10:00", 30)];
        let cells = cohort_cells(&orders, chrono_tz::UTC, &GRANULARITIES);
        let month = |period: &str| cells.get(&("month", "EUR".to_string(), day("2026-10-01"), day(period))).copied();
        assert_eq!(month("2026-10-01"), Some(CohortFigures { customers: 1, net: 150 }));
        assert_eq!(month("2026-11-01"), Some(CohortFigures { customers: 1, net: 30 }));
        let year = cells.get(&("year", "EUR".to_string(), day("2026-01-01"), day("2026-01-01"))).copied();
        assert_eq!(year, Some(CohortFigures { customers: 1, net: 180 }));
    }

    #[test]
    fn the_periods_are_local_days_of_the_time_zone() {
        // 23:30 UTC on 31 October is 1 November in Paris.
        let orders = [order(1, "2026-10-31 23:30", 100)];
        let cells = cohort_cells(&orders, "Europe/Paris".parse().unwrap(), &GRANULARITIES);
        assert!(cells.contains_key(&("month", "EUR".to_string(), day("2026-11-01"), day("2026-11-01"))));
    }

    #[test]
    fn the_difference_keeps_only_changed_cells() {
        let before = cohort_cells(&[order(1, "2026-10-05 10:00", 100)], chrono_tz::UTC, &GRANULARITIES);
        let after = cohort_cells(
            &[order(1, "2026-10-05 10:00", 100), order(1, "2026-10-06 10:00", 20)],
            chrono_tz::UTC,
            &GRANULARITIES,
        );
        let deltas = difference(before, after);
        // Day: a new cell on the 6th; week and month and year: 20 more net, no new customer.
        assert_eq!(deltas.len(), 4);
        let oct = deltas.get(&("month", "EUR".to_string(), day("2026-10-01"), day("2026-10-01"))).copied();
        assert_eq!(oct, Some(CohortFigures { customers: 0, net: 20 }));
    }
}
