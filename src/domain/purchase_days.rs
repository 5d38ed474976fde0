//! Distinct buyers of a product, product type or promo code over any range of days.
//!
//! Distinct customers do not add up across days, so the daily rollups cannot give them for
//! a range such as "the last twelve months". Instead each customer's purchase days of each
//! value are kept with the purchase day before and after (`purchase_days`). A customer
//! bought in `[from, to]` exactly when one of their purchase days there has no purchase day
//! before it since `from`, so the distinct count is a count of rows, and rows of whole
//! months are pre-counted per (month, month of the day before) (`purchase_day_counts`):
//!
//! - whole months of the range: the pre-counts whose previous month is before `from`'s
//!   month, plus the rows of `from`'s month before `from` whose next day falls in them;
//! - the days before the first and after the last whole month: their rows whose previous
//!   day is before `from`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Duration, NaiveDate};

use super::period::Granularity;
use super::sales::{ActivePeriod, Dimension};

/// The dimensions whose buyers are kept per day.
pub const DAY_DIMENSIONS: [Dimension; 4] =
    [Dimension::PromoCode, Dimension::ProductType, Dimension::Sku, Dimension::Source];

/// A customer under a dimension value and currency: (customer, dimension, value, currency).
pub type BuyerKey = (i64, Dimension, String, String);

/// A pre-count cell: (dimension, value, currency, month, month of the previous day).
pub type MonthCell = (Dimension, String, String, NaiveDate, NaiveDate);

/// The "month" of a first purchase (no purchase day before it).
pub fn no_previous_month() -> NaiveDate {
    NaiveDate::from_ymd_opt(1, 1, 1).expect("a valid date")
}

/// A purchase day, with the buyer's purchase days before and after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurchaseDay {
    pub day: NaiveDate,
    pub previous: Option<NaiveDate>,
    pub next: Option<NaiveDate>,
}

impl PurchaseDay {
    fn cell(&self, key: &BuyerKey) -> MonthCell {
        let month = |day: NaiveDate| Granularity::Month.start_of(day);
        let (_, dimension, value, currency) = key;
        (*dimension, value.clone(), currency.clone(), month(self.day), self.previous.map_or(no_previous_month(), month))
    }
}

/// Purchase days of buyers, by key then day.
pub type BuyerDays = BTreeMap<BuyerKey, BTreeMap<NaiveDate, PurchaseDay>>;

/// The purchase days of each buyer in active periods (their `day` periods).
pub fn days_of(periods: &BTreeSet<ActivePeriod>) -> BTreeMap<BuyerKey, BTreeSet<NaiveDate>> {
    let mut days: BTreeMap<BuyerKey, BTreeSet<NaiveDate>> = BTreeMap::new();
    for ((granularity, day, currency, dimension, value), customer) in periods {
        if *granularity == "day" && DAY_DIMENSIONS.contains(dimension) {
            days.entry((*customer, *dimension, value.clone(), currency.clone())).or_default().insert(*day);
        }
    }
    days
}

/// The rows of a buyer's purchase days, each linked to its neighbours.
pub fn chain(days: &BTreeSet<NaiveDate>) -> BTreeMap<NaiveDate, PurchaseDay> {
    let sorted: Vec<NaiveDate> = days.iter().copied().collect();
    sorted
        .iter()
        .enumerate()
        .map(|(index, &day)| {
            let previous = index.checked_sub(1).map(|i| sorted[i]);
            (day, PurchaseDay { day, previous, next: sorted.get(index + 1).copied() })
        })
        .collect()
}

/// The pre-counts of some buyers' rows.
pub fn month_counts(rows: &BuyerDays) -> BTreeMap<MonthCell, i64> {
    let mut counts = BTreeMap::new();
    for (key, days) in rows {
        for row in days.values() {
            *counts.entry(row.cell(key)).or_default() += 1;
        }
    }
    counts
}

/// What to write when buyers' purchase days go from `old` rows to `new` days.
#[derive(Debug, Default, PartialEq)]
pub struct DayChanges {
    pub upserts: Vec<(BuyerKey, PurchaseDay)>,
    pub deletes: Vec<(BuyerKey, NaiveDate)>,
    pub counts: BTreeMap<MonthCell, i64>,
}

pub fn changes(old: &BuyerDays, new: &BTreeMap<BuyerKey, BTreeSet<NaiveDate>>) -> DayChanges {
    let mut changes = DayChanges::default();
    let empty = BTreeMap::new();
    let keys: BTreeSet<&BuyerKey> = old.keys().chain(new.keys()).collect();
    for key in keys {
        let before = old.get(key).unwrap_or(&empty);
        let after = new.get(key).map(chain).unwrap_or_default();
        for (day, row) in before {
            if after.get(day) != Some(row) {
                *changes.counts.entry(row.cell(key)).or_default() -= 1;
                if !after.contains_key(day) {
                    changes.deletes.push((key.clone(), *day));
                }
            }
        }
        for (day, row) in &after {
            if before.get(day) != Some(row) {
                *changes.counts.entry(row.cell(key)).or_default() += 1;
                changes.upserts.push((key.clone(), *row));
            }
        }
    }
    changes.counts.retain(|_, n| *n != 0);
    changes
}

/// How a range of days is counted (see the module documentation).
#[derive(Debug, PartialEq, Eq)]
pub struct DayRangePlan {
    pub from: NaiveDate,
    /// The first and last whole months (their first days), if any.
    pub months: Option<(NaiveDate, NaiveDate)>,
    /// Rows of `from`'s month before `from`, whose next day may fall in the whole months.
    pub handoff: Option<(NaiveDate, NaiveDate)>,
    /// Day ranges counted row by row: before the first and after the last whole month (or
    /// the whole range when it holds no whole month).
    pub edges: Vec<(NaiveDate, NaiveDate)>,
}

impl DayRangePlan {
    pub fn new(from: NaiveDate, to: NaiveDate) -> DayRangePlan {
        let month_of = |day: NaiveDate| Granularity::Month.start_of(day);
        let first = if from.day() == 1 { from } else { Granularity::Month.next(month_of(from)) };
        let after_last = if Granularity::Month.next(month_of(to)) - Duration::days(1) == to {
            Granularity::Month.next(month_of(to))
        } else {
            month_of(to)
        };
        if first >= after_last {
            return DayRangePlan { from, months: None, handoff: None, edges: vec![(from, to)] };
        }
        let last = after_last - Duration::days(1);
        let mut edges = Vec::new();
        if from < first {
            edges.push((from, first - Duration::days(1)));
        }
        if after_last <= to {
            edges.push((after_last, to));
        }
        let handoff = (month_of(from) < from).then(|| (month_of(from), from - Duration::days(1)));
        DayRangePlan { from, months: Some((first, month_of(last))), handoff, edges }
    }

    /// The last day of the whole months.
    pub fn months_end(&self) -> Option<NaiveDate> {
        self.months.map(|(_, last)| Granularity::Month.next(last) - Duration::days(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    /// The plan's count over explicit rows, as the repository counts it.
    fn planned_count(days: &BTreeSet<NaiveDate>, from: NaiveDate, to: NaiveDate) -> i64 {
        let rows = chain(days);
        let plan = DayRangePlan::new(from, to);
        let key: BuyerKey = (1, Dimension::Sku, "A".into(), "EUR".into());
        let mut count = 0;
        if let (Some((first, last)), Some(end)) = (plan.months, plan.months_end()) {
            let cells = month_counts(&BTreeMap::from([(key.clone(), rows.clone())]));
            let month_of_from = Granularity::Month.start_of(from);
            count += cells
                .iter()
                .filter(|(c, _)| c.3 >= first && c.3 <= last && c.4 < month_of_from)
                .map(|(_, n)| n)
                .sum::<i64>();
            if let Some((low, high)) = plan.handoff {
                count += rows
                    .values()
                    .filter(|r| r.day >= low && r.day <= high && r.next.is_some_and(|n| n >= first && n <= end))
                    .count() as i64;
            }
        }
        for (low, high) in &plan.edges {
            count += rows
                .values()
                .filter(|r| r.day >= *low && r.day <= *high && r.previous.is_none_or(|p| p < from))
                .count() as i64;
        }
        count
    }

    #[test]
    fn a_buyer_counts_once_in_any_range_with_a_purchase() {
        let days: BTreeSet<NaiveDate> =
            ["2025-10-20", "2025-11-03", "2025-11-20", "2026-01-31", "2026-02-01", "2026-05-15", "2026-10-31"]
                .into_iter()
                .map(d)
                .collect();
        let mut day = d("2025-10-01");
        // Every range of up to 14 months starting on the 1st, 3rd and 18th of a month.
        while day <= d("2026-11-30") {
            if [1, 3, 18].contains(&day.day()) {
                for length in [0, 1, 13, 28, 31, 45, 90, 200, 364, 365, 420] {
                    let to = day + Duration::days(length);
                    let expected = i64::from(days.iter().any(|x| *x >= day && *x <= to));
                    assert_eq!(planned_count(&days, day, to), expected, "{day}..{to}");
                }
            }
            day += Duration::days(1);
        }
    }

    #[test]
    fn plans_split_whole_months_from_edges() {
        let plan = DayRangePlan::new(d("2025-11-01"), d("2026-10-31"));
        assert_eq!(plan.months, Some((d("2025-11-01"), d("2026-10-01"))));
        assert_eq!((plan.handoff, plan.edges.clone()), (None, vec![]));
        let plan = DayRangePlan::new(d("2025-11-15"), d("2026-11-14"));
        assert_eq!(plan.months, Some((d("2025-12-01"), d("2026-10-01"))));
        assert_eq!(plan.handoff, Some((d("2025-11-01"), d("2025-11-14"))));
        assert_eq!(plan.edges, vec![(d("2025-11-15"), d("2025-11-30")), (d("2026-11-01"), d("2026-11-14"))]);
        let plan = DayRangePlan::new(d("2026-02-03"), d("2026-02-20"));
        assert_eq!((plan.months, plan.edges), (None, vec![(d("2026-02-03"), d("2026-02-20"))]));
    }

    #[test]
    fn changes_relink_neighbours_and_move_counts() {
        let key: BuyerKey = (1, Dimension::Sku, "A".into(), "EUR".into());
        let old_days: BTreeSet<NaiveDate> = [d("2026-01-10"), d("2026-03-10")].into();
        let old = BTreeMap::from([(key.clone(), chain(&old_days))]);
        let new_days: BTreeSet<NaiveDate> = [d("2026-01-10"), d("2026-02-10"), d("2026-03-10")].into();
        let changed = changes(&old, &BTreeMap::from([(key.clone(), new_days.clone())]));
        // The new day is inserted; its neighbours' links change.
        assert_eq!(changed.upserts.len(), 3);
        assert!(changed.deletes.is_empty());
        let cell = |m: &str, p: NaiveDate| (Dimension::Sku, "A".to_string(), "EUR".to_string(), d(m), p);
        assert_eq!(
            changed.counts,
            BTreeMap::from([
                (cell("2026-02-01", d("2026-01-01")), 1),
                (cell("2026-03-01", d("2026-01-01")), -1),
                (cell("2026-03-01", d("2026-02-01")), 1),
            ])
        );
        let back = changes(&BTreeMap::from([(key.clone(), chain(&new_days))]), &BTreeMap::new());
        assert_eq!(back.deletes.len(), 3);
        assert_eq!(back.counts.values().sum::<i64>(), -3);
    }
}
