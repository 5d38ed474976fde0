use std::collections::{BTreeSet, HashMap};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::sql::{Sql, SqlValue};
use crate::db::schema::{
    company_details, customer_consents, customer_merges, customer_rfm, customer_search_terms, customer_tags, customers,
};
use crate::db::{Backend, DbConn, Json};
use crate::db_run;
use crate::domain::customer::CustomerFilter;
use crate::domain::customer::CustomerProfile;
use crate::domain::{ConsentState, Email, Tag};
use crate::models::consents::CurrentConsentRow;
use crate::models::customers::{
    CompanyDetailsRow, CompanyPurchaseRow, CompanyTotals, CustomerColumns, CustomerRecord, CustomerRfmRow, CustomerRow,
    DuplicatePairRow, NewCustomer, NewCustomerMerge,
};
use crate::models::orders::CustomerStatsRow;

pub fn insert(conn: &mut DbConn, profile: &CustomerProfile, now: NaiveDateTime) -> QueryResult<CustomerRecord> {
    let row: CustomerRow = diesel::insert_into(customers::table)
        .values(NewCustomer { columns: CustomerColumns::from_profile(profile, now), created_at: now })
        .returning(customers::all_columns)
        .get_result(conn)?;
    write_tags_and_terms(conn, row.id, profile)?;
    write_company_details(conn, row.id, profile)?;
    Ok(record(row, profile, Vec::new(), Vec::new()))
}

/// Rewrites a customer's company fields: the row when it is a company with any, none else.
fn write_company_details(conn: &mut DbConn, id: i64, profile: &CustomerProfile) -> QueryResult<()> {
    diesel::delete(company_details::table.find(id)).execute(conn)?;
    if let Some(details) = CompanyDetailsRow::from_profile(id, profile) {
        diesel::insert_into(company_details::table).values(details).execute(conn)?;
    }
    Ok(())
}

/// Company fields of some customers (companies that have any).
fn company_details_for(conn: &mut DbConn, ids: &[i64]) -> QueryResult<HashMap<i64, CompanyDetailsRow>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<CompanyDetailsRow> = company_details::table
        .filter(company_details::customer_id.eq_any(ids))
        .select(CompanyDetailsRow::as_select())
        .load(conn)?;
    Ok(rows.into_iter().map(|r| (r.customer_id, r)).collect())
}

/// Whether `id` is a live company.
pub fn is_company(conn: &mut DbConn, id: i64) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        customers::table
            .find(id)
            .filter(customers::erased_at.is_null())
            .filter(customers::kind.eq(crate::domain::CustomerKind::Company.as_str())),
    ))
    .get_result(conn)
}

/// Whether any customer (erased or not) belongs to company `id`.
pub fn has_people(conn: &mut DbConn, id: i64) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(customers::table.filter(customers::company_id.eq(id)))).get_result(conn)
}

/// A company's live people, by ascending id after `after_id` (keyset on the
/// (company_id, id) index).
pub fn people(conn: &mut DbConn, company_id: i64, after_id: i64, limit: i64) -> QueryResult<Vec<CustomerRecord>> {
    let rows = customers::table
        .filter(customers::company_id.eq(company_id))
        .filter(customers::id.gt(after_id))
        .filter(customers::erased_at.is_null())
        .order(customers::id)
        .limit(limit)
        .select(CustomerRow::as_select())
        .load(conn)?;
    with_details(conn, rows)
}

/// A merged company's people now belong to the survivor (roles kept).
pub fn move_people(conn: &mut DbConn, from: i64, to: i64, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(customers::table.filter(customers::company_id.eq(from)))
        .set((customers::company_id.eq(to), customers::updated_at.eq(now)))
        .execute(conn)
}

/// An erased company's people no longer belong to it (and lose the role held there).
pub fn unlink_people(conn: &mut DbConn, company_id: i64, now: NaiveDateTime) -> QueryResult<Vec<i64>> {
    let ids: Vec<i64> =
        customers::table.filter(customers::company_id.eq(company_id)).select(customers::id).load(conn)?;
    diesel::update(customers::table.filter(customers::company_id.eq(company_id)))
        .set((
            customers::company_id.eq(None::<i64>),
            customers::company_role.eq(None::<String>),
            customers::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(ids)
}

/// A company's roll-up: its own stored purchase statistics and its people's, per currency,
/// in one aggregate over `customer_order_stats` (primary key (customer_id, currency)) for
/// the company and the people found through the company_id index; and its live people.
pub fn company_totals(conn: &mut DbConn, company_id: i64) -> QueryResult<CompanyTotals> {
    let mut sql = Sql::new(conn.backend());
    // One IN list (the company itself and its people, found by the company_id index)
    // rather than `= company OR IN (people)`, which keeps PostgreSQL off the statistics' key.
    sql.push(
        "SELECT s.currency, CAST(SUM(s.orders_count) AS BIGINT) AS orders_count, \
         CAST(SUM(s.total_spent) AS BIGINT) AS total_spent, \
         MIN(s.first_order_at) AS first_order_at, MAX(s.last_order_at) AS last_order_at, \
         CAST(COUNT(*) AS BIGINT) AS buyers \
         FROM customer_order_stats s \
         WHERE s.customer_id IN (SELECT p.id FROM customers p WHERE p.company_id = ",
    )
    .bind(SqlValue::Int(company_id))
    .push(" UNION ALL SELECT ")
    .bind(SqlValue::Int(company_id))
    .push(") GROUP BY s.currency ORDER BY s.currency");
    let purchases: Vec<CompanyPurchaseRow> = sql.query().load(conn)?;
    let people_count: i64 = customers::table
        .filter(customers::company_id.eq(company_id))
        .filter(customers::erased_at.is_null())
        .count()
        .get_result(conn)?;
    Ok(CompanyTotals { people_count, purchases })
}

pub fn update(
    conn: &mut DbConn,
    id: i64,
    profile: &CustomerProfile,
    now: NaiveDateTime,
) -> QueryResult<CustomerRecord> {
    let record = write_profile(conn, id, profile, now)?;
    let consents = super::consents::current_for(conn, &[id])?.remove(&id).unwrap_or_default();
    let stats = super::orders::stats_for(conn, &[id])?.remove(&id).unwrap_or_default();
    let rfm = rfm_for(conn, &[id])?.remove(&id);
    let predictions = super::predictions::for_customers(conn, &[id])?.remove(&id);
    Ok(CustomerRecord { consents, stats, rfm, predictions, ..record })
}

/// Rewrites a customer's profile (row, tags, search terms) and returns a profile record:
/// row and tags, with empty `consents` and `stats` and no `rfm` (see
/// `find_profile_by_email_for_update`).
pub fn write_profile(
    conn: &mut DbConn,
    id: i64,
    profile: &CustomerProfile,
    now: NaiveDateTime,
) -> QueryResult<CustomerRecord> {
    let row: CustomerRow = diesel::update(customers::table.find(id))
        .set(CustomerColumns::from_profile(profile, now))
        .returning(customers::all_columns)
        .get_result(conn)?;
    diesel::delete(customer_tags::table.filter(customer_tags::customer_id.eq(id))).execute(conn)?;
    diesel::delete(customer_search_terms::table.filter(customer_search_terms::customer_id.eq(id))).execute(conn)?;
    write_tags_and_terms(conn, id, profile)?;
    write_company_details(conn, id, profile)?;
    Ok(record(row, profile, Vec::new(), Vec::new()))
}

fn record(
    row: CustomerRow,
    profile: &CustomerProfile,
    consents: Vec<CurrentConsentRow>,
    stats: Vec<CustomerStatsRow>,
) -> CustomerRecord {
    let tags = profile.details.tags.iter().map(|t| t.as_str().to_string()).collect();
    let company = CompanyDetailsRow::from_profile(row.id, profile);
    CustomerRecord { row, tags, consents, stats, company, rfm: None, predictions: None, company_totals: None }
}

/// Stored RFM scores of some customers.
fn rfm_for(conn: &mut DbConn, ids: &[i64]) -> QueryResult<HashMap<i64, CustomerRfmRow>> {
    let rows: Vec<CustomerRfmRow> = customer_rfm::table
        .filter(customer_rfm::customer_id.eq_any(ids))
        .select(CustomerRfmRow::as_select())
        .load(conn)?;
    Ok(rows.into_iter().map(|r| (r.customer_id, r)).collect())
}

/// Inserts many customer rows and returns their ids in the same order. On PostgreSQL one
/// multi-row INSERT (its RETURNING rows follow the VALUES order); SQLite runs in-process,
/// where a statement per row costs little.
pub fn insert_rows(conn: &mut DbConn, profiles: &[&CustomerProfile], now: NaiveDateTime) -> QueryResult<Vec<i64>> {
    let rows: Vec<NewCustomer> = profiles
        .iter()
        .map(|profile| NewCustomer { columns: CustomerColumns::from_profile(profile, now), created_at: now })
        .collect();
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    if let DbConn::Pg(pg) = conn {
        return diesel::insert_into(customers::table).values(&rows).returning(customers::id).get_results(pg);
    }
    rows.into_iter()
        .map(|row| diesel::insert_into(customers::table).values(row).returning(customers::id).get_result(conn))
        .collect()
}

/// Tags and search terms of many new customers, in two statements.
pub fn insert_tags_and_terms_bulk(conn: &mut DbConn, customers: &[(i64, &CustomerProfile)]) -> QueryResult<()> {
    let tags: Vec<_> = customers
        .iter()
        .flat_map(|(id, profile)| {
            profile
                .details
                .tags
                .iter()
                .map(move |tag| (customer_tags::customer_id.eq(*id), customer_tags::tag.eq(tag.as_str())))
        })
        .collect();
    let terms: Vec<_> = customers
        .iter()
        .flat_map(|(id, profile)| {
            profile
                .search_terms()
                .into_iter()
                .map(move |term| (customer_search_terms::term.eq(term), customer_search_terms::customer_id.eq(*id)))
        })
        .collect();
    db_run!(conn => {
        if !tags.is_empty() {
            diesel::insert_into(customer_tags::table).values(&tags).execute(conn)?;
        }
        if !terms.is_empty() {
            diesel::insert_into(customer_search_terms::table).values(&terms).execute(conn)?;
        }
    });
    for (id, profile) in customers {
        if let Some(details) = CompanyDetailsRow::from_profile(*id, profile) {
            diesel::insert_into(company_details::table).values(details).execute(conn)?;
        }
    }
    Ok(())
}

/// The customers among `emails` that exist: email -> id, in one query.
pub fn ids_by_emails(conn: &mut DbConn, emails: &[String]) -> QueryResult<HashMap<String, i64>> {
    let rows: Vec<(i64, Option<String>)> = customers::table
        .filter(customers::email.eq_any(emails))
        .select((customers::id, customers::email))
        .load(conn)?;
    Ok(rows.into_iter().filter_map(|(id, email)| email.map(|e| (e, id))).collect())
}

fn write_tags_and_terms(conn: &mut DbConn, id: i64, profile: &CustomerProfile) -> QueryResult<()> {
    let tags: Vec<_> = profile
        .details
        .tags
        .iter()
        .map(|tag| (customer_tags::customer_id.eq(id), customer_tags::tag.eq(tag.as_str())))
        .collect();
    let terms: Vec<_> = profile
        .search_terms()
        .into_iter()
        .map(|term| (customer_search_terms::term.eq(term), customer_search_terms::customer_id.eq(id)))
        .collect();
    db_run!(conn => {
        if !tags.is_empty() {
            diesel::insert_into(customer_tags::table).values(&tags).execute(conn)?;
        }
        if !terms.is_empty() {
            diesel::insert_into(customer_search_terms::table).values(&terms).execute(conn)?;
        }
    });
    Ok(())
}

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<CustomerRecord>> {
    let Some(row) = live_row(conn, id)? else { return Ok(None) };
    Ok(with_details(conn, vec![row])?.pop())
}

/// The customer's row, unless erased.
fn live_row(conn: &mut DbConn, id: i64) -> QueryResult<Option<CustomerRow>> {
    // `get_result`, not `first`: a bound LIMIT makes SQLite re-prepare the statement
    // on every call.
    customers::table
        .find(id)
        .filter(customers::erased_at.is_null())
        .select(CustomerRow::as_select())
        .get_result(conn)
        .optional()
}

/// Like `find`, but also locks the row until the transaction ends, so a
/// read-modify-write cannot lose a concurrent change. SQLite needs no row lock: write
/// transactions there hold the database write lock from their first statement.
pub fn find_for_update(conn: &mut DbConn, id: i64) -> QueryResult<Option<CustomerRecord>> {
    lock(conn, id)?;
    find(conn, id)
}

/// Locks a customer row until the transaction ends (PostgreSQL; see `find_for_update`).
fn lock(conn: &mut DbConn, id: i64) -> QueryResult<()> {
    super::sql::lock_row(conn, "customers", id)
}

#[derive(QueryableByName)]
struct LockedId {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}

/// The id of the customer with this email, locked for update: on PostgreSQL one
/// `SELECT ... FOR UPDATE` by email (which also sees an email changed meanwhile); on
/// SQLite the write transaction holds the database already.
fn lock_by_email(conn: &mut DbConn, email: &Email) -> QueryResult<Option<i64>> {
    if conn.backend() != Backend::Postgres {
        return find_id_by_email(conn, email);
    }
    let mut sql = Sql::new(Backend::Postgres);
    sql.push("SELECT id FROM customers WHERE email = ")
        .bind(SqlValue::Text(email.as_str().to_string()))
        .push(" FOR UPDATE");
    let row: Option<LockedId> = sql.query().get_result(conn).optional()?;
    Ok(row.map(|row| row.id))
}

pub fn find_id_by_email(conn: &mut DbConn, email: &Email) -> QueryResult<Option<i64>> {
    // `get_result`, not `first`: a bound LIMIT makes SQLite re-prepare on every call.
    customers::table.filter(customers::email.eq(email.as_str())).select(customers::id).get_result(conn).optional()
}

/// The customer with this email, locked for update (see `find_for_update`).
pub fn find_by_email_for_update(conn: &mut DbConn, email: &Email) -> QueryResult<Option<CustomerRecord>> {
    match lock_by_email(conn, email)? {
        Some(id) => find(conn, id),
        None => Ok(None),
    }
}

/// The customer with this email, locked for update, as a profile record: its row and
/// tags, without the consents, statistics and RFM scores of a full record (`consents` and
/// `stats` empty, `rfm` none). An upsert reads and rewrites only the profile; a checkout
/// needs nothing more, and skips three reads.
pub fn find_profile_by_email_for_update(conn: &mut DbConn, email: &Email) -> QueryResult<Option<CustomerRecord>> {
    let Some(id) = lock_by_email(conn, email)? else { return Ok(None) };
    let Some(row) = live_row(conn, id)? else { return Ok(None) };
    let tags = tags_for(conn, &[id])?.remove(&id).unwrap_or_default();
    // Only a company has company details.
    let company = if row.kind == crate::domain::CustomerKind::Company.as_str() {
        company_details_for(conn, &[id])?.remove(&id)
    } else {
        None
    };
    Ok(Some(CustomerRecord {
        row,
        tags,
        consents: Vec::new(),
        stats: Vec::new(),
        company,
        rfm: None,
        predictions: None,
        company_totals: None,
    }))
}

/// Loads many customers by id with their tags, in two queries (no per-row query).
pub fn find_many(conn: &mut DbConn, ids: &[i64]) -> QueryResult<HashMap<i64, CustomerRecord>> {
    let rows = customers::table
        .filter(customers::id.eq_any(ids))
        .filter(customers::erased_at.is_null())
        .select(CustomerRow::as_select())
        .load(conn)?;
    Ok(with_details(conn, rows)?.into_iter().map(|r| (r.row.id, r)).collect())
}

/// Tags of some customers, in order.
fn tags_for(conn: &mut DbConn, ids: &[i64]) -> QueryResult<HashMap<i64, Vec<String>>> {
    let mut tags_by_customer: HashMap<i64, Vec<String>> = HashMap::new();
    if !ids.is_empty() {
        let pairs: Vec<(i64, String)> = customer_tags::table
            .filter(customer_tags::customer_id.eq_any(ids))
            .order((customer_tags::customer_id, customer_tags::tag))
            .load(conn)?;
        for (id, tag) in pairs {
            tags_by_customer.entry(id).or_default().push(tag);
        }
    }
    Ok(tags_by_customer)
}

/// Attaches tags and current consents to rows: one query each, whatever the row count.
fn with_details(conn: &mut DbConn, rows: Vec<CustomerRow>) -> QueryResult<Vec<CustomerRecord>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut tags_by_customer = tags_for(conn, &ids)?;
    let mut consents_by_customer = super::consents::current_for(conn, &ids)?;
    let mut stats_by_customer = super::orders::stats_for(conn, &ids)?;
    let mut rfm_by_customer = rfm_for(conn, &ids)?;
    let mut predictions_by_customer = super::predictions::for_customers(conn, &ids)?;
    let mut company_by_customer = company_details_for(conn, &ids)?;
    Ok(rows
        .into_iter()
        .map(|row| CustomerRecord {
            tags: tags_by_customer.remove(&row.id).unwrap_or_default(),
            consents: consents_by_customer.remove(&row.id).unwrap_or_default(),
            stats: stats_by_customer.remove(&row.id).unwrap_or_default(),
            rfm: rfm_by_customer.remove(&row.id),
            predictions: predictions_by_customer.remove(&row.id),
            company_totals: None,
            company: company_by_customer.remove(&row.id),
            row,
        })
        .collect())
}

/// Newest first, keyset on id: `before_id` is the last id of the previous page.
pub fn list(
    conn: &mut DbConn,
    filter: &CustomerFilter,
    before_id: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<CustomerRecord>> {
    let mut query =
        customers::table.filter(customers::erased_at.is_null()).select(CustomerRow::as_select()).into_boxed();
    if let Some(email) = &filter.email {
        query = query.filter(customers::email.eq(email.as_str().to_string()));
    }
    if let Some(prefix) = &filter.search_prefix {
        // Range scan on the search-term index: every term that starts with `prefix`.
        let upper = format!("{prefix}{}", char::MAX);
        query = query.filter(
            customers::id.eq_any(
                customer_search_terms::table
                    .select(customer_search_terms::customer_id)
                    .filter(customer_search_terms::term.ge(prefix.clone()))
                    .filter(customer_search_terms::term.lt(upper)),
            ),
        );
    }
    if let Some(tag) = &filter.tag {
        query = query.filter(
            customers::id.eq_any(
                customer_tags::table
                    .select(customer_tags::customer_id)
                    .filter(customer_tags::tag.eq(tag.as_str().to_string())),
            ),
        );
    }
    if let Some(source) = filter.source {
        query = query.filter(customers::source.eq(source.as_str()));
    }
    if let Some(after) = filter.created_after {
        query = query.filter(customers::created_at.ge(after));
    }
    if let Some(before) = filter.created_before {
        query = query.filter(customers::created_at.lt(before));
    }
    for (channel, state) in &filter.consent {
        let with_state = customer_consents::table
            .select(customer_consents::customer_id)
            .filter(customer_consents::channel.eq(channel.as_str()));
        query = match state {
            // Never asked: no ledger entry for the channel at all. NOT EXISTS, not NOT IN:
            // PostgreSQL turns only the former into an anti-join (0.3 ms against 9 s at 1M).
            ConsentState::NotSet => query.filter(diesel::dsl::not(diesel::dsl::exists(
                customer_consents::table
                    .filter(customer_consents::customer_id.eq(customers::id))
                    .filter(customer_consents::channel.eq(channel.as_str())),
            ))),
            state => query.filter(customers::id.eq_any(with_state.filter(customer_consents::state.eq(state.as_str())))),
        };
    }
    if let Some(before_id) = before_id {
        query = query.filter(customers::id.lt(before_id));
    }
    let rows = query.order(customers::id.desc()).limit(limit).load(conn)?;
    with_details(conn, rows)
}

/// Adds tags (existing ones are kept) and refreshes `updated_at`.
pub fn add_tags(conn: &mut DbConn, id: i64, tags: &BTreeSet<Tag>, now: NaiveDateTime) -> QueryResult<()> {
    let rows: Vec<_> =
        tags.iter().map(|tag| (customer_tags::customer_id.eq(id), customer_tags::tag.eq(tag.as_str()))).collect();
    db_run!(conn => {
        diesel::insert_into(customer_tags::table)
            .values(&rows)
            .on_conflict_do_nothing()
            .execute(conn)?;
    });
    touch(conn, id, now)
}

/// Removes one tag; true when the customer had it.
pub fn remove_tag(conn: &mut DbConn, id: i64, tag: &Tag, now: NaiveDateTime) -> QueryResult<bool> {
    let removed = diesel::delete(
        customer_tags::table.filter(customer_tags::customer_id.eq(id)).filter(customer_tags::tag.eq(tag.as_str())),
    )
    .execute(conn)?;
    if removed > 0 {
        touch(conn, id, now)?;
    }
    Ok(removed > 0)
}

fn touch(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(customers::table.find(id)).set(customers::updated_at.eq(now)).execute(conn).map(drop)
}

/// Locks the customer row first (PostgreSQL) so that writes to a customer's tags take the
/// customer's lock before the tag rows, like every other write to the customer (one lock
/// order, no deadlock), then reads its tags (sorted) in one query with the check that it
/// exists: None when there is no such (live) customer.
pub fn tags_for_update(conn: &mut DbConn, id: i64) -> QueryResult<Option<Vec<String>>> {
    lock(conn, id)?;
    let rows: Vec<Option<String>> = customers::table
        .left_join(customer_tags::table)
        .filter(customers::id.eq(id))
        .filter(customers::erased_at.is_null())
        .select(customer_tags::tag.nullable())
        .load(conn)?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut tags: Vec<String> = rows.into_iter().flatten().collect();
    tags.sort();
    Ok(Some(tags))
}

pub fn exists(conn: &mut DbConn, id: i64) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(customers::table.find(id).filter(customers::erased_at.is_null())))
        .get_result(conn)
}

pub fn delete(conn: &mut DbConn, id: i64) -> QueryResult<()> {
    // Tags and search terms go with it (ON DELETE CASCADE).
    diesel::delete(customers::table.find(id)).execute(conn).map(drop)
}

/// Earlier merges into `from` now belong to `to`'s history.
pub fn move_merges(conn: &mut DbConn, from: i64, to: i64) -> QueryResult<()> {
    diesel::update(customer_merges::table.filter(customer_merges::survivor_id.eq(from)))
        .set(customer_merges::survivor_id.eq(to))
        .execute(conn)
        .map(drop)
}

pub fn record_merge(conn: &mut DbConn, merge: NewCustomerMerge) -> QueryResult<()> {
    diesel::insert_into(customer_merges::table).values(merge).execute(conn).map(drop)
}

/// Likely duplicates, ordered by (customer_id, duplicate_id) after the given pair.
/// Each reason is an indexed self-join restricted to keys that occur more than once; a
/// pair found for several reasons is one row. Finding the repeated keys reads each key
/// index once per page (about 1.3 s at 1M customers on PostgreSQL): a report, not a hot path.
pub fn duplicate_pairs(conn: &mut DbConn, after: (i64, i64), limit: i64) -> QueryResult<Vec<DuplicatePairRow>> {
    let mut sql = Sql::new(conn.backend());
    sql.push(
        "SELECT customer_id, duplicate_id, \
                MAX(same_phone) AS same_phone, MAX(same_name) AS same_name, MAX(same_company) AS same_company \
         FROM ( \
           SELECT a.id AS customer_id, b.id AS duplicate_id, 1 AS same_phone, 0 AS same_name, 0 AS same_company \
             FROM customers a JOIN customers b ON b.phone = a.phone AND b.id > a.id \
             WHERE a.phone IN (SELECT phone FROM customers WHERE phone IS NOT NULL GROUP BY phone HAVING COUNT(*) > 1) \
           UNION ALL \
           SELECT a.id, b.id, 0, 1, 0 \
             FROM customers a JOIN customers b ON b.name_key = a.name_key AND b.id > a.id \
             WHERE a.name_key IN (SELECT name_key FROM customers WHERE name_key IS NOT NULL GROUP BY name_key HAVING COUNT(*) > 1) \
           UNION ALL \
           SELECT a.id, b.id, 0, 0, 1 \
             FROM customers a JOIN customers b ON b.company_key = a.company_key AND b.id > a.id \
             WHERE a.company_key IN (SELECT company_key FROM customers WHERE company_key IS NOT NULL GROUP BY company_key HAVING COUNT(*) > 1) \
         ) pairs \
         WHERE customer_id > ",
    )
    .bind(SqlValue::Int(after.0))
    .push(" OR (customer_id = ")
    .bind(SqlValue::Int(after.0))
    .push(" AND duplicate_id > ")
    .bind(SqlValue::Int(after.1))
    .push(") GROUP BY customer_id, duplicate_id ORDER BY customer_id, duplicate_id LIMIT ")
    .bind(SqlValue::Int(limit));
    sql.query().load(conn)
}

/// Customers by ascending id after `after_id`, with details: the export's pages.
pub fn page_after(conn: &mut DbConn, after_id: i64, limit: i64) -> QueryResult<Vec<CustomerRecord>> {
    let rows = customers::table
        .filter(customers::erased_at.is_null())
        .filter(customers::id.gt(after_id))
        .order(customers::id)
        .limit(limit)
        .select(CustomerRow::as_select())
        .load(conn)?;
    with_details(conn, rows)
}

type Attributes = serde_json::Map<String, serde_json::Value>;

/// (id, attributes) by ascending id after `after_id`: to learn the attribute keys.
pub fn attributes_after(conn: &mut DbConn, after_id: i64, limit: i64) -> QueryResult<Vec<(i64, Json<Attributes>)>> {
    customers::table
        .filter(customers::erased_at.is_null())
        .filter(customers::id.gt(after_id))
        .order(customers::id)
        .limit(limit)
        .select((customers::id, customers::attributes))
        .load(conn)
}
