//! Form definitions, their personal links and submissions, and the attribute history.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{attribute_history, form_definitions, form_links, form_submissions, promo_codes};
use crate::db::DbConn;
use crate::models::form_definitions::{
    AttributeHistoryRow, FormCounts, FormDefinitionColumns, FormDefinitionRow, FormLinkRow, FormSubmissionRow,
    NewAttributeHistory, NewFormDefinition, NewFormSubmission,
};
use crate::repositories::sql::insert_in_chunks;

pub fn insert(conn: &mut DbConn, definition: NewFormDefinition) -> QueryResult<FormDefinitionRow> {
    diesel::insert_into(form_definitions::table)
        .values(definition)
        .returning(form_definitions::all_columns)
        .get_result(conn)
}

pub fn update(conn: &mut DbConn, id: i64, columns: FormDefinitionColumns) -> QueryResult<FormDefinitionRow> {
    diesel::update(form_definitions::table.find(id))
        .set(columns)
        .returning(form_definitions::all_columns)
        .get_result(conn)
}

pub fn delete(conn: &mut DbConn, id: i64) -> QueryResult<()> {
    diesel::delete(form_links::table.filter(form_links::form_id.eq(id))).execute(conn)?;
    diesel::delete(form_submissions::table.filter(form_submissions::form_id.eq(id))).execute(conn)?;
    diesel::delete(form_definitions::table.find(id)).execute(conn).map(drop)
}

pub fn find_by_key(conn: &mut DbConn, key: &str) -> QueryResult<Option<FormDefinitionRow>> {
    form_definitions::table
        .filter(form_definitions::form_key.eq(key))
        .select(FormDefinitionRow::as_select())
        .first(conn)
        .optional()
}

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<FormDefinitionRow>> {
    form_definitions::table.find(id).select(FormDefinitionRow::as_select()).first(conn).optional()
}

/// Newest first, keyset on id.
pub fn list(conn: &mut DbConn, before_id: Option<i64>, limit: i64) -> QueryResult<Vec<FormDefinitionRow>> {
    let mut query = form_definitions::table.select(FormDefinitionRow::as_select()).into_boxed();
    if let Some(before_id) = before_id {
        query = query.filter(form_definitions::id.lt(before_id));
    }
    query.order(form_definitions::id.desc()).limit(limit).load(conn)
}

pub fn insert_link(conn: &mut DbConn, link: FormLinkRow) -> QueryResult<()> {
    diesel::insert_into(form_links::table).values(link).execute(conn).map(drop)
}

/// Inserts a link unless one with its token exists (a message's link, derived from the
/// message's own token, is the same however often the message is rendered).
pub fn ensure_link(conn: &mut DbConn, link: FormLinkRow) -> QueryResult<()> {
    crate::db_run!(conn => {
        diesel::insert_into(form_links::table).values(&link).on_conflict_do_nothing().execute(conn)?;
    });
    Ok(())
}

/// The ids of forms by key, for the keys that exist.
pub fn ids_by_keys(conn: &mut DbConn, keys: &[String]) -> QueryResult<Vec<(String, i64)>> {
    form_definitions::table
        .filter(form_definitions::form_key.eq_any(keys))
        .select((form_definitions::form_key, form_definitions::id))
        .load(conn)
}

pub fn find_link(conn: &mut DbConn, token_hash: &str) -> QueryResult<Option<FormLinkRow>> {
    form_links::table.find(token_hash).select(FormLinkRow::as_select()).first(conn).optional()
}

/// Records the first opening of a link.
pub fn mark_link_opened(conn: &mut DbConn, token_hash: &str, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(form_links::table.find(token_hash).filter(form_links::opened_at.is_null()))
        .set(form_links::opened_at.eq(Some(now)))
        .execute(conn)
        .map(drop)
}

/// Marks a link used if it is unused and unexpired; false otherwise. One UPDATE, so two
/// concurrent submissions through one link count once.
pub fn use_link(conn: &mut DbConn, token_hash: &str, now: NaiveDateTime) -> QueryResult<bool> {
    let used = diesel::update(
        form_links::table
            .filter(form_links::token_hash.eq(token_hash))
            .filter(form_links::used_at.is_null())
            .filter(form_links::expires_at.gt(now)),
    )
    .set(form_links::used_at.eq(Some(now)))
    .execute(conn)?;
    if used == 1 {
        // Answering through a link opened it, even if the page was never fetched.
        mark_link_opened(conn, token_hash, now)?;
    }
    Ok(used == 1)
}

pub fn insert_submission(conn: &mut DbConn, submission: NewFormSubmission) -> QueryResult<FormSubmissionRow> {
    diesel::insert_into(form_submissions::table)
        .values(submission)
        .returning(form_submissions::all_columns)
        .get_result(conn)
}

/// Records the reward of a submission (the caller checked `has_reward` under the
/// customer's row lock).
pub fn set_reward(
    conn: &mut DbConn,
    submission_id: i64,
    reward_type: &str,
    promo_code_id: Option<i64>,
    status: &str,
) -> QueryResult<()> {
    diesel::update(form_submissions::table.find(submission_id))
        .set((
            form_submissions::reward_type.eq(Some(reward_type)),
            form_submissions::reward_promo_code_id.eq(promo_code_id),
            form_submissions::reward_status.eq(Some(status)),
        ))
        .execute(conn)
        .map(drop)
}

pub fn has_reward(conn: &mut DbConn, form_id: i64, customer_id: i64) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        form_submissions::table
            .filter(form_submissions::form_id.eq(form_id))
            .filter(form_submissions::customer_id.eq(customer_id))
            .filter(form_submissions::reward_type.is_not_null()),
    ))
    .get_result(conn)
}

/// A form's submissions, newest first, keyset on id.
pub fn submissions(
    conn: &mut DbConn,
    form_id: i64,
    before_id: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<FormSubmissionRow>> {
    let mut query = form_submissions::table
        .filter(form_submissions::form_id.eq(form_id))
        .select(FormSubmissionRow::as_select())
        .into_boxed();
    if let Some(before_id) = before_id {
        query = query.filter(form_submissions::id.lt(before_id));
    }
    query.order(form_submissions::id.desc()).limit(limit).load(conn)
}

/// The answers of a form's accepted submissions, for the report's distributions.
pub fn accepted_answers(conn: &mut DbConn, form_id: i64) -> QueryResult<Vec<String>> {
    form_submissions::table
        .filter(form_submissions::form_id.eq(form_id))
        .filter(form_submissions::status.eq("accepted"))
        .select(form_submissions::answers)
        .load(conn)
}

pub fn counts(conn: &mut DbConn, form_id: i64) -> QueryResult<FormCounts> {
    use diesel::dsl::count_star;
    let links = form_links::table.filter(form_links::form_id.eq(form_id));
    let links_sent = links.select(count_star()).get_result(conn)?;
    let links_opened = links.filter(form_links::opened_at.is_not_null()).select(count_star()).get_result(conn)?;
    let submissions = form_submissions::table.filter(form_submissions::form_id.eq(form_id));
    let completed =
        submissions.filter(form_submissions::status.eq("accepted")).select(count_star()).get_result(conn)?;
    let completed_via_link = submissions
        .filter(form_submissions::status.eq("accepted"))
        .filter(form_submissions::via_link.eq(true))
        .select(count_star())
        .get_result(conn)?;
    let spam = submissions.filter(form_submissions::status.eq("spam")).select(count_star()).get_result(conn)?;
    let rewards_issued =
        submissions.filter(form_submissions::reward_type.is_not_null()).select(count_star()).get_result(conn)?;
    let rewards_redeemed = submissions
        .inner_join(promo_codes::table.on(promo_codes::id.nullable().eq(form_submissions::reward_promo_code_id)))
        .filter(promo_codes::redemptions.gt(0))
        .select(count_star())
        .get_result(conn)?;
    Ok(FormCounts { links_sent, links_opened, completed, completed_via_link, spam, rewards_issued, rewards_redeemed })
}

pub fn insert_history(conn: &mut DbConn, rows: &[NewAttributeHistory]) -> QueryResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    insert_in_chunks!(conn, attribute_history::table, rows)
}

/// For each of `fields`, the latest `observed_at` of a value that was applied.
pub fn latest_applied(
    conn: &mut DbConn,
    customer_id: i64,
    fields: &[String],
) -> QueryResult<Vec<(String, Option<NaiveDateTime>)>> {
    attribute_history::table
        .filter(attribute_history::customer_id.eq(customer_id))
        .filter(attribute_history::field.eq_any(fields))
        .filter(attribute_history::applied.eq(true))
        .group_by(attribute_history::field)
        .select((attribute_history::field, diesel::dsl::max(attribute_history::observed_at)))
        .load(conn)
}

/// A customer's history, newest first, keyset on id.
pub fn history(
    conn: &mut DbConn,
    customer_id: i64,
    field: Option<&str>,
    before_id: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<AttributeHistoryRow>> {
    let mut query = attribute_history::table
        .filter(attribute_history::customer_id.eq(customer_id))
        .select(AttributeHistoryRow::as_select())
        .into_boxed();
    if let Some(field) = field {
        query = query.filter(attribute_history::field.eq(field.to_string()));
    }
    if let Some(before_id) = before_id {
        query = query.filter(attribute_history::id.lt(before_id));
    }
    query.order(attribute_history::id.desc()).limit(limit).load(conn)
}

pub fn all_history(conn: &mut DbConn, customer_id: i64) -> QueryResult<Vec<AttributeHistoryRow>> {
    attribute_history::table
        .filter(attribute_history::customer_id.eq(customer_id))
        .select(AttributeHistoryRow::as_select())
        .order(attribute_history::id)
        .load(conn)
}

pub fn customer_submissions(conn: &mut DbConn, customer_id: i64) -> QueryResult<Vec<FormSubmissionRow>> {
    form_submissions::table
        .filter(form_submissions::customer_id.eq(customer_id))
        .select(FormSubmissionRow::as_select())
        .order(form_submissions::id)
        .load(conn)
}

/// Erasure: the history and links go; submissions stay counted but lose their answers
/// and the client's address.
pub fn erase_customer(conn: &mut DbConn, customer_id: i64) -> QueryResult<()> {
    diesel::delete(attribute_history::table.filter(attribute_history::customer_id.eq(customer_id))).execute(conn)?;
    diesel::delete(form_links::table.filter(form_links::customer_id.eq(customer_id))).execute(conn)?;
    diesel::update(form_submissions::table.filter(form_submissions::customer_id.eq(customer_id)))
        .set((
            form_submissions::answers.eq("{}"),
            form_submissions::ip.eq(None::<String>),
            form_submissions::user_agent.eq(None::<String>),
        ))
        .execute(conn)
        .map(drop)
}

/// Merge: the duplicate's history, links and submissions move to the survivor.
pub fn move_customer(conn: &mut DbConn, from: i64, to: i64) -> QueryResult<()> {
    diesel::update(attribute_history::table.filter(attribute_history::customer_id.eq(from)))
        .set(attribute_history::customer_id.eq(to))
        .execute(conn)?;
    diesel::update(form_links::table.filter(form_links::customer_id.eq(from)))
        .set(form_links::customer_id.eq(to))
        .execute(conn)?;
    diesel::update(form_submissions::table.filter(form_submissions::customer_id.eq(from)))
        .set(form_submissions::customer_id.eq(to))
        .execute(conn)
        .map(drop)
}
