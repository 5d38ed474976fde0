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
//!
//! A range that starts or ends a few days off a month boundary is counted over the whole
//! month at that end, then the buyers of those few days outside it who bought nothing in
//! the range are taken out (`DayRangePlan::head_trim`, `tail_trim`): a few days of rows
//! are read instead of nearly a month of them.

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

/// How a range of days is counted (see the module documentation). The buyers of `[from,
/// to]` are counted over `[start, end]` (the range, or the range widened to the month
/// boundary at either end), minus the trims.
#[derive(Debug, PartialEq, Eq)]
pub struct DayRangePlan {
    /// The first day counted: the range's first day, or the first of its month.
    pub start: NaiveDate,
    /// The range's last day (the trims are taken relative to it).
    pub to: NaiveDate,
    /// The first and last whole months (their first days) of `[start, end]`, if any.
    pub months: Option<(NaiveDate, NaiveDate)>,
    /// Rows of `start`'s month before `start`, whose next day may fall in the whole months.
    pub handoff: Option<(NaiveDate, NaiveDate)>,
    /// Day ranges counted row by row: before the first and after the last whole month (or
    /// the whole of `[start, end]` when it holds no whole month).
    pub edges: Vec<(NaiveDate, NaiveDate)>,
    /// Days counted before the range: taken out are their rows whose next purchase day is
    /// after `to` (or none), one per buyer who bought there and not in the range.
    pub head_trim: Option<(NaiveDate, NaiveDate)>,
    /// Days counted after the range: taken out are their rows whose previous purchase day
    /// is before `start` (or none), one per buyer whose first purchase from `start` on
    /// falls there.
    pub tail_trim: Option<(NaiveDate, NaiveDate)>,
}

impl DayRangePlan {
    /// The plan that reads the fewest days of rows: the range as it is, or widened to the
    /// month boundary at one or both ends.
    pub fn new(from: NaiveDate, to: NaiveDate) -> DayRangePlan {
        let month_of = |day: NaiveDate| Granularity::Month.start_of(day);
        let month_end = |day: NaiveDate| Granularity::Month.next(month_of(day)) - Duration::days(1);
        let starts = [from, month_of(from)];
        let ends = [to, month_end(to)];
        let candidates = starts.iter().flat_map(|&start| ends.iter().map(move |&end| (start, end)));
        // Ties keep the narrower range (listed first).
        candidates
            .map(|(start, end)| DayRangePlan::widened(from, to, start, end))
            .min_by_key(DayRangePlan::days_read)
            .expect("four candidates")
    }

    /// `[from, to]` counted over `[start, end]` (`start <= from`, `end >= to`).
    fn widened(from: NaiveDate, to: NaiveDate, start: NaiveDate, end: NaiveDate) -> DayRangePlan {
        let day_before = |day: NaiveDate| day - Duration::days(1);
        let (months, handoff, edges) = DayRangePlan::split(start, end);
        DayRangePlan {
            start,
            to,
            months,
            handoff,
            edges,
            head_trim: (start < from).then(|| (start, day_before(from))),
            tail_trim: (end > to).then(|| (to + Duration::days(1), end)),
        }
    }

    /// Whole months, handoff and edges of `[start, end]`.
    #[allow(clippy::type_complexity)]
    fn split(
        start: NaiveDate,
        end: NaiveDate,
    ) -> (Option<(NaiveDate, NaiveDate)>, Option<(NaiveDate, NaiveDate)>, Vec<(NaiveDate, NaiveDate)>) {
        let month_of = |day: NaiveDate| Granularity::Month.start_of(day);
        let first = if start.day() == 1 { start } else { Granularity::Month.next(month_of(start)) };
        let after_last = if Granularity::Month.next(month_of(end)) - Duration::days(1) == end {
            Granularity::Month.next(month_of(end))
        } else {
            month_of(end)
        };
        if first >= after_last {
            return (None, None, vec![(start, end)]);
        }
        let last = after_last - Duration::days(1);
        let mut edges = Vec::new();
        if start < first {
            edges.push((start, first - Duration::days(1)));
        }
        if after_last <= end {
            edges.push((after_last, end));
        }
        let handoff = (month_of(start) < start).then(|| (month_of(start), start - Duration::days(1)));
        (Some((first, month_of(last))), handoff, edges)
    }

    /// The days whose rows the plan reads one by one (the month pre-counts are a few cells).
    fn days_read(&self) -> i64 {
        let length = |(low, high): &(NaiveDate, NaiveDate)| (*high - *low).num_days() + 1;
        self.handoff.iter().chain(&self.edges).chain(&self.head_trim).chain(&self.tail_trim).map(length).sum()
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
        let start = plan.start;
        let mut count = 0;
        let rows_within = |(low, high): (NaiveDate, NaiveDate)| {
            rows.values().filter(move |r| r.day >= low && r.day <= high).collect::<Vec<_>>()
        };
        if let (Some((first, last)), Some(end)) = (plan.months, plan.months_end()) {
            let cells = month_counts(&BTreeMap::from([(key.clone(), rows.clone())]));
            let month_of_start = Granularity::Month.start_of(start);
            count += cells
                .iter()
                .filter(|(c, _)| c.3 >= first && c.3 <= last && c.4 < month_of_start)
                .map(|(_, n)| n)
                .sum::<i64>();
            if let Some(days) = plan.handoff {
                count +=
                    rows_within(days).iter().filter(|r| r.next.is_some_and(|n| n >= first && n <= end)).count() as i64;
            }
        }
        for days in &plan.edges {
            count += rows_within(*days).iter().filter(|r| r.previous.is_none_or(|p| p < start)).count() as i64;
        }
        if let Some(days) = plan.head_trim {
            count -= rows_within(days).iter().filter(|r| r.next.is_none_or(|n| n > to)).count() as i64;
        }
        if let Some(days) = plan.tail_trim {
            count -= rows_within(days).iter().filter(|r| r.previous.is_none_or(|p| p < start)).count() as i64;
        }
        count
    }

    #[test]
    fn a_buyer_counts_once_in_any_range_with_a_purchase() {
        let buyers: [&[&str]; 5] = [
            &["2025-10-20", "2025-11-03", "2025-11-20", "2026-01-31", "2026-02-01", "2026-05-15", "2026-10-31"],
            &["2025-11-01"],
            &["2025-11-30", "2025-12-01", "2025-12-02"],
            &["2026-03-02", "2026-03-29", "2026-04-01"],
            &["2025-12-31", "2026-02-28", "2026-06-16"],
        ];
        for buyer in buyers {
            let days: BTreeSet<NaiveDate> = buyer.iter().map(|day| d(day)).collect();
            let mut day = d("2025-10-01");
            // Every range of these lengths starting on any day of 14 months: the plans
            // widen either end, both or neither.
            while day <= d("2026-11-30") {
                for length in [0, 1, 2, 5, 13, 20, 28, 31, 45, 58, 90, 200, 364, 365, 420] {
                    let to = day + Duration::days(length);
                    let expected = i64::from(days.iter().any(|x| *x >= day && *x <= to));
                    assert_eq!(planned_count(&days, day, to), expected, "{buyer:?} {day}..{to}");
                }
                day += Duration::days(1);
            }
        }
    }

    #[test]
    fn plans_split_whole_months_from_edges() {
        let plan = DayRangePlan::new(d("2025-11-01"), d("2026-10-31"));
        assert_eq!(plan.months, Some((d("2025-11-01"), d("2026-10-01"))));
        assert_eq!((plan.handoff, plan.edges.clone()), (None, vec![]));
        assert_eq!((plan.head_trim, plan.tail_trim), (None, None));
        // Mid-month at both ends: the start is widened (its trim reads the days the handoff
        // would), the end is not (its edge is shorter than the rest of its month).
        let plan = DayRangePlan::new(d("2025-11-15"), d("2026-11-14"));
        assert_eq!(plan.start, d("2025-11-01"));
        assert_eq!(plan.months, Some((d("2025-11-01"), d("2026-10-01"))));
        assert_eq!(plan.handoff, None);
        assert_eq!(plan.edges, vec![(d("2026-11-01"), d("2026-11-14"))]);
        assert_eq!((plan.head_trim, plan.tail_trim), (Some((d("2025-11-01"), d("2025-11-14"))), None));
        // A few days inside a month: read as they are.
        let plan = DayRangePlan::new(d("2026-02-10"), d("2026-02-18"));
        assert_eq!(plan.start, d("2026-02-10"));
        assert_eq!((plan.months, plan.edges), (None, vec![(d("2026-02-10"), d("2026-02-18"))]));
        // Most of a month: the whole month, less the days at both ends.
        let plan = DayRangePlan::new(d("2026-02-03"), d("2026-02-20"));
        assert_eq!((plan.start, plan.months), (d("2026-02-01"), Some((d("2026-02-01"), d("2026-02-01")))));
        assert_eq!(plan.head_trim, Some((d("2026-02-01"), d("2026-02-02"))));
        assert_eq!(plan.tail_trim, Some((d("2026-02-21"), d("2026-02-28"))));
    }

    #[test]
    fn ranges_a_day_off_month_boundaries_count_whole_months_and_trim() {
        // A year of New York days in a UTC shop: 2 November to 31 October.
        let plan = DayRangePlan::new(d("2025-11-02"), d("2026-10-31"));
        assert_eq!(plan.start, d("2025-11-01"));
        assert_eq!(plan.months, Some((d("2025-11-01"), d("2026-10-01"))));
        assert_eq!((plan.handoff, plan.edges.clone()), (None, vec![]));
        assert_eq!((plan.head_trim, plan.tail_trim), (Some((d("2025-11-01"), d("2025-11-01"))), None));
        // Kolkata: 1 November to 30 October.
        let plan = DayRangePlan::new(d("2025-11-01"), d("2026-10-30"));
        assert_eq!(plan.months, Some((d("2025-11-01"), d("2026-10-01"))));
        assert_eq!((plan.head_trim, plan.tail_trim), (None, Some((d("2026-10-31"), d("2026-10-31")))));
        // Both ends within one month.
        let plan = DayRangePlan::new(d("2026-03-02"), d("2026-03-29"));
        assert_eq!((plan.start, plan.months), (d("2026-03-01"), Some((d("2026-03-01"), d("2026-03-01")))));
        assert_eq!(plan.days_read(), 3);
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
