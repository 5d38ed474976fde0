//! Segments: saved rule trees, and the compiler that turns a rule tree into a SQL
//! condition over `customers c` for the backend in use. Every leaf yields TRUE or FALSE
//! (never NULL), so `not` means exactly "the customers the inner rule does not select".
//!
//! Conditions on other tables are written as `c.id IN (SELECT customer_id ...)` (a
//! semi-join on both backends) and their negations with `not_in_set` (an anti-join on
//! PostgreSQL, a set built once on SQLite). `not` around such a condition compiles to its
//! opposite condition (`complement`), so it gets the same plans.

use chrono::{Duration, Months, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use super::sql::{json_text, live_order, lock_row, Sql, SqlValue};
use crate::db::schema::{campaigns, segments};
use crate::db::{Backend, DbConn};
use crate::domain::segment::{
    CompanyField, Condition, Field, Op, Operand, OrderTime, PredictionField, PurchaseField, Rule, StatsField,
    TextColumn,
};
use crate::models::segments::{NewSegment, SegmentChanges, SegmentRow};

/// Per customer with orders: recency, frequency and monetary scores from 1 to 5 by
/// quintile of rank (ties share a score), and the named segment from the recency score
/// and the mean of the frequency and monetary scores (see README, "RFM").
pub const RFM_SQL: &str = "SELECT customer_id, r AS recency_score, f AS frequency_score, m AS monetary_score, \
       CASE \
         WHEN r = 5 AND fm >= 4 THEN 'champions' \
         WHEN r >= 3 AND fm >= 4 THEN 'loyal' \
         WHEN r = 5 AND fm = 1 THEN 'new_customers' \
         WHEN r = 4 AND fm = 1 THEN 'promising' \
         WHEN r >= 4 THEN 'potential_loyalists' \
         WHEN r = 3 AND fm = 3 THEN 'need_attention' \
         WHEN r = 3 THEN 'about_to_sleep' \
         WHEN fm = 5 THEN 'cannot_lose' \
         WHEN fm >= 3 THEN 'at_risk' \
         WHEN r = 1 AND fm = 1 THEN 'lost' \
         ELSE 'hibernating' \
       END AS rfm_segment \
     FROM (SELECT customer_id, r, f, m, (f + m + 1) / 2 AS fm FROM ( \
       SELECT customer_id, \
         1 + (5 * (RANK() OVER (ORDER BY last_order_at) - 1)) / COUNT(*) OVER () AS r, \
         1 + (5 * (RANK() OVER (ORDER BY orders_count) - 1)) / COUNT(*) OVER () AS f, \
         1 + (5 * (RANK() OVER (ORDER BY monetary) - 1)) / COUNT(*) OVER () AS m \
       FROM (SELECT customer_id, MAX(last_order_at) AS last_order_at, SUM(orders_count) AS orders_count, \
                    SUM(total_spent) AS monetary \
             FROM customer_order_stats GROUP BY customer_id) per_customer \
     ) scored) rated";

/// Compiles rules relative to a moment (`within_last_days`, ages).
pub struct Compiler {
    pub now: NaiveDateTime,
}

impl Compiler {
    pub fn new(now: NaiveDateTime) -> Compiler {
        Compiler { now }
    }

    fn today(&self) -> NaiveDate {
        self.now.date()
    }

    /// Appends the rule as a boolean SQL expression over `customers c`.
    pub fn rule(&self, sql: &mut Sql, rule: &Rule) {
        match rule {
            Rule::All(rules) => self.group(sql, rules, " AND ", "(1 = 1)"),
            // An `any` of sets an index finds (see `any_of_sets`).
            Rule::Any(rules) if rules.len() > 1 && rules.iter().all(|rule| self.has_id_set(rule)) => {
                self.any_of_sets(sql, rules)
            }
            Rule::Any(rules) => self.group(sql, rules, " OR ", "(1 = 0)"),
            Rule::Not(inner) => match complement(inner) {
                // `not` around a condition on another table: the opposite condition, so
                // the database runs an anti-join instead of probing a set per customer.
                Some(opposite) => self.rule(sql, &Rule::Cond(opposite)),
                None => {
                    sql.push("NOT (");
                    self.rule(sql, inner);
                    sql.push(")");
                }
            },
            Rule::Cond(condition) => {
                sql.push("(");
                self.condition(sql, condition);
                sql.push(")");
            }
        }
    }

    fn group(&self, sql: &mut Sql, rules: &[Rule], joiner: &str, empty: &str) {
        if rules.is_empty() {
            sql.push(empty);
            return;
        }
        sql.push("(");
        for (index, rule) in rules.iter().enumerate() {
            if index > 0 {
                sql.push(joiner);
            }
            self.rule(sql, rule);
        }
        sql.push(")");
    }

    fn condition(&self, sql: &mut Sql, c: &Condition) {
        match &c.field {
            Field::Tag | Field::UsedPromoCode | Field::ReceivedCampaign | Field::Purchased(_) => {
                let (column, write_set) = self.customer_set(c).expect("a condition on another table");
                membership(sql, c.op, column, write_set)
            }
            Field::Text(column) => text_column(sql, *column, c.op, &c.operand),
            Field::Age => self.age(sql, c.op, &c.operand),
            Field::BirthdayMonth => {
                let month = if sql.is_postgres() {
                    "CAST(EXTRACT(MONTH FROM c.birthday) AS BIGINT)"
                } else {
                    "CAST(strftime('%m', c.birthday) AS INTEGER)"
                };
                null_safe(sql, c.op, |sql| compare(sql, month, c.op, &c.operand));
            }
            Field::Attribute(key) => attribute(sql, "c.attributes", key, c.op, &c.operand),
            Field::CreatedAt => self.time(sql, "c.created_at", c.op, &c.operand),
            Field::Consent(channel) => consent(sql, channel.as_str(), c.op, &c.operand),
            Field::Stats(stats) => self.stats(sql, *stats, c),
            Field::OrderAt(which) => self.order_time(sql, *which, c.op, &c.operand),
            Field::RfmSegment => rfm(sql, c.op, &c.operand),
            Field::PriceBand => price_band(sql, c),
            Field::Affinity(dimension) => affinity(sql, &dimension.stored_name(), c.op, &c.operand),
            Field::Prediction(which) => prediction(sql, *which, c.op, &c.operand),
            Field::ChurnRisk => {
                let Operand::Texts(labels) = &c.operand else { return no_match(sql) };
                membership(sql, c.op, "customer_id", |sql| {
                    sql.push("customer_predictions WHERE churn_risk IN ");
                    sql.bind_list(labels.iter().cloned().map(SqlValue::Text));
                });
            }
            Field::Company(field) => company(sql, *field, c.op, &c.operand),
        }
    }

    /// For a condition on the tags, orders or campaign contacts: the column that holds the
    /// customer id, and a writer of `<tables> WHERE <conditions>` for the customers the
    /// condition's positive form selects.
    #[allow(clippy::type_complexity)]
    fn customer_set<'a>(&'a self, c: &'a Condition) -> Option<(&'static str, Box<dyn Fn(&mut Sql) + 'a>)> {
        let write_set: Box<dyn Fn(&mut Sql) + 'a> = match &c.field {
            Field::Tag => Box::new(|sql: &mut Sql| {
                sql.push("customer_tags WHERE ");
                match_texts(sql, "tag", &c.operand);
            }),
            Field::UsedPromoCode => Box::new(|sql: &mut Sql| {
                sql.push("orders o WHERE ").push(&live_order("o")).push(" AND o.promo_code_status = 'applied' AND ");
                self.since(sql, "o.placed_at", c.within_days);
                match_texts(sql, "o.promo_code", &c.operand);
            }),
            Field::ReceivedCampaign => Box::new(|sql: &mut Sql| {
                sql.push("campaign_contacts x WHERE x.holdout = FALSE AND ");
                self.since(sql, "x.created_at", c.within_days);
                match &c.operand {
                    Operand::Integers(ids) => {
                        sql.push("x.campaign_id IN ");
                        sql.bind_list(ids.iter().map(|id| SqlValue::Int(*id)));
                    }
                    _ => {
                        sql.push("1 = 1");
                    }
                }
            }),
            Field::Purchased(what) => Box::new(move |sql: &mut Sql| self.purchase_set(sql, what, c)),
            _ => return None,
        };
        let column = match c.field {
            Field::Tag => "customer_id",
            Field::ReceivedCampaign => "x.customer_id",
            _ => "o.customer_id",
        };
        Some((column, write_set))
    }

    /// Whether the rule selects a set of customers that an index finds without reading
    /// every customer: a positive condition on the tags, orders or campaign contacts, a
    /// city or source among values (both indexed), or an `any` of such sets.
    fn has_id_set(&self, rule: &Rule) -> bool {
        match rule {
            Rule::Any(rules) => !rules.is_empty() && rules.iter().all(|rule| self.has_id_set(rule)),
            Rule::Cond(c) => {
                let positive = matches!(c.op, Op::Eq | Op::In | Op::Exists);
                match c.field {
                    Field::Text(TextColumn::City | TextColumn::Source) => {
                        matches!(c.op, Op::Eq | Op::In) && matches!(c.operand, Operand::Texts(_))
                    }
                    _ => positive && self.customer_set(c).is_some(),
                }
            }
            Rule::All(_) | Rule::Not(_) => false,
        }
    }

    /// An `any` of rules that `has_id_set`, each read by index. On SQLite, the customers in
    /// the union of the sets: SQLite then reads those customers by id instead of testing
    /// every customer. On PostgreSQL, `c.id IN (set) OR c.id IN (set) ...`: each set is
    /// hashed once and the customers are scanned in parallel (a union is joined without
    /// parallel workers, and measured slower there). Either way a city is found through
    /// its index rather than by lower-casing every customer's city (BENCHMARKS.md, Segments).
    fn any_of_sets(&self, sql: &mut Sql, rules: &[Rule]) {
        let mut sets = Vec::new();
        flatten_any(rules, &mut sets);
        let union = !sql.is_postgres();
        sql.push(if union { "(c.id IN (" } else { "(" });
        for (index, c) in sets.into_iter().enumerate() {
            if union {
                if index > 0 {
                    sql.push(" UNION ");
                }
                self.id_set(sql, c);
            } else {
                if index > 0 {
                    sql.push(" OR ");
                }
                sql.push("c.id IN (");
                self.id_set(sql, c);
                sql.push(")");
            }
        }
        sql.push(if union { "))" } else { ")" });
    }

    /// `SELECT <customer id> FROM ...` for a condition that `has_id_set`.
    fn id_set(&self, sql: &mut Sql, c: &Condition) {
        match (&c.field, &c.operand) {
            (Field::Text(column), Operand::Texts(values)) => {
                // A name of its own: `c` is the outer query's customer.
                sql.push("SELECT k.id FROM customers k WHERE ");
                text_in(sql, &format!("k.{}", column.column()), *column, values);
            }
            _ => {
                let (column, write_set) = self.customer_set(c).expect("a set that has_id_set accepted");
                sql.push("SELECT ").push(column).push(" FROM ");
                write_set(sql);
            }
        }
    }

    /// `column >= now - N days AND ` when the condition has `within_days`.
    fn since(&self, sql: &mut Sql, column: &str, within_days: Option<i64>) {
        if let Some(days) = within_days {
            sql.push(column).push(" >= ").bind(SqlValue::Time(self.now - Duration::days(days))).push(" AND ");
        }
    }

    /// Ages become birthday ranges: age >= n exactly when born on or before today - n years.
    fn age(&self, sql: &mut Sql, op: Op, operand: &Operand) {
        let born_by = |years: i64| {
            let years = years.clamp(0, 200) as u32;
            SqlValue::Date(self.today().checked_sub_months(Months::new(12 * years)).unwrap_or(NaiveDate::MIN))
        };
        let at_least = |sql: &mut Sql, n: i64| {
            sql.push("c.birthday <= ").bind(born_by(n));
        };
        let under = |sql: &mut Sql, n: i64| {
            sql.push("c.birthday > ").bind(born_by(n));
        };
        let n = |i: usize| match operand {
            Operand::Integers(values) => values[i],
            _ => 0,
        };
        match op {
            Op::Exists => {
                sql.push("c.birthday IS NOT NULL");
            }
            Op::NotExists => {
                sql.push("c.birthday IS NULL");
            }
            _ => null_safe(sql, op, |sql| match op {
                Op::Gte => at_least(sql, n(0)),
                Op::Gt => at_least(sql, n(0) + 1),
                Op::Lt => under(sql, n(0)),
                Op::Lte => under(sql, n(0) + 1),
                Op::Between => {
                    at_least(sql, n(0));
                    sql.push(" AND ");
                    under(sql, n(1) + 1);
                }
                _ => {
                    // eq, and ne through null_safe's negation
                    at_least(sql, n(0));
                    sql.push(" AND ");
                    under(sql, n(0) + 1);
                }
            }),
        }
    }

    fn time(&self, sql: &mut Sql, column: &str, op: Op, operand: &Operand) {
        match (op, operand) {
            (Op::Before, Operand::Time(at)) => sql.push(column).push(" < ").bind(SqlValue::Time(*at)),
            (Op::After, Operand::Time(at)) => sql.push(column).push(" > ").bind(SqlValue::Time(*at)),
            (Op::Between, Operand::TimeRange(from, to)) => sql
                .push(column)
                .push(" >= ")
                .bind(SqlValue::Time(*from))
                .push(" AND ")
                .push(column)
                .push(" <= ")
                .bind(SqlValue::Time(*to)),
            (Op::WithinLastDays, Operand::Days(days)) => {
                sql.push(column).push(" >= ").bind(SqlValue::Time(self.now - Duration::days(*days)))
            }
            _ => sql.push("1 = 0"),
        };
    }

    /// Order statistics per customer: one currency's row of `customer_order_stats`, or
    /// the row of `customer_order_totals` (summed over currencies) when none is given.
    /// Customers without orders have none: their count and spend are 0, which the
    /// comparison is evaluated against here, in Rust.
    fn stats(&self, sql: &mut Sql, stats: StatsField, c: &Condition) {
        let Operand::Integers(values) = &c.operand else { return no_match(sql) };
        let (negate, op) = if c.op == Op::Ne { (true, Op::Eq) } else { (false, c.op) };
        let holds_for_zero = stats != StatsField::AverageOrderValue && holds(op, values, 0) != negate;
        let table = if c.currency.is_some() { "customer_order_stats" } else { "customer_order_totals" };
        // When customers without orders match too, select "everyone but those whose
        // statistics fail": one anti-join, where `IN (...) OR NOT EXISTS (...)` costs a
        // probe per customer.
        if holds_for_zero {
            sql.push("NOT EXISTS (SELECT 1 FROM ").push(table).push(" s WHERE s.customer_id = c.id");
        } else {
            sql.push("c.id IN (SELECT s.customer_id FROM ").push(table).push(" s WHERE 1 = 1");
        }
        if let Some(currency) = &c.currency {
            sql.push(" AND s.currency = ").bind(SqlValue::Text(currency.clone()));
        }
        sql.push(" AND ");
        if negate != holds_for_zero {
            sql.push("NOT (");
        }
        match stats {
            StatsField::OrdersCount => compare(sql, "s.orders_count", op, &c.operand),
            StatsField::TotalSpent => compare(sql, "s.total_spent", op, &c.operand),
            StatsField::AverageOrderValue => average_order_value(sql, op, values),
        }
        if negate != holds_for_zero {
            sql.push(")");
        }
        if stats == StatsField::AverageOrderValue {
            sql.push(" AND s.orders_count > 0");
        }
        sql.push(")");
    }

    /// First and last orders over all currencies, from `customer_order_totals`.
    fn order_time(&self, sql: &mut Sql, which: OrderTime, op: Op, operand: &Operand) {
        let column = match which {
            OrderTime::First => "t.first_order_at",
            OrderTime::Last => "t.last_order_at",
        };
        match op {
            Op::Exists => {
                sql.push("c.id IN (SELECT customer_id FROM customer_order_totals)");
            }
            Op::NotExists => {
                sql.push("NOT EXISTS (SELECT 1 FROM customer_order_totals WHERE customer_id = c.id)");
            }
            _ => {
                sql.push("c.id IN (SELECT t.customer_id FROM customer_order_totals t WHERE ");
                self.time(sql, column, op, operand);
                sql.push(")");
            }
        }
    }

    /// Lines of orders that were not cancelled and not fully refunded, as
    /// `<tables> WHERE <conditions>`.
    fn purchase_set(&self, sql: &mut Sql, what: &PurchaseField, c: &Condition) {
        sql.push("order_lines l JOIN orders o ON o.id = l.order_id ");
        if *what == PurchaseField::Category {
            sql.push("JOIN products p ON p.id = l.product_id ");
        }
        sql.push("WHERE ").push(&live_order("o")).push(" AND l.refunded_quantity < l.quantity AND ");
        self.since(sql, "o.placed_at", c.within_days);
        match what {
            PurchaseField::Sku => match_texts(sql, "l.sku", &c.operand),
            PurchaseField::ProductType => match_texts(sql, "l.product_type", &c.operand),
            PurchaseField::Category => match_texts(sql, "p.category", &c.operand),
            PurchaseField::Attribute(key) => {
                // The membership's own op decides the polarity; the line must have the value.
                let positive = match c.op {
                    Op::Ne => Op::Eq,
                    Op::NotIn => Op::In,
                    Op::NotExists => Op::Exists,
                    op => op,
                };
                attribute(sql, "l.attributes", key, positive, &c.operand)
            }
        }
    }
}

/// The conditions of nested `any` rules that `has_id_set` (an `any` of `any`s is one set).
fn flatten_any<'a>(rules: &'a [Rule], sets: &mut Vec<&'a Condition>) {
    for rule in rules {
        match rule {
            Rule::Any(inner) => flatten_any(inner, sets),
            Rule::Cond(c) => sets.push(c),
            Rule::All(_) | Rule::Not(_) => unreachable!("has_id_set accepts neither"),
        }
    }
}

/// The condition that selects exactly the customers `rule` does not, when `rule` is a
/// condition on another table whose op has an opposite that compiles to the other join
/// (`eq`/`ne`, `in`/`not_in`: a semi-join and an anti-join over the same rows).
fn complement(rule: &Rule) -> Option<Condition> {
    let Rule::Cond(condition) = rule else { return None };
    let on_another_table = matches!(
        condition.field,
        Field::Tag
            | Field::Consent(_)
            | Field::Purchased(_)
            | Field::UsedPromoCode
            | Field::ReceivedCampaign
            | Field::RfmSegment
            | Field::ChurnRisk
    );
    // Without values some of these compile to "no one", whose opposite is not "no one".
    let has_values = matches!(condition.operand, Operand::Texts(_) | Operand::Integers(_));
    let opposite = match condition.op {
        Op::Eq => Op::Ne,
        Op::Ne => Op::Eq,
        Op::In => Op::NotIn,
        Op::NotIn => Op::In,
        _ => return None,
    };
    (on_another_table && has_values).then(|| Condition { op: opposite, ..condition.clone() })
}

fn no_match(sql: &mut Sql) {
    sql.push("1 = 0");
}

/// Whether `value` satisfies `op` against the operand values (for customers without orders).
fn holds(op: Op, values: &[i64], value: i64) -> bool {
    match op {
        Op::Eq => value == values[0],
        Op::Ne => value != values[0],
        Op::Gt => value > values[0],
        Op::Gte => value >= values[0],
        Op::Lt => value < values[0],
        Op::Lte => value <= values[0],
        Op::Between => values[0] <= value && value <= values[1],
        Op::In => values.contains(&value),
        Op::NotIn => !values.contains(&value),
        _ => false,
    }
}

/// `c.id IN (SELECT cid FROM <set>)` for eq/in/exists; `NOT EXISTS (...)` for the negations.
/// `write_set` writes `<tables> WHERE <conditions>`.
fn membership(sql: &mut Sql, op: Op, customer_column: &str, write_set: impl FnOnce(&mut Sql)) {
    let negated = matches!(op, Op::Ne | Op::NotIn | Op::NotExists);
    if negated {
        not_in_set(sql, customer_column, write_set);
    } else {
        sql.push("c.id IN (SELECT ").push(customer_column).push(" FROM ");
        write_set(sql);
        sql.push(")");
    }
}

/// The customers not in a set: `NOT EXISTS (...)` on PostgreSQL (an anti-join; it cannot
/// turn `NOT IN (subquery)` into one); `NOT (c.id IN (...))` on SQLite, which builds the
/// set once where `NOT EXISTS` runs the subquery for every customer (about 20% faster on
/// the benchmark's `any/not` shape). `write_set` writes `<tables> WHERE <conditions>`.
fn not_in_set(sql: &mut Sql, customer_column: &str, write_set: impl FnOnce(&mut Sql)) {
    if sql.is_postgres() {
        sql.push("NOT EXISTS (SELECT 1 FROM ");
        write_set(sql);
        sql.push(" AND ").push(customer_column).push(" = c.id)");
    } else {
        sql.push("NOT (c.id IN (SELECT ").push(customer_column).push(" FROM ");
        write_set(sql);
        // A NULL in the set would make `IN` NULL for everyone outside it.
        sql.push(" AND ").push(customer_column).push(" IS NOT NULL))");
    }
}

/// `column IN (...)` for the operand's texts, or `column IS NOT NULL` when there are none (exists).
fn match_texts(sql: &mut Sql, column: &str, operand: &Operand) {
    match operand {
        Operand::Texts(values) => {
            sql.push(column).push(" IN ");
            sql.bind_list(values.iter().cloned().map(SqlValue::Text));
        }
        _ => {
            sql.push(column).push(" IS NOT NULL");
        }
    }
}

/// Writes the positive form of `op`; ne and not_in become NOT of it. NULL counts as false.
fn null_safe(sql: &mut Sql, op: Op, write_positive: impl FnOnce(&mut Sql)) {
    if matches!(op, Op::Ne | Op::NotIn) {
        sql.push("NOT ");
    }
    sql.push("COALESCE((");
    write_positive(sql);
    sql.push("), FALSE)");
}

/// A comparison of `expression` with integer operands.
fn compare(sql: &mut Sql, expression: &str, op: Op, operand: &Operand) {
    let Operand::Integers(values) = operand else { return no_match(sql) };
    let int = |i: usize| SqlValue::Int(values[i]);
    let symbol = match op {
        Op::Eq | Op::Ne => "=",
        Op::Gt => ">",
        Op::Gte => ">=",
        Op::Lt => "<",
        Op::Lte => "<=",
        Op::In | Op::NotIn => {
            sql.push(expression).push(" IN ");
            sql.bind_list(values.iter().map(|v| SqlValue::Int(*v)));
            return;
        }
        Op::Between => {
            sql.push(expression).push(" BETWEEN ").bind(int(0)).push(" AND ").bind(int(1));
            return;
        }
        _ => return no_match(sql),
    };
    sql.push(expression).push(" ").push(symbol).push(" ").bind(int(0));
}

/// The largest average compared in BIGINT: times any order count below 2^32, it fits.
const BIGINT_AVERAGE_LIMIT: i64 = i32::MAX as i64;

/// Average order value compared without division: total > v * count. The product is a
/// BIGINT for the averages shops use, and NUMERIC (about three times slower on
/// PostgreSQL) for the larger values a rule accepts, which would overflow a BIGINT.
fn average_order_value(sql: &mut Sql, op: Op, values: &[i64]) {
    let side = |sql: &mut Sql, symbol: &str, value: i64| {
        sql.push("s.total_spent ").push(symbol).push(" ");
        if value.abs() <= BIGINT_AVERAGE_LIMIT {
            sql.bind(SqlValue::Int(value));
        } else {
            sql.push("CAST(").bind(SqlValue::Int(value)).push(" AS NUMERIC)");
        }
        sql.push(" * s.orders_count");
    };
    match op {
        Op::Gt => side(sql, ">", values[0]),
        Op::Gte => side(sql, ">=", values[0]),
        Op::Lt => side(sql, "<", values[0]),
        Op::Lte => side(sql, "<=", values[0]),
        Op::Between => {
            side(sql, ">=", values[0]);
            sql.push(" AND ");
            side(sql, "<=", values[1]);
        }
        _ => side(sql, "=", values[0]),
    }
}

fn text_column(sql: &mut Sql, column: TextColumn, op: Op, operand: &Operand) {
    let name = format!("c.{}", column.column());
    match op {
        Op::Exists => {
            sql.push(&name).push(" IS NOT NULL");
        }
        Op::NotExists => {
            sql.push(&name).push(" IS NULL");
        }
        _ => {
            let Operand::Texts(values) = operand else { return no_match(sql) };
            null_safe(sql, op, |sql| {
                if op == Op::Contains && column.is_free_text() {
                    // Free text: both sides lower-cased by the same SQL function.
                    sql.push("LOWER(")
                        .push(&name)
                        .push(") LIKE LOWER(")
                        .bind(SqlValue::Text(like_pattern(&values[0])))
                        .push(") ESCAPE '\\'");
                } else {
                    text_in(sql, &name, column, values);
                }
            });
        }
    }
}

/// `name IN (values)`; free text compared without regard to case, as `LOWER(name)` (the
/// expression the city's index holds).
fn text_in(sql: &mut Sql, name: &str, column: TextColumn, values: &[String]) {
    if column.is_free_text() {
        sql.push("LOWER(").push(name).push(") IN (");
        for (index, value) in values.iter().enumerate() {
            if index > 0 {
                sql.push(", ");
            }
            sql.push("LOWER(").bind(SqlValue::Text(value.clone())).push(")");
        }
        sql.push(")");
    } else {
        sql.push(name).push(" IN ");
        sql.bind_list(values.iter().cloned().map(SqlValue::Text));
    }
}

/// The id of the customer's company: its own for a company, `company_id` for a person
/// (NULL for a person without one).
const COMPANY_ID: &str = "COALESCE(c.company_id, CASE WHEN c.kind = 'company' THEN c.id END)";

/// `company.*`: a field of the customer's company (see `COMPANY_ID`), read from
/// `company_details` by its primary key.
fn company(sql: &mut Sql, field: CompanyField, op: Op, operand: &Operand) {
    let expression = match field.column() {
        None => COMPANY_ID.to_string(),
        Some(column) => format!("(SELECT d.{column} FROM company_details d WHERE d.customer_id = {COMPANY_ID})"),
    };
    match op {
        Op::Exists => {
            sql.push(&expression).push(" IS NOT NULL");
            return;
        }
        Op::NotExists => {
            sql.push(&expression).push(" IS NULL");
            return;
        }
        _ => {}
    }
    null_safe(sql, op, |sql| match (field, operand) {
        (CompanyField::Industry, Operand::Texts(values)) => {
            let lowered = format!("LOWER({expression})");
            if op == Op::Contains {
                sql.push(&lowered)
                    .push(" LIKE LOWER(")
                    .bind(SqlValue::Text(like_pattern(&values[0])))
                    .push(") ESCAPE '\\'");
            } else {
                sql.push(&lowered).push(" IN (");
                for (index, value) in values.iter().enumerate() {
                    if index > 0 {
                        sql.push(", ");
                    }
                    sql.push("LOWER(").bind(SqlValue::Text(value.clone())).push(")");
                }
                sql.push(")");
            }
        }
        (CompanyField::FoundedOn, Operand::Time(at)) => {
            let symbol = if op == Op::Before { " < " } else { " > " };
            sql.push(&expression).push(symbol).bind(SqlValue::Date(at.date()));
        }
        (CompanyField::FoundedOn, Operand::TimeRange(from, to)) => {
            sql.push(&expression)
                .push(" >= ")
                .bind(SqlValue::Date(from.date()))
                .push(" AND ")
                .push(&expression)
                .push(" <= ")
                .bind(SqlValue::Date(to.date()));
        }
        _ => compare(sql, &expression, op, operand),
    });
}

/// `%text%` with LIKE's wildcards escaped.
fn like_pattern(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

/// A JSON attribute of `document` (a TEXT column holding an object).
fn attribute(sql: &mut Sql, document: &str, key: &str, op: Op, operand: &Operand) {
    let postgres = sql.is_postgres();
    // As text: strings as they are, numbers and booleans as JSON writes them.
    let write_text = |sql: &mut Sql| json_text(sql, document, key);
    let write_number = |sql: &mut Sql| {
        if postgres {
            sql.push("(CASE WHEN jsonb_typeof(")
                .push(document)
                .push("::jsonb -> ")
                .bind(SqlValue::Text(key.to_string()));
            sql.push(") = 'number' THEN (").push(document).push("::jsonb ->> ").bind(SqlValue::Text(key.to_string()));
            sql.push(")::double precision END)");
        } else {
            let path = SqlValue::Text(format!("$.\"{key}\""));
            sql.push("(CASE WHEN json_type(").push(document).push(", ").bind(path.clone());
            sql.push(") IN ('integer', 'real') THEN json_extract(").push(document).push(", ").bind(path).push(") END)");
        }
    };
    match (op, operand) {
        (Op::Exists | Op::NotExists, _) => {
            if op == Op::NotExists {
                sql.push("NOT ");
            }
            sql.push("COALESCE(");
            write_text(sql);
            sql.push(" IS NOT NULL, FALSE)");
        }
        (_, Operand::Numbers(numbers)) => null_safe(sql, op, |sql| {
            let number = |i: usize| SqlValue::Float(numbers[i]);
            write_number(sql);
            match op {
                Op::Gt => sql.push(" > ").bind(number(0)),
                Op::Gte => sql.push(" >= ").bind(number(0)),
                Op::Lt => sql.push(" < ").bind(number(0)),
                Op::Lte => sql.push(" <= ").bind(number(0)),
                _ => sql.push(" BETWEEN ").bind(number(0)).push(" AND ").bind(number(1)),
            };
        }),
        (Op::Contains, Operand::Texts(values)) => null_safe(sql, op, |sql| {
            sql.push("LOWER(");
            write_text(sql);
            sql.push(") LIKE LOWER(").bind(SqlValue::Text(like_pattern(&values[0]))).push(") ESCAPE '\\'");
        }),
        (_, Operand::Texts(values)) => null_safe(sql, op, |sql| {
            write_text(sql);
            sql.push(" IN ");
            sql.bind_list(values.iter().cloned().map(SqlValue::Text));
        }),
        _ => no_match(sql),
    }
}

/// `consent.<channel>`: `not_set` means no ledger entry for the channel at all.
fn consent(sql: &mut Sql, channel: &str, op: Op, operand: &Operand) {
    let Operand::Texts(states) = operand else { return no_match(sql) };
    let recorded: Vec<&String> = states.iter().filter(|s| s.as_str() != "not_set").collect();
    let includes_not_set = recorded.len() < states.len();
    if matches!(op, Op::Ne | Op::NotIn) {
        // None of the states: no entry in those (an anti-join) and, when `not_set` is one
        // of them, an entry for the channel.
        sql.push("(");
        if recorded.is_empty() {
            sql.push("1 = 1");
        } else {
            not_in_set(sql, "customer_id", |sql| {
                sql.push("customer_consents WHERE channel = ")
                    .bind(SqlValue::Text(channel.to_string()))
                    .push(" AND state IN ");
                sql.bind_list(recorded.into_iter().cloned().map(SqlValue::Text));
            });
        }
        if includes_not_set {
            sql.push(" AND c.id IN (SELECT customer_id FROM customer_consents WHERE channel = ")
                .bind(SqlValue::Text(channel.to_string()))
                .push(")");
        }
        sql.push(")");
        return;
    }
    sql.push("(");
    if recorded.is_empty() {
        sql.push("1 = 0");
    } else {
        sql.push("c.id IN (SELECT customer_id FROM customer_consents WHERE channel = ")
            .bind(SqlValue::Text(channel.to_string()))
            .push(" AND state IN ");
        sql.bind_list(recorded.into_iter().cloned().map(SqlValue::Text));
        sql.push(")");
    }
    if includes_not_set {
        sql.push(" OR NOT EXISTS (SELECT 1 FROM customer_consents WHERE customer_id = c.id AND channel = ")
            .bind(SqlValue::Text(channel.to_string()))
            .push(")");
    }
    sql.push(")");
}

/// `rfm_segment`, from the stored scores (`ensure_rfm_current` runs first). Customers
/// without orders have no segment, so `ne` / `not_in` select them too.
fn rfm(sql: &mut Sql, op: Op, operand: &Operand) {
    let Operand::Texts(named) = operand else { return no_match(sql) };
    membership(sql, op, "customer_id", |sql| {
        sql.push("customer_rfm WHERE rfm_segment IN ");
        sql.bind_list(named.iter().cloned().map(SqlValue::Text));
    });
}

/// `price_band overlaps {min, max}`: the customer's stored band in the condition's
/// currency (see services::recommendations) overlaps the range. Customers without a band
/// in that currency are not selected.
fn price_band(sql: &mut Sql, c: &Condition) {
    let (Operand::Range(min, max), Some(currency)) = (&c.operand, &c.currency) else { return no_match(sql) };
    sql.push("c.id IN (SELECT customer_id FROM customer_price_bands WHERE currency = ")
        .bind(SqlValue::Text(currency.clone()))
        .push(" AND low <= ")
        .bind(SqlValue::Int(*max))
        .push(" AND high >= ")
        .bind(SqlValue::Int(*min))
        .push(")");
}

/// `affinity.<dimension>` compared with a share of units. Customers without the value
/// (no purchase of it, or no orders) have a share of 0, which the comparison is evaluated
/// against here, in Rust: when 0 satisfies it, "everyone but those whose share fails".
fn affinity(sql: &mut Sql, dimension: &str, op: Op, operand: &Operand) {
    let Operand::Share(value, share) = operand else { return no_match(sql) };
    let comparison = match op {
        Op::Gt => " > ",
        Op::Gte => " >= ",
        Op::Lt => " < ",
        Op::Lte => " <= ",
        _ => return no_match(sql),
    };
    let holds_for_zero = match op {
        Op::Gt => 0.0 > *share,
        Op::Gte => 0.0 >= *share,
        Op::Lt => 0.0 < *share,
        _ => 0.0 <= *share,
    };
    let rows = |sql: &mut Sql| {
        sql.push("customer_affinities a WHERE a.dimension = ")
            .bind(SqlValue::Text(dimension.to_string()))
            .push(" AND a.value = ")
            .bind(SqlValue::Text(value.clone()));
    };
    if holds_for_zero {
        sql.push("NOT EXISTS (SELECT 1 FROM ");
        rows(sql);
        sql.push(" AND a.customer_id = c.id AND NOT (a.unit_share").push(comparison).bind(SqlValue::Float(*share));
        sql.push("))");
    } else {
        sql.push("c.id IN (SELECT a.customer_id FROM ");
        rows(sql);
        sql.push(" AND a.unit_share").push(comparison).bind(SqlValue::Float(*share)).push(")");
    }
}

/// A stored prediction against numbers: buyers without predictions never match (a `not`
/// around the condition selects them).
fn prediction(sql: &mut Sql, which: PredictionField, op: Op, operand: &Operand) {
    let values: Vec<SqlValue> = match operand {
        Operand::Numbers(numbers) => numbers.iter().map(|n| SqlValue::Float(*n)).collect(),
        Operand::Integers(numbers) => numbers.iter().map(|n| SqlValue::Int(*n)).collect(),
        _ => return no_match(sql),
    };
    let column = which.column();
    sql.push("c.id IN (SELECT customer_id FROM customer_predictions WHERE ").push(column);
    let symbol = match op {
        Op::Gt => " > ",
        Op::Gte => " >= ",
        Op::Lt => " < ",
        Op::Lte => " <= ",
        _ => {
            sql.push(" BETWEEN ").bind(values[0].clone()).push(" AND ").bind(values[1].clone()).push(")");
            return;
        }
    };
    sql.push(symbol).bind(values[0].clone()).push(")");
}

/// Whether a rule selects by RFM segment.
fn uses_rfm(rule: &Rule) -> bool {
    match rule {
        Rule::All(rules) | Rule::Any(rules) => rules.iter().any(uses_rfm),
        Rule::Not(inner) => uses_rfm(inner),
        Rule::Cond(condition) => condition.field == Field::RfmSegment,
    }
}

#[derive(QueryableByName)]
struct Fingerprint {
    #[diesel(sql_type = diesel::sql_types::Text)]
    fingerprint: String,
}

/// A checksum of the order statistics: RFM scores only change when these do (ranks by
/// last order date do not move as time passes).
const STATS_FINGERPRINT_SQL: &str =
    "SELECT CAST(COUNT(*) AS TEXT) || ':' || CAST(COALESCE(SUM(orders_count), 0) AS TEXT) \
     || ':' || CAST(COALESCE(SUM(total_spent), 0) AS TEXT) \
     || ':' || CAST(COALESCE(SUM((customer_id % 997) * orders_count), 0) AS TEXT) \
     || ':' || CAST(COALESCE(SUM((customer_id % 991) * total_spent), 0) AS TEXT) \
     || ':' || COALESCE(CAST(MAX(last_order_at) AS TEXT), '') AS fingerprint FROM customer_order_stats";

/// The fingerprint of the order statistics: other stored figures (predictions) that only
/// change when these do compare it too.
pub fn stats_fingerprint(conn: &mut DbConn) -> QueryResult<String> {
    Ok(diesel::sql_query(STATS_FINGERPRINT_SQL).get_result::<Fingerprint>(conn)?.fingerprint)
}

/// Recomputes the stored RFM scores when the order statistics changed since the last time.
pub fn ensure_rfm_current(conn: &mut DbConn) -> QueryResult<()> {
    let stored = |conn: &mut DbConn| -> QueryResult<String> {
        let row: Fingerprint = diesel::sql_query("SELECT fingerprint FROM rfm_state WHERE id = 1").get_result(conn)?;
        Ok(row.fingerprint)
    };
    let current = |conn: &mut DbConn| -> QueryResult<String> {
        Ok(diesel::sql_query(STATS_FINGERPRINT_SQL).get_result::<Fingerprint>(conn)?.fingerprint)
    };
    if stored(conn)? == current(conn)? {
        return Ok(());
    }
    // Inside a caller's transaction (a launch) a savepoint; otherwise a write transaction
    // (on SQLite it takes the write lock first, so it never fails upgrading a read).
    use diesel::connection::TransactionManager;
    let nested = <DbConn as diesel::Connection>::TransactionManager::transaction_manager_status_mut(conn)
        .transaction_depth()?
        .is_some();
    let recompute = |conn: &mut DbConn| -> QueryResult<()> {
        // One recomputation at a time; the others wait, then find it done.
        lock_row(conn, "rfm_state", 1)?;
        let fingerprint = current(conn)?;
        if stored(conn)? == fingerprint {
            return Ok(());
        }
        diesel::sql_query("DELETE FROM customer_rfm").execute(conn)?;
        diesel::sql_query(format!(
            "INSERT INTO customer_rfm (customer_id, recency_score, frequency_score, monetary_score, rfm_segment) \
             SELECT customer_id, recency_score, frequency_score, monetary_score, rfm_segment FROM ({RFM_SQL}) scores"
        ))
        .execute(conn)?;
        write_segment_totals(conn)?;
        let mut update = Sql::new(conn.backend());
        update.push("UPDATE rfm_state SET fingerprint = ").bind(SqlValue::Text(fingerprint));
        update.push(", computed_at = CURRENT_TIMESTAMP WHERE id = 1");
        update.query().execute(conn)?;
        Ok(())
    };
    if nested {
        conn.transaction(recompute)
    } else {
        conn.write_transaction(recompute)
    }
}

/// The figures of each RFM segment per currency (`rfm_segment_totals`), from the scores
/// just computed and the same purchase statistics.
fn write_segment_totals(conn: &mut DbConn) -> QueryResult<()> {
    let seconds = if conn.backend() == crate::db::Backend::Postgres {
        "EXTRACT(EPOCH FROM s.last_order_at)"
    } else {
        "(julianday(s.last_order_at) - 2440587.5) * 86400.0"
    };
    diesel::sql_query("DELETE FROM rfm_segment_totals").execute(conn)?;
    diesel::sql_query(format!(
        "INSERT INTO rfm_segment_totals (currency, rfm_segment, customers, orders, revenue, last_order_seconds) \
         SELECT s.currency, r.rfm_segment, COUNT(*), SUM(s.orders_count), SUM(s.total_spent), \
         CAST(SUM({seconds}) AS DOUBLE PRECISION) \
         FROM customer_rfm r JOIN customer_order_stats s ON s.customer_id = r.customer_id \
         GROUP BY s.currency, r.rfm_segment"
    ))
    .execute(conn)?;
    Ok(())
}

/// Prepares what the rule reads beyond the tables the order transaction keeps current.
fn prepare(conn: &mut DbConn, rule: &Rule) -> QueryResult<()> {
    if uses_rfm(rule) {
        ensure_rfm_current(conn)?;
    }
    Ok(())
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// `FROM customers c WHERE <not erased> AND (<rule>)`.
fn members_from(sql: &mut Sql, rule: &Rule, now: NaiveDateTime) {
    sql.push(" FROM customers c WHERE c.erased_at IS NULL AND ");
    Compiler::new(now).rule(sql, rule);
}

/// How many customers the rule selects.
pub fn count(conn: &mut DbConn, rule: &Rule, now: NaiveDateTime) -> QueryResult<i64> {
    prepare(conn, rule)?;
    count_prepared(conn, rule, now)
}

fn count_prepared(conn: &mut DbConn, rule: &Rule, now: NaiveDateTime) -> QueryResult<i64> {
    let mut sql = Sql::new(conn.backend());
    sql.push("SELECT COUNT(*) AS n");
    members_from(&mut sql, rule, now);
    let row: Count = sql.query().get_result(conn)?;
    Ok(row.n)
}

/// How many customers the rule selects and the newest `limit` of them.
///
/// On PostgreSQL in two statements (`count_then_newest`). On SQLite, a rule that reads a
/// set of customers (`IN (SELECT ...)`) builds it before testing the first customer, so the
/// members are worked out once in a materialized CTE, then counted and their highest ids
/// kept. A rule without sets costs the same for each customer tested: there the count,
/// then the newest members walking the customers backwards, which stops at `limit` and
/// costs no more than the count, where the CTE would write every member to a temporary
/// table (about 230 ms for 600,000 members; BENCHMARKS.md, Segments).
pub fn count_and_newest(
    conn: &mut DbConn,
    rule: &Rule,
    now: NaiveDateTime,
    limit: i64,
) -> QueryResult<(i64, Vec<i64>)> {
    prepare(conn, rule)?;
    if conn.backend() == Backend::Postgres {
        return count_then_newest(conn, rule, now, limit);
    }
    let mut members = Sql::new(conn.backend());
    members_from(&mut members, rule, now);
    if !members.text.contains("IN (SELECT ") {
        return count_then_newest(conn, rule, now, limit);
    }
    let mut sql = Sql::new(conn.backend());
    sql.push("WITH members AS MATERIALIZED (SELECT c.id AS id");
    members_from(&mut sql, rule, now);
    sql.push(
        ") SELECT m.id AS id, CAST((SELECT COUNT(*) FROM members) AS BIGINT) AS n FROM members m \
         ORDER BY m.id DESC LIMIT ",
    )
    .bind(SqlValue::Int(limit));
    let rows: Vec<IdAndCount> = sql.query().load(conn)?;
    // No row: no member.
    let count = rows.first().map_or(0, |row| row.n);
    Ok((count, rows.into_iter().map(|row| row.id).collect()))
}

#[derive(QueryableByName)]
struct IdAndCount {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The count then the newest members, on one snapshot. On PostgreSQL the count runs with
/// parallel workers, and the newest members walk the primary key backwards and stop at
/// `limit`; the materialized CTE allows neither (measured in BENCHMARKS.md, Segments).
fn count_then_newest(conn: &mut DbConn, rule: &Rule, now: NaiveDateTime, limit: i64) -> QueryResult<(i64, Vec<i64>)> {
    // A SQLite read transaction (`BEGIN`, deferred) already reads one snapshot.
    let set_snapshot = !conn.in_transaction() && conn.backend() == Backend::Postgres;
    conn.transaction(|conn| {
        if set_snapshot {
            diesel::sql_query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(conn)?;
        }
        let count = count_prepared(conn, rule, now)?;
        let newest = if count == 0 { Vec::new() } else { member_ids_prepared(conn, rule, now, None, limit)? };
        Ok((count, newest))
    })
}

/// Member ids, newest first, keyset on id.
pub fn member_ids(
    conn: &mut DbConn,
    rule: &Rule,
    now: NaiveDateTime,
    before_id: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<i64>> {
    prepare(conn, rule)?;
    member_ids_prepared(conn, rule, now, before_id, limit)
}

fn member_ids_prepared(
    conn: &mut DbConn,
    rule: &Rule,
    now: NaiveDateTime,
    before_id: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<i64>> {
    let mut sql = Sql::new(conn.backend());
    sql.push("SELECT c.id AS id");
    members_from(&mut sql, rule, now);
    if let Some(before_id) = before_id {
        sql.push(" AND c.id < ").bind(SqlValue::Int(before_id));
    }
    sql.push(" ORDER BY c.id DESC LIMIT ").bind(SqlValue::Int(limit));
    let rows: Vec<Id> = sql.query().load(conn)?;
    Ok(rows.into_iter().map(|row| row.id).collect())
}

/// Which of `ids` the rule selects.
pub fn members_among(conn: &mut DbConn, rule: &Rule, ids: &[i64], now: NaiveDateTime) -> QueryResult<Vec<i64>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    prepare(conn, rule)?;
    let mut sql = Sql::new(conn.backend());
    sql.push("SELECT c.id AS id");
    members_from(&mut sql, rule, now);
    sql.push(" AND c.id IN ").bind_list(ids.iter().map(|id| SqlValue::Int(*id)));
    let rows: Vec<Id> = sql.query().load(conn)?;
    Ok(rows.into_iter().map(|row| row.id).collect())
}

/// A customer of the audience with what the launch needs to decide about them.
#[derive(Debug, QueryableByName)]
pub struct AudienceRow {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub email: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub phone: Option<String>,
    /// The current consent's source when the channel is `subscribed`, else NULL.
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub consent_source: Option<String>,
    #[diesel(sql_type = BigInt)]
    pub reachable: i64,
    #[diesel(sql_type = BigInt)]
    pub in_excluded_campaign: i64,
    /// Campaigns that contacted the customer within the frequency cap's window.
    #[diesel(sql_type = BigInt)]
    pub recent_contacts: i64,
}

/// Everyone the rule selects, with their consent for `channel`, whether the channel can
/// reach them, whether an excluded campaign contacted them, and their recent contacts.
pub fn audience(
    conn: &mut DbConn,
    rule: &Rule,
    channel: &str,
    excluded_campaigns: &[i64],
    contacts_since: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<Vec<AudienceRow>> {
    prepare(conn, rule)?;
    let mut sql = Sql::new(conn.backend());
    let reachable = match channel {
        "email" => "c.email IS NOT NULL",
        "sms" | "phone" => "c.phone IS NOT NULL",
        _ => "c.address_line1 IS NOT NULL AND c.city IS NOT NULL",
    };
    sql.push("SELECT c.id AS id, c.email AS email, c.phone AS phone, ");
    sql.push("(SELECT cc.source FROM customer_consents cc WHERE cc.customer_id = c.id AND cc.channel = ")
        .bind(SqlValue::Text(channel.to_string()))
        .push(" AND cc.state = 'subscribed') AS consent_source, ");
    sql.push("CAST(CASE WHEN ").push(reachable).push(" THEN 1 ELSE 0 END AS BIGINT) AS reachable, ");
    if excluded_campaigns.is_empty() {
        sql.push("CAST(0 AS BIGINT) AS in_excluded_campaign, ");
    } else {
        sql.push("CAST(CASE WHEN EXISTS (SELECT 1 FROM campaign_contacts x WHERE x.customer_id = c.id AND x.holdout = FALSE AND x.campaign_id IN ");
        sql.bind_list(excluded_campaigns.iter().map(|id| SqlValue::Int(*id)));
        sql.push(") THEN 1 ELSE 0 END AS BIGINT) AS in_excluded_campaign, ");
    }
    // The frequency cap counts campaign contacts and flow messages alike.
    sql.push("((SELECT COUNT(*) FROM campaign_contacts f WHERE f.customer_id = c.id AND f.holdout = FALSE AND f.created_at >= ")
        .bind(SqlValue::Time(contacts_since))
        .push(") + (SELECT COUNT(*) FROM flow_contacts g WHERE g.customer_id = c.id AND g.outcome IN ('messaged', 'listed') AND g.created_at >= ")
        .bind(SqlValue::Time(contacts_since))
        .push(")) AS recent_contacts");
    members_from(&mut sql, rule, now);
    sql.push(" ORDER BY c.id");
    sql.query().load(conn)
}

pub fn insert(conn: &mut DbConn, segment: NewSegment) -> QueryResult<SegmentRow> {
    diesel::insert_into(segments::table).values(segment).returning(segments::all_columns).get_result(conn)
}

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<SegmentRow>> {
    segments::table.find(id).select(SegmentRow::as_select()).get_result(conn).optional()
}

pub fn update(conn: &mut DbConn, id: i64, changes: SegmentChanges) -> QueryResult<SegmentRow> {
    diesel::update(segments::table.find(id)).set(changes).returning(segments::all_columns).get_result(conn)
}

/// Deletes a segment; launched campaigns keep the rules they were built from.
pub fn delete(conn: &mut DbConn, id: i64) -> QueryResult<()> {
    diesel::update(campaigns::table.filter(campaigns::segment_id.eq(id)))
        .set(campaigns::segment_id.eq(None::<i64>))
        .execute(conn)?;
    diesel::delete(segments::table.find(id)).execute(conn).map(drop)
}

/// Draft campaigns that use the segment.
pub fn draft_campaigns_using(conn: &mut DbConn, id: i64) -> QueryResult<Vec<i64>> {
    campaigns::table
        .filter(campaigns::segment_id.eq(id))
        .filter(campaigns::status.eq("draft"))
        .select(campaigns::id)
        .load(conn)
}

pub fn list(conn: &mut DbConn, before_id: Option<i64>, limit: i64) -> QueryResult<Vec<SegmentRow>> {
    let mut query = segments::table.select(SegmentRow::as_select()).into_boxed();
    if let Some(before_id) = before_id {
        query = query.filter(segments::id.lt(before_id));
    }
    query.order(segments::id.desc()).limit(limit).load(conn)
}

#[cfg(test)]
mod tests;
