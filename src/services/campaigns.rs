//! Campaigns: a draft (audience rules, offer, message, promotion, limits), a launch that
//! builds the audience in one transaction, delivery lists, mail through the outbox,
//! responses and tracking, and the report (conversions against a holdout group).

use std::collections::{HashMap, HashSet};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{Duration, NaiveDateTime};
use rand::seq::SliceRandom;
use rand::RngCore;

use super::{now, write_with_one_retry, TxError};
use crate::config::Config;
use crate::db::DbConn;
use crate::domain::campaign::{holdout_size, rewrite_links, AudienceCounts, PromoSpec};
use crate::domain::campaign::{CampaignSpec, ResponseReport};
use crate::domain::consent::ConsentChange;
use crate::domain::segment::Rule;
use crate::domain::templates;
use crate::domain::token::hash_token;
use crate::domain::MessageStatus;
use crate::domain::{ConsentChannel, ConsentSource, ConsentState, ResponseKind};
use crate::error::AppError;
use crate::keys::{DataKeys, Purpose};
use crate::models::campaigns::{AttributedRow, CampaignView, ContactView, Report};
use crate::models::campaigns::{CampaignColumns, CampaignRow, ContactRow, NewCampaign, NewContact, NewResponse};
use crate::models::forms::UnsubscribeTokenRow;
use crate::models::messages::NewMessage;
use crate::models::promo_codes::{NewPromoCode, PromoCodeColumns};
use crate::repositories::campaigns as repo;
use crate::repositories::{privacy as privacy_repo, promo_codes as promo_repo, segments as segment_repo};
use crate::services::{consents, forms, privacy, rollups, segments};

fn not_found(id: i64) -> AppError {
    AppError::not_found(format!("campaign {id} does not exist"))
}

/// Checks the spec's references and turns it into columns.
fn columns(
    conn: &mut DbConn,
    spec: CampaignSpec,
    config: &Config,
    now: NaiveDateTime,
) -> Result<CampaignColumns, AppError> {
    if let Some(segment_id) = spec.segment_id {
        segments::get(conn, segment_id)
            .map_err(|_| AppError::invalid("segment_id", format!("segment {segment_id} does not exist")))?;
    }
    let missing: Vec<i64> = {
        let found = repo::existing_ids(conn, &spec.exclude_campaign_ids)?;
        spec.exclude_campaign_ids.iter().copied().filter(|id| !found.contains(id)).collect()
    };
    if let Some(id) = missing.first() {
        return Err(AppError::invalid("exclude_campaign_ids", format!("campaign {id} does not exist")));
    }
    let (promo_kind, promo_code_id, unique) = match spec.promo {
        PromoSpec::None => ("none", None, None),
        PromoSpec::Shared(code) => {
            let promo = promo_repo::find(conn, &code)?
                .ok_or_else(|| AppError::invalid("promo.code", format!("promo code {code} does not exist")))?;
            ("shared", Some(promo.id), None)
        }
        PromoSpec::Unique { prefix, discount_type, discount_value, currency } => {
            ("unique", None, Some((prefix, discount_type, discount_value, currency)))
        }
    };
    let (max_contacts, per_days) = spec.frequency_cap.unwrap_or(config.campaigns.frequency_cap);
    let (unique_prefix, unique_discount_type, unique_discount_value, unique_currency) = match unique {
        Some((prefix, kind, value, currency)) => (Some(prefix), Some(kind), Some(value), currency),
        None => (None, None, None, None),
    };
    Ok(CampaignColumns {
        name: spec.name,
        channel: spec.channel.as_str().to_string(),
        segment_id: spec.segment_id,
        rules: spec.rules,
        offer: spec.offer,
        subject: spec.subject,
        content: spec.content,
        content_html: spec.content_html,
        promo_kind: promo_kind.to_string(),
        promo_code_id,
        unique_prefix,
        unique_discount_type,
        unique_discount_value,
        unique_currency,
        cap_max_contacts: max_contacts,
        cap_per_days: per_days,
        exclude_campaign_ids: serde_json::to_string(&spec.exclude_campaign_ids).unwrap_or_else(|_| "[]".into()),
        holdout_percent: spec.holdout_percent,
        attribution_window_days: spec.attribution_window_days,
        updated_at: now,
        cost_currency: spec.cost.as_ref().map(|c| c.currency.clone()),
        cost_fixed_minor: spec.cost.as_ref().map(|c| c.fixed_minor),
        cost_per_contact_minor: spec.cost.as_ref().map(|c| c.per_contact_minor),
    })
}

pub fn create(conn: &mut DbConn, config: &Config, spec: CampaignSpec, actor: &str) -> Result<CampaignView, AppError> {
    conn.write_transaction(|conn| {
        let spec = spec.clone();
        let now = now();
        let columns = columns(conn, spec, config, now)?;
        let row = repo::insert(
            conn,
            NewCampaign { columns, status: "draft".into(), created_by: actor.to_string(), created_at: now },
        )?;
        view(conn, row, false)
    })
}

/// The shared code of a campaign, by its code text.
fn shared_code(conn: &mut DbConn, row: &CampaignRow) -> Result<Option<String>, AppError> {
    match row.promo_code_id {
        Some(id) => Ok(promo_repo::find_by_id(conn, id)?.map(|p| p.code)),
        None => Ok(None),
    }
}

fn view(conn: &mut DbConn, row: CampaignRow, with_report: bool) -> Result<CampaignView, AppError> {
    let messages = repo::message_counts(conn, &[row.id])?.remove(&row.id).unwrap_or_default();
    let shared_code = shared_code(conn, &row)?;
    let report = if with_report { Some(report_of(conn, &row)?) } else { None };
    Ok(CampaignView { row, shared_code, messages, report })
}

pub fn get(conn: &mut DbConn, id: i64) -> Result<CampaignView, AppError> {
    let row = repo::find(conn, id)?.ok_or_else(|| not_found(id))?;
    view(conn, row, false)
}

/// A draft and its shared code: what a PATCH is applied to. A launched campaign is a 409.
fn launched_cannot_change() -> AppError {
    AppError::conflict("a launched campaign cannot be changed")
}

/// Changes a draft, in one transaction with the draft locked: `patch` gets the current
/// campaign and its shared code and returns the whole new spec (the caller's merge of
/// the request onto what is stored).
pub fn update(
    conn: &mut DbConn,
    config: &Config,
    id: i64,
    patch: impl Fn(&CampaignRow, Option<String>) -> Result<CampaignSpec, AppError>,
) -> Result<CampaignView, AppError> {
    conn.write_transaction(|conn| {
        let row = repo::find_for_update(conn, id)?.ok_or_else(|| not_found(id))?;
        if row.status != "draft" {
            return Err(launched_cannot_change());
        }
        let spec = patch(&row, shared_code(conn, &row)?)?;
        let columns = columns(conn, spec, config, now())?;
        let row = repo::update_columns(conn, id, columns)?;
        view(conn, row, false)
    })
}

/// A page of campaigns; shared codes and outbox counts in one query each. A report is a
/// few aggregate queries per campaign, so `with_report` costs that per listed campaign.
pub fn list(
    conn: &mut DbConn,
    before_id: Option<i64>,
    limit: i64,
    with_report: bool,
) -> Result<Vec<CampaignView>, AppError> {
    let rows = repo::list(conn, before_id, limit)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut counts = repo::message_counts(conn, &ids)?;
    let code_ids: Vec<i64> = rows.iter().filter_map(|r| r.promo_code_id).collect();
    let codes = promo_repo::codes_by_ids(conn, &code_ids)?;
    let mut reports = if with_report { reports_of(conn, &rows)? } else { Vec::new() }.into_iter();
    Ok(rows
        .into_iter()
        .map(|row| {
            let shared_code = row.promo_code_id.and_then(|id| codes.get(&id).cloned());
            CampaignView {
                messages: counts.remove(&row.id).unwrap_or_default(),
                shared_code,
                report: reports.next(),
                row,
            }
        })
        .collect())
}

/// 128 random bits, URL-safe.
pub(crate) fn new_tracking_token() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `PREFIX-XXXXXXXX` from an alphabet without look-alikes (0/O, 1/I).
pub(crate) fn new_unique_code(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 8];
    rand::rng().fill_bytes(&mut bytes);
    let suffix: String = bytes.iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect();
    format!("{prefix}-{suffix}")
}

/// The contact's unsubscribe token: derived from its tracking token with a data key, so
/// the contact list can show it again while only its hash is stored.
pub(crate) fn unsubscribe_token(keys: &DataKeys, tracking_token: &str) -> String {
    keys.keyed_hash(Purpose::CampaignUnsubscribe, tracking_token)
}

/// The signature of a tracked link: only URLs rapport wrote into a contact's content redirect.
pub fn link_signature(keys: &DataKeys, tracking_token: &str, url: &str) -> String {
    keys.keyed_hash(Purpose::CampaignClick, &format!("{tracking_token} {url}"))[..32].to_string()
}

/// A click on a tracked link. Only a link rapport signed for this token and this http(s)
/// URL counts (anything else is a 400: rapport is no open redirect); then the click is
/// recorded like `track`. False when the token is unknown.
pub fn track_click(conn: &mut DbConn, keys: &DataKeys, token: &str, url: &str, sig: &str) -> Result<bool, AppError> {
    let expected = link_signature(keys, token, url);
    let signed = constant_time_eq(expected.as_bytes(), sig.as_bytes());
    let web_url = url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
    if !signed || !web_url {
        return Err(AppError::BadRequest("this link was not signed by rapport for this URL".into()));
    }
    track(conn, token, ResponseKind::Clicked, "public:click")
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub(crate) fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Consent given by the person themself after an erasure overrides the suppression list.
pub(crate) fn own_opt_in(source: &str) -> bool {
    matches!(source, "newsletter_form" | "contact_form" | "confirmation_link")
}

/// The audience's rules: the campaign's own, or its segment's as they are now.
fn audience_rules(conn: &mut DbConn, row: &CampaignRow) -> Result<(Rule, String), AppError> {
    if let Some(segment_id) = row.segment_id {
        let segment = segments::get(conn, segment_id)?;
        return Ok((segments::rule_of(&segment)?, segment.rules.to_text()));
    }
    let rules = row
        .rules
        .clone()
        .ok_or_else(|| AppError::conflict("the campaign has no audience rules (its segment was deleted)"))?;
    Ok((crate::domain::segment::parse_rules(&rules.0)?, rules.to_text()))
}

/// Builds the audience and creates the contacts, all in one transaction.
pub fn launch(conn: &mut DbConn, keys: &DataKeys, id: i64) -> Result<CampaignView, AppError> {
    write_with_one_retry(conn, |conn| launch_in_transaction(conn, keys, id)).map_err(AppError::from)
}

fn launch_in_transaction(conn: &mut DbConn, keys: &DataKeys, id: i64) -> Result<CampaignView, TxError> {
    let row = repo::find_for_update(conn, id)?.ok_or_else(|| not_found(id))?;
    if row.status != "draft" {
        return Err(AppError::conflict(format!("campaign {id} was already launched")).into());
    }
    let now = now();
    let (rule, rules_json) = audience_rules(conn, &row)?;
    let excluded_campaigns: Vec<i64> = row.exclude_campaign_ids.0.clone();
    let since = now - Duration::days(row.cap_per_days);
    let members = segment_repo::audience(conn, &rule, &row.channel, &excluded_campaigns, since, now)?;

    // Suppression applies to consented, reachable members whose consent is not their own new opt-in.
    let suppressed = suppressed_members(conn, keys, &members)?;
    let mut counts = AudienceCounts { segment_size: members.len() as i64, ..Default::default() };
    let mut eligible = Vec::new();
    for member in &members {
        if member.consent_source.is_none() {
            counts.no_consent += 1;
        } else if suppressed.contains(&member.id) {
            counts.suppressed += 1;
        } else if member.reachable == 0 {
            counts.unreachable += 1;
        } else if member.in_excluded_campaign == 1 {
            counts.excluded += 1;
        } else if member.recent_contacts >= row.cap_max_contacts {
            counts.capped += 1;
        } else {
            eligible.push(member.id);
        }
    }
    eligible.shuffle(&mut rand::rng());
    let holdout_count = holdout_size(eligible.len(), row.holdout_percent);
    counts.holdout = holdout_count as i64;
    counts.contacted = (eligible.len() - holdout_count) as i64;

    let mut contacts = Vec::with_capacity(eligible.len());
    let mut codes = Vec::new();
    let mut unsubscribe_tokens = Vec::new();
    for (index, customer_id) in eligible.into_iter().enumerate() {
        if index < holdout_count {
            contacts.push(NewContact {
                campaign_id: id,
                customer_id,
                holdout: true,
                token: None,
                promo_code: None,
                created_at: now,
            });
            continue;
        }
        let token = new_tracking_token();
        let promo_code = match (&row.promo_kind[..], &row.unique_prefix) {
            ("unique", Some(prefix)) => {
                let code = new_unique_code(prefix);
                codes.push(unique_code_row(&row, code.clone(), now));
                Some(code)
            }
            _ => None,
        };
        unsubscribe_tokens.push(UnsubscribeTokenRow {
            token_hash: hash_token(&unsubscribe_token(keys, &token)),
            customer_id,
            channel: row.channel.clone(),
            created_at: now,
        });
        contacts.push(NewContact {
            campaign_id: id,
            customer_id,
            holdout: false,
            token: Some(token),
            promo_code,
            created_at: now,
        });
    }
    promo_repo::insert_many(conn, &codes)?;
    repo::insert_contacts(conn, &contacts)?;
    crate::repositories::forms::insert_unsubscribe_tokens(conn, &unsubscribe_tokens)?;
    let audience = serde_json::to_string(&counts).map_err(|e| AppError::internal(e.to_string()))?;
    let row = repo::mark_launched(conn, id, &rules_json, &audience, now)?;
    rollups::campaign_launched(conn, &row)?;
    super::emit::campaign_launched(conn, &row, &counts)?;
    Ok(view(conn, row, false)?)
}

fn unique_code_row(row: &CampaignRow, code: String, now: NaiveDateTime) -> NewPromoCode {
    NewPromoCode {
        code,
        columns: PromoCodeColumns {
            description: Some(format!("campaign {}: {}", row.id, row.name)),
            discount_type: row.unique_discount_type.clone().unwrap_or_default(),
            discount_value: row.unique_discount_value.unwrap_or_default(),
            currency: row.unique_currency.clone(),
            valid_from: None,
            valid_until: None,
            max_redemptions: Some(1),
            max_redemptions_per_customer: Some(1),
            min_subtotal: None,
            campaign_id: Some(row.id),
            active: true,
            updated_at: now,
            // The campaign's cost covers its codes.
            cost_currency: None,
            cost_fixed_minor: None,
            cost_per_redemption_minor: None,
        },
        created_at: now,
    }
}

/// Members whose email or phone is on the erasure suppression list, unless their
/// current consent is their own opt-in made since.
fn suppressed_members(
    conn: &mut DbConn,
    keys: &DataKeys,
    members: &[segment_repo::AudienceRow],
) -> Result<HashSet<i64>, AppError> {
    let mut by_hash: HashMap<String, Vec<i64>> = HashMap::new();
    for member in members {
        let Some(source) = &member.consent_source else { continue };
        if own_opt_in(source) {
            continue;
        }
        for (hash, _) in privacy::suppression_hashes(keys, member.email.as_deref(), member.phone.as_deref()) {
            by_hash.entry(hash).or_default().push(member.id);
        }
    }
    let hashes: Vec<String> = by_hash.keys().cloned().collect();
    let mut suppressed = HashSet::new();
    for chunk in hashes.chunks(1000) {
        for hash in privacy_repo::suppressed_among(conn, chunk)? {
            suppressed.extend(by_hash.get(&hash).into_iter().flatten().copied());
        }
    }
    Ok(suppressed)
}

/// One contact's message: subject, content (and its HTML part), open-tracking URL,
/// unsubscribe URL; all None for a holdout contact.
#[derive(Default)]
struct Rendered {
    subject: Option<String>,
    content: Option<String>,
    content_html: Option<String>,
    open_tracking_url: Option<String>,
    unsubscribe_url: Option<String>,
}

/// Renders one contact's subject and content with its links tracked. `context` holds the
/// customer's template variables (`services::template_data`).
/// The forms a campaign's templates link to (`form_links`).
fn campaign_forms(row: &CampaignRow) -> std::collections::BTreeSet<String> {
    let sources: Vec<&str> =
        [row.subject.as_deref(), row.content.as_deref(), row.content_html.as_deref()].into_iter().flatten().collect();
    super::form_definitions::referenced_forms(&sources)
}

/// The contact's template variables with its personal links to `forms`.
fn with_form_links(
    conn: &mut DbConn,
    config: &Config,
    keys: &DataKeys,
    forms: &[(String, i64)],
    contact: &ContactRow,
    context: Option<&serde_json::Value>,
) -> Result<Option<serde_json::Value>, AppError> {
    let (false, Some(token)) = (forms.is_empty(), &contact.token) else {
        return Ok(context.cloned());
    };
    let mut context = context.cloned().unwrap_or_else(|| super::template_data::shop(config));
    context["form_links"] =
        super::form_definitions::links_for_message(conn, config, keys, token, contact.customer_id, forms)?;
    Ok(Some(context))
}

fn render_contact(
    config: &Config,
    keys: &DataKeys,
    row: &CampaignRow,
    shared_code: Option<&str>,
    contact: &ContactRow,
    context: Option<&serde_json::Value>,
) -> Result<Rendered, AppError> {
    let Some(token) = &contact.token else { return Ok(Rendered::default()) };
    let base = &config.mail.public_url;
    let unsubscribe_url = forms::unsubscribe_url(config, &unsubscribe_token(keys, token));
    let open_url = format!("{base}/v1/t/o/{token}");
    let mut context = context.cloned().unwrap_or_else(|| super::template_data::shop(config));
    context["promo_code"] = serde_json::json!(contact.promo_code.as_deref().or(shared_code));
    context["unsubscribe_url"] = serde_json::json!(unsubscribe_url);
    let render = |template: &str, html: bool| {
        templates::render(template, &context, html).map_err(|e| {
            AppError::conflict(format!(
                "campaign {}: the template fails for customer {}: {e}",
                row.id, contact.customer_id
            ))
        })
    };
    let tracked = |template: &str| {
        rewrite_links(template, |url| {
            format!("{base}/v1/t/c/{token}?url={}&sig={}", encode(url), link_signature(keys, token, url))
        })
    };
    Ok(Rendered {
        subject: row.subject.as_deref().map(|s| render(s, false).map(|s| s.trim().to_string())).transpose()?,
        content: row.content.as_deref().map(|t| render(&tracked(t), false)).transpose()?,
        content_html: row.content_html.as_deref().map(|t| render(&tracked(t), true)).transpose()?,
        open_tracking_url: Some(open_url),
        unsubscribe_url: Some(unsubscribe_url),
    })
}

/// A campaign's message rendered for one customer, as if they were a contact: subject and
/// content (links not tracked); nothing is recorded.
pub fn preview(
    conn: &mut DbConn,
    config: &Config,
    id: i64,
    customer_id: i64,
) -> Result<crate::models::flows::Preview, AppError> {
    let row = repo::find(conn, id)?.ok_or_else(|| not_found(id))?;
    let mut contexts = super::template_data::for_customers(conn, config, &[customer_id])?;
    let Some(mut context) = contexts.remove(&customer_id).filter(|c| c.get("customer").is_some()) else {
        return Err(AppError::invalid("customer_id", format!("customer {customer_id} does not exist")));
    };
    let promo_code = match row.promo_kind.as_str() {
        "unique" => row.unique_prefix.as_ref().map(|p| format!("{p}-PREVIEW")),
        _ => shared_code(conn, &row)?,
    };
    context["promo_code"] = serde_json::json!(promo_code);
    context["unsubscribe_url"] =
        serde_json::json!(format!("{}/v1/public/unsubscribe?token=preview", config.mail.public_url));
    context["form_links"] = super::form_definitions::preview_links(config, &campaign_forms(&row));
    let render = |template: &str| {
        templates::render(template, &context, false)
            .map_err(|e| AppError::invalid("customer_id", format!("the template fails for this customer: {e}")))
    };
    let subject = row.subject.as_deref().map(|s| render(s).map(|s| s.trim().to_string())).transpose()?;
    let text = row.content.as_deref().map(render).transpose()?.unwrap_or_default();
    let html = row
        .content_html
        .as_deref()
        .map(|t| templates::render(t, &context, true))
        .transpose()
        .map_err(|e| AppError::invalid("customer_id", format!("the HTML template fails for this customer: {e}")))?;
    let recipient = context["email"].as_str().map(str::to_string);
    Ok(crate::models::flows::Preview { recipient, subject, text, html })
}

/// A page of contacts (or of the holdout group), rendered for delivery.
pub fn contacts(
    conn: &mut DbConn,
    config: &Config,
    keys: &DataKeys,
    id: i64,
    holdout: bool,
    after_id: i64,
    limit: i64,
) -> Result<Vec<ContactView>, AppError> {
    let row = repo::find(conn, id)?.ok_or_else(|| not_found(id))?;
    let shared = shared_code(conn, &row)?;
    let page = repo::contacts_page(conn, id, holdout, after_id, limit)?;
    // Each recipient's top recommendations, for the whole page at once.
    let customer_ids: Vec<i64> = page.iter().map(|(contact, _)| contact.customer_id).collect();
    let recommendations = super::recommendations::for_customers(
        conn,
        &config.repeatable_product_types,
        &customer_ids,
        crate::domain::recommendations::CONTACT_RECOMMENDATIONS,
    )?;
    let contexts = super::template_data::with_recommendations(conn, config, &customer_ids, recommendations.clone())?;
    let forms = super::form_definitions::existing_forms(conn, &campaign_forms(&row))?;
    page.into_iter()
        .map(|(contact, customer)| {
            let context = with_form_links(conn, config, keys, &forms, &contact, contexts.get(&contact.customer_id))?;
            let rendered = render_contact(config, keys, &row, shared.as_deref(), &contact, context.as_ref())?;
            let recommendations = recommendations.get(&contact.customer_id).cloned().unwrap_or_default();
            Ok(ContactView {
                contact,
                customer,
                channel: row.channel.clone(),
                subject: rendered.subject,
                content: rendered.content,
                content_html: rendered.content_html,
                open_tracking_url: rendered.open_tracking_url,
                unsubscribe_url: rendered.unsubscribe_url,
                recommendations,
            })
        })
        .collect()
}

/// Queues one mail per contact of an email campaign whose consent still stands, spaced
/// to `rate_per_minute`. Returns (queued, skipped).
pub fn send(
    conn: &mut DbConn,
    config: &Config,
    keys: &DataKeys,
    id: i64,
    rate_per_minute: i64,
) -> Result<(i64, i64), AppError> {
    conn.write_transaction(|conn| {
        let row = repo::find_for_update(conn, id)?.ok_or_else(|| not_found(id))?;
        if row.channel != "email" {
            return Err(AppError::conflict(
                "only email campaigns are sent by rapport; deliver the others from GET .../contacts",
            ));
        }
        if row.status != "launched" {
            return Err(AppError::conflict("launch the campaign first"));
        }
        if row.send_requested_at.is_some() {
            return Err(AppError::conflict("the campaign was already sent"));
        }
        if row.subject.is_none() || row.content.is_none() {
            return Err(AppError::invalid("subject", "an email campaign needs a subject and content to be sent"));
        }
        let shared = shared_code(conn, &row)?;
        let forms = super::form_definitions::existing_forms(conn, &campaign_forms(&row))?;
        let now = now();
        let spacing_ms = 60_000 / rate_per_minute.max(1);
        let mut queued = 0i64;
        let mut after_id = 0;
        loop {
            let page = repo::mailable_contacts(conn, id, after_id, 1000)?;
            let Some((last, _)) = page.last() else { break };
            after_id = last.id;
            let mut messages = Vec::with_capacity(page.len());
            let ids: Vec<i64> = page.iter().map(|(_, customer)| customer.id).collect();
            let contexts = super::template_data::for_customers(conn, config, &ids)?;
            for (contact, customer) in &page {
                let context = with_form_links(conn, config, keys, &forms, contact, contexts.get(&customer.id))?;
                let rendered = render_contact(config, keys, &row, shared.as_deref(), contact, context.as_ref())?;
                messages.push(NewMessage {
                    customer_id: Some(customer.id),
                    kind: "campaign".into(),
                    recipient: customer.email.clone().unwrap_or_default(),
                    subject: rendered.subject.unwrap_or_default(),
                    body: rendered.content.unwrap_or_default(),
                    status: MessageStatus::Pending.as_str().into(),
                    next_attempt_at: now + Duration::milliseconds(queued * spacing_ms),
                    created_at: now,
                    campaign_id: Some(id),
                    list_unsubscribe: rendered.unsubscribe_url,
                    html_body: rendered.content_html,
                });
                queued += 1;
            }
            crate::repositories::messages::insert_many(conn, &messages)?;
        }
        repo::mark_send_requested(conn, id, now)?;
        let contacted = repo::count_contacted(conn, id)?;
        // The mail is in the outbox (its delivery is the worker's; a failure shows as
        // `message.failed`).
        super::emit::campaign_sent(conn, &row, queued, contacted - queued, now)?;
        Ok((queued, contacted - queued))
    })
}

/// Records responses (all or none); `unsubscribed` and `complained` also withdraw the
/// channel's consent. Returns (recorded, consent events written). A refused response is
/// named `[index].field`.
pub fn record_responses(
    conn: &mut DbConn,
    id: i64,
    inputs: Vec<ResponseReport>,
    actor: &str,
) -> Result<(i64, i64), AppError> {
    conn.write_transaction(|conn| {
        let row = repo::find(conn, id)?.ok_or_else(|| not_found(id))?;
        let tokens: Vec<String> = inputs.iter().filter_map(|i| i.token.clone()).collect();
        let customer_ids: Vec<i64> = inputs.iter().filter_map(|i| i.customer_id).collect();
        let contacts = repo::contacts_matching(conn, id, &tokens, &customer_ids)?;
        let now = now();
        let mut rows = Vec::with_capacity(inputs.len());
        for (index, input) in inputs.iter().enumerate() {
            let field = |name: &str| format!("[{index}].{name}");
            let contact = match (&input.token, input.customer_id) {
                (Some(token), _) => contacts.iter().find(|c| c.token.as_deref() == Some(token.trim())),
                (None, Some(customer_id)) => contacts
                    .iter()
                    .find(|c| c.customer_id == customer_id && !c.holdout)
                    .or_else(|| contacts.iter().find(|c| c.customer_id == customer_id)),
                (None, None) => None,
            };
            let which = if input.token.is_some() { "token" } else { "customer_id" };
            let Some(contact) = contact else {
                return Err(AppError::invalid(field(which), format!("not a contact of campaign {id}")));
            };
            if contact.holdout {
                return Err(AppError::invalid(field(which), "is in the holdout group: it was not contacted"));
            }
            rows.push(NewResponse {
                campaign_id: id,
                contact_id: contact.id,
                customer_id: contact.customer_id,
                kind: input.kind.as_str().to_string(),
                occurred_at: input.occurred_at.unwrap_or(now),
                recorded_at: now,
                actor: actor.to_string(),
            });
        }
        repo::insert_responses(conn, &rows)?;
        let withdrawing: Vec<&NewResponse> =
            rows.iter().filter(|r| matches!(r.kind.as_str(), "unsubscribed" | "complained")).collect();
        let withdrawn = withdraw_consents(conn, &row, &withdrawing)?;
        Ok((rows.len() as i64, withdrawn))
    })
}

/// Writes an `unsubscribed` consent event on the campaign's channel for each customer of
/// these responses, unless they are already unsubscribed there (or erased). The customers
/// and their consents are read in one go. Returns the events written.
fn withdraw_consents(conn: &mut DbConn, row: &CampaignRow, responses: &[&NewResponse]) -> Result<i64, AppError> {
    if responses.is_empty() {
        return Ok(0);
    }
    let channel = ConsentChannel::parse(&row.channel).unwrap_or(ConsentChannel::Email);
    let ids: Vec<i64> = responses.iter().map(|r| r.customer_id).collect();
    let live = crate::repositories::customers::find_many(conn, &ids)?;
    let mut unsubscribed: HashSet<i64> = live
        .values()
        .filter(|c| c.consents.iter().any(|x| x.channel == row.channel && x.state == "unsubscribed"))
        .map(|c| c.row.id)
        .collect();
    let mut written = 0;
    for response in responses {
        if !live.contains_key(&response.customer_id) || !unsubscribed.insert(response.customer_id) {
            continue;
        }
        let change = ConsentChange {
            channel,
            state: ConsentState::Unsubscribed,
            source: ConsentSource::CampaignReply,
            method_detail: Some(format!("campaign {}: {}", row.id, response.kind)),
            consent_text: None,
            consent_text_version: None,
            ip: None,
            user_agent: None,
            occurred_at: response.occurred_at,
        };
        consents::append(conn, response.customer_id, change, &response.actor)?;
        written += 1;
    }
    Ok(written)
}

/// A tracking hit (open pixel, click). Repeats within ten minutes are not recorded again,
/// so a reloaded image or a flood costs no writes. False when the token is unknown.
pub fn track(conn: &mut DbConn, token: &str, kind: ResponseKind, actor: &str) -> Result<bool, AppError> {
    conn.write_transaction(|conn| {
        let Some(contact) = repo::contact_by_token(conn, token)? else {
            // Not a campaign's: perhaps a flow message's.
            return super::flows::track_in_transaction(conn, token, kind == ResponseKind::Clicked);
        };
        let now = now();
        if !repo::has_response_since(conn, contact.id, kind.as_str(), now - Duration::minutes(10))? {
            repo::insert_responses(
                conn,
                &[NewResponse {
                    campaign_id: contact.campaign_id,
                    contact_id: contact.id,
                    customer_id: contact.customer_id,
                    kind: kind.as_str().to_string(),
                    occurred_at: now,
                    recorded_at: now,
                    actor: actor.to_string(),
                }],
            )?;
        }
        Ok(true)
    })
}

/// Contacts who clicked or replied, per campaign.
pub fn responders(conn: &mut DbConn, campaign_ids: &[i64]) -> Result<HashMap<i64, i64>, AppError> {
    if !rollups::are_built(conn)? {
        return Ok(repo::responders(conn, campaign_ids)?);
    }
    let counts = repo::response_counts(conn, Some(campaign_ids))?;
    Ok(counts.into_iter().filter(|((_, kind), _)| kind == repo::RESPONDED).map(|((id, _), n)| (id, n)).collect())
}

pub fn report(conn: &mut DbConn, id: i64) -> Result<Report, AppError> {
    let row = repo::find(conn, id)?.ok_or_else(|| not_found(id))?;
    report_of(conn, &row)
}

/// Campaigns launched in `[from, to)`, each with its report.
pub fn launched_between(
    conn: &mut DbConn,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> Result<Vec<(CampaignRow, Report)>, AppError> {
    let rows = repo::launched_between(conn, from, to)?;
    let reports = reports_of(conn, &rows)?;
    Ok(rows.into_iter().zip(reports).collect())
}

fn report_of(conn: &mut DbConn, row: &CampaignRow) -> Result<Report, AppError> {
    Ok(reports_of(conn, std::slice::from_ref(row))?.pop().expect("one report per campaign"))
}

/// The campaigns' reports, in order. The results kept with every order and response are
/// read once for all of them; before the first rollup build each is computed from the
/// orders and responses.
fn reports_of(conn: &mut DbConn, rows: &[CampaignRow]) -> Result<Vec<Report>, AppError> {
    let launched: Vec<i64> = rows.iter().filter(|r| r.launched_at.is_some()).map(|r| r.id).collect();
    let kept = if !launched.is_empty() && rollups::are_built(conn)? {
        Some((repo::response_counts(conn, Some(&launched))?, repo::results(conn, &launched)?))
    } else {
        None
    };
    let mut reports = Vec::with_capacity(rows.len());
    for row in rows {
        let audience: Option<AudienceCounts> = row.audience.as_ref().map(|a| a.0);
        let mut report = Report {
            campaign_id: row.id,
            audience,
            contacted: audience.map_or(0, |a| a.contacted),
            holdout: audience.map_or(0, |a| a.holdout),
            responses: Vec::new(),
            window: None,
            converted: 0,
            holdout_converted: 0,
            attributed: Vec::new(),
            redemptions: 0,
            discount_given: 0,
            cost: row.cost(),
        };
        if let Some(launched_at) = row.launched_at {
            report.window = Some((launched_at, repo::window_end(launched_at, row.attribution_window_days)));
            let computed;
            let (conversions, figures) = match &kept {
                Some((counts, results)) => {
                    report.responses = counts
                        .iter()
                        .filter(|((id, kind), _)| *id == row.id && kind != repo::RESPONDED)
                        .map(|((_, kind), n)| (kind.clone(), *n))
                        .collect();
                    (&results.0, &results.1)
                }
                None => {
                    report.responses = repo::unique_responses(conn, row.id)?;
                    computed = rollups::computed_campaign_results(conn, row)?;
                    (&computed.0, &computed.1)
                }
            };
            report.converted = conversions.get(&(row.id, false)).copied().unwrap_or(0);
            report.holdout_converted = conversions.get(&(row.id, true)).copied().unwrap_or(0);
            for ((_, currency), f) in figures.iter().filter(|((id, _), _)| *id == row.id) {
                if f.orders != 0 {
                    report.attributed.push(AttributedRow {
                        currency: currency.clone(),
                        orders: f.orders,
                        revenue: f.revenue,
                    });
                }
                report.redemptions += f.redemptions;
                report.discount_given += f.discount;
            }
        }
        reports.push(report);
    }
    Ok(reports)
}
