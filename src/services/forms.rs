//! The public side: contact and newsletter forms, double opt-in confirmation, and
//! unsubscribe links. Answers never reveal whether an email was already known.

use std::collections::HashMap;

use chrono::NaiveDateTime;

use super::{now, write_with_one_retry, TxError};
use crate::config::Config;
use crate::db::DbConn;
use crate::domain::consent::ConsentChange;
use crate::domain::forms::ClientInfo;
use crate::domain::forms::{ConsentRequest, ContactSubmission, SubscribeSubmission};
use crate::domain::token::{hash_token, new_link_token};
use crate::domain::EnquiryStatus;
use crate::domain::{ConsentChannel, ConsentSource, ConsentState, Email};
use crate::error::AppError;
use crate::models::customers::CustomerRecord;
use crate::models::forms::{ConfirmationTokenRow, NewEnquiry, UnsubscribeTokenRow};
use crate::repositories::{consents as consent_repo, customers as customer_repo, forms as repo};
use crate::services::provenance::Provenance;
use crate::services::{consents, customers, messages};

pub(crate) fn enquiry(
    kind: &str,
    status: &str,
    customer_id: Option<i64>,
    email: &Email,
    client: &ClientInfo,
) -> NewEnquiry {
    let now = now();
    NewEnquiry {
        customer_id,
        kind: kind.to_string(),
        status: status.to_string(),
        email: Some(email.as_str().to_string()),
        subject: None,
        message: None,
        assignee: None,
        ip: client.ip.map(|ip| ip.to_string()),
        user_agent: client.user_agent.clone(),
        created_at: now,
        updated_at: now,
        channel: crate::domain::EnquiryChannel::Form.as_str().to_string(),
        occurred_at: now,
        follow_up_at: None,
        tags: crate::db::Json(Vec::new()),
        resolved_at: None,
    }
}

/// `POST /v1/forms/contact`: upsert the customer (blanks only), store the enquiry, and
/// record consent if given. A filled honeypot stores spam and does nothing else.
pub fn submit_contact(
    conn: &mut DbConn,
    config: &Config,
    submission: ContactSubmission,
    client: &ClientInfo,
) -> Result<(), AppError> {
    let outcome = write_with_one_retry(conn, |conn| {
        let mut stored = enquiry("contact", EnquiryStatus::New.as_str(), None, &submission.email, client);
        stored.subject = submission.subject.clone();
        stored.message = Some(submission.message.clone());
        if submission.honeypot_filled {
            stored.status = EnquiryStatus::Spam.as_str().into();
            repo::insert_enquiry(conn, stored)?;
            return Ok(());
        }
        let mut draft = submission.draft.clone();
        draft.source = Some(crate::domain::CustomerSource::ContactForm);
        let customer = customers::fill_blanks_by_email(conn, &submission.email, draft, &Provenance::public_form())?;
        stored.customer_id = Some(customer.row.id);
        let created = repo::insert_enquiry(conn, stored)?;
        // Spam (above) records no event: it has no customer, so erasure could not scrub it.
        super::emit::enquiry_created(conn, &created)?;
        if let Some(consent) = &submission.consent {
            request_consent(conn, config, &customer, consent, ConsentSource::ContactForm, client)?;
        }
        Ok(())
    });
    Ok(outcome?)
}

/// `POST /v1/forms/subscribe`: upsert the customer (blanks only) and ask for consent:
/// `pending` plus a confirmation message with double opt-in, `subscribed` without.
pub fn submit_subscribe(
    conn: &mut DbConn,
    config: &Config,
    submission: SubscribeSubmission,
    client: &ClientInfo,
) -> Result<(), AppError> {
    let outcome = write_with_one_retry(conn, |conn| {
        if submission.honeypot_filled {
            repo::insert_enquiry(
                conn,
                enquiry("subscribe", EnquiryStatus::Spam.as_str(), None, &submission.email, client),
            )?;
            return Ok(());
        }
        let mut draft = submission.draft.clone();
        draft.source = Some(crate::domain::CustomerSource::NewsletterForm);
        let customer = customers::fill_blanks_by_email(conn, &submission.email, draft, &Provenance::public_form())?;
        request_consent(conn, config, &customer, &submission.consent, ConsentSource::NewsletterForm, client)?;
        Ok(())
    });
    Ok(outcome?)
}

fn change(
    channel: ConsentChannel,
    state: ConsentState,
    source: ConsentSource,
    text: Option<&str>,
    client: &ClientInfo,
    detail: &str,
) -> ConsentChange {
    ConsentChange {
        channel,
        state,
        source,
        method_detail: Some(detail.to_string()),
        consent_text: text.map(str::to_owned),
        consent_text_version: None,
        ip: client.ip,
        user_agent: client.user_agent.clone(),
        occurred_at: now(),
    }
}

/// Records a form's consent. Channels already subscribed are left alone (a form must
/// not turn a confirmed subscription back into `pending`).
pub(crate) fn request_consent(
    conn: &mut DbConn,
    config: &Config,
    customer: &CustomerRecord,
    request: &ConsentRequest,
    source: ConsentSource,
    client: &ClientInfo,
) -> Result<(), TxError> {
    let customer_id = customer.row.id;
    let current: HashMap<String, String> = consent_repo::current_for(conn, &[customer_id])?
        .remove(&customer_id)
        .unwrap_or_default()
        .into_iter()
        .map(|row| (row.channel, row.state))
        .collect();
    let asked: Vec<ConsentChannel> = request
        .channels
        .iter()
        .copied()
        .filter(|channel| current.get(channel.as_str()).map(String::as_str) != Some("subscribed"))
        .collect();
    if asked.is_empty() {
        return Ok(());
    }
    let actor = format!("public:{}", source.as_str());
    if !config.forms.double_opt_in {
        for &channel in &asked {
            let detail = "public form, single opt-in";
            consents::append(
                conn,
                customer_id,
                change(channel, ConsentState::Subscribed, source, Some(&request.text), client, detail),
                &actor,
            )?;
        }
        return Ok(());
    }
    for &channel in &asked {
        let detail = "public form, awaiting double opt-in confirmation";
        consents::append(
            conn,
            customer_id,
            change(channel, ConsentState::Pending, source, Some(&request.text), client, detail),
            &actor,
        )?;
    }
    let now = now();
    let (token, token_hash) = new_link_token();
    repo::insert_confirmation_token(
        conn,
        ConfirmationTokenRow {
            token_hash,
            customer_id,
            channels: asked.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(","),
            consent_text: Some(request.text.clone()),
            source: source.as_str().to_string(),
            expires_at: now + config.forms.confirm_ttl,
            used_at: None,
            created_at: now,
        },
    )?;
    let email = customer.row.email.clone().unwrap_or_default();
    let body = confirmation_body(config, customer.row.first_name.as_deref(), &token, now + config.forms.confirm_ttl);
    messages::enqueue(conn, Some(customer_id), "confirmation", &email, "Please confirm your subscription", &body)?;
    Ok(())
}

fn confirmation_body(config: &Config, first_name: Option<&str>, token: &str, expires_at: NaiveDateTime) -> String {
    let greeting = first_name.map_or("Hello,".to_string(), |name| format!("Hello {name},"));
    format!(
        "{greeting}\n\nPlease confirm that you want to hear from us by opening this link:\n\n{}\n\n\
         The link is valid until {} UTC. If you did not ask for this, ignore this message: \
         nothing more will be sent to you.\n",
        confirm_url(config, token),
        expires_at.format("%Y-%m-%d %H:%M"),
    )
}

pub fn confirm_url(config: &Config, token: &str) -> String {
    format!("{}/v1/public/confirm?token={token}", config.mail.public_url)
}

pub fn unsubscribe_url(config: &Config, token: &str) -> String {
    format!("{}/v1/public/unsubscribe?token={token}", config.mail.public_url)
}

/// `POST /v1/public/confirm`: pending -> subscribed (`confirmed_opt_in`), recording the
/// confirming IP and user agent. Unknown token 404, used 409, expired 410.
pub fn confirm(conn: &mut DbConn, token: &str, client: &ClientInfo) -> Result<(), AppError> {
    let token_hash = hash_token(token);
    conn.write_transaction(|conn| {
        let now = now();
        let stored = repo::find_confirmation_token(conn, &token_hash)?
            .ok_or_else(|| AppError::not_found("this confirmation link is not valid"))?;
        if !repo::use_confirmation_token(conn, &token_hash, now)? {
            return Err(if stored.used_at.is_some() {
                AppError::Conflict { detail: "this confirmation link was already used".into(), existing_id: None }
            } else {
                AppError::Gone("this confirmation link has expired; subscribe again to get a new one".into())
            });
        }
        customer_repo::find_for_update(conn, stored.customer_id)?;
        for channel in stored.channels.split(',').filter_map(ConsentChannel::parse) {
            let mut confirmed = change(
                channel,
                ConsentState::Subscribed,
                ConsentSource::ConfirmationLink,
                stored.consent_text.as_deref(),
                client,
                "double opt-in confirmation link",
            );
            confirmed.occurred_at = now;
            consents::append(conn, stored.customer_id, confirmed, "public:confirmation_link")?;
        }
        Ok(())
    })
}

/// A new unsubscribe link for a customer and channel.
pub fn new_unsubscribe_url(
    conn: &mut DbConn,
    config: &Config,
    customer_id: i64,
    channel: ConsentChannel,
) -> Result<String, AppError> {
    if !customer_repo::exists(conn, customer_id)? {
        return Err(AppError::not_found(format!("customer {customer_id} does not exist")));
    }
    let (token, token_hash) = new_link_token();
    repo::insert_unsubscribe_token(
        conn,
        UnsubscribeTokenRow { token_hash, customer_id, channel: channel.as_str().to_string(), created_at: now() },
    )?;
    Ok(unsubscribe_url(config, &token))
}

/// `POST /v1/public/unsubscribe`: unsubscribes at once; a second time adds no event.
pub fn unsubscribe(conn: &mut DbConn, token: &str, client: &ClientInfo) -> Result<(), AppError> {
    let token_hash = hash_token(token);
    conn.write_transaction(|conn| {
        let stored = repo::find_unsubscribe_token(conn, &token_hash)?
            .ok_or_else(|| AppError::not_found("this unsubscribe link is not valid"))?;
        let channel = ConsentChannel::parse(&stored.channel).ok_or_else(|| AppError::internal("bad channel"))?;
        customer_repo::find_for_update(conn, stored.customer_id)?;
        let already = consent_repo::current_for(conn, &[stored.customer_id])?
            .remove(&stored.customer_id)
            .unwrap_or_default()
            .into_iter()
            .any(|row| row.channel == stored.channel && row.state == "unsubscribed");
        if !already {
            let withdrawn = change(
                channel,
                ConsentState::Unsubscribed,
                ConsentSource::UnsubscribeLink,
                None,
                client,
                "unsubscribe link",
            );
            consents::append(conn, stored.customer_id, withdrawn, "public:unsubscribe_link")?;
        }
        Ok(())
    })
}
