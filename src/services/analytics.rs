//! Analytics for dashboards.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{Duration, NaiveDate, NaiveDateTime};
use chrono_tz::Tz;

use super::{campaigns, now};
use crate::config::parse_timezone;
use crate::db::DbConn;
use crate::domain::analytics::{
    CodeFigures, Cohort, Cohorts, ConsentFigures, ConsentPeriod, GroupFigures, LineGroup, ProductFilter, RankBy,
    Ranking, SalesPeriod, SalesReport,
};
use crate::domain::cohorts::cohort_cells;
use crate::domain::forms::EnquiryPeriod;
use crate::domain::period::{bucket_index, days_to_read, local_midnight_utc, Bucket, Periods, Trim, WholeDays};
use crate::domain::purchase_days::DAY_DIMENSIONS;
use crate::domain::sales::{granularity_name, local_day, Dimension, Figures, OrderFacts, SalesFilter};
use crate::domain::EnquiryStatus;
use crate::error::AppError;
use crate::models::analytics::{ChannelFigures, CustomerValue, Promotions, RfmFigures, SourceRow, TopCustomer};
use crate::models::campaigns::Report;
use crate::repositories::analytics::{self as repo, LineGroupRow, LineQuery, OrderSelection};
use crate::repositories::{
    customers as customer_repo, forms as forms_repo, products as product_repo, segments as segment_repo,
};

/// Consent now per channel, opt-ins and opt-outs per period, email opt-in by source.
pub fn consent(conn: &mut DbConn, buckets: &[Bucket]) -> Result<ConsentFigures, AppError> {
    let mut periods: Vec<ConsentPeriod> =
        buckets.iter().map(|b| ConsentPeriod { period_start: b.period_start, changes: Vec::new() }).collect();
    if let (Some(first), Some(last)) = (buckets.first(), buckets.last()) {
        for (at, channel, state) in repo::consent_changes(conn, first.utc_start, last.utc_end)? {
            if let Some(index) = bucket_index(buckets, at) {
                periods[index].changes.push((channel, state == "subscribed"));
            }
        }
    }
    Ok(ConsentFigures { states: repo::consent_states(conn)?, periods, by_source: repo::email_opt_in_by_source(conn)? })
}

// ---- Sales ---------------------------------------------------------------------------

/// What the rollups answer for a request's range. They are kept per local day of the
/// shop's time zone. A request in that zone reads its own days from them. A request in
/// another zone reads the rollups' days that lie wholly inside its range, and the orders
/// placed in its range outside those days (less than a day at each end). When an end covers
/// most of a rollup day, that day is read whole and the orders of its part outside the range
/// are taken off instead (`days_to_read`).
struct Rollups {
    /// The time zone of the rollups' days.
    zone: Tz,
    /// The request is in the rollups' time zone: its days are theirs.
    same_zone: bool,
    /// The rollups' local days to read (first and last): those wholly inside the range, and
    /// the `trim` day if any.
    days: Option<(NaiveDate, NaiveDate)>,
    /// The live orders of the range outside `days`, each with whether it was its
    /// customer's first in its currency.
    edge_orders: Vec<(OrderFacts, bool)>,
    /// A day of `days` that lies partly outside the range (see `days_to_read`), and the
    /// live orders of its part outside: the rollups count them, the range must not.
    trim: Option<Trim>,
    trimmed_orders: Vec<(OrderFacts, bool)>,
}

/// What the rollups answer for the periods; None until they have been built (everything
/// is then read from the orders, with the same definitions).
fn rollups_for(conn: &mut DbConn, periods: &Periods) -> Result<Option<Rollups>, AppError> {
    let zone = repo::rollup_timezone(conn)?;
    if zone.is_empty() {
        return Ok(None);
    }
    let same_zone = zone == periods.timezone.name();
    let zone = parse_timezone(&zone).map_err(AppError::internal)?;
    if same_zone {
        let days = Some((periods.first_day(), periods.last_day()));
        let (edge_orders, trimmed_orders) = (Vec::new(), Vec::new());
        return Ok(Some(Rollups { zone, same_zone, days, edge_orders, trim: None, trimmed_orders }));
    }
    let WholeDays { days, edges, trim } = days_to_read(zone, periods.utc_range());
    let orders_within = |conn: &mut DbConn, placed| {
        let selection = OrderSelection { placed: Some(placed), with_first: true, ..Default::default() };
        repo::order_facts(conn, &selection)
    };
    let mut edge_orders = Vec::new();
    for placed in edges {
        edge_orders.extend(orders_within(conn, placed)?);
    }
    let trimmed_orders = match trim {
        Some(trim) => orders_within(conn, trim.outside)?,
        None => Vec::new(),
    };
    Ok(Some(Rollups { zone, same_zone, days, edge_orders, trim, trimmed_orders }))
}

impl Rollups {
    fn edge_orders_in<'a>(&'a self, currency: &'a str) -> impl Iterator<Item = &'a (OrderFacts, bool)> + 'a {
        self.edge_orders.iter().filter(move |(order, _)| order.currency == currency)
    }

    /// The currencies with orders in the range, most orders first.
    fn currencies(&self, conn: &mut DbConn) -> Result<Vec<String>, AppError> {
        let mut counts: BTreeMap<String, i64> = match self.days {
            Some((first, last)) => repo::orders_per_currency(conn, first, last)?.into_iter().collect(),
            None => BTreeMap::new(),
        };
        for (order, _) in &self.edge_orders {
            *counts.entry(order.currency.clone()).or_default() += 1;
        }
        for (order, _) in &self.trimmed_orders {
            *counts.entry(order.currency.clone()).or_default() -= 1;
        }
        counts.retain(|_, n| *n > 0);
        let mut counts: Vec<(String, i64)> = counts.into_iter().collect();
        counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        Ok(counts.into_iter().map(|(currency, _)| currency).collect())
    }

    /// The figures of each value of a dimension in the range.
    fn figures_by_value(
        &self,
        conn: &mut DbConn,
        dimension: Dimension,
        currency: &str,
    ) -> Result<BTreeMap<String, Figures>, AppError> {
        let mut by_value: BTreeMap<String, Figures> = BTreeMap::new();
        if let Some((first, last)) = self.days {
            for row in repo::sales_by_value(conn, dimension, currency, first, last)? {
                *by_value.entry(row.value.clone()).or_default() += row.figures();
            }
        }
        let trimmed = self.trimmed_orders.iter().filter(|(order, _)| order.currency == currency);
        let signed = self.edge_orders_in(currency).map(|o| (o, 1)).chain(trimmed.map(|o| (o, -1)));
        for ((order, is_first), sign) in signed {
            // The day in the key does not matter here: only the dimension and value do.
            for (key, figures) in order.contributions(*is_first, chrono_tz::UTC) {
                if key.dimension == dimension {
                    let value = by_value.entry(key.value).or_default();
                    *value += if sign > 0 { figures } else { -figures };
                }
            }
        }
        by_value.retain(|_, figures| *figures != Figures::default());
        Ok(by_value)
    }

    /// Distinct customers per value of a dimension kept with purchase days: the rollups'
    /// count for a range that is exactly one of their days, weeks, months or years, the
    /// purchase days (domain::purchase_days) for other days, and the buyers at the edges
    /// who did not also buy the value on those days.
    fn customers_per_value(
        &self,
        conn: &mut DbConn,
        (dimension, values): (Dimension, &[String]),
        periods: &Periods,
        currency: &str,
    ) -> Result<HashMap<String, i64>, AppError> {
        debug_assert!(DAY_DIMENSIONS.contains(&dimension));
        let whole_period = periods.whole_period().filter(|_| self.same_zone);
        let mut counts = match (self.days, whole_period) {
            (Some(_), Some((granularity, start))) => {
                repo::customers_by_value(conn, (dimension, values), granularity_name(granularity), currency, start)?
            }
            (Some((first, last)), None) => repo::buyers_between(conn, dimension, values, currency, first, last)?,
            (None, _) => HashMap::new(),
        };
        for (value, buyers) in self.edge_buyers(conn, (dimension, values), currency)? {
            *counts.entry(value).or_default() += buyers;
        }
        for (value, buyers) in self.trimmed_buyers(conn, (dimension, values), currency)? {
            *counts.entry(value).or_default() -= buyers;
        }
        counts.retain(|_, n| *n != 0);
        Ok(counts)
    }

    /// The buyers of each value counted on the days only through the trimmed part of a
    /// day (see `trim`): they bought it there, and nowhere in the range. Not at the edges
    /// (read from their orders), not on the other days (their purchase day on the trimmed
    /// day links to none of them), and not in the trimmed day's part inside the range
    /// (their orders there, read for these customers only).
    fn trimmed_buyers(
        &self,
        conn: &mut DbConn,
        (dimension, values): (Dimension, &[String]),
        currency: &str,
    ) -> Result<BTreeMap<String, i64>, AppError> {
        let Some(trim) = self.trim else { return Ok(BTreeMap::new()) };
        let mut buyers = buyers_in(&self.trimmed_orders, (dimension, values), currency);
        let at_edges = buyers_in(&self.edge_orders, (dimension, values), currency);
        buyers.retain(|buyer| !at_edges.contains(buyer));
        if !buyers.is_empty() {
            for buyer in self.linked_to_other_days(conn, (dimension, values), currency, trim.day)? {
                buyers.remove(&buyer);
            }
        }
        if !buyers.is_empty() {
            let (day_start, day_end) =
                (local_midnight_utc(self.zone, trim.day), local_midnight_utc(self.zone, trim.day + Duration::days(1)));
            let inside =
                if trim.outside.0 == day_start { (trim.outside.1, day_end) } else { (day_start, trim.outside.0) };
            let customer_ids: BTreeSet<i64> = buyers.iter().map(|(customer, _)| *customer).collect();
            let selection = OrderSelection {
                placed: Some(inside),
                customer_ids: customer_ids.into_iter().collect(),
                ..Default::default()
            };
            let inside_orders = repo::order_facts(conn, &selection)?;
            for buyer in buyers_in(&inside_orders, (dimension, values), currency) {
                buyers.remove(&buyer);
            }
        }
        Ok(per_value(buyers))
    }

    /// The buyers of a value on `day` (a rollup day at or just outside either end of `days`)
    /// who also bought it on another of `days`: their purchase day there links to the next
    /// one on or before the last (from the first day or before it), or to the previous one
    /// on or after the first (from a later day).
    fn linked_to_other_days(
        &self,
        conn: &mut DbConn,
        (dimension, values): (Dimension, &[String]),
        currency: &str,
        day: NaiveDate,
    ) -> Result<BTreeSet<(i64, String)>, AppError> {
        let Some((first, last)) = self.days else { return Ok(BTreeSet::new()) };
        let mut linked = BTreeSet::new();
        for (customer, value, previous, next) in repo::purchase_days_on(conn, (dimension, values), currency, day)? {
            let on_other_days =
                if day <= first { next.is_some_and(|d| d <= last) } else { previous.is_some_and(|d| d >= first) };
            if on_other_days {
                linked.insert((customer, value));
            }
        }
        Ok(linked)
    }

    /// The buyers of each value at the edges who did not buy it on the rollups' days. An
    /// edge lies in the rollups' day before the first (or after the last), where the
    /// buyer's purchase day links to their next (or previous) one: they bought on the days
    /// in between exactly when that one is on or before the last (on or after the first).
    fn edge_buyers(
        &self,
        conn: &mut DbConn,
        (dimension, values): (Dimension, &[String]),
        currency: &str,
    ) -> Result<BTreeMap<String, i64>, AppError> {
        let mut buyers = buyers_in(&self.edge_orders, (dimension, values), currency);
        if buyers.is_empty() {
            return Ok(BTreeMap::new());
        }
        // The rollups' days the edges lie in.
        let edge_days: BTreeSet<NaiveDate> =
            self.edge_orders_in(currency).map(|(order, _)| local_day(self.zone, order.placed_at)).collect();
        for day in edge_days {
            for buyer in self.linked_to_other_days(conn, (dimension, values), currency, day)? {
                buyers.remove(&buyer);
            }
        }
        Ok(per_value(buyers))
    }
}

/// The (customer, value) pairs of `orders` in `currency` for the dimension's `values`.
fn buyers_in(
    orders: &[(OrderFacts, bool)],
    (dimension, values): (Dimension, &[String]),
    currency: &str,
) -> BTreeSet<(i64, String)> {
    let mut buyers = BTreeSet::new();
    for (order, _) in orders.iter().filter(|(order, _)| order.currency == currency) {
        for (d, value) in order.dimension_values() {
            if d == dimension && values.contains(&value) {
                buyers.insert((order.customer_id, value));
            }
        }
    }
    buyers
}

/// How many of the buyers bought each value.
fn per_value(buyers: BTreeSet<(i64, String)>) -> BTreeMap<String, i64> {
    let mut counts = BTreeMap::new();
    for (_, value) in buyers {
        *counts.entry(value).or_default() += 1;
    }
    counts
}

/// The currency asked for, or the one with the most orders in the range; the others found.
fn pick_currency(
    conn: &mut DbConn,
    periods: &Periods,
    rollups: Option<&Rollups>,
    asked: Option<String>,
) -> Result<(Option<String>, Vec<String>), AppError> {
    let found = match rollups {
        Some(rollups) => rollups.currencies(conn)?,
        None => repo::currencies_in(conn, periods.utc_range())?,
    };
    let currency = asked.or_else(|| found.first().cloned());
    let others = found.into_iter().filter(|c| Some(c) != currency.as_ref()).collect();
    Ok((currency, others))
}

/// Sales per period; every period present.
pub fn sales(
    conn: &mut DbConn,
    periods: &Periods,
    filter: &SalesFilter,
    currency: Option<String>,
) -> Result<SalesReport, AppError> {
    let rollups = rollups_for(conn, periods)?;
    let (currency, other_currencies) = pick_currency(conn, periods, rollups.as_ref(), currency)?;
    let mut rows: Vec<SalesPeriod> =
        periods.buckets.iter().map(|b| SalesPeriod { period_start: b.period_start, ..Default::default() }).collect();
    if let Some(currency) = &currency {
        // Periods with distinct customers per period: from the rollups in their own zone only.
        let same_zone = rollups.as_ref().is_some_and(|r| r.same_zone);
        let fast = same_zone.then(|| filter.rollup_dimension()).flatten();
        match fast {
            Some((dimension, value)) => {
                let days =
                    repo::sales_by_day(conn, dimension, &value, currency, periods.first_day(), periods.last_day())?;
                for day in days {
                    if let Some(index) = periods.index_of_day(day.day) {
                        rows[index].figures += day.figures();
                    }
                }
                count_customers(conn, periods, currency, (dimension, &value), &mut rows)?;
            }
            None => sales_from_orders(conn, periods, filter, currency, &mut rows)?,
        }
    }
    let mut totals = Figures::default();
    for row in &rows {
        totals += row.figures;
    }
    Ok(SalesReport { currency, other_currencies, periods: rows, totals })
}

/// Distinct customers per period, kept per whole period and dimension value.
fn count_customers(
    conn: &mut DbConn,
    periods: &Periods,
    currency: &str,
    dimension: (Dimension, &str),
    rows: &mut [SalesPeriod],
) -> Result<(), AppError> {
    let name = granularity_name(periods.granularity);
    for count in repo::customers_by_period(conn, dimension, name, currency, periods.first_day(), periods.last_day())? {
        if let Some(index) = periods.index_of_day(count.period_start) {
            rows[index].customers += count.customers;
        }
    }
    Ok(())
}

/// The orders of the range, each counted with the same definitions as the rollups.
fn for_each_order(
    conn: &mut DbConn,
    periods: &Periods,
    currency: &str,
    mut visit: impl FnMut(usize, &OrderFacts, bool),
) -> Result<(), AppError> {
    let selection = OrderSelection {
        placed: Some(periods.utc_range()),
        currency: Some(currency.to_string()),
        with_first: true,
        ..Default::default()
    };
    for (order, is_first) in repo::order_facts(conn, &selection)? {
        if let Some(index) = bucket_index(&periods.buckets, order.placed_at) {
            visit(index, &order, is_first);
        }
    }
    Ok(())
}

fn sales_from_orders(
    conn: &mut DbConn,
    periods: &Periods,
    filter: &SalesFilter,
    currency: &str,
    rows: &mut [SalesPeriod],
) -> Result<(), AppError> {
    let mut seen: HashSet<(usize, i64)> = HashSet::new();
    for_each_order(conn, periods, currency, |index, order, is_first| {
        if let Some(figures) = filter.figures(order, is_first) {
            rows[index].figures += figures;
            if seen.insert((index, order.customer_id)) {
                rows[index].customers += 1;
            }
        }
    })
}

// ---- Products ------------------------------------------------------------------------

fn group_from_row(row: LineGroupRow) -> GroupFigures {
    GroupFigures {
        key: row.key,
        name: None,
        figures: Figures {
            orders: row.orders,
            units: row.units,
            gross: row.gross,
            discounts: row.discounts,
            refunds: row.refunds,
            new_customers: 0,
        },
        customers: row.customers,
    }
}

/// Where distinct customers per group come from.
enum CustomerSource<'a> {
    /// Already counted with the figures.
    Counted,
    /// Kept for a dimension with purchase days (`Rollups::customers_per_value`), in a currency.
    Kept(&'a Rollups, Dimension, &'a Periods, String),
}

/// Ranks groups, keeps `limit`, and fills in their distinct customers.
fn rank(
    conn: &mut DbConn,
    mut groups: Vec<GroupFigures>,
    by: RankBy,
    limit: usize,
    customers: CustomerSource,
) -> Result<(Vec<GroupFigures>, i64), AppError> {
    let metric = |g: &GroupFigures| match by {
        RankBy::Revenue => g.figures.revenue(),
        RankBy::Units => g.figures.units,
    };
    let total = groups.iter().map(metric).sum();
    groups.sort_by(|a, b| metric(b).cmp(&metric(a)).then(a.key.cmp(&b.key)));
    groups.truncate(limit);
    let values: Vec<String> = groups.iter().map(|g| g.key.clone()).collect();
    let counts = match customers {
        CustomerSource::Counted => return Ok((groups, total)),
        CustomerSource::Kept(rollups, dimension, periods, currency) => {
            rollups.customers_per_value(conn, (dimension, &values), periods, &currency)?
        }
    };
    for group in &mut groups {
        group.customers = counts.get(&group.key).copied().unwrap_or(0);
    }
    Ok((groups, total))
}

/// Sales ranked by product (SKU; the catalogue's product type and category filter them),
/// product type, catalogue category or a line attribute.
pub fn product_groups(
    conn: &mut DbConn,
    periods: &Periods,
    group: LineGroup,
    filter: &ProductFilter,
    currency: Option<String>,
    by: RankBy,
    limit: usize,
) -> Result<Ranking, AppError> {
    line_ranking(conn, periods, group, filter, currency, by, limit)
}

fn line_ranking(
    conn: &mut DbConn,
    periods: &Periods,
    group: LineGroup,
    filter: &ProductFilter,
    currency: Option<String>,
    by: RankBy,
    limit: usize,
) -> Result<Ranking, AppError> {
    let rollups = rollups_for(conn, periods)?;
    let (currency, other_currencies) = pick_currency(conn, periods, rollups.as_ref(), currency)?;
    let Some(code) = currency.clone() else {
        return Ok(Ranking { currency, other_currencies, groups: Vec::new(), total: 0, by });
    };
    let query = LineQuery {
        group: group.clone(),
        placed: periods.utc_range(),
        currency: code.clone(),
        channel: filter.channel.clone(),
        product_type: filter.product_type.clone(),
        category: filter.category.clone(),
    };
    // The rollups answer products (filtered by the catalogue) and product types, without
    // a channel; categories, attributes and channel filters are read from the lines.
    let rollup_dimension = match group {
        LineGroup::Sku => Some(Dimension::Sku),
        LineGroup::ProductType if filter.product_type.is_none() && filter.category.is_none() => {
            Some(Dimension::ProductType)
        }
        _ => None,
    };
    let fast = match (rollup_dimension.filter(|_| filter.channel.is_none()), &rollups) {
        (Some(dimension), Some(rollups)) => Some((dimension, rollups)),
        _ => None,
    };
    let (groups, total) = match fast {
        Some((dimension, rollups)) => {
            let rows = rollups.figures_by_value(conn, dimension, &code)?;
            let catalogue = match dimension {
                Dimension::Sku => {
                    let skus: Vec<String> = rows.keys().cloned().collect();
                    product_repo::find_by_skus(conn, &skus)?
                }
                _ => HashMap::new(),
            };
            let in_filter = |sku: &str| {
                let product = catalogue.get(sku);
                filter.product_type.as_ref().is_none_or(|t| product.is_some_and(|p| p.product_type == *t))
                    && filter.category.as_ref().is_none_or(|c| product.is_some_and(|p| p.category.as_ref() == Some(c)))
            };
            let groups = rows
                .into_iter()
                .filter(|(value, _)| dimension != Dimension::Sku || in_filter(value))
                .map(|(value, figures)| {
                    let figures = Figures { new_customers: 0, ..figures };
                    GroupFigures { key: value, name: None, figures, customers: 0 }
                })
                .collect();
            // Distinct customers do not add up over days: they come from the rollups or
            // the purchase days, which products and product types both have.
            let customers = CustomerSource::Kept(rollups, dimension, periods, code.clone());
            rank(conn, groups, by, limit, customers)?
        }
        None => {
            let groups = repo::line_groups(conn, &query)?.into_iter().map(group_from_row).collect();
            rank(conn, groups, by, limit, CustomerSource::Counted)?
        }
    };
    let mut groups = groups;
    if group == LineGroup::Sku {
        let skus: Vec<String> = groups.iter().map(|g| g.key.clone()).collect();
        let catalogue = product_repo::find_by_skus(conn, &skus)?;
        for g in &mut groups {
            g.name = catalogue.get(&g.key).map(|p| p.name.clone());
        }
    }
    Ok(Ranking { currency, other_currencies, groups, total, by })
}

// ---- Promotions ----------------------------------------------------------------------

pub fn promotions(conn: &mut DbConn, periods: &Periods, currency: Option<String>) -> Result<Promotions, AppError> {
    let rollups = rollups_for(conn, periods)?;
    let (currency, other_currencies) = pick_currency(conn, periods, rollups.as_ref(), currency)?;
    let (mut codes, mut all) = (BTreeMap::<String, Figures>::new(), Figures::default());
    if let Some(code) = &currency {
        if let Some(rollups) = &rollups {
            codes = rollups.figures_by_value(conn, Dimension::PromoCode, code)?;
            for figures in rollups.figures_by_value(conn, Dimension::All, code)?.into_values() {
                all += figures;
            }
        } else {
            for_each_order(conn, periods, code, |_, order, is_first| {
                let figures = order.figures(is_first);
                all += figures;
                if let Some(promo) = &order.promo_code {
                    *codes.entry(promo.clone()).or_default() += figures;
                }
            })?;
        }
    }
    let customers: HashMap<String, i64> = match (&currency, &rollups) {
        (Some(code), Some(rollups)) => {
            let values: Vec<String> = codes.keys().cloned().collect();
            rollups.customers_per_value(conn, (Dimension::PromoCode, &values), periods, code)?
        }
        (Some(code), None) => {
            repo::promo_customers(conn, periods.utc_range(), code)?.into_iter().map(|r| (r.key, r.n)).collect()
        }
        (None, _) => HashMap::new(),
    };
    let mut with_code = Figures::default();
    for figures in codes.values() {
        with_code += *figures;
    }
    let mut without_code = all;
    without_code += -with_code;
    without_code.new_customers = all.new_customers - with_code.new_customers;
    let mut codes: Vec<CodeFigures> = codes
        .into_iter()
        .map(|(code, figures)| CodeFigures { customers: customers.get(&code).copied().unwrap_or(0), code, figures })
        .collect();
    codes.sort_by(|a, b| b.figures.revenue().cmp(&a.figures.revenue()).then(a.code.cmp(&b.code)));
    let (from, to) = periods.utc_range();
    let mut campaigns = campaigns::launched_between(conn, from, to)?;
    let revenue_in = |report: &Report| -> i64 {
        report.attributed.iter().filter(|a| Some(&a.currency) == currency.as_ref()).map(|a| a.revenue).sum()
    };
    campaigns.sort_by(|a, b| revenue_in(&b.1).cmp(&revenue_in(&a.1)).then(a.0.id.cmp(&b.0.id)));
    let ids: Vec<i64> = campaigns.iter().map(|c| c.0.id).collect();
    let responders = campaigns::responders(conn, &ids)?;
    let names: Vec<String> = codes.iter().map(|c| c.code.clone()).collect();
    let code_costs = crate::repositories::promo_codes::with_costs(conn, &names)?
        .into_iter()
        .filter_map(|row| Some((row.code.clone(), row.cost()?)))
        .collect();
    let mut flows = Vec::new();
    if let Some(code) = &currency {
        let mut before = None;
        loop {
            let page = crate::services::flows::list(conn, before, 200)?;
            let Some(last) = page.last() else { break };
            before = Some(last.row.id);
            for view in page {
                let costed = view.definition.cost.as_ref().is_some_and(|c| &c.currency == code);
                if costed && view.row.status != crate::domain::FlowStatus::Draft.as_str() {
                    let report = crate::services::flows::report(conn, view.row.id)?;
                    flows.push((view, report));
                }
            }
        }
    }
    Ok(Promotions {
        currency,
        other_currencies,
        codes,
        with_code,
        without_code,
        campaigns,
        responders,
        code_costs,
        flows,
    })
}

// ---- Customers -----------------------------------------------------------------------

/// The currency with the most orders of all time (from the rollups).
fn main_currency(conn: &mut DbConn) -> Result<Option<String>, AppError> {
    let day = |y| NaiveDate::from_ymd_opt(y, 1, 1).expect("a valid date");
    Ok(repo::currencies_by_orders(conn, day(1900), day(9999))?.into_iter().next())
}

/// The 1-based nearest rank of percentile `p` among `count` values.
fn nearest_rank(count: u64, p: u64) -> i64 {
    (p * count).div_ceil(100).max(1) as i64
}

/// Historical lifetime value: net spent per buyer in one currency (optionally only
/// customers whose first order falls in the range). Read from the purchase statistics:
/// the totals in one pass, each percentile as one indexed lookup, the top buyers.
pub fn customer_value(
    conn: &mut DbConn,
    currency: Option<String>,
    first_order: Option<(NaiveDateTime, NaiveDateTime)>,
    top: usize,
) -> Result<CustomerValue, AppError> {
    let currency = match currency {
        Some(c) => Some(c),
        None => main_currency(conn)?,
    };
    let Some(code) = &currency else {
        return Ok(CustomerValue {
            currency,
            customers: 0,
            average: 0.0,
            percentiles: [0; 3],
            repeat_customers: 0,
            average_days_between_orders: None,
            top: Vec::new(),
        });
    };
    let totals = repo::buyer_totals(conn, code, first_order)?;
    let mut percentiles = [0; 3];
    if totals.customers > 0 {
        for (slot, p) in percentiles.iter_mut().zip([50, 90, 99]) {
            *slot = repo::spent_at_rank(
                conn,
                code,
                first_order,
                nearest_rank(totals.customers as u64, p),
                totals.customers,
            )?
            .unwrap_or(0);
        }
    }
    let top_rows = repo::top_buyers(conn, code, first_order, top)?;
    let ids: Vec<i64> = top_rows.iter().map(|r| r.customer_id).collect();
    let mut records = customer_repo::find_many(conn, &ids)?;
    Ok(CustomerValue {
        customers: totals.customers,
        average: if totals.customers == 0 { 0.0 } else { totals.spent as f64 / totals.customers as f64 },
        percentiles,
        repeat_customers: totals.repeat_customers,
        average_days_between_orders: totals
            .gap_days
            .filter(|_| totals.repeat_customers > 0)
            .map(|sum| sum / totals.repeat_customers as f64),
        top: top_rows
            .into_iter()
            .map(|r| TopCustomer {
                customer: records.remove(&r.customer_id),
                customer_id: r.customer_id,
                orders: r.orders_count,
                spent: r.total_spent,
            })
            .collect(),
        currency,
    })
}

/// Customers, orders, net revenue and recency per RFM segment: the kept scores (brought
/// up to date) as of now, or, with a UTC `range`, scores computed from the orders placed
/// in it, as of its end.
pub fn rfm(
    conn: &mut DbConn,
    currency: Option<String>,
    range: Option<(NaiveDateTime, NaiveDateTime)>,
) -> Result<RfmFigures, AppError> {
    if range.is_none() {
        segment_repo::ensure_rfm_current(conn)?;
    }
    let currency = match currency {
        Some(c) => Some(c),
        None => main_currency(conn)?,
    };
    let segments = match (&currency, range) {
        (Some(c), None) => repo::rfm_segments(conn, c, now())?,
        (Some(c), Some(range)) => repo::rfm_segments_between(conn, c, range)?,
        (None, _) => Vec::new(),
    };
    Ok(RfmFigures { currency, segments })
}

/// Customers by the period of their first order (in the currency), and who came back.
pub fn cohorts(conn: &mut DbConn, periods: &Periods, currency: Option<String>) -> Result<Cohorts, AppError> {
    let rollups = rollups_for(conn, periods)?;
    let (currency, others) = pick_currency(conn, periods, rollups.as_ref(), currency)?;
    let mut cohorts: Vec<Cohort> = periods
        .buckets
        .iter()
        .enumerate()
        .map(|(i, b)| Cohort {
            period_start: b.period_start,
            customers: 0,
            revenue: 0,
            returning: vec![0; periods.buckets.len() - i - 1],
        })
        .collect();
    let Some(code) = &currency else { return Ok((currency, others, cohorts)) };
    if rollups.is_some_and(|r| r.same_zone) {
        cohorts_from_rollups(conn, periods, code, &mut cohorts)?;
    } else {
        cohorts_from_orders(conn, periods, code, &mut cohorts)?;
    }
    Ok((currency, others, cohorts))
}

/// The cohorts from the kept cells (domain::cohorts): the buckets are whole periods of the
/// rollups' time zone.
fn cohorts_from_rollups(
    conn: &mut DbConn,
    periods: &Periods,
    currency: &str,
    cohorts: &mut [Cohort],
) -> Result<(), AppError> {
    let (Some(first), Some(last)) = (periods.buckets.first(), periods.buckets.last()) else { return Ok(()) };
    let name = granularity_name(periods.granularity);
    let cells = repo::cohort_cells(conn, name, currency, first.period_start, last.period_start)?;
    add_cells(periods, cohorts, cells.into_iter().map(|c| (c.cohort_start, c.period_start, c.customers, c.net)));
    Ok(())
}

/// The cohorts in another time zone: the same cells, worked out from the orders of the
/// customers acquired in the range, up to its end.
fn cohorts_from_orders(
    conn: &mut DbConn,
    periods: &Periods,
    currency: &str,
    cohorts: &mut [Cohort],
) -> Result<(), AppError> {
    let orders = repo::cohort_orders(conn, currency, periods.utc_range())?;
    let cells = cohort_cells(&orders, periods.timezone, &[periods.granularity]);
    add_cells(
        periods,
        cohorts,
        cells.into_iter().map(|((_, _, cohort, period), f)| (cohort, period, f.customers, f.net)),
    );
    Ok(())
}

/// Adds cells (cohort start, period start, customers, net revenue) to the cohorts: a
/// cohort's customers are its cell in its own period, its revenue the sum of its cells, its
/// retention its cells in the following periods.
fn add_cells(periods: &Periods, cohorts: &mut [Cohort], cells: impl Iterator<Item = (NaiveDate, NaiveDate, i64, i64)>) {
    for (cohort_start, period_start, customers, net) in cells {
        let (Some(cohort), Some(period)) = (periods.index_of_day(cohort_start), periods.index_of_day(period_start))
        else {
            continue;
        };
        let row = &mut cohorts[cohort];
        row.revenue += net;
        match period.cmp(&cohort) {
            std::cmp::Ordering::Equal => row.customers += customers,
            std::cmp::Ordering::Greater => row.returning[period - cohort - 1] += customers,
            // A customer's orders all fall in or after the cohort of their first.
            std::cmp::Ordering::Less => {}
        }
    }
}

/// Orders, distinct customers and net revenue by the customer's source, from the rollups:
/// the figures from the days, the customers like those of products.
fn sources_from_rollups(
    conn: &mut DbConn,
    rollups: &Rollups,
    periods: &Periods,
    currency: &str,
) -> Result<Vec<SourceRow>, AppError> {
    let rows = rollups.figures_by_value(conn, Dimension::Source, currency)?;
    let values: Vec<String> = rows.keys().cloned().collect();
    let customers = rollups.customers_per_value(conn, (Dimension::Source, &values), periods, currency)?;
    Ok(rows
        .into_iter()
        .map(|(source, figures)| SourceRow {
            customers: customers.get(&source).copied().unwrap_or(0),
            source,
            orders: figures.orders,
            net_revenue: figures.net_revenue(),
        })
        .collect())
}

/// Orders and revenue by sales channel and by the customer's source.
pub fn channels(conn: &mut DbConn, periods: &Periods, currency: Option<String>) -> Result<ChannelFigures, AppError> {
    let rollups = rollups_for(conn, periods)?;
    let (currency, other_currencies) = pick_currency(conn, periods, rollups.as_ref(), currency)?;
    let mut channels: BTreeMap<String, Figures> = BTreeMap::new();
    let mut sources = Vec::new();
    if let Some(code) = &currency {
        if let Some(rollups) = &rollups {
            channels = rollups.figures_by_value(conn, Dimension::Channel, code)?;
            sources = sources_from_rollups(conn, rollups, periods, code)?;
        } else {
            for_each_order(conn, periods, code, |_, order, is_first| {
                *channels.entry(order.channel.clone()).or_default() += order.figures(is_first);
            })?;
            sources = repo::sales_by_source(conn, periods.utc_range(), code)?;
        }
        sources.sort_by(|a, b| b.net_revenue.cmp(&a.net_revenue).then(a.source.cmp(&b.source)));
    }
    let mut channels: Vec<(String, Figures)> = channels.into_iter().collect();
    channels.sort_by(|a, b| b.1.net_revenue().cmp(&a.1.net_revenue()).then(a.0.cmp(&b.0)));
    Ok(ChannelFigures { currency, other_currencies, channels, sources })
}

// ---- Enquiries -----------------------------------------------------------------------

/// Enquiry figures per period and over the whole range, by when the enquiries occurred:
/// counts per channel and status; resolutions (each enquiry's `resolved_at -
/// occurred_at`, in whole seconds, for an exact median); and how many of the enquiries
/// that are not spam were followed by a live order of their customer within
/// `within_days` days of the enquiry.
pub fn enquiries(
    conn: &mut DbConn,
    periods: &Periods,
    within_days: i64,
) -> Result<(Vec<EnquiryPeriod>, EnquiryPeriod), AppError> {
    let mut buckets: Vec<EnquiryPeriod> =
        periods.buckets.iter().map(|b| EnquiryPeriod { period_start: b.period_start, ..Default::default() }).collect();
    let mut total = EnquiryPeriod { period_start: periods.first_day(), ..Default::default() };
    let (from, to) = periods.utc_range();
    let window = chrono::Duration::days(within_days);
    let facts = forms_repo::enquiry_facts(conn, from, to)?;
    let spam = EnquiryStatus::Spam.as_str();
    let mut customer_ids: Vec<i64> = facts.iter().filter(|f| f.status != spam).filter_map(|f| f.customer_id).collect();
    customer_ids.sort_unstable();
    customer_ids.dedup();
    let mut orders: HashMap<i64, Vec<NaiveDateTime>> = HashMap::new();
    for (customer, placed_at) in repo::order_times(conn, &customer_ids, from, to + window)? {
        orders.entry(customer).or_default().push(placed_at);
    }
    orders.values_mut().for_each(|times| times.sort_unstable());
    let mut counts: Vec<BTreeMap<(String, String), i64>> = vec![BTreeMap::new(); buckets.len()];
    let mut total_counts: BTreeMap<(String, String), i64> = BTreeMap::new();
    for fact in facts {
        let Some(index) = bucket_index(&periods.buckets, fact.occurred_at) else { continue };
        let key = (fact.channel.clone(), fact.status.clone());
        *counts[index].entry(key.clone()).or_default() += 1;
        *total_counts.entry(key).or_default() += 1;
        let converted = fact.status != spam
            && fact.customer_id.and_then(|c| orders.get(&c)).is_some_and(|times| {
                let first = times.partition_point(|t| *t < fact.occurred_at);
                times.get(first).is_some_and(|t| *t < fact.occurred_at + window)
            });
        let resolution = match (fact.status == EnquiryStatus::Resolved.as_str(), fact.resolved_at) {
            (true, Some(at)) => Some((at - fact.occurred_at).num_seconds().max(0)),
            _ => None,
        };
        for figures in [&mut buckets[index], &mut total] {
            figures.enquiries += 1;
            if fact.status != spam {
                figures.genuine += 1;
            }
            if converted {
                figures.converted += 1;
            }
            if let Some(seconds) = resolution {
                figures.resolved += 1;
                figures.resolution_seconds.push(seconds);
            }
        }
    }
    for (bucket, counts) in buckets.iter_mut().zip(counts) {
        bucket.counts = counts.into_iter().map(|((c, s), n)| (c, s, n)).collect();
    }
    total.counts = total_counts.into_iter().map(|((c, s), n)| (c, s, n)).collect();
    Ok((buckets, total))
}
