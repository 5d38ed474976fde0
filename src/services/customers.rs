use std::collections::BTreeSet;

use super::{is_unique_violation, now, write_with_one_retry, TxError};
use crate::db::DbConn;
use crate::domain::customer::CustomerFilter;
use crate::domain::customer::{CustomerDraft, CustomerPatch, CustomerProfile};
use crate::domain::{CustomerKind, Email, Tag};
use crate::error::AppError;
use crate::models::customers::{CustomerRecord, DuplicatePairRow, NewCustomerMerge};
use crate::repositories::customers as repo;
use crate::repositories::{
    campaigns as campaign_repo, consents as consent_repo, orders as order_repo, promo_codes as promo_repo,
    referrals as referral_repo,
};
use crate::services::provenance::{self, Provenance};
use crate::services::rollups::RollupChange;
use crate::services::{emit, events};

/// Whether an upsert created the customer or merged into an existing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    Created,
    Updated,
}

fn not_found(id: i64) -> AppError {
    AppError::not_found(format!("customer {id} does not exist"))
}

/// The only unique column a customer write can collide on is the email: name the
/// customer who already has it. Runs after the failed transaction rolled back.
fn email_conflict(conn: &mut DbConn, email: Option<&Email>) -> AppError {
    let existing_id = email.and_then(|email| repo::find_id_by_email(conn, email).ok().flatten());
    AppError::Conflict {
        detail: match (email, existing_id) {
            (Some(email), Some(id)) => format!("a customer with the email {email} already exists (id {id})"),
            _ => "a customer with this email already exists".to_string(),
        },
        existing_id,
    }
}

/// The company links of a profile about to be written: a person's `company_id` names a
/// live company (not the customer itself); a company with people stays a company.
pub(crate) fn check_company_link(
    conn: &mut DbConn,
    id: Option<i64>,
    before: Option<&CustomerProfile>,
    profile: &CustomerProfile,
) -> Result<(), AppError> {
    if let Some(company_id) = profile.details.company_id {
        let unchanged = before.is_some_and(|b| b.details.company_id == Some(company_id));
        if !unchanged && (Some(company_id) == id || !repo::is_company(conn, company_id)?) {
            return Err(AppError::invalid(
                "company_id",
                format!("customer {company_id} is not a company (an existing customer of kind `company`)"),
            ));
        }
    }
    if let (Some(id), Some(before)) = (id, before) {
        if before.kind == CustomerKind::Company && profile.kind != CustomerKind::Company && repo::has_people(conn, id)?
        {
            return Err(AppError::invalid(
                "kind",
                "a company with people cannot become a person; move its people first",
            ));
        }
    }
    Ok(())
}

pub fn create(conn: &mut DbConn, draft: CustomerDraft) -> Result<CustomerRecord, AppError> {
    let profile = CustomerProfile::from_draft(draft).map_err(|e| AppError::Validation(vec![e]))?;
    let now = now();
    let outcome = conn.write_transaction(|conn| -> Result<CustomerRecord, TxError> {
        check_company_link(conn, None, None, &profile)?;
        let record = repo::insert(conn, &profile, now)?;
        emit::customer_created(conn, record.row.id, &profile, record.row.created_at)?;
        Ok(record)
    });
    finish_write(conn, outcome, profile.details.email.as_ref())
}

pub fn get(conn: &mut DbConn, id: i64) -> Result<CustomerRecord, AppError> {
    repo::find(conn, id)?.ok_or_else(|| not_found(id))
}

/// A customer with, for a company, its roll-up over its own orders and its people's.
pub fn get_with_company_totals(conn: &mut DbConn, id: i64) -> Result<CustomerRecord, AppError> {
    let mut record = get(conn, id)?;
    if record.row.kind == CustomerKind::Company.as_str() {
        record.company_totals = Some(repo::company_totals(conn, id)?);
    }
    Ok(record)
}

/// A page of a company's people (ascending id after `after_id`); 404 for a customer that
/// is not a live company.
pub fn people(conn: &mut DbConn, company_id: i64, after_id: i64, limit: i64) -> Result<Vec<CustomerRecord>, AppError> {
    if !repo::is_company(conn, company_id)? {
        return Err(AppError::not_found(format!("customer {company_id} is not a company (or does not exist)")));
    }
    Ok(repo::people(conn, company_id, after_id, limit)?)
}

pub fn patch(conn: &mut DbConn, id: i64, patch: CustomerPatch, actor: &str) -> Result<CustomerRecord, AppError> {
    let mut new_email = None;
    let outcome = conn.write_transaction(|conn| {
        let patch = patch.clone();
        let before = repo::find_for_update(conn, id)?.ok_or_else(|| not_found(id))?.profile();
        let mut profile = before.clone();
        profile.apply_patch(patch).map_err(|e| AppError::Validation(vec![e]))?;
        check_company_link(conn, Some(id), Some(&before), &profile)?;
        new_email = profile.details.email.clone();
        // Sales are kept by the customer's source too: all of its orders move with it.
        let rollups =
            if profile.source != before.source { RollupChange::begin_moving_orders(conn, &[id], &[id])? } else { None };
        let record = repo::update(conn, id, &profile, now()).map_err(TxError::Db)?;
        if let Some(rollups) = rollups {
            rollups.finish(conn, &[])?;
        }
        emit::customer_updated(conn, id, &before, &profile)?;
        provenance::record_changes(conn, id, &before, &profile, &Provenance::api(actor))?;
        Ok(record)
    });
    finish_write(conn, outcome, new_email.as_ref())
}

/// `PUT /v1/customers/by-email/{email}`: create, or fill/replace the existing record.
pub fn upsert_by_email(
    conn: &mut DbConn,
    email: Email,
    mut draft: CustomerDraft,
    actor: &str,
) -> Result<(CustomerRecord, Upserted), AppError> {
    draft.details.email = Some(email.clone());
    let outcome = write_with_one_retry(conn, |conn| {
        let (profile, upserted) = upsert_in_transaction(conn, &email, draft.clone(), &Provenance::api(actor))?;
        let record = repo::find(conn, profile.row.id)?.ok_or_else(|| not_found(profile.row.id))?;
        Ok((record, upserted))
    });
    finish_write(conn, outcome, Some(&email))
}

/// The upsert of `PUT /v1/customers/by-email/{email}` inside the caller's transaction
/// (checkouts use it too): fill or replace with given values, or create. Returns a profile
/// record (row and tags; see `repo::find_profile_by_email_for_update`). Changes of an
/// existing record are recorded with `from` as their provenance.
pub(crate) fn upsert_in_transaction(
    conn: &mut DbConn,
    email: &Email,
    draft: CustomerDraft,
    from: &Provenance,
) -> Result<(CustomerRecord, Upserted), TxError> {
    match repo::find_profile_by_email_for_update(conn, email)? {
        Some(existing) => {
            let before = existing.profile();
            let mut profile = before.clone();
            profile.fill_from(draft);
            profile.check_identity().map_err(|e| AppError::Validation(vec![e]))?;
            profile.check_company_fields().map_err(|e| AppError::Validation(vec![e]))?;
            if profile == before {
                // A returning customer with the same details: nothing to write.
                return Ok((existing, Upserted::Updated));
            }
            check_company_link(conn, Some(existing.row.id), Some(&before), &profile)?;
            let record = repo::write_profile(conn, existing.row.id, &profile, now())?;
            emit::customer_updated(conn, existing.row.id, &before, &profile)?;
            provenance::record_changes(conn, existing.row.id, &before, &profile, from)?;
            Ok((record, Upserted::Updated))
        }
        None => {
            let profile = CustomerProfile::from_draft(draft).map_err(|e| AppError::Validation(vec![e]))?;
            check_company_link(conn, None, None, &profile)?;
            let record = repo::insert(conn, &profile, now())?;
            emit::customer_created(conn, record.row.id, &profile, record.row.created_at)?;
            Ok((record, Upserted::Created))
        }
    }
}

/// For public forms and enquiries, inside the caller's transaction: finds the customer by
/// email and only fills blanks (a public form never overwrites what the shop knows), or
/// creates it. What it fills is recorded with `from` as its provenance.
pub(crate) fn fill_blanks_by_email(
    conn: &mut DbConn,
    email: &Email,
    draft: CustomerDraft,
    from: &Provenance,
) -> Result<CustomerRecord, TxError> {
    let mut draft = draft;
    draft.details.email = Some(email.clone());
    let incoming = CustomerProfile::from_draft(draft).map_err(|e| AppError::Validation(vec![e]))?;
    match repo::find_by_email_for_update(conn, email)? {
        Some(existing) => {
            let mut profile = existing.profile();
            let before = profile.clone();
            profile.absorb(incoming);
            if profile == before {
                return Ok(existing);
            }
            let record = repo::update(conn, existing.row.id, &profile, now())?;
            emit::customer_updated(conn, existing.row.id, &before, &profile)?;
            provenance::record_changes(conn, existing.row.id, &before, &profile, from)?;
            Ok(record)
        }
        None => {
            let record = repo::insert(conn, &incoming, now())?;
            emit::customer_created(conn, record.row.id, &incoming, record.row.created_at)?;
            Ok(record)
        }
    }
}

pub fn list(
    conn: &mut DbConn,
    filter: &CustomerFilter,
    before_id: Option<i64>,
    limit: i64,
) -> Result<Vec<CustomerRecord>, AppError> {
    Ok(repo::list(conn, filter, before_id, limit)?)
}

pub fn add_tags(conn: &mut DbConn, id: i64, tags: BTreeSet<Tag>) -> Result<CustomerRecord, AppError> {
    conn.write_transaction(|conn| {
        let before = repo::tags_for_update(conn, id)?.ok_or_else(|| not_found(id))?;
        repo::add_tags(conn, id, &tags, now())?;
        let mut after: BTreeSet<String> = before.iter().cloned().collect();
        after.extend(tags.iter().map(|t| t.as_str().to_string()));
        tags_updated(conn, id, before, after.into_iter().collect())?;
        get(conn, id)
    })
}

pub fn remove_tag(conn: &mut DbConn, id: i64, tag: Tag) -> Result<(), AppError> {
    conn.write_transaction(|conn| {
        let before = repo::tags_for_update(conn, id)?.ok_or_else(|| not_found(id))?;
        if !repo::remove_tag(conn, id, &tag, now())? {
            return Err(AppError::not_found(format!("customer {id} has no tag `{}`", tag.as_str())));
        }
        let after = before.iter().filter(|t| t.as_str() != tag.as_str()).cloned().collect();
        tags_updated(conn, id, before, after)
    })
}

/// `customer.updated` for a change of tags only (sorted lists), when they did change.
pub(crate) fn tags_updated(
    conn: &mut DbConn,
    id: i64,
    before: Vec<String>,
    after: Vec<String>,
) -> Result<(), AppError> {
    let field = |tags: Vec<String>| serde_json::Map::from_iter([("tags".to_string(), serde_json::json!(tags))]);
    emit::customer_fields_updated(conn, id, &field(before), field(after))?;
    Ok(())
}

/// One page of likely duplicates with both customers loaded (three queries in all).
pub fn duplicates(
    conn: &mut DbConn,
    after: (i64, i64),
    limit: i64,
) -> Result<Vec<(DuplicatePairRow, CustomerRecord, CustomerRecord)>, AppError> {
    let pairs = repo::duplicate_pairs(conn, after, limit)?;
    let ids: Vec<i64> = pairs.iter().flat_map(|p| [p.customer_id, p.duplicate_id]).collect();
    let mut customers = repo::find_many(conn, &ids)?;
    Ok(pairs
        .into_iter()
        .filter_map(|pair| {
            let customer = customers.get(&pair.customer_id)?.clone();
            let duplicate = customers.remove(&pair.duplicate_id)?;
            Some((pair, customer, duplicate))
        })
        .collect())
}

/// Merges `duplicate_id` into `survivor_id` in one transaction: blanks filled, tags
/// unioned, attributes merged, references moved, the merge recorded, the duplicate deleted.
pub fn merge(conn: &mut DbConn, survivor_id: i64, duplicate_id: i64, actor: &str) -> Result<CustomerRecord, AppError> {
    if survivor_id == duplicate_id {
        return Err(AppError::invalid("duplicate_id", "a customer cannot be merged into itself"));
    }
    let mut merged_email = None;
    let outcome = conn.write_transaction(|conn| {
        // Lock in id order so two crossing merges cannot deadlock.
        let (first, second) = (survivor_id.min(duplicate_id), survivor_id.max(duplicate_id));
        let first = repo::find_for_update(conn, first)?;
        let second = repo::find_for_update(conn, second)?;
        let (survivor, duplicate) = if survivor_id < duplicate_id { (first, second) } else { (second, first) };
        let survivor = survivor.ok_or_else(|| not_found(survivor_id))?;
        let duplicate = duplicate
            .ok_or_else(|| AppError::invalid("duplicate_id", format!("customer {duplicate_id} does not exist")))?;
        let before = survivor.profile();
        let consents_before = consent_repo::current_for(conn, &[survivor_id])?.remove(&survivor_id).unwrap_or_default();
        let mut profile = survivor.profile();
        profile.absorb(duplicate.profile());
        merged_email = profile.details.email.clone();
        let now = now();
        let snapshot = serde_json::to_string(&duplicate).map_err(|e| AppError::internal(e.to_string()))?;
        // A company's people follow it into a company; a person cannot take them.
        if repo::has_people(conn, duplicate_id)? {
            if profile.kind != CustomerKind::Company {
                return Err(AppError::invalid(
                    "duplicate_id",
                    format!("customer {duplicate_id} is a company with people; merge it into a company"),
                )
                .into());
            }
            repo::move_people(conn, duplicate_id, survivor_id, now)?;
        }
        if profile.details.company_id == Some(duplicate_id) {
            // A person merged with the company it belonged to: the link cannot point at itself.
            profile.details.company_id = None;
            profile.details.role = None;
        }
        // The duplicate's orders join the survivor's history and take the survivor's source.
        let rollups = RollupChange::begin_moving_orders(conn, &[survivor_id, duplicate_id], &[duplicate_id])?;
        move_references(conn, duplicate_id, survivor_id)?;
        if let Some(rollups) = rollups {
            rollups.finish(conn, &[])?;
        }
        // Delete first: the survivor may take over the duplicate's (unique) email.
        repo::delete(conn, duplicate_id)?;
        let record = repo::update(conn, survivor_id, &profile, now).map_err(TxError::Db)?;
        repo::record_merge(
            conn,
            NewCustomerMerge {
                survivor_id,
                duplicate_id,
                merged_by: actor.to_string(),
                merged_at: now,
                duplicate_snapshot: snapshot,
            },
        )?;
        // The duplicate's events become the survivor's first, so that erasing the
        // survivor scrubs them too.
        events::move_customer(conn, duplicate_id, survivor_id)?;
        emit::customer_merged(conn, survivor_id, duplicate_id)?;
        // What the survivor took from the duplicate (blank fields filled, tags joined).
        emit::customer_updated(conn, survivor_id, &before, &profile)?;
        // And each channel whose current consent the joined ledgers changed.
        let consents_after = consent_repo::current_for(conn, &[survivor_id])?.remove(&survivor_id).unwrap_or_default();
        for current in &consents_after {
            let previous = consents_before.iter().find(|c| c.channel == current.channel).map(|c| c.state.as_str());
            if previous != Some(current.state.as_str()) {
                emit::consent_changed_by_merge(conn, current, previous)?;
            }
        }
        Ok(record)
    });
    finish_write(conn, outcome, merged_email.as_ref())
}

fn finish_write<T>(conn: &mut DbConn, outcome: Result<T, TxError>, email: Option<&Email>) -> Result<T, AppError> {
    match outcome {
        Ok(value) => Ok(value),
        Err(TxError::App(error)) => Err(error),
        Err(TxError::Db(error)) if is_unique_violation(&error) => Err(email_conflict(conn, email)),
        Err(TxError::Db(error)) => Err(error.into()),
    }
}

/// Points every reference to customer `from` at customer `to`. Each table that refers to
/// customers gets its line here, so a merge never leaves anything behind.
fn move_references(conn: &mut DbConn, from: i64, to: i64) -> Result<(), AppError> {
    repo::move_merges(conn, from, to)?;
    // The consent ledgers join; the current state is the latest event of either.
    consent_repo::move_events(conn, from, to)?;
    crate::services::consents::refresh_current(conn, &[to])?;
    // Orders and promo redemptions follow; the survivor's statistics are recomputed.
    order_repo::move_orders(conn, from, to)?;
    promo_repo::move_redemptions(conn, from, to)?;
    referral_repo::move_customer(conn, from, to)?;
    campaign_repo::move_customer(conn, from, to)?;
    crate::repositories::flows::move_customer(conn, from, to, now())?;
    crate::repositories::form_definitions::move_customer(conn, from, to)?;
    // The duplicate's predictions go; the survivor's are refitted with the moved orders.
    crate::repositories::predictions::delete_for(conn, from)?;
    for currency in order_repo::currencies_of(conn, to)? {
        order_repo::refresh_stats(conn, to, &currency)?;
    }
    // The survivor's stored price bands and affinities follow its new orders now; the
    // duplicate's go ("also bought" associations follow at the next refresh).
    crate::services::recommendations::refresh_customers(conn, &[from, to])?;
    Ok(())
}
