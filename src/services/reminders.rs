//! Reminders for the shop: whose birthday is coming, who is slipping away.

use chrono::{Datelike, Duration, NaiveDate};

use super::now;
use crate::db::DbConn;
use crate::error::AppError;
use crate::models::customers::{Birthday, Lapsed};
use crate::repositories::{customers as customer_repo, reminders as repo};

/// The `MM-DD` of each day from `today` to `today + within_days`, one list per day; a
/// 29 February birthday is celebrated on 28 February in other years.
pub fn month_days(today: NaiveDate, within_days: i64) -> Vec<Vec<String>> {
    (0..=within_days)
        .map(|offset| {
            let day = today + Duration::days(offset);
            let mut days = vec![day.format("%m-%d").to_string()];
            let leap = NaiveDate::from_ymd_opt(day.year(), 2, 29).is_some();
            if !leap && day.month() == 2 && day.day() == 28 {
                days.push("02-29".into());
            }
            days
        })
        .collect()
}

pub fn birthdays(
    conn: &mut DbConn,
    today: NaiveDate,
    within_days: i64,
    after: Option<(i64, i64)>,
    limit: i64,
) -> Result<Vec<(i64, Birthday)>, AppError> {
    let rows = repo::birthdays(conn, &month_days(today, within_days), after, limit)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut customers = customer_repo::find_many(conn, &ids)?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let customer = customers.remove(&row.id)?;
            let date = today + Duration::days(row.days_until);
            let turns = customer.row.birthday.map(|born| date.year() - born.year());
            Some((row.days_until, Birthday { customer, date, turns }))
        })
        .collect())
}

pub fn lapsed(conn: &mut DbConn, days: i64, before: Option<(i64, i64)>, limit: i64) -> Result<Vec<Lapsed>, AppError> {
    let now = now();
    let rows = repo::lapsed(conn, now, now - Duration::days(days), before, limit)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.customer_id).collect();
    let mut customers = customer_repo::find_many(conn, &ids)?;
    Ok(rows
        .into_iter()
        .filter_map(|row| customers.remove(&row.customer_id).map(|customer| Lapsed { customer, row }))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cross_the_year_and_keep_leap_day_birthdays() {
        let days = month_days(NaiveDate::from_ymd_opt(2026, 12, 30).unwrap(), 3);
        assert_eq!(days, [vec!["12-30"], vec!["12-31"], vec!["01-01"], vec!["01-02"]]);
        let february = month_days(NaiveDate::from_ymd_opt(2027, 2, 28).unwrap(), 0);
        assert_eq!(february, [vec!["02-28", "02-29"]]);
        assert_eq!(month_days(NaiveDate::from_ymd_opt(2028, 2, 28).unwrap(), 0), [vec!["02-28"]]);
    }
}
