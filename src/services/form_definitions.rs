//! The shop's own forms: definitions, public submissions (through the `forms:submit`
//! token or a customer's personal link), answers recorded by the shop, rewards and the
//! report.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, NaiveDateTime};
use serde_json::{Map, Value};

use super::provenance::{self, Provenance, ValueSource};
use super::{now, write_with_one_retry, TxError};
use crate::config::Config;
use crate::db::DbConn;
use crate::domain::customer::{CustomerDetails, CustomerDraft, CustomerProfile};
use crate::domain::form_definitions::{
    check_answers, check_definition, check_key, mapped_answers, profile_target, summarize, FormDefinition, FormPurpose,
    FormReport, Reward, RewardCounts,
};
use crate::domain::forms::{ClientInfo, ConsentRequest};
use crate::domain::token::{hash_token, new_link_token};
use crate::domain::{ConsentChannel, ConsentSource, CustomerSource, Email, EnquiryStatus};
use crate::error::{AppError, FieldError};
use crate::keys::{DataKeys, Purpose};
use crate::models::form_definitions::{
    FormDefinitionColumns, FormDefinitionRow, FormLinkRow, FormSubmissionRow, NewFormDefinition, NewFormSubmission,
};
use crate::models::promo_codes::{NewPromoCode, PromoCodeColumns};
use crate::repositories::{
    customers as customer_repo, form_definitions as repo, forms as enquiry_repo, promo_codes as promo_repo,
};
use crate::services::{customers, emit, messages};

/// How long a personal link stays valid.
pub const LINK_TTL_DAYS: i64 = 30;

fn not_found(key: &str) -> AppError {
    AppError::not_found(format!("there is no form `{key}`"))
}

/// A stored definition, parsed. The JSON columns were written by `columns` below.
pub fn parse_row(row: &FormDefinitionRow) -> Result<FormDefinition, AppError> {
    let corrupt = |what: &str, e: serde_json::Error| AppError::Internal(format!("form {}: stored {what}: {e}", row.id));
    Ok(FormDefinition {
        key: row.form_key.clone(),
        title: row.title.clone(),
        purpose: FormPurpose::parse(&row.purpose)
            .ok_or_else(|| AppError::Internal(format!("form {}: purpose `{}`", row.id, row.purpose)))?,
        fields: serde_json::from_str(&row.fields).map_err(|e| corrupt("fields", e))?,
        consent_texts: serde_json::from_str(&row.consent_texts).map_err(|e| corrupt("consent texts", e))?,
        reward: row.reward.as_deref().map(serde_json::from_str).transpose().map_err(|e| corrupt("reward", e))?,
    })
}

fn columns(definition: &FormDefinition, now: NaiveDateTime) -> FormDefinitionColumns {
    FormDefinitionColumns {
        form_key: definition.key.clone(),
        title: definition.title.clone(),
        purpose: definition.purpose.as_str().to_string(),
        fields: serde_json::to_string(&definition.fields).unwrap_or_default(),
        consent_texts: serde_json::to_string(&definition.consent_texts).unwrap_or_default(),
        reward: definition.reward.as_ref().map(|r| serde_json::to_string(r).unwrap_or_default()),
        updated_at: now,
    }
}

fn checked(definition: &FormDefinition) -> Result<(), AppError> {
    let errors = check_definition(definition);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AppError::Validation(errors))
    }
}

fn key_taken(key: &str) -> AppError {
    AppError::conflict(format!("a form with the key `{key}` already exists"))
}

pub fn create(conn: &mut DbConn, definition: FormDefinition) -> Result<FormDefinitionRow, AppError> {
    checked(&definition)?;
    let now = now();
    let outcome = conn.write_transaction(|conn| -> Result<FormDefinitionRow, TxError> {
        if repo::find_by_key(conn, &definition.key)?.is_some() {
            return Err(key_taken(&definition.key).into());
        }
        Ok(repo::insert(conn, NewFormDefinition { columns: columns(&definition, now), created_at: now })?)
    });
    match outcome {
        Err(TxError::Db(error)) if super::is_unique_violation(&error) => Err(key_taken(&definition.key)),
        other => Ok(other?),
    }
}

pub fn get(conn: &mut DbConn, key: &str) -> Result<FormDefinitionRow, AppError> {
    repo::find_by_key(conn, key)?.ok_or_else(|| not_found(key))
}

pub fn list(conn: &mut DbConn, before_id: Option<i64>, limit: i64) -> Result<Vec<FormDefinitionRow>, AppError> {
    Ok(repo::list(conn, before_id, limit)?)
}

/// Replaces what the patch gives; the key stays. Answers already given keep their names.
pub fn update(
    conn: &mut DbConn,
    key: &str,
    change: impl Fn(&mut FormDefinition),
) -> Result<FormDefinitionRow, AppError> {
    conn.write_transaction(|conn| {
        let row = get(conn, key)?;
        let mut definition = parse_row(&row)?;
        change(&mut definition);
        checked(&definition)?;
        Ok(repo::update(conn, row.id, columns(&definition, now()))?)
    })
}

/// Removes the form, its links and its submissions (rewards already issued stay valid).
pub fn delete(conn: &mut DbConn, key: &str) -> Result<(), AppError> {
    conn.write_transaction(|conn| {
        let row = get(conn, key)?;
        Ok(repo::delete(conn, row.id)?)
    })
}

/// A personal link to the form for one customer: single use, valid `LINK_TTL_DAYS`.
pub struct PersonalLink {
    pub url: String,
    pub token: String,
    pub expires_at: NaiveDateTime,
}

pub fn page_url(config: &Config, key: &str, token: &str) -> String {
    format!("{}/v1/public/forms/{key}?token={token}", config.mail.public_url)
}

pub fn new_link(conn: &mut DbConn, config: &Config, customer_id: i64, key: &str) -> Result<PersonalLink, AppError> {
    conn.write_transaction(|conn| {
        let form = get(conn, key)?;
        if !customer_repo::exists(conn, customer_id)? {
            return Err(AppError::not_found(format!("customer {customer_id} does not exist")));
        }
        let now = now();
        let (token, token_hash) = new_link_token();
        let expires_at = now + Duration::days(LINK_TTL_DAYS);
        repo::insert_link(
            conn,
            FormLinkRow {
                token_hash,
                form_id: form.id,
                customer_id,
                created_at: now,
                expires_at,
                opened_at: None,
                used_at: None,
            },
        )?;
        Ok(PersonalLink { url: page_url(config, key, &token), token, expires_at })
    })
}

/// The form keys message templates refer to through `form_links`: `form_links.key` or
/// `form_links["key"]` (a key with `-` needs the brackets).
pub fn referenced_forms(sources: &[&str]) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for source in sources {
        for (at, _) in source.match_indices("form_links") {
            let rest = &source[at + "form_links".len()..];
            let key: String = if let Some(after_dot) = rest.strip_prefix('.') {
                after_dot.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect()
            } else if let Some(after_bracket) = rest.strip_prefix('[') {
                let inner = after_bracket.trim_start();
                match inner.chars().next() {
                    Some(quote @ ('"' | '\'')) => inner[1..].chars().take_while(|c| *c != quote).collect(),
                    _ => String::new(),
                }
            } else {
                String::new()
            };
            if check_key(&key).is_ok() {
                keys.insert(key);
            }
        }
    }
    keys
}

/// `form_links` for one message to one customer: a personal link to each form its
/// templates refer to (a form that does not exist renders empty). The link's token is
/// derived from the message's own token (a campaign contact's or a flow run's), so
/// rendering the same message again gives the same link.
pub fn links_for_message(
    conn: &mut DbConn,
    config: &Config,
    keys: &DataKeys,
    message_token: &str,
    customer_id: i64,
    forms: &[(String, i64)],
) -> Result<Value, AppError> {
    let mut links = Map::new();
    let now = now();
    for (key, form_id) in forms {
        let (key, form_id) = (key.clone(), *form_id);
        // The unsubscribe purpose's key, over a value no unsubscribe token is derived from.
        let token = keys.keyed_hash(Purpose::CampaignUnsubscribe, &format!("form-link {key} {message_token}"));
        repo::ensure_link(
            conn,
            FormLinkRow {
                token_hash: hash_token(&token),
                form_id,
                customer_id,
                created_at: now,
                expires_at: now + Duration::days(LINK_TTL_DAYS),
                opened_at: None,
                used_at: None,
            },
        )?;
        links.insert(key.clone(), Value::String(page_url(config, &key, &token)));
    }
    Ok(Value::Object(links))
}

/// The forms among `keys` that exist, with their ids (read once for a batch of messages).
pub fn existing_forms(conn: &mut DbConn, keys: &BTreeSet<String>) -> Result<Vec<(String, i64)>, AppError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let wanted: Vec<String> = keys.iter().cloned().collect();
    Ok(repo::ids_by_keys(conn, &wanted)?)
}

/// `form_links` of a preview: the pages' addresses with a token that opens nothing.
pub fn preview_links(config: &Config, forms: &BTreeSet<String>) -> Value {
    Value::Object(forms.iter().map(|key| (key.clone(), Value::String(page_url(config, key, "preview")))).collect())
}

/// Why a personal link cannot be answered (the page says it; the API answers 404/409/410).
fn link_refusal(link: Option<&FormLinkRow>, form_id: i64, now: NaiveDateTime) -> Option<AppError> {
    match link {
        Some(link) if link.form_id != form_id => Some(AppError::not_found("this link is not valid")),
        None => Some(AppError::not_found("this link is not valid")),
        Some(link) if link.used_at.is_some() => Some(AppError::Conflict {
            detail: "this link was already used: thank you for your answers".into(),
            existing_id: None,
        }),
        Some(link) if link.expires_at <= now => Some(AppError::Gone("this link has expired".into())),
        Some(_) => None,
    }
}

/// The page of a personal link: the definition, once the link is checked and marked opened.
pub fn open_link(conn: &mut DbConn, key: &str, token: &str) -> Result<FormDefinition, AppError> {
    conn.write_transaction(|conn| {
        let form = get(conn, key)?;
        let token_hash = hash_token(token);
        let link = repo::find_link(conn, &token_hash)?;
        if let Some(refusal) = link_refusal(link.as_ref(), form.id, now()) {
            return Err(refusal);
        }
        repo::mark_link_opened(conn, &token_hash, now())?;
        parse_row(&form)
    })
}

/// The public definition (for the embed), by key.
pub fn definition(conn: &mut DbConn, key: &str) -> Result<FormDefinition, AppError> {
    parse_row(&get(conn, key)?)
}

/// Who answers: the public through the `forms:submit` token, a customer through their
/// personal link, or the shop recording answers given on paper or by phone.
#[derive(Debug, Clone)]
pub enum Respondent {
    Public,
    Link { token: String },
    Shop { customer_id: i64, actor: String },
}

/// A submission as received, before it is checked against the definition.
#[derive(Debug, Clone)]
pub struct Submission {
    pub answers: Map<String, Value>,
    /// The consent channels ticked.
    pub consent: Vec<ConsentChannel>,
    pub honeypot_filled: bool,
    /// When the answers were given (the shop may record an older questionnaire).
    pub answered_at: NaiveDateTime,
    pub respondent: Respondent,
    pub client: ClientInfo,
}

/// What a submission is after checking: its answers, the profile part parsed like any
/// customer input, and the consent asked for with its wording.
struct Checked {
    answers: Map<String, Value>,
    draft: CustomerDraft,
    /// Target path -> the form field name that gave it.
    field_of_path: BTreeMap<String, String>,
    consent: Vec<(ConsentChannel, String)>,
}

fn check_submission(
    definition: &FormDefinition,
    submission: &Submission,
    config: &Config,
) -> Result<Checked, AppError> {
    let answers = check_answers(definition, &submission.answers).map_err(AppError::Validation)?;
    let mapped = mapped_answers(definition, &answers);
    let field_of_path = mapped.field_of_path.clone();
    let attributes = mapped.attributes.clone();
    let mut draft = mapped.profile.into_draft(config.default_country).map_err(|error| match error {
        // Name the form's field, not the profile field it fills.
        AppError::Validation(errors) => AppError::Validation(
            errors
                .into_iter()
                .map(|e| {
                    let name = field_of_path.get(&e.field).cloned().unwrap_or(e.field);
                    FieldError::new(format!("answers.{name}"), e.message)
                })
                .collect(),
        ),
        other => other,
    })?;
    draft.details.attributes = attributes;
    let mut consent = Vec::new();
    let mut errors = Vec::new();
    for channel in &submission.consent {
        match definition.consent_texts.get(channel.as_str()) {
            Some(text) => consent.push((*channel, text.clone())),
            None => {
                errors.push(FieldError::new("consent", format!("this form asks no consent for `{}`", channel.as_str())))
            }
        }
    }
    if definition.purpose == FormPurpose::Subscribe && submission.consent.is_empty() {
        errors.push(FieldError::new("consent", "tick at least one channel to subscribe"));
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    Ok(Checked { answers, draft, field_of_path, consent })
}

/// What a submission led to: the stored submission and the customer, if any.
pub struct Submitted {
    pub submission: FormSubmissionRow,
    /// The reward code given (promo code id and code), if any.
    pub reward_code: Option<(i64, String)>,
}

/// Stores a submission: spam as spam; otherwise the customer (by link, by email, or the
/// one the shop names), the answers on the profile with their provenance, then what the
/// purpose asks for (an enquiry, consent, a reward).
pub fn submit(conn: &mut DbConn, config: &Config, key: &str, submission: Submission) -> Result<Submitted, AppError> {
    let form = get(conn, key)?;
    let definition = parse_row(&form)?;
    let checked = check_submission(&definition, &submission, config)?;
    let outcome = write_with_one_retry(conn, |conn| {
        let now = now();
        if submission.honeypot_filled {
            // Nothing of a bot's input is kept (nor its address): it names no one the shop
            // could erase.
            let mut spam = new_submission(form.id, None, "spam", false, &Map::new(), &submission, now);
            spam.ip = None;
            spam.user_agent = None;
            let stored = repo::insert_submission(conn, spam)?;
            return Ok(Submitted { submission: stored, reward_code: None });
        }
        let (customer_id, via_link) = respondent(conn, form.id, &definition, &checked, &submission)?;
        let answers = match customer_id {
            Some(_) => checked.answers.clone(),
            None => without_profile_answers(&definition, &checked.answers),
        };
        let mut stored = repo::insert_submission(
            conn,
            new_submission(form.id, customer_id, "accepted", via_link, &answers, &submission, now),
        )?;
        let Some(customer_id) = customer_id else {
            return Ok(Submitted { submission: stored, reward_code: None });
        };
        let overwrite = !matches!(submission.respondent, Respondent::Public);
        let source = match definition.purpose {
            FormPurpose::Questionnaire => ValueSource::Questionnaire,
            _ => ValueSource::Form,
        };
        let actor = match &submission.respondent {
            Respondent::Shop { actor, .. } => actor.clone(),
            Respondent::Link { .. } => format!("customer:{customer_id}"),
            Respondent::Public => "public".to_string(),
        };
        let from = Provenance {
            source,
            source_ref: Some(format!("form:{}/submission:{}", definition.key, stored.id)),
            actor: Some(actor),
            observed_at: submission.answered_at,
        };
        apply_answers(conn, customer_id, &checked, overwrite, &from)?;
        let mut reward_code = None;
        match definition.purpose {
            FormPurpose::Contact => {
                let enquiry = record_enquiry(conn, customer_id, &definition, &checked, &submission)?;
                stored.enquiry_id = Some(enquiry);
            }
            FormPurpose::Questionnaire => {
                // Only a known respondent earns the reward: through their personal link, or
                // answers the shop recorded. A public answer could name any address (and a
                // new one each time), so it earns nothing.
                let known_respondent = !matches!(submission.respondent, Respondent::Public);
                if let (Some(reward), true) = (&definition.reward, known_respondent) {
                    reward_code = give_reward(conn, config, &definition, reward, &mut stored, customer_id)?;
                }
            }
            FormPurpose::Subscribe => {}
        }
        ask_consent(conn, config, customer_id, &definition, &checked, &submission.client)?;
        Ok(Submitted { submission: stored, reward_code })
    });
    Ok(outcome?)
}

/// An anonymous answer keeps nothing that fills a profile field (a name, a phone): it
/// belongs to no one, so no export or erasure could reach it.
fn without_profile_answers(definition: &FormDefinition, answers: &Map<String, Value>) -> Map<String, Value> {
    answers
        .iter()
        .filter(|(name, _)| {
            let target = definition.fields.iter().find(|f| &f.name == *name).and_then(|f| f.maps_to.as_deref());
            target.is_none_or(|t| profile_target(t).is_none())
        })
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

fn new_submission(
    form_id: i64,
    customer_id: Option<i64>,
    status: &str,
    via_link: bool,
    answers: &Map<String, Value>,
    submission: &Submission,
    now: NaiveDateTime,
) -> NewFormSubmission {
    NewFormSubmission {
        form_id,
        customer_id,
        status: status.to_string(),
        via_link,
        answers: Value::Object(answers.clone()).to_string(),
        enquiry_id: None,
        ip: submission.client.ip.map(|ip| ip.to_string()),
        user_agent: submission.client.user_agent.clone(),
        answered_at: submission.answered_at,
        created_at: now,
    }
}

/// The customer a submission is about, and whether it came through a personal link. A
/// public submission without an email stays anonymous.
fn respondent(
    conn: &mut DbConn,
    form_id: i64,
    definition: &FormDefinition,
    checked: &Checked,
    submission: &Submission,
) -> Result<(Option<i64>, bool), TxError> {
    match &submission.respondent {
        Respondent::Link { token } => {
            let token_hash = hash_token(token);
            let link = repo::find_link(conn, &token_hash)?;
            if let Some(refusal) = link_refusal(link.as_ref(), form_id, now()) {
                return Err(refusal.into());
            }
            if !repo::use_link(conn, &token_hash, now())? {
                // Used by a concurrent submission in the meantime.
                return Err(
                    AppError::Conflict { detail: "this link was already used".into(), existing_id: None }.into()
                );
            }
            let customer_id = link.map(|l| l.customer_id).unwrap_or_default();
            customer_repo::find_for_update(conn, customer_id)?;
            Ok((Some(customer_id), true))
        }
        Respondent::Shop { customer_id, .. } => {
            customer_repo::find_for_update(conn, *customer_id)?
                .ok_or_else(|| AppError::not_found(format!("customer {customer_id} does not exist")))?;
            Ok((Some(*customer_id), false))
        }
        Respondent::Public => {
            let Some(email) = checked.draft.details.email.clone() else {
                return Ok((None, false));
            };
            let source = match definition.purpose {
                FormPurpose::Contact => CustomerSource::ContactForm,
                FormPurpose::Subscribe => CustomerSource::NewsletterForm,
                FormPurpose::Questionnaire => CustomerSource::Questionnaire,
            };
            let draft = CustomerDraft { source: Some(source), ..Default::default() };
            let customer = customers::fill_blanks_by_email(conn, &email, draft, &Provenance::public_form())?;
            Ok((Some(customer.row.id), false))
        }
    }
}

/// Puts the mapped answers on the profile and records each with its provenance. A public
/// answer only fills blanks (anyone can type an email); a link's or the shop's replaces.
/// Either way, a field whose applied value was observed after these answers keeps it.
fn apply_answers(
    conn: &mut DbConn,
    customer_id: i64,
    checked: &Checked,
    overwrite: bool,
    from: &Provenance,
) -> Result<(), TxError> {
    if checked.field_of_path.is_empty() {
        return Ok(());
    }
    let existing = customer_repo::find_for_update(conn, customer_id)?
        .ok_or_else(|| AppError::not_found(format!("customer {customer_id} does not exist")))?;
    let before = existing.profile();
    let given_profile =
        CustomerProfile { kind: before.kind, source: before.source, details: checked.draft.details.clone() };
    let given: BTreeMap<String, Value> = provenance::tracked_fields(&given_profile)
        .into_iter()
        .filter(|(path, value)| checked.field_of_path.contains_key(path) && !value.is_null())
        .collect();
    let paths: Vec<String> = given.keys().cloned().collect();
    let current = provenance::tracked_fields(&before);
    let newer =
        provenance::newer_fields(conn, customer_id, &paths, &current, existing.row.created_at, from.observed_at)?;
    let blank = |path: &String| current.get(path).is_none_or(Value::is_null);
    let mut applied: BTreeSet<String> =
        paths.iter().filter(|path| !newer.contains(*path)).filter(|path| overwrite || blank(path)).cloned().collect();
    // The email is the customer's identity: an answer only fills a blank one, and never
    // with another customer's address (which would also tell the respondent it is known).
    if applied.contains("email") {
        let taken = match &checked.draft.details.email {
            Some(email) => customer_repo::find_id_by_email(conn, email)?.is_some_and(|id| id != customer_id),
            None => false,
        };
        if taken || !blank(&"email".to_string()) {
            applied.remove("email");
        }
    }
    let mut details = checked.draft.details.clone();
    for path in &paths {
        if !applied.contains(path) {
            clear_path(&mut details, path);
        }
    }
    let mut after = before.clone();
    after.fill_from(CustomerDraft { kind: None, source: None, details });
    after.check_identity().map_err(|e| AppError::Validation(vec![e]))?;
    if after != before {
        customer_repo::update(conn, customer_id, &after, now())?;
        emit::customer_updated(conn, customer_id, &before, &after)?;
    }
    provenance::record_given(conn, customer_id, &given, &applied, from)?;
    Ok(())
}

/// Removes one tracked path from a draft's details.
fn clear_path(details: &mut CustomerDetails, path: &str) {
    if let Some(key) = path.strip_prefix("attributes.") {
        details.attributes.remove(key);
        return;
    }
    let d = details;
    match path {
        "first_name" => d.first_name = None,
        "last_name" => d.last_name = None,
        "company_name" => d.company_name = None,
        "email" => d.email = None,
        "phone" => d.phone = None,
        "birthday" => d.birthday = None,
        "gender" => d.gender = None,
        "preferred_language" => d.preferred_language = None,
        "address.line1" => d.address.line1 = None,
        "address.line2" => d.address.line2 = None,
        "address.city" => d.address.city = None,
        "address.region" => d.address.region = None,
        "address.postal_code" => d.address.postal_code = None,
        "address.country" => d.address.country = None,
        _ => {}
    }
}

/// A contact form's enquiry: `message` is its text, a `subject` field its subject.
fn record_enquiry(
    conn: &mut DbConn,
    customer_id: i64,
    definition: &FormDefinition,
    checked: &Checked,
    submission: &Submission,
) -> Result<i64, TxError> {
    let text = |name: &str| checked.answers.get(name).and_then(Value::as_str).map(str::to_string);
    let email = checked
        .draft
        .details
        .email
        .clone()
        .or_else(|| {
            customer_repo::find(conn, customer_id).ok().flatten().and_then(|c| c.row.email.map(Email::from_stored))
        })
        .unwrap_or_else(|| Email::from_stored(String::new()));
    let mut enquiry =
        super::forms::enquiry("contact", EnquiryStatus::New.as_str(), Some(customer_id), &email, &submission.client);
    enquiry.subject = text("subject").or_else(|| Some(definition.title.clone()));
    enquiry.message = text("message");
    let created = enquiry_repo::insert_enquiry(conn, enquiry)?;
    emit::enquiry_created(conn, &created)?;
    Ok(created.id)
}

fn ask_consent(
    conn: &mut DbConn,
    config: &Config,
    customer_id: i64,
    definition: &FormDefinition,
    checked: &Checked,
    client: &ClientInfo,
) -> Result<(), TxError> {
    if checked.consent.is_empty() {
        return Ok(());
    }
    let customer = customer_repo::find(conn, customer_id)?
        .ok_or_else(|| AppError::not_found(format!("customer {customer_id} does not exist")))?;
    let source = match definition.purpose {
        FormPurpose::Contact => ConsentSource::ContactForm,
        FormPurpose::Subscribe => ConsentSource::NewsletterForm,
        FormPurpose::Questionnaire => ConsentSource::Questionnaire,
    };
    // Channels with the same wording are asked together (one confirmation message).
    let mut by_text: BTreeMap<&str, Vec<ConsentChannel>> = BTreeMap::new();
    for (channel, text) in &checked.consent {
        by_text.entry(text.as_str()).or_default().push(*channel);
    }
    for (text, channels) in by_text {
        let request = ConsentRequest { channels, text: text.to_string() };
        super::forms::request_consent(conn, config, &customer, &request, source, client)?;
    }
    Ok(())
}

/// A completed questionnaire's reward, once per customer and form: a unique single-use
/// code mailed to the customer, or a gift recorded for the shop to send.
fn give_reward(
    conn: &mut DbConn,
    config: &Config,
    definition: &FormDefinition,
    reward: &Reward,
    submission: &mut FormSubmissionRow,
    customer_id: i64,
) -> Result<Option<(i64, String)>, TxError> {
    if repo::has_reward(conn, submission.form_id, customer_id)? {
        return Ok(None);
    }
    let now = now();
    let (code, status) = match reward {
        Reward::Gift { .. } => (None, "to_send"),
        Reward::PromoCode { discount, currency, valid_days } => {
            let code = format!("Q{}", super::referrals::new_code());
            let columns = PromoCodeColumns {
                description: Some(format!("Reward for answering “{}”", definition.title)),
                discount_type: discount.r#type.clone(),
                discount_value: discount.value,
                currency: currency.as_deref().map(str::to_uppercase),
                // Valid at once: a checkout's placed_at may be rounded to the second.
                valid_from: None,
                valid_until: Some(now + Duration::days(*valid_days)),
                max_redemptions: Some(1),
                max_redemptions_per_customer: Some(1),
                min_subtotal: None,
                campaign_id: None,
                active: true,
                // A reward's cost is not declared with the form.
                cost_currency: None,
                cost_fixed_minor: None,
                cost_per_redemption_minor: None,
                updated_at: now,
            };
            let promo = promo_repo::insert(conn, NewPromoCode { code: code.clone(), columns, created_at: now })?;
            let customer = customer_repo::find(conn, customer_id)?;
            let email = customer.as_ref().and_then(|c| c.row.email.clone());
            let status = match email {
                Some(email) => {
                    let first_name = customer.as_ref().and_then(|c| c.row.first_name.clone());
                    let body = reward_body(
                        config,
                        first_name.as_deref(),
                        &definition.title,
                        &code,
                        now + Duration::days(*valid_days),
                    );
                    messages::enqueue(conn, Some(customer_id), "reward", &email, "Thank you: your reward code", &body)?;
                    "mailed"
                }
                // Issued, but nowhere to send it: the shop sees it in the submission.
                None => "issued",
            };
            (Some((promo.id, code)), status)
        }
    };
    let promo_code_id = code.as_ref().map(|(id, _)| *id);
    repo::set_reward(conn, submission.id, reward.kind(), promo_code_id, status)?;
    submission.reward_type = Some(reward.kind().to_string());
    submission.reward_promo_code_id = promo_code_id;
    submission.reward_status = Some(status.to_string());
    Ok(code)
}

fn reward_body(config: &Config, first_name: Option<&str>, title: &str, code: &str, until: NaiveDateTime) -> String {
    let greeting = first_name.map_or("Hello,".to_string(), |name| format!("Hello {name},"));
    format!(
        "{greeting}\n\nThank you for answering “{title}”. As promised, here is your code:\n\n    {code}\n\n\
         It can be used once, until {} UTC.\n\n{}\n",
        until.format("%Y-%m-%d %H:%M"),
        config.mail.shop_name,
    )
}

pub fn submissions(
    conn: &mut DbConn,
    key: &str,
    before_id: Option<i64>,
    limit: i64,
) -> Result<(Vec<FormSubmissionRow>, BTreeMap<i64, String>), AppError> {
    let form = get(conn, key)?;
    let rows = repo::submissions(conn, form.id, before_id, limit)?;
    let ids: Vec<i64> = rows.iter().filter_map(|r| r.reward_promo_code_id).collect();
    let codes = promo_repo::codes_by_ids(conn, &ids)?.into_iter().collect();
    Ok((rows, codes))
}

/// `GET /v1/forms/{key}/report`: links sent and opened, completions, response rate, the
/// distribution of answers per question and the rewards. The answers are read whole: a
/// form collects what a shop's customers answer, thousands, not millions.
pub fn report(conn: &mut DbConn, key: &str) -> Result<FormReport, AppError> {
    let form = get(conn, key)?;
    let definition = parse_row(&form)?;
    let counts = repo::counts(conn, form.id)?;
    let answers: Vec<Map<String, Value>> =
        repo::accepted_answers(conn, form.id)?.iter().filter_map(|raw| serde_json::from_str(raw).ok()).collect();
    Ok(FormReport {
        key: definition.key.clone(),
        title: definition.title.clone(),
        purpose: definition.purpose,
        sent: counts.links_sent,
        opened: counts.links_opened,
        completed: counts.completed,
        completed_via_link: counts.completed_via_link,
        spam: counts.spam,
        response_rate: (counts.links_sent > 0).then(|| counts.completed_via_link as f64 / counts.links_sent as f64),
        questions: definition.fields.iter().map(|field| summarize(field, &answers)).collect(),
        rewards: RewardCounts { issued: counts.rewards_issued, redeemed: counts.rewards_redeemed },
    })
}

/// A customer's attribute history, newest first.
pub fn history(
    conn: &mut DbConn,
    customer_id: i64,
    field: Option<&str>,
    before_id: Option<i64>,
    limit: i64,
) -> Result<Vec<crate::models::form_definitions::AttributeHistoryRow>, AppError> {
    if !customer_repo::exists(conn, customer_id)? {
        return Err(AppError::not_found(format!("customer {customer_id} does not exist")));
    }
    Ok(repo::history(conn, customer_id, field, before_id, limit)?)
}
