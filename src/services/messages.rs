//! The outbox: messages are queued in the database inside the transaction that causes
//! them, and a background worker delivers them over SMTP with retries and backoff.

use std::time::Duration as StdDuration;

use chrono::{Duration, NaiveDateTime};
use lettre::message::{header::ContentType, Mailbox, MultiPart};
use lettre::{SmtpTransport, Transport};

use super::now;
use crate::config::MailConfig;
use crate::db::{Database, DbConn};
use crate::domain::MessageStatus;
use crate::error::AppError;
use crate::models::messages::{MessageRow, NewMessage};
use crate::repositories::messages as repo;

/// Attempts before a message is marked `failed`.
pub const MAX_ATTEMPTS: i32 = 6;
/// How long a worker holds a message it is sending.
const LEASE: Duration = Duration::minutes(2);
const BATCH: i64 = 20;

/// Queues a message in the caller's transaction.
pub fn enqueue(
    conn: &mut DbConn,
    customer_id: Option<i64>,
    kind: &str,
    recipient: &str,
    subject: &str,
    body: &str,
) -> Result<MessageRow, AppError> {
    let now = now();
    Ok(repo::insert(
        conn,
        NewMessage {
            customer_id,
            kind: kind.to_string(),
            recipient: recipient.to_string(),
            subject: subject.to_string(),
            body: body.to_string(),
            status: MessageStatus::Pending.as_str().to_string(),
            next_attempt_at: now,
            created_at: now,
            campaign_id: None,
            list_unsubscribe: None,
            html_body: None,
        },
    )?)
}

/// The wait before attempt number `attempts + 1`: 30 s, 1 min, 2 min, 4 min, 8 min.
pub fn backoff(attempts_so_far: i32) -> Duration {
    Duration::seconds(30 * (1i64 << attempts_so_far.clamp(0, 10)))
}

/// Sends mail over SMTP with the configured sender.
pub struct Mailer {
    transport: SmtpTransport,
    from: Mailbox,
    reply_to: Option<Mailbox>,
}

impl Mailer {
    /// None when `RAPPORT_SMTP_URL` is not set.
    pub fn from_config(config: &MailConfig) -> Result<Option<Mailer>, String> {
        let Some(url) = &config.smtp_url else { return Ok(None) };
        let transport = SmtpTransport::from_url(url)
            .map_err(|e| format!("RAPPORT_SMTP_URL: {e}"))?
            .timeout(Some(StdDuration::from_secs(20)))
            .build();
        Ok(Some(Mailer { transport, from: config.from.clone(), reply_to: config.reply_to.clone() }))
    }

    pub fn send(&self, message: &MessageRow) -> Result<(), String> {
        let to: Mailbox = message.recipient.parse().map_err(|e| format!("bad recipient: {e}"))?;
        let mut builder = lettre::Message::builder().from(self.from.clone()).to(to).subject(&message.subject);
        if let Some(reply_to) = &self.reply_to {
            builder = builder.reply_to(reply_to.clone());
        }
        if let Some(url) = &message.list_unsubscribe {
            // RFC 8058 one-click: mail clients POST `List-Unsubscribe=One-Click` to the URL.
            builder = builder
                .raw_header(raw_header("List-Unsubscribe", format!("<{url}>"))?)
                .raw_header(raw_header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click".to_string())?);
        }
        let email = match &message.html_body {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(message.body.clone(), html.clone())),
            None => builder.header(ContentType::TEXT_PLAIN).body(message.body.clone()),
        }
        .map_err(|e| format!("cannot build: {e}"))?;
        self.transport.send(&email).map(drop).map_err(|e| e.to_string())
    }
}

fn raw_header(name: &str, value: String) -> Result<lettre::message::header::HeaderValue, String> {
    let name = lettre::message::header::HeaderName::new_from_ascii(name.to_string())
        .map_err(|e| format!("bad header name {name}: {e}"))?;
    Ok(lettre::message::header::HeaderValue::new(name, value))
}

/// Delivers the messages due at `now`; returns how many were sent. Sending happens
/// outside any transaction: a lease keeps other workers off a message meanwhile.
pub fn deliver_due(conn: &mut DbConn, mailer: &Mailer, now: NaiveDateTime) -> Result<usize, AppError> {
    let mut sent = 0;
    for message in repo::due(conn, now, BATCH)? {
        if !repo::lease(conn, &message, now + LEASE)? {
            continue;
        }
        match mailer.send(&message) {
            Ok(()) => {
                repo::mark_sent(conn, message.id, now)?;
                sent += 1;
            }
            Err(error) => {
                let attempts = message.attempts + 1;
                let retry_at = (attempts < MAX_ATTEMPTS).then(|| now + backoff(message.attempts));
                tracing::warn!(message_id = message.id, attempts, %error, "message not delivered");
                if retry_at.is_some() {
                    repo::mark_attempt_failed(conn, message.id, &error, now, retry_at)?;
                } else {
                    // Given up for good: the status and its event are one transaction.
                    conn.write_transaction(|conn| -> Result<(), AppError> {
                        repo::mark_attempt_failed(conn, message.id, &error, now, None)?;
                        super::emit::message_failed(conn, &message, attempts, &error)
                    })?;
                }
            }
        }
    }
    Ok(sent)
}

/// Runs delivery in the background, once a second, for as long as the process lives.
pub fn spawn_worker(database: Database, mailer: Mailer) {
    std::thread::Builder::new()
        .name("outbox".into())
        .spawn(move || loop {
            match database.with_conn(|conn| deliver_due(conn, &mailer, now())) {
                Ok(0) => {}
                Ok(sent) => tracing::info!(sent, "outbox delivered messages"),
                Err(error) => tracing::warn!(%error, "outbox delivery round failed"),
            }
            std::thread::sleep(StdDuration::from_secs(1));
        })
        .expect("start the outbox thread");
}

pub fn list(
    conn: &mut DbConn,
    status: Option<&str>,
    before_id: Option<i64>,
    limit: i64,
) -> Result<Vec<MessageRow>, AppError> {
    Ok(repo::list(conn, status, before_id, limit)?)
}

pub fn count_pending(conn: &mut DbConn) -> Result<i64, AppError> {
    Ok(repo::count_pending(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles() {
        assert_eq!(backoff(0), Duration::seconds(30));
        assert_eq!(backoff(1), Duration::seconds(60));
        assert_eq!(backoff(4), Duration::seconds(480));
    }
}
