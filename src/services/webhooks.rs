//! Webhook endpoints and the worker that delivers the event log to them: signed per the
//! Standard Webhooks specification, at least once, retried with backoff for about three
//! days, in order per customer, by any number of rapport instances at once (deliveries are
//! claimed with a lease).

pub mod sender;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use base64::Engine;
use chrono::{Duration, NaiveDateTime};
use rand::Rng;
use serde_json::json;

use crate::config::WebhooksConfig;
use crate::db::{Database, DbConn};
use crate::domain::events::{
    check_webhook_url, event_wire_id, retry_delay_seconds, EndpointDraft, EndpointPatch, EventType, Subscription,
    DISABLE_AFTER_DAYS,
};
use crate::domain::EndpointStatus;
use crate::error::AppError;
use crate::models::events::{AttemptOutcome, DeliveryRow, EndpointChanges, EndpointRow, EventRow, NewEndpoint};
use crate::repositories::events as repo;
pub use sender::Sender;
use sender::SignedRequest;

/// How long the previous secret keeps signing after a rotation.
pub const SECRET_OVERLAP: Duration = Duration::hours(24);
/// How long a worker holds the deliveries it claimed (longer than an attempt can take).
const LEASE: Duration = Duration::seconds(60);
/// Deliveries claimed per round, all sent at once.
const BATCH: i64 = 64;
/// The worker's pause after a round that found nothing, and after a part-full one.
const IDLE_PAUSE: std::time::Duration = std::time::Duration::from_millis(200);
const GATHER_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);

fn not_found(id: i64) -> AppError {
    AppError::NotFound(format!("no webhook endpoint {id}"))
}

fn check_url(url: &str, config: &WebhooksConfig) -> Result<(), AppError> {
    check_webhook_url(url, config.allow_private).map(drop).map_err(|problem| AppError::invalid("url", problem))
}

fn subscription_text(subscription: &Subscription) -> String {
    serde_json::to_string(&subscription.names()).expect("a list of names serializes")
}

/// `whsec_` and 32 random bytes in base64, as the specification's libraries expect.
fn new_secret() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(bytes))
}

pub fn create(conn: &mut DbConn, config: &WebhooksConfig, draft: EndpointDraft) -> Result<EndpointRow, AppError> {
    check_url(&draft.url, config)?;
    let now = super::now();
    let endpoint = NewEndpoint {
        url: draft.url,
        description: draft.description,
        event_types: subscription_text(&draft.subscription),
        secret: new_secret(),
        status: EndpointStatus::Enabled.as_str().into(),
        created_at: now,
        updated_at: now,
    };
    Ok(repo::insert_endpoint(conn, &endpoint)?)
}

pub fn get(conn: &mut DbConn, id: i64) -> Result<EndpointRow, AppError> {
    repo::find_endpoint(conn, id)?.ok_or_else(|| not_found(id))
}

pub fn list(conn: &mut DbConn, before_id: Option<i64>, limit: i64) -> Result<Vec<EndpointRow>, AppError> {
    Ok(repo::list_endpoints(conn, before_id, limit)?)
}

/// Applies a patch. Enabling a disabled endpoint clears its failure record; its pending
/// deliveries resume.
pub fn patch(
    conn: &mut DbConn,
    config: &WebhooksConfig,
    id: i64,
    patch: EndpointPatch,
) -> Result<EndpointRow, AppError> {
    if let Some(url) = &patch.url {
        check_url(url, config)?;
    }
    let mut changes = EndpointChanges {
        url: patch.url,
        description: patch.description,
        event_types: patch.subscription.as_ref().map(subscription_text),
        updated_at: Some(super::now()),
        ..Default::default()
    };
    match patch.enabled {
        Some(true) => {
            changes.status = Some(EndpointStatus::Enabled.as_str().into());
            changes.disabled_reason = Some(None);
            changes.failing_since = Some(None);
        }
        Some(false) => {
            changes.status = Some(EndpointStatus::Disabled.as_str().into());
            changes.disabled_reason = Some(Some("disabled through the API".into()));
        }
        None => {}
    }
    repo::update_endpoint(conn, id, &changes)?.ok_or_else(|| not_found(id))
}

pub fn delete(conn: &mut DbConn, id: i64) -> Result<(), AppError> {
    conn.write_transaction(|conn| if repo::delete_endpoint(conn, id)? { Ok(()) } else { Err(not_found(id)) })
}

/// A new secret; the current one keeps signing (both signatures are sent) for 24 hours.
pub fn rotate_secret(conn: &mut DbConn, id: i64) -> Result<EndpointRow, AppError> {
    conn.write_transaction(|conn| {
        let current = get(conn, id)?;
        let now = super::now();
        repo::set_secrets(conn, id, &new_secret(), Some((&current.secret, now + SECRET_OVERLAP)), now)?
            .ok_or_else(|| not_found(id))
    })
}

/// Queues a `webhook.test` event for this endpoint alone; returns its delivery.
pub fn send_test(conn: &mut DbConn, id: i64) -> Result<(DeliveryRow, String), AppError> {
    let endpoint = get(conn, id)?;
    if endpoint.status != EndpointStatus::Enabled.as_str() {
        return Err(AppError::conflict(format!("webhook endpoint {id} is disabled; enable it first")));
    }
    let now = super::now();
    let data = json!({ "endpoint_id": id, "message": "a test event from rapport" });
    let event_id = conn.write_transaction(|conn| {
        super::events::record_for_endpoint(conn, EventType::WebhookTest, id, data.clone(), now)
    })?;
    super::events::sequence_one_batch(conn, now)?;
    repo::delivery_of_event(conn, id, event_id)?
        .ok_or_else(|| AppError::conflict(format!("webhook endpoint {id} was disabled meanwhile")))
}

pub fn deliveries(
    conn: &mut DbConn,
    endpoint_id: i64,
    status: Option<&str>,
    before_id: Option<i64>,
    limit: i64,
) -> Result<Vec<(DeliveryRow, String)>, AppError> {
    get(conn, endpoint_id)?;
    Ok(repo::list_deliveries(conn, endpoint_id, status, before_id, limit)?)
}

/// Makes a delivery due now (whatever its status): one more attempt, soon.
pub fn retry(conn: &mut DbConn, endpoint_id: i64, delivery_id: i64) -> Result<(DeliveryRow, String), AppError> {
    conn.write_transaction(|conn| {
        let endpoint = get(conn, endpoint_id)?;
        let missing = || AppError::NotFound(format!("no delivery {delivery_id} of webhook endpoint {endpoint_id}"));
        let (delivery, _) = repo::find_delivery(conn, endpoint_id, delivery_id)?.ok_or_else(missing)?;
        let now = super::now();
        if endpoint.status != EndpointStatus::Enabled.as_str() {
            return Err(AppError::conflict(format!("webhook endpoint {endpoint_id} is disabled; enable it first")));
        }
        if delivery.lease_until.is_some_and(|until| until > now) {
            return Err(AppError::conflict(format!("delivery {delivery_id} is being attempted right now")));
        }
        repo::reschedule(conn, delivery_id, now)?;
        repo::find_delivery(conn, endpoint_id, delivery_id)?.ok_or_else(missing)
    })
}

/// The body of a delivery: `{"type", "timestamp", "data"}` (Standard Webhooks). `data` is
/// the stored JSON text as it is (rapport wrote it), not parsed and written again.
pub fn payload(event: &EventRow) -> String {
    let event_type = serde_json::to_string(&event.event_type).expect("a string serializes");
    let timestamp = event.created_at.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    format!(r#"{{"type":{event_type},"timestamp":"{timestamp}","data":{}}}"#, event.data)
}

/// The `webhook-signature` value: `v1,<signature>` with the current secret, and a second
/// one with the previous secret while it still signs (space-separated, as the spec allows).
pub fn signature(endpoint: &EndpointRow, id: &str, timestamp: i64, body: &str, now: NaiveDateTime) -> String {
    let mut secrets = vec![endpoint.secret.as_str()];
    if let (Some(previous), Some(until)) = (&endpoint.previous_secret, endpoint.previous_secret_until) {
        if until > now {
            secrets.push(previous);
        }
    }
    secrets
        .into_iter()
        .filter_map(|secret| {
            let signer = standardwebhooks::Webhook::new(secret).ok()?;
            signer.sign(id, timestamp, body.as_bytes()).ok()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// One round of the worker at `now`: sequences new events, claims due deliveries, sends
/// them (several at once) and records the outcomes. Returns how many were attempted.
pub fn deliver_due(database: &Database, sender: &Sender, now: NaiveDateTime) -> Result<usize, AppError> {
    let lease_until = now + LEASE;
    // Reads first, so that an idle round takes no write lock; then sequencing and claiming
    // share one write transaction.
    let claimed = database.with_conn(|conn| {
        let unsequenced = super::events::any_unsequenced(conn)?;
        if !unsequenced && !repo::any_due(conn, now)? {
            return Ok(Vec::new());
        }
        conn.write_transaction(|conn| -> Result<_, AppError> {
            if unsequenced {
                super::events::sequence_in_transaction(conn, now)?;
            }
            Ok(repo::claim_due(conn, now, lease_until, BATCH)?)
        })
    })?;
    if claimed.is_empty() {
        return Ok(0);
    }
    let (events, endpoints) = database.with_conn(|conn| -> Result<_, AppError> {
        let event_ids: Vec<i64> = claimed.iter().map(|d| d.event_id).collect();
        let endpoint_ids: Vec<i64> = claimed.iter().map(|d| d.endpoint_id).collect();
        Ok((repo::events_by_id(conn, &event_ids)?, repo::endpoints_by_id(conn, &endpoint_ids)?))
    })?;
    let requests: Vec<(DeliveryRow, Option<SignedRequest>)> = claimed
        .into_iter()
        .map(|delivery| {
            let event = events.iter().find(|e| e.id == delivery.event_id);
            let endpoint = endpoints.iter().find(|e| e.id == delivery.endpoint_id);
            let request = event.zip(endpoint).map(|(event, endpoint)| signed_request(event, endpoint, now));
            (delivery, request)
        })
        .collect();
    let outcomes = send_all(sender, &requests, now);
    let attempted = outcomes.len();
    let sent_data: HashMap<i64, String> = events.into_iter().map(|e| (e.id, e.data)).collect();
    database.with_conn(|conn| {
        conn.write_transaction(|conn| record_outcomes(conn, &outcomes, &sent_data, lease_until, now))
    })?;
    Ok(attempted)
}

fn signed_request(event: &EventRow, endpoint: &EndpointRow, now: NaiveDateTime) -> SignedRequest {
    let id = event_wire_id(event.id);
    let body = payload(event);
    // The signed timestamp is the real time of sending (receivers check it against their
    // clock), whatever clock drives the schedule.
    let timestamp = chrono::Utc::now().timestamp();
    let signature = signature(endpoint, &id, timestamp, &body, now);
    SignedRequest { url: endpoint.url.clone(), id, timestamp, signature, body }
}

/// Sends the requests at once and pairs each delivery with its outcome.
fn send_all(
    sender: &Sender,
    requests: &[(DeliveryRow, Option<SignedRequest>)],
    now: NaiveDateTime,
) -> Vec<(DeliveryRow, AttemptOutcome)> {
    let signed: Vec<Option<&SignedRequest>> = requests.iter().map(|(_, request)| request.as_ref()).collect();
    let attempts = sender.send_all(&signed);
    requests
        .iter()
        .zip(attempts)
        .map(|((delivery, _), sent)| {
            let outcome = AttemptOutcome {
                at: now,
                response_status: sent.response_status.map(i32::from),
                latency_ms: i64::try_from(sent.latency.as_millis()).unwrap_or(i64::MAX),
                error: sent.error,
            };
            (delivery.clone(), outcome)
        })
        .collect()
}

/// Records each attempt: success, a retry at its time (with jitter), or given up; an
/// endpoint that has failed every attempt for DISABLE_AFTER_DAYS is disabled, and a
/// `webhook.disabled` event says so.
///
/// An outcome is recorded only while this worker's lease on the delivery holds (another
/// instance that took it over owns the record then). When the event's data changed while
/// it was being sent (the customer was erased), the receiver's answer is not kept.
fn record_outcomes(
    conn: &mut DbConn,
    outcomes: &[(DeliveryRow, AttemptOutcome)],
    sent_data: &HashMap<i64, String>,
    lease_until: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    let event_ids: Vec<i64> = outcomes.iter().map(|(d, _)| d.event_id).collect();
    let current: HashMap<i64, String> =
        repo::events_by_id(conn, &event_ids)?.into_iter().map(|e| (e.id, e.data)).collect();
    let (successes, failures): (Vec<_>, Vec<_>) = outcomes.iter().partition(|(_, outcome)| outcome.error.is_none());
    // Successes first: an endpoint that answered in this round is not failing.
    let mut answered = Vec::new();
    for (delivery, outcome) in successes {
        if repo::record_attempt(conn, delivery.id, outcome, None, lease_until)? {
            answered.push(delivery.endpoint_id);
        }
    }
    answered.sort_unstable();
    answered.dedup();
    repo::note_success(conn, &answered)?;
    let mut failing = Vec::new();
    for (delivery, outcome) in failures {
        let mut outcome = outcome.clone();
        if current.get(&delivery.event_id) != sent_data.get(&delivery.event_id) {
            outcome.error = Some("failed; the answer is not kept: the event's data was erased meanwhile".into());
        }
        let retry_at = retry_delay_seconds(delivery.attempts + 1).map(|seconds| now + with_jitter(seconds));
        if !repo::record_attempt(conn, delivery.id, &outcome, retry_at, lease_until)? {
            continue;
        }
        tracing::warn!(
            delivery_id = delivery.id,
            endpoint_id = delivery.endpoint_id,
            attempts = delivery.attempts + 1,
            error = outcome.error.as_deref().unwrap_or_default(),
            "webhook not delivered"
        );
        if !answered.contains(&delivery.endpoint_id) {
            failing.push(delivery.endpoint_id);
        }
    }
    // Once per endpoint that only failed in this round.
    failing.sort_unstable();
    failing.dedup();
    for endpoint_id in failing {
        let failing_since = repo::note_failure(conn, endpoint_id, now)?;
        if let Some(since) = failing_since.filter(|since| now - *since >= Duration::days(DISABLE_AFTER_DAYS)) {
            disable_failing(conn, endpoint_id, since, now)?;
        }
    }
    Ok(())
}

fn disable_failing(
    conn: &mut DbConn,
    endpoint_id: i64,
    since: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    let reason = format!("every delivery failed for {DISABLE_AFTER_DAYS} days");
    if repo::disable(conn, endpoint_id, &reason, now)? {
        tracing::warn!(endpoint_id, "webhook endpoint disabled: {reason}");
        let since = since.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let data = json!({ "id": endpoint_id, "reason": reason, "failing_since": since });
        super::events::record(conn, EventType::WebhookDisabled, None, data)?;
    }
    Ok(())
}

/// Up to 10 % more, so that many deliveries failing together do not retry together.
fn with_jitter(seconds: i64) -> Duration {
    let extra = rand::rng().random_range(0..=seconds / 10);
    Duration::seconds(seconds + extra)
}

/// Lowers this thread's CPU priority (nice 10) on Linux: deliveries can wait a few
/// milliseconds, the requests that cause them (a checkout) should not wait for them.
fn yield_to_requests() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain system calls on the calling thread, no memory is shared.
        let outcome = unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 10) };
        if outcome != 0 {
            tracing::debug!("could not lower the webhook worker's priority");
        }
    }
}

/// What the worker did so far.
#[derive(Debug, Default)]
pub struct WorkerCounts {
    pub rounds: AtomicU64,
    pub idle_rounds: AtomicU64,
    pub attempted: AtomicU64,
    pub failed_rounds: AtomicU64,
}

/// The running worker.
pub struct Worker {
    stop: Arc<AtomicBool>,
    pub counts: Arc<WorkerCounts>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Worker {
    /// Ends the worker after its current round, and waits for it.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The worker: a round every 200 ms while there is nothing to do, 100 ms after a part-full
/// round, at once after a full one.
pub fn spawn_worker(database: Database, config: WebhooksConfig) -> Result<Worker, String> {
    let stop = Arc::new(AtomicBool::new(false));
    let counts = Arc::new(WorkerCounts::default());
    let (stopped, counted) = (stop.clone(), counts.clone());
    let (started, outcome) = std::sync::mpsc::sync_channel(1);
    let thread = std::thread::Builder::new()
        .name("webhooks".into())
        .spawn(move || {
            yield_to_requests();
            // Built (and dropped) on this thread: the client's runtime must not live on an
            // async one.
            let sender = match Sender::new(config.allow_private) {
                Ok(sender) => {
                    let _ = started.send(Ok(()));
                    sender
                }
                Err(error) => {
                    let _ = started.send(Err(error));
                    return;
                }
            };
            while !stopped.load(Ordering::Relaxed) {
                counted.rounds.fetch_add(1, Ordering::Relaxed);
                match deliver_due(&database, &sender, super::now()) {
                    Ok(0) => {
                        counted.idle_rounds.fetch_add(1, Ordering::Relaxed);
                        std::thread::sleep(IDLE_PAUSE)
                    }
                    Ok(attempted) => {
                        counted.attempted.fetch_add(attempted as u64, Ordering::Relaxed);
                        // A part-full round: let a few more events gather, so that a busy
                        // shop gets fewer, fuller rounds (fewer transactions beside its orders).
                        if attempted < BATCH as usize {
                            std::thread::sleep(GATHER_PAUSE);
                        }
                    }
                    Err(error) => {
                        counted.failed_rounds.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(%error, "webhook delivery round failed");
                        std::thread::sleep(std::time::Duration::from_secs(1));
                    }
                }
            }
        })
        .map_err(|e| format!("cannot start the webhook worker: {e}"))?;
    outcome.recv().map_err(|_| "the webhook worker stopped at once".to_string())??;
    Ok(Worker { stop, counts, thread: Some(thread) })
}
