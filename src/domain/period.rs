//! Reporting periods: a date range in a time zone cut into days, ISO weeks (Monday),
//! months or years, each bucket known by its local start date and its UTC bounds.

use chrono::{Datelike, Duration, LocalResult, Months, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Day,
    Week,
    Month,
    Year,
}

impl Granularity {
    pub fn parse(text: &str) -> Result<Granularity, String> {
        match text {
            "day" => Ok(Granularity::Day),
            "week" => Ok(Granularity::Week),
            "month" => Ok(Granularity::Month),
            "year" => Ok(Granularity::Year),
            other => Err(format!("`{other}` is not a granularity; use day, week, month or year")),
        }
    }

    /// The most buckets one request may ask for.
    pub fn max_buckets(self) -> usize {
        match self {
            Granularity::Day => 731,
            Granularity::Week => 522,
            Granularity::Month => 240,
            Granularity::Year => 50,
        }
    }

    /// The start of the bucket that holds `day`.
    pub fn start_of(self, day: NaiveDate) -> NaiveDate {
        match self {
            Granularity::Day => day,
            Granularity::Week => day - Duration::days(day.weekday().num_days_from_monday() as i64),
            Granularity::Month => day.with_day(1).expect("day 1 exists"),
            Granularity::Year => NaiveDate::from_ymd_opt(day.year(), 1, 1).expect("1 January exists"),
        }
    }

    pub fn next(self, start: NaiveDate) -> NaiveDate {
        match self {
            Granularity::Day => start + Duration::days(1),
            Granularity::Week => start + Duration::days(7),
            Granularity::Month => start + Months::new(1),
            Granularity::Year => start + Months::new(12),
        }
    }
}

/// One bucket: its local start date and the UTC instants it covers, `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    pub period_start: NaiveDate,
    pub utc_start: NaiveDateTime,
    pub utc_end: NaiveDateTime,
}

/// The UTC instant of local midnight starting `day` (the first instant of the day where a
/// daylight-saving change skips midnight).
pub fn local_midnight_utc(timezone: Tz, day: NaiveDate) -> NaiveDateTime {
    let midnight = day.and_hms_opt(0, 0, 0).expect("midnight exists");
    let mut probe = midnight;
    loop {
        match timezone.from_local_datetime(&probe) {
            LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => return at.naive_utc(),
            LocalResult::None => probe += Duration::minutes(15),
        }
    }
}

/// Every bucket from the one holding `from` to the one holding `to` (both local dates,
/// inclusive), empty ones included; an error when the range is inverted or too long.
pub fn buckets(granularity: Granularity, timezone: Tz, from: NaiveDate, to: NaiveDate) -> Result<Vec<Bucket>, String> {
    if to < from {
        return Err("`to` is before `from`".into());
    }
    let mut starts = vec![granularity.start_of(from)];
    while let Some(&last) = starts.last() {
        let next = granularity.next(last);
        if next > to {
            break;
        }
        if starts.len() >= granularity.max_buckets() {
            return Err(format!(
                "the range is too long for this granularity (at most {} buckets)",
                granularity.max_buckets()
            ));
        }
        starts.push(next);
    }
    Ok(starts
        .into_iter()
        .map(|start| Bucket {
            period_start: start,
            utc_start: local_midnight_utc(timezone, start),
            utc_end: local_midnight_utc(timezone, granularity.next(start)),
        })
        .collect())
}

/// The periods one request asks for.
#[derive(Debug, Clone)]
pub struct Periods {
    pub granularity: Granularity,
    pub timezone: Tz,
    pub buckets: Vec<Bucket>,
}

impl Periods {
    /// The first local day covered.
    pub fn first_day(&self) -> NaiveDate {
        self.buckets.first().map_or(NaiveDate::MIN, |b| b.period_start)
    }

    /// The last local day covered (buckets may be one whole range rather than a period).
    pub fn last_day(&self) -> NaiveDate {
        self.buckets.last().map_or(NaiveDate::MIN, |b| {
            (b.utc_end - Duration::seconds(1)).and_utc().with_timezone(&self.timezone).date_naive()
        })
    }

    /// The UTC instants covered, `[start, end)`.
    pub fn utc_range(&self) -> (NaiveDateTime, NaiveDateTime) {
        match (self.buckets.first(), self.buckets.last()) {
            (Some(first), Some(last)) => (first.utc_start, last.utc_end),
            _ => (NaiveDateTime::MIN, NaiveDateTime::MIN),
        }
    }

    /// The single day, ISO week, month or year the range covers exactly, if it does.
    pub fn whole_period(&self) -> Option<(Granularity, NaiveDate)> {
        let (from, to) = (self.first_day(), self.last_day());
        [Granularity::Day, Granularity::Week, Granularity::Month, Granularity::Year]
            .into_iter()
            .find(|g| g.start_of(from) == from && g.next(from) - Duration::days(1) == to)
            .map(|g| (g, from))
    }

    /// The bucket holding a local day.
    pub fn index_of_day(&self, day: NaiveDate) -> Option<usize> {
        let index = self.buckets.partition_point(|b| b.period_start <= day);
        index.checked_sub(1).filter(|&i| day <= self.last_day() && self.buckets[i].period_start <= day)
    }
}

/// A UTC range `[from, to)` seen from another time zone: the local days of `timezone`
/// that lie wholly inside it (first and last, inclusive), and the instants of the range
/// outside those days (at most one stretch before and one after them, each shorter than a
/// day). Rollups kept per local day of `timezone` answer the days; the stretches are read
/// from the orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WholeDays {
    pub days: Option<(NaiveDate, NaiveDate)>,
    pub edges: Vec<(NaiveDateTime, NaiveDateTime)>,
    /// Set by `days_to_read` only: a day of `days` (the first or the last) that lies partly
    /// outside the range, and the instants of it outside the range.
    pub trim: Option<Trim>,
}

/// A rollup day read whole although part of it lies outside the range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trim {
    pub day: NaiveDate,
    pub outside: (NaiveDateTime, NaiveDateTime),
}

/// The days to read from rollups kept per local day of `timezone` for a UTC range: its
/// whole days, and at most one of the days at its ends that the range covers for more
/// than half. That day is read whole from the rollups and the orders of its part outside
/// the range are taken off (`trim`): fewer orders to read than its part inside (a year in
/// Paris ends 23 hours into the last UTC day). The other end stays an edge, read from the
/// orders.
pub fn days_to_read(timezone: Tz, range: (NaiveDateTime, NaiveDateTime)) -> WholeDays {
    let whole = whole_days_within(timezone, range);
    let Some((first, last)) = whole.days else { return whole };
    let (from, to) = range;
    let day_start = |day: NaiveDate| local_midnight_utc(timezone, day);
    // Each end's edge with the day it lies in, and the instants of that day outside the range.
    let mut candidates = Vec::new();
    let head_day = first - Duration::days(1);
    if from < day_start(first) {
        candidates.push((from, day_start(first), head_day, (day_start(head_day), from)));
    }
    let tail_day = last + Duration::days(1);
    if day_start(tail_day) < to {
        candidates.push((day_start(tail_day), to, tail_day, (to, day_start(tail_day + Duration::days(1)))));
    }
    let longest = candidates
        .into_iter()
        .filter(|(start, end, _, (out_start, out_end))| *end - *start > *out_end - *out_start)
        .max_by_key(|(start, end, _, _)| *end - *start);
    let Some((edge_start, edge_end, day, outside)) = longest else { return whole };
    let edges = whole.edges.into_iter().filter(|edge| *edge != (edge_start, edge_end)).collect();
    let days = (first.min(day), last.max(day));
    WholeDays { days: Some(days), edges, trim: Some(Trim { day, outside }) }
}

pub fn whole_days_within(timezone: Tz, (from, to): (NaiveDateTime, NaiveDateTime)) -> WholeDays {
    let local_day = |at| super::sales::local_day(timezone, at);
    // The first day starting at or after `from`, and the day holding `to` (it starts at or
    // before `to`, so the days before it end by `to`).
    let mut first = local_day(from);
    if local_midnight_utc(timezone, first) < from {
        first += Duration::days(1);
    }
    let after_last = local_day(to);
    if from >= to || first >= after_last {
        let edges = if from < to { vec![(from, to)] } else { Vec::new() };
        return WholeDays { days: None, edges, trim: None };
    }
    let (start, end) = (local_midnight_utc(timezone, first), local_midnight_utc(timezone, after_last));
    let edges = [(from, start), (end, to)].into_iter().filter(|(a, b)| a < b).collect();
    WholeDays { days: Some((first, after_last - Duration::days(1))), edges, trim: None }
}

/// The bucket holding the UTC instant `at`, by binary search over sorted buckets.
pub fn bucket_index(buckets: &[Bucket], at: NaiveDateTime) -> Option<usize> {
    let index = buckets.partition_point(|b| b.utc_end <= at);
    buckets.get(index).filter(|b| b.utc_start <= at).map(|_| index)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn an_evening_order_in_utc_is_the_next_day_in_paris() {
        let paris: Tz = "Europe/Paris".parse().unwrap();
        let days = buckets(Granularity::Day, paris, date(2026, 11, 20), date(2026, 11, 21)).unwrap();
        let late = date(2026, 11, 20).and_hms_opt(23, 30, 0).unwrap();
        assert_eq!(days[bucket_index(&days, late).unwrap()].period_start, date(2026, 11, 21));
        assert_eq!(days[0].utc_start, date(2026, 11, 19).and_hms_opt(23, 0, 0).unwrap());
    }

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn a_range_in_a_half_hour_zone_is_whole_utc_days_and_two_half_days() {
        // 1-2 November in Kolkata (+05:30) is 31 October 18:30 to 2 November 18:30 UTC.
        let kolkata: Tz = "Asia/Kolkata".parse().unwrap();
        let days = buckets(Granularity::Day, kolkata, date(2026, 11, 1), date(2026, 11, 2)).unwrap();
        let range = (days[0].utc_start, days[1].utc_end);
        assert_eq!(range, (at("2026-10-31 18:30"), at("2026-11-02 18:30")));
        let split = whole_days_within(chrono_tz::UTC, range);
        assert_eq!(split.days, Some((date(2026, 11, 1), date(2026, 11, 1))));
        assert_eq!(
            split.edges,
            [(at("2026-10-31 18:30"), at("2026-11-01 00:00")), (at("2026-11-02 00:00"), at("2026-11-02 18:30"))]
        );
        // One Kolkata day holds no whole UTC day: all of it is read from the orders.
        let one = whole_days_within(chrono_tz::UTC, (days[0].utc_start, days[0].utc_end));
        assert_eq!(one, WholeDays { days: None, edges: vec![(days[0].utc_start, days[0].utc_end)], trim: None });
    }

    #[test]
    fn whole_days_follow_daylight_saving_changes() {
        // Rollups in Paris, a UTC range across the end of summer time (25 October 2026):
        // Paris days start at 22:00 UTC before it and at 23:00 UTC after it.
        let paris: Tz = "Europe/Paris".parse().unwrap();
        let split = whole_days_within(paris, (at("2026-10-23 12:00"), at("2026-10-27 12:00")));
        assert_eq!(split.days, Some((date(2026, 10, 24), date(2026, 10, 26))));
        assert_eq!(
            split.edges,
            [(at("2026-10-23 12:00"), at("2026-10-23 22:00")), (at("2026-10-26 23:00"), at("2026-10-27 12:00"))]
        );
        // A range that starts and ends on the rollups' midnights has no edges.
        let exact = whole_days_within(paris, (at("2026-10-23 22:00"), at("2026-10-26 23:00")));
        assert_eq!(
            exact,
            WholeDays { days: Some((date(2026, 10, 24), date(2026, 10, 26))), edges: vec![], trim: None }
        );
        assert_eq!(whole_days_within(paris, (at("2026-10-23 22:00"), at("2026-10-23 22:00"))).edges, vec![]);
    }

    #[test]
    fn the_longer_edge_is_read_as_a_whole_day_less_its_part_outside() {
        // A year in Paris (winter time at both ends) seen from UTC rollups: it starts at
        // 23:00 on 31 October 2025 and ends at 23:00 on 31 October 2026.
        let range = (at("2025-10-31 23:00"), at("2026-10-31 23:00"));
        let read = days_to_read(chrono_tz::UTC, range);
        assert_eq!(read.days, Some((date(2025, 11, 1), date(2026, 10, 31))));
        assert_eq!(read.edges, [(at("2025-10-31 23:00"), at("2025-11-01 00:00"))]);
        let outside = (at("2026-10-31 23:00"), at("2026-11-01 00:00"));
        assert_eq!(read.trim, Some(Trim { day: date(2026, 10, 31), outside }));
        // New York starts 4 hours into 1 November: the first day is trimmed.
        let read = days_to_read(chrono_tz::UTC, (at("2025-11-01 04:00"), at("2026-11-01 04:00")));
        assert_eq!(read.days, Some((date(2025, 11, 1), date(2026, 10, 31))));
        assert_eq!(read.edges, [(at("2026-11-01 00:00"), at("2026-11-01 04:00"))]);
        let outside = (at("2025-11-01 00:00"), at("2025-11-01 04:00"));
        assert_eq!(read.trim, Some(Trim { day: date(2025, 11, 1), outside }));
        // Kathmandu (+05:45): 18 h 15 min of the last day inside, 5 h 45 min outside.
        let read = days_to_read(chrono_tz::UTC, (at("2025-10-31 18:15"), at("2026-10-31 18:15")));
        assert_eq!(read.trim.map(|t| t.outside), Some((at("2026-10-31 18:15"), at("2026-11-01 00:00"))));
        // Short edges stay edges; a range without a whole day is all edge.
        let short = (at("2026-10-23 22:00"), at("2026-10-27 05:00"));
        assert_eq!(days_to_read(chrono_tz::UTC, short), whole_days_within(chrono_tz::UTC, short));
        let none = (at("2026-10-23 02:00"), at("2026-10-23 20:00"));
        assert_eq!(days_to_read(chrono_tz::UTC, none).trim, None);
    }

    #[test]
    fn iso_weeks_cross_the_year_boundary() {
        let weeks = buckets(Granularity::Week, chrono_tz::UTC, date(2026, 12, 30), date(2027, 1, 12)).unwrap();
        let starts: Vec<NaiveDate> = weeks.iter().map(|w| w.period_start).collect();
        assert_eq!(starts, [date(2026, 12, 28), date(2027, 1, 4), date(2027, 1, 11)]);
    }

    #[test]
    fn daylight_saving_days_have_23_and_25_hours() {
        let paris: Tz = "Europe/Paris".parse().unwrap();
        let days = buckets(Granularity::Day, paris, date(2026, 3, 29), date(2026, 10, 25)).unwrap();
        let hours = |b: &Bucket| (b.utc_end - b.utc_start).num_hours();
        assert_eq!((hours(&days[0]), hours(days.last().unwrap())), (23, 25));
    }

    #[test]
    fn a_range_may_be_exactly_one_period() {
        let whole = |from, to| {
            let bucket = Bucket {
                period_start: from,
                utc_start: local_midnight_utc(chrono_tz::UTC, from),
                utc_end: local_midnight_utc(chrono_tz::UTC, to + Duration::days(1)),
            };
            Periods { granularity: Granularity::Day, timezone: chrono_tz::UTC, buckets: vec![bucket] }.whole_period()
        };
        assert_eq!(whole(date(2025, 1, 1), date(2025, 12, 31)), Some((Granularity::Year, date(2025, 1, 1))));
        assert_eq!(whole(date(2026, 2, 1), date(2026, 2, 28)), Some((Granularity::Month, date(2026, 2, 1))));
        assert_eq!(whole(date(2026, 11, 16), date(2026, 11, 22)), Some((Granularity::Week, date(2026, 11, 16))));
        assert_eq!(whole(date(2026, 11, 20), date(2026, 11, 20)), Some((Granularity::Day, date(2026, 11, 20))));
        assert_eq!(whole(date(2025, 11, 1), date(2026, 10, 31)), None);
    }

    #[test]
    fn months_years_limits_and_inverted_ranges() {
        let months = buckets(Granularity::Month, chrono_tz::UTC, date(2026, 1, 31), date(2026, 3, 1)).unwrap();
        assert_eq!(months.len(), 3);
        assert_eq!(months[1].period_start, date(2026, 2, 1));
        assert!(buckets(Granularity::Day, chrono_tz::UTC, date(2026, 2, 1), date(2026, 1, 1)).is_err());
        assert!(buckets(Granularity::Day, chrono_tz::UTC, date(2020, 1, 1), date(2026, 1, 1)).is_err());
        assert_eq!(buckets(Granularity::Year, chrono_tz::UTC, date(2020, 6, 1), date(2026, 1, 1)).unwrap().len(), 7);
        assert!(Granularity::parse("hour").is_err());
    }
}
