//! The sales rollups: kept exact in the transaction of every change to orders (new order,
//! status change, refund, customer merge), rebuilt from the orders when the shop's time
//! zone changes, and checked against a recomputation (`rapport rollups --check`).
//!
//! A change to orders can move more than the orders it touches: cancelling a customer's
//! first order makes their next one the first (a new customer moves to another day), and
//! a merge joins two customers' active periods. So a change is bracketed: `begin` takes
//! the affected customers' first orders, active periods and the contributions of the
//! touched and first orders; `finish` takes them again and adds the difference.
//!
//! Campaign results (conversions, attributed orders, redemptions) ride in the same bracket:
//! `begin` and `finish` gather the affected customers' campaign facts, and the difference is
//! added to `campaign_conversions` and `campaign_orders`. A launch computes its campaign's
//! results from the orders once, with writers of orders kept out meanwhile.

use std::collections::{BTreeMap, BTreeSet};

use chrono_tz::Tz;

use super::now;
use crate::config::parse_timezone;
use crate::db::{Database, DbConn};
use chrono::{NaiveDate, NaiveDateTime};

use crate::domain::attribution::{
    AttributionFacts, CampaignFigures, CampaignOrderFigures, CodeCampaign, ContactWindow, ConversionCounts, Redemption,
    StandingOrder,
};
use crate::domain::cohorts::{self, CohortCell, CohortFigures, CohortOrder};
use crate::domain::period::local_midnight_utc;
use crate::domain::purchase_days::{self, BuyerDays, BuyerKey, DayChanges, MonthCell};
use crate::domain::sales::{
    active_periods, granularity_name, local_day, ActivePeriod, Figures, OrderFacts, PeriodKey, RollupKey, GRANULARITIES,
};
use crate::error::AppError;
use crate::models::campaigns::CampaignRow;
use crate::repositories::analytics::{self as repo, OrderSelection, StoredPeriodKey};
use crate::repositories::campaigns as campaign_repo;

type SalesRows = BTreeMap<RollupKey, Figures>;
type CustomerCounts = BTreeMap<PeriodKey, i64>;
type DayCounts = BTreeMap<MonthCell, i64>;
type CohortCells = BTreeMap<CohortCell, CohortFigures>;
/// Everything `compute` works out from the orders.
type Computed = (SalesRows, CustomerCounts, DayCounts, CohortCells);

/// Which of the customers' active periods a change can move.
#[derive(Debug, Clone)]
pub enum Activity {
    /// Only the day, week, month and year of orders placed at these instants (a new order,
    /// a status change, a refund): only the customer's orders in those periods are read.
    Around(Vec<NaiveDateTime>),
    /// Any (a merge joins two customers' whole histories).
    All,
}

/// A change to some customers' orders, between `begin` and `finish`.
pub struct RollupChange {
    timezone: Tz,
    customers: Vec<i64>,
    activity: Activity,
    touched: BTreeSet<i64>,
    /// What `begin` read; None when the change only adds orders (an order placed): then
    /// everything before is the orders after without the new ones (`Before::without`).
    before: Option<Before>,
}

/// The customers' state before a change, as far as the rollups are concerned.
struct Before {
    /// First orders, per customer and currency.
    firsts: BTreeSet<i64>,
    /// Presence in the periods the change can move.
    periods: BTreeSet<ActivePeriod>,
    /// Contributions of the touched and first orders (read by `begin`; empty when worked
    /// out from the orders after, where `sales_of_added_orders` needs none).
    sales: SalesRows,
    attribution: AttributionFacts,
    cohorts: CohortCells,
}

impl Before {
    /// The state before orders `created` were added, from what was read after.
    fn without(
        created: &BTreeSet<i64>,
        cohort_orders: &[CohortOrder],
        orders_around: &[OrderFacts],
        campaign_inputs: &CampaignInputs,
        activity: &Activity,
        timezone: Tz,
    ) -> Before {
        let cohort_orders: Vec<CohortOrder> =
            cohort_orders.iter().filter(|o| !created.contains(&o.id)).cloned().collect();
        let orders_around: Vec<OrderFacts> =
            orders_around.iter().filter(|o| !created.contains(&o.id)).cloned().collect();
        Before {
            firsts: first_orders(&cohort_orders),
            periods: periods_of(&orders_around, activity, timezone),
            sales: SalesRows::new(),
            attribution: campaign_inputs.facts(created),
            cohorts: cohorts::cohort_cells(&cohort_orders, timezone, &GRANULARITIES),
        }
    }
}

/// The shop's time zone the rollups are in; None while they have never been built (then
/// there is nothing to keep: the start-up rebuild computes everything).
fn rollup_timezone(conn: &mut DbConn) -> Result<Option<Tz>, AppError> {
    let name = repo::rollup_timezone(conn)?;
    if name.is_empty() {
        return Ok(None);
    }
    parse_timezone(&name).map(Some).map_err(AppError::internal)
}

/// Whether the rollups (and the campaign results) have been built and are being kept.
pub fn are_built(conn: &mut DbConn) -> Result<bool, AppError> {
    Ok(rollup_timezone(conn)?.is_some())
}

/// The customers' live orders in the periods the change can move (all of them for
/// `Activity::All`).
fn orders_around(
    conn: &mut DbConn,
    customers: &[i64],
    activity: &Activity,
    timezone: Tz,
) -> Result<Vec<OrderFacts>, AppError> {
    let mut selection = OrderSelection { customer_ids: customers.to_vec(), live_only: true, ..Default::default() };
    if let Activity::Around(instants) = activity {
        // Every order of those periods: from the earliest start to the latest end.
        let periods = periods_around(instants, timezone);
        let bounds = periods.iter().map(|&(name, start)| {
            let granularity = GRANULARITIES.into_iter().find(|g| granularity_name(*g) == name).expect("known");
            (local_midnight_utc(timezone, start), local_midnight_utc(timezone, granularity.next(start)))
        });
        let from = bounds.clone().map(|b| b.0).min();
        let to = bounds.map(|b| b.1).max();
        if let (Some(from), Some(to)) = (from, to) {
            selection.placed = Some((from, to));
        }
    }
    Ok(repo::order_facts(conn, &selection)?.into_iter().map(|(order, _)| order).collect())
}

/// Each customer's first order per currency among `orders` (all their live orders):
/// the earliest placed, then the lowest id.
fn first_orders<'a>(orders: impl IntoIterator<Item = &'a CohortOrder>) -> BTreeSet<i64> {
    let mut firsts: BTreeMap<(i64, &str), (NaiveDateTime, i64)> = BTreeMap::new();
    for order in orders {
        let candidate = (order.placed_at, order.id);
        let first = firsts.entry((order.customer_id, order.currency.as_str())).or_insert(candidate);
        *first = (*first).min(candidate);
    }
    firsts.into_values().map(|(_, id)| id).collect()
}

/// The customers' presence in the periods the change can move, from their orders there.
fn periods_of(orders: &[OrderFacts], activity: &Activity, timezone: Tz) -> BTreeSet<ActivePeriod> {
    let mut active = active_periods(orders, timezone);
    if let Activity::Around(instants) = activity {
        let periods = periods_around(instants, timezone);
        active.retain(|((name, start, ..), _)| periods.contains(&(*name, *start)));
    }
    active
}

/// The day, ISO week, month and year of each instant, in the shop's time zone.
fn periods_around(instants: &[NaiveDateTime], timezone: Tz) -> BTreeSet<(&'static str, NaiveDate)> {
    let mut periods = BTreeSet::new();
    for &at in instants {
        let day = local_day(timezone, at);
        for granularity in GRANULARITIES {
            periods.insert((granularity_name(granularity), granularity.start_of(day)));
        }
    }
    periods
}

/// `rows` plus the contributions of `orders`, `firsts` marking first orders.
fn add_contributions(mut rows: SalesRows, orders: &[OrderFacts], firsts: &BTreeSet<i64>, timezone: Tz) -> SalesRows {
    for order in orders {
        for (key, figures) in order.contributions(firsts.contains(&order.id), timezone) {
            *rows.entry(key).or_default() += figures;
        }
    }
    rows
}

/// The facts of the orders `ids`: those among `known`, and the others read.
fn facts_of(conn: &mut DbConn, ids: &BTreeSet<i64>, known: &[OrderFacts]) -> Result<Vec<OrderFacts>, AppError> {
    let mut facts: Vec<OrderFacts> = known.iter().filter(|o| ids.contains(&o.id)).cloned().collect();
    let missing: Vec<i64> = ids.iter().copied().filter(|id| !facts.iter().any(|o| o.id == *id)).collect();
    if !missing.is_empty() {
        let selection = OrderSelection { ids: missing, ..Default::default() };
        facts.extend(repo::order_facts(conn, &selection)?.into_iter().map(|(order, _)| order));
    }
    Ok(facts)
}

impl RollupChange {
    /// Before a change that gives every order of `moving` (some of `customers`, all locked
    /// by the caller) another customer source: a customer's source edited, or a duplicate's
    /// orders merged into a customer of another source.
    pub fn begin_moving_orders(
        conn: &mut DbConn,
        customers: &[i64],
        moving: &[i64],
    ) -> Result<Option<RollupChange>, AppError> {
        if !are_built(conn)? {
            return Ok(None);
        }
        let touched = repo::order_ids_of(conn, moving)?;
        RollupChange::begin(conn, customers, &touched, Activity::All)
    }

    /// Before changing the orders `touched` of `customers` (all of them locked by the caller).
    pub fn begin(
        conn: &mut DbConn,
        customers: &[i64],
        touched: &[i64],
        activity: Activity,
    ) -> Result<Option<RollupChange>, AppError> {
        let Some(timezone) = rollup_timezone(conn)? else { return Ok(None) };
        // Before anything is read: a campaign launch waits for this change to commit, or
        // this change for the launch (see `campaign_launched`).
        repo::announce_order_writes(conn)?;
        let touched: BTreeSet<i64> = touched.iter().copied().collect();
        let mut change = RollupChange { timezone, customers: customers.to_vec(), activity, touched, before: None };
        if change.touched.is_empty() && matches!(change.activity, Activity::Around(_)) {
            // Only adds orders: everything before is worked out after (`work_out`).
            return Ok(Some(change));
        }
        let attribution = CampaignInputs::read(conn, customers)?.facts(&BTreeSet::new());
        // The cohort cells come from all of the customers' live orders (a change can move a
        // customer's first order, and with it every cell of theirs); so do the first orders.
        let cohort_orders = repo::cohort_orders_of(conn, customers)?;
        let firsts = first_orders(&cohort_orders);
        let orders = orders_around(conn, customers, &change.activity, timezone)?;
        let ids = change.touched.union(&firsts).copied().collect();
        change.before = Some(Before {
            sales: add_contributions(SalesRows::new(), &facts_of(conn, &ids, &orders)?, &firsts, timezone),
            periods: periods_of(&orders, &change.activity, timezone),
            cohorts: cohorts::cohort_cells(&cohort_orders, timezone, &GRANULARITIES),
            firsts,
            attribution,
        });
        Ok(Some(change))
    }

    /// After the change (`created`: orders that did not exist at `begin`): adds the difference.
    pub fn finish(self, conn: &mut DbConn, created: &[i64]) -> Result<(), AppError> {
        self.work_out(conn, created)?.write(conn)
    }

    /// After the change: reads what it takes to work the difference out, and writes nothing.
    /// The writes (`RollupWrites::write`) lock rows every order touches (today's sales,
    /// the current periods), so a caller keeps them for last, just before its commit.
    pub fn work_out(mut self, conn: &mut DbConn, created: &[i64]) -> Result<RollupWrites, AppError> {
        let created: BTreeSet<i64> = created.iter().copied().collect();
        let cohort_orders = repo::cohort_orders_of(conn, &self.customers)?;
        let firsts_after = first_orders(&cohort_orders);
        let orders_after = orders_around(conn, &self.customers, &self.activity, self.timezone)?;
        let periods_after = periods_of(&orders_after, &self.activity, self.timezone);
        let campaign_inputs = CampaignInputs::read(conn, &self.customers)?;
        let (before, sales) = match self.before.take() {
            Some(before) => {
                let sales = self.sales_of_changed_orders(conn, &before, &created, &firsts_after, &orders_after)?;
                (before, sales)
            }
            None => {
                let before = Before::without(
                    &created,
                    &cohort_orders,
                    &orders_after,
                    &campaign_inputs,
                    &self.activity,
                    self.timezone,
                );
                let sales = self.sales_of_added_orders(conn, &before.firsts, &created, &firsts_after, &orders_after)?;
                (before, sales)
            }
        };
        let mut customers = CustomerCounts::new();
        for (key, _) in periods_after.difference(&before.periods) {
            *customers.entry(key.clone()).or_default() += 1;
        }
        for (key, _) in before.periods.difference(&periods_after) {
            *customers.entry(key.clone()).or_default() -= 1;
        }
        let days = self.purchase_day_changes(conn, &before.periods, &periods_after)?;
        let (conversions, campaign_figures) = campaign_inputs.facts(&BTreeSet::new()).delta(&before.attribution);
        let cohorts_after = cohorts::cohort_cells(&cohort_orders, self.timezone, &GRANULARITIES);
        let cohorts = cohorts::difference(before.cohorts, cohorts_after);
        Ok(RollupWrites { sales, customers, days, conversions, campaign_figures, cohorts })
    }

    /// The sales difference of a change to existing orders: the touched and first orders
    /// before (from `begin`) against the same orders, and any newly first ones, after.
    fn sales_of_changed_orders(
        &self,
        conn: &mut DbConn,
        before: &Before,
        created: &BTreeSet<i64>,
        firsts_after: &BTreeSet<i64>,
        orders_after: &[OrderFacts],
    ) -> Result<SalesRows, AppError> {
        let mut ids: BTreeSet<i64> = self.touched.union(&before.firsts).copied().collect();
        ids.extend(created);
        // Orders that just became first were not touched: before, they were the same order
        // but not first.
        let promoted: BTreeSet<i64> = firsts_after.difference(&ids).copied().collect();
        let promoted_facts = facts_of(conn, &promoted, orders_after)?;
        let sales_before = add_contributions(before.sales.clone(), &promoted_facts, &BTreeSet::new(), self.timezone);
        ids.extend(&promoted);
        let mut sales =
            add_contributions(SalesRows::new(), &facts_of(conn, &ids, orders_after)?, firsts_after, self.timezone);
        for (key, figures) in sales_before {
            *sales.entry(key).or_default() += -figures;
        }
        Ok(sales)
    }

    /// The sales difference of orders placed: their own contributions, and an earlier first
    /// order that is no longer first (an order placed with an earlier date). No earlier
    /// order changed, so an order first both before and after adds nothing.
    fn sales_of_added_orders(
        &self,
        conn: &mut DbConn,
        firsts_before: &BTreeSet<i64>,
        created: &BTreeSet<i64>,
        firsts_after: &BTreeSet<i64>,
        orders_after: &[OrderFacts],
    ) -> Result<SalesRows, AppError> {
        let demoted: BTreeSet<i64> = firsts_before.difference(firsts_after).copied().collect();
        let ids: BTreeSet<i64> = created.union(&demoted).copied().collect();
        let facts = facts_of(conn, &ids, orders_after)?;
        let demoted_facts: Vec<OrderFacts> = facts.iter().filter(|o| demoted.contains(&o.id)).cloned().collect();
        let mut sales = add_contributions(SalesRows::new(), &facts, firsts_after, self.timezone);
        for (key, figures) in add_contributions(SalesRows::new(), &demoted_facts, &demoted, self.timezone) {
            *sales.entry(key).or_default() += -figures;
        }
        Ok(sales)
    }
}

/// What the campaign results of some customers are worked out from.
struct CampaignInputs {
    contacts: Vec<ContactWindow>,
    orders: Vec<StandingOrder>,
    codes: Vec<CodeCampaign>,
    redemptions: Vec<Redemption>,
}

impl CampaignInputs {
    /// The customers' contacts and standing orders, with the campaigns of their codes.
    fn read(conn: &mut DbConn, customers: &[i64]) -> Result<CampaignInputs, AppError> {
        let contacts = campaign_repo::contact_windows(conn, customers)?;
        let orders = campaign_repo::standing_orders(conn, customers)?;
        let code_ids: BTreeSet<i64> = orders.iter().filter_map(|o| o.promo_code_id).collect();
        let (mut codes, mut redemptions) = (Vec::new(), Vec::new());
        if !code_ids.is_empty() {
            codes = campaign_repo::code_campaigns(conn, &code_ids.into_iter().collect::<Vec<_>>())?;
        }
        if !codes.is_empty() {
            let with_codes: Vec<i64> = orders.iter().filter(|o| o.promo_code_id.is_some()).map(|o| o.id).collect();
            redemptions = campaign_repo::redemptions_on(conn, &with_codes)?;
        }
        Ok(CampaignInputs { contacts, orders, codes, redemptions })
    }

    /// The campaign facts of the standing orders but `left_out`.
    fn facts(&self, left_out: &BTreeSet<i64>) -> AttributionFacts {
        let orders: Vec<StandingOrder> = self.orders.iter().filter(|o| !left_out.contains(&o.id)).cloned().collect();
        AttributionFacts::gather(&self.contacts, &orders, &self.codes, &self.redemptions)
    }
}

/// What a change adds to the rollups, worked out and not yet written.
pub struct RollupWrites {
    sales: SalesRows,
    customers: CustomerCounts,
    days: DayChanges,
    conversions: ConversionCounts,
    campaign_figures: CampaignOrderFigures,
    cohorts: CohortCells,
}

impl RollupWrites {
    /// Adds the difference, always in the same order of tables (and of rows within each).
    pub fn write(self, conn: &mut DbConn) -> Result<(), AppError> {
        repo::add_sales(conn, &self.sales)?;
        repo::add_customers(conn, &self.customers)?;
        repo::write_purchase_days(conn, &self.days.upserts, &self.days.deletes)?;
        repo::add_purchase_day_counts(conn, &self.days.counts)?;
        campaign_repo::add_results(conn, &self.conversions, &self.campaign_figures)?;
        repo::add_cohort_cells(conn, &self.cohorts)?;
        Ok(())
    }
}

impl RollupChange {
    /// How the customers' purchase days change: on the touched days (or on every day, for
    /// a merge) they become the days active after the change.
    fn purchase_day_changes(
        &self,
        conn: &mut DbConn,
        periods_before: &BTreeSet<ActivePeriod>,
        periods_after: &BTreeSet<ActivePeriod>,
    ) -> Result<DayChanges, AppError> {
        let after = purchase_days::days_of(periods_after);
        let (old, new) = match &self.activity {
            Activity::All => (repo::purchase_days_of(conn, &self.customers, None)?, after),
            Activity::Around(instants) => {
                let touched: BTreeSet<NaiveDate> = instants.iter().map(|&at| local_day(self.timezone, at)).collect();
                let before = purchase_days::days_of(periods_before);
                let values: BTreeSet<String> = before.keys().chain(after.keys()).map(|k| k.2.clone()).collect();
                let values: Vec<String> = values.into_iter().collect();
                let old = repo::purchase_days_of(conn, &self.customers, Some(&values))?;
                let mut new: BTreeMap<BuyerKey, BTreeSet<NaiveDate>> = old
                    .iter()
                    .map(|(key, rows)| (key.clone(), rows.keys().filter(|d| !touched.contains(d)).copied().collect()))
                    .collect();
                for (key, days) in after {
                    new.entry(key).or_default().extend(days);
                }
                (old, new)
            }
        };
        Ok(purchase_days::changes(&old, &new))
    }
}

/// A campaign's results computed from the orders (what the kept results must equal).
pub fn computed_campaign_results(
    conn: &mut DbConn,
    campaign: &CampaignRow,
) -> Result<(ConversionCounts, CampaignOrderFigures), AppError> {
    let (mut conversions, mut figures) = (ConversionCounts::new(), CampaignOrderFigures::new());
    let Some(launched_at) = campaign.launched_at else { return Ok((conversions, figures)) };
    let window = (launched_at, campaign_repo::window_end(launched_at, campaign.attribution_window_days));
    for holdout in [false, true] {
        conversions.insert((campaign.id, holdout), campaign_repo::converted(conn, campaign.id, holdout, window)?);
    }
    for row in campaign_repo::attributed(conn, campaign.id, campaign.promo_code_id, window)? {
        let entry = figures.entry((campaign.id, row.currency)).or_default();
        *entry += CampaignFigures { orders: row.orders, revenue: row.revenue, ..Default::default() };
    }
    for row in campaign_repo::redemptions(conn, campaign.id, campaign.promo_code_id, launched_at)? {
        let entry = figures.entry((campaign.id, row.currency)).or_default();
        *entry += CampaignFigures { redemptions: row.redemptions, discount: row.discount, ..Default::default() };
    }
    conversions.retain(|_, n| *n != 0);
    figures.retain(|_, f| *f != CampaignFigures::default());
    Ok((conversions, figures))
}

/// A campaign was just launched (in this transaction): its results so far are computed
/// from the orders. Writers of orders are kept out until the launch commits, and each of
/// them announces itself before reading anything, so every order is counted exactly once:
/// by this computation, or by the writer's own difference.
pub fn campaign_launched(conn: &mut DbConn, campaign: &CampaignRow) -> Result<(), AppError> {
    if rollup_timezone(conn)?.is_none() {
        return Ok(());
    }
    repo::lock_orders(conn)?;
    let (conversions, figures) = computed_campaign_results(conn, campaign)?;
    campaign_repo::add_results(conn, &conversions, &figures)?;
    Ok(())
}

/// Orders and customers are walked in id ranges of this size.
const CHUNK: i64 = 20_000;

/// The rollups as the orders say they should be, in `timezone`. The purchase days are
/// handed to `on_days` per range of customer ids `[low, high)` (all of them at once would
/// not fit in memory at millions of orders); their month pre-counts are returned.
pub fn compute(
    conn: &mut DbConn,
    timezone: Tz,
    mut on_days: impl FnMut(&mut DbConn, (i64, i64), BuyerDays) -> Result<(), AppError>,
) -> Result<Computed, AppError> {
    let (max_order, max_customer) = repo::max_ids(conn)?;
    let mut sales = SalesRows::new();
    let mut low = 1;
    while low <= max_order {
        let selection = OrderSelection { id_range: Some((low, low + CHUNK)), with_first: true, ..Default::default() };
        for (order, is_first) in repo::order_facts(conn, &selection)? {
            for (key, figures) in order.contributions(is_first, timezone) {
                *sales.entry(key).or_default() += figures;
            }
        }
        low += CHUNK;
    }
    let (mut customers, mut day_counts, mut cohort_cells) =
        (CustomerCounts::new(), DayCounts::new(), CohortCells::new());
    let mut low = 1;
    while low <= max_customer {
        let selection =
            OrderSelection { customer_range: Some((low, low + CHUNK)), live_only: true, ..Default::default() };
        let orders: Vec<_> = repo::order_facts(conn, &selection)?.into_iter().map(|(order, _)| order).collect();
        let buyers: Vec<CohortOrder> = orders.iter().map(CohortOrder::from).collect();
        for (cell, figures) in cohorts::cohort_cells(&buyers, timezone, &GRANULARITIES) {
            *cohort_cells.entry(cell).or_default() += figures;
        }
        let active = active_periods(&orders, timezone);
        let days: BuyerDays = purchase_days::days_of(&active)
            .iter()
            .map(|(key, days)| (key.clone(), purchase_days::chain(days)))
            .collect();
        for (cell, n) in purchase_days::month_counts(&days) {
            *day_counts.entry(cell).or_default() += n;
        }
        on_days(conn, (low, low + CHUNK), days)?;
        for (key, _) in active {
            *customers.entry(key).or_default() += 1;
        }
        low += CHUNK;
    }
    Ok((sales, customers, day_counts, cohort_cells))
}

/// Recomputes every rollup from the orders, in `timezone`, writers kept out meanwhile;
/// then vacuums them (PostgreSQL).
pub fn rebuild(conn: &mut DbConn, timezone: Tz) -> Result<(), AppError> {
    rebuild_when(conn, timezone, Rebuild::Always).map(drop)
}

#[derive(PartialEq)]
enum Rebuild {
    Always,
    /// Unless they are kept in this time zone already: another instance starting at the
    /// same time may have built them while this one waited for the lock.
    WhenStale,
}

fn rebuild_when(conn: &mut DbConn, timezone: Tz, when: Rebuild) -> Result<bool, AppError> {
    let rebuilt = conn.write_transaction(|conn| {
        repo::lock_orders(conn)?;
        if when == Rebuild::WhenStale && repo::rollup_timezone(conn)? == timezone.name() {
            return Ok(false);
        }
        repo::clear_rollups(conn)?;
        repo::clear_purchase_days(conn)?;
        let (sales, customers, day_counts, cohort_cells) = compute(conn, timezone, |conn, _, days| {
            let rows: Vec<_> = days
                .into_iter()
                .flat_map(|(key, rows)| rows.into_values().map(move |row| (key.clone(), row)))
                .collect();
            Ok(repo::write_purchase_days(conn, &rows, &[])?)
        })?;
        repo::add_sales(conn, &sales)?;
        repo::add_purchase_day_counts(conn, &day_counts)?;
        repo::add_customers(conn, &customers)?;
        repo::add_cohort_cells(conn, &cohort_cells)?;
        campaign_repo::clear_results(conn)?;
        campaign_repo::rebuild_responders(conn)?;
        for campaign in campaign_repo::launched(conn)? {
            let (conversions, figures) = computed_campaign_results(conn, &campaign)?;
            campaign_repo::add_results(conn, &conversions, &figures)?;
        }
        repo::set_rollup_timezone(conn, timezone.name(), now())?;
        Ok::<_, AppError>(true)
    })?;
    if rebuilt {
        repo::vacuum_rollups(conn)?;
    }
    Ok(rebuilt)
}

/// Builds the rollups when they are missing or kept in another time zone than `timezone`.
/// Returns whether it rebuilt.
pub fn ensure(database: &Database, timezone: Tz) -> Result<bool, AppError> {
    database.with_conn(|conn| {
        if repo::rollup_timezone(conn)? == timezone.name() {
            return Ok(false);
        }
        rebuild_when(conn, timezone, Rebuild::WhenStale)
    })
}

/// Differences between the stored rollups and a recomputation from the orders; empty when
/// they agree.
pub fn check(conn: &mut DbConn) -> Result<Vec<String>, AppError> {
    let Some(timezone) = rollup_timezone(conn)? else { return Ok(vec!["the rollups were never built".into()]) };
    let mut differences = Vec::new();
    let (sales, customers, day_counts, cohort_cells) = compute(conn, timezone, |conn, (low, high), days| {
        let stored = repo::purchase_days_between(conn, low, high)?;
        if stored != days {
            let keys: BTreeSet<&BuyerKey> = days.keys().chain(stored.keys()).collect();
            for key in keys.into_iter().filter(|k| days.get(*k) != stored.get(*k)) {
                differences.push(format!(
                    "purchase days {key:?}: stored {:?}, orders say {:?}",
                    stored.get(key),
                    days.get(key)
                ));
            }
        }
        Ok(())
    })?;
    let stored_counts = repo::all_purchase_day_counts(conn)?;
    if stored_counts != day_counts {
        differences.push(format!("purchase day counts: stored {stored_counts:?}, orders say {day_counts:?}"));
    }
    let stored_sales = repo::all_sales(conn)?;
    let stored_customers = repo::all_customer_counts(conn)?;
    let keys: BTreeSet<&RollupKey> = sales.keys().chain(stored_sales.keys()).collect();
    for key in keys {
        let expected = sales.get(key).copied().unwrap_or_default();
        let stored = stored_sales.get(key).copied().unwrap_or_default();
        if expected != stored {
            differences.push(format!("sales {key:?}: stored {stored:?}, orders say {expected:?}"));
        }
    }
    let expected: BTreeMap<StoredPeriodKey, i64> = customers
        .into_iter()
        .filter(|(_, n)| *n != 0)
        .map(|((g, d, c, dimension, value), n)| ((g.to_string(), d, c, dimension.as_str().to_string(), value), n))
        .collect();
    let stored: BTreeMap<_, _> = stored_customers.into_iter().filter(|(_, n)| *n != 0).collect();
    if expected != stored {
        for key in expected.keys().chain(stored.keys()).collect::<BTreeSet<_>>() {
            if expected.get(key) != stored.get(key) {
                differences.push(format!(
                    "customers {key:?}: stored {:?}, orders say {:?}",
                    stored.get(key),
                    expected.get(key)
                ));
            }
        }
    }
    differences.extend(cohort_differences(conn, cohort_cells)?);
    differences.extend(campaign_differences(conn)?);
    Ok(differences)
}

fn cohort_differences(conn: &mut DbConn, expected: CohortCells) -> Result<Vec<String>, AppError> {
    let expected: BTreeMap<(String, String, NaiveDate, NaiveDate), CohortFigures> = expected
        .into_iter()
        .filter(|(_, figures)| !figures.is_zero())
        .map(|((granularity, currency, cohort, period), figures)| {
            ((granularity.to_string(), currency, cohort, period), figures)
        })
        .collect();
    let stored: BTreeMap<(String, String, NaiveDate, NaiveDate), CohortFigures> = repo::all_cohort_cells(conn)?
        .into_iter()
        .map(|r| {
            (
                (r.granularity, r.currency, r.cohort_start, r.period_start),
                CohortFigures { customers: r.customers, net: r.net },
            )
        })
        .collect();
    let keys: BTreeSet<_> = expected.keys().chain(stored.keys()).collect();
    Ok(keys
        .into_iter()
        .filter(|key| expected.get(*key) != stored.get(*key))
        .map(|key| format!("cohort {key:?}: stored {:?}, orders say {:?}", stored.get(key), expected.get(key)))
        .collect())
}

fn campaign_differences(conn: &mut DbConn) -> Result<Vec<String>, AppError> {
    let mut differences = Vec::new();
    let (stored, expected) =
        (campaign_repo::response_counts(conn, None)?, campaign_repo::computed_response_counts(conn)?);
    if stored != expected {
        differences.push(format!("campaign responders: stored {stored:?}, responses say {expected:?}"));
    }
    for campaign in campaign_repo::launched(conn)? {
        let expected = computed_campaign_results(conn, &campaign)?;
        let (mut conversions, mut figures) = campaign_repo::results(conn, &[campaign.id])?;
        conversions.retain(|_, n| *n != 0);
        figures.retain(|_, f| *f != CampaignFigures::default());
        if expected != (conversions.clone(), figures.clone()) {
            differences.push(format!(
                "campaign {}: stored {conversions:?} {figures:?}, orders say {:?} {:?}",
                campaign.id, expected.0, expected.1
            ));
        }
    }
    Ok(differences)
}
