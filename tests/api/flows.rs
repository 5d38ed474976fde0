//! Automated flows: triggers, steps, the send gate, holdout and the report, with the
//! scheduler driven by an injected clock (`services::flows::tick` at a chosen moment).

use chrono::{Duration, NaiveDateTime};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{bearer, Backend, TestApp};
use crate::segments::set_consent;
use crate::smtp_sink::{decoded, SmtpSink};
use rapport::services::flows::{self, Round};

both_backends!(
    welcome_series_mails_through_smtp_and_an_unsubscribed_customer_gets_nothing_more,
    the_frequency_cap_shared_with_campaigns_holds_a_flow_message_back,
    holdout_customers_are_never_messaged_and_form_the_baseline,
    a_crash_between_claiming_and_finishing_a_step_neither_doubles_nor_loses_it,
    two_schedulers_on_one_database_run_each_step_once,
    reentry_policy_once_and_every_n_days,
    event_and_scanned_triggers_enrol_the_right_customers,
    a_late_step_after_downtime_is_skipped_and_counted,
    merges_move_runs_and_erasure_removes_them,
    bad_flows_are_refused_with_the_field_named,
    the_six_templates_run_end_to_end,
    html_mail_and_previews_see_orders_recommendations_and_codes,
    a_step_that_fails_for_one_customer_does_not_hold_up_the_others,
    quiet_hours_hold_a_message_until_they_end_in_the_shop_time_zone,
);

fn tick(app: &TestApp, at: NaiveDateTime) -> Round {
    let (config, keys) = (&app.state.config, &app.state.keys);
    app.state.db.with_conn(|conn| flows::tick(conn, config, keys, at)).unwrap()
}

fn now() -> NaiveDateTime {
    rapport::domain::now()
}

async fn customer(app: &TestApp, body: Value) -> i64 {
    app.create_customer(body).await["id"].as_i64().unwrap()
}

async fn subscriber(app: &TestApp, email: &str, first_name: &str) -> i64 {
    let id = customer(app, json!({"email": email, "first_name": first_name})).await;
    set_consent(app, id, "email", "subscribed").await;
    id
}

async fn create_flow(app: &TestApp, body: Value) -> i64 {
    let response = app.post("/v1/flows", &app.token("campaigns:write"), body).await;
    assert_eq!(response.status.as_u16(), 201, "{}", response.text);
    assert_eq!(response.body["status"], "draft");
    response.body["id"].as_i64().unwrap()
}

async fn activate(app: &TestApp, id: i64) {
    let response = app.post(&format!("/v1/flows/{id}/activate"), &app.token("campaigns:write"), json!({})).await;
    assert_eq!(response.status.as_u16(), 200, "{}", response.text);
}

async fn active_flow(app: &TestApp, body: Value) -> i64 {
    let id = create_flow(app, body).await;
    activate(app, id).await;
    id
}

async fn report(app: &TestApp, id: i64) -> Value {
    let response = app.get(&format!("/v1/flows/{id}/report"), &app.token("campaigns:read")).await;
    assert_eq!(response.status.as_u16(), 200, "{}", response.text);
    response.body
}

fn outcomes(report: &Value, step: usize) -> Value {
    report["steps"][step]["outcomes"].clone()
}

async fn order(app: &TestApp, customer_id: i64, total: i64) -> Value {
    let body = json!({"channel": "web", "currency": "EUR", "customer": {"id": customer_id},
        "lines": [{"sku": "MUG", "name": "Mug", "product_type": "kitchen", "quantity": 1, "unit_price": total}], "total": total});
    let response = app
        .call(
            actix_web::test::TestRequest::post()
                .uri("/v1/orders")
                .insert_header(bearer(&app.token("orders:write")))
                .insert_header(("Idempotency-Key", format!("k-{}", rand_suffix())))
                .set_json(body),
        )
        .await;
    assert_eq!(response.status.as_u16(), 201, "{}", response.text);
    response.body
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Flow messages in the outbox, by recipient.
async fn flow_mail(app: &TestApp) -> Vec<Value> {
    let response = app.get("/v1/messages?limit=200", &app.token("admin")).await;
    assert_eq!(response.status.as_u16(), 200, "{}", response.text);
    response.body["items"].as_array().unwrap().iter().filter(|m| m["kind"] == "flow").cloned().collect()
}

/// A birthday (30 years back) that comes `days` after `at` (UTC, the default shop zone).
fn birthday_in(at: NaiveDateTime, days: i64) -> String {
    use chrono::Datelike;
    let day = at.date() + Duration::days(days);
    let born = chrono::NaiveDate::from_ymd_opt(day.year() - 30, day.month(), day.day())
        .unwrap_or_else(|| chrono::NaiveDate::from_ymd_opt(day.year() - 30, 2, 28).unwrap());
    born.format("%Y-%m-%d").to_string()
}

fn send(subject: &str, text: &str) -> Value {
    json!({"type": "send", "subject": subject, "text": text})
}

async fn welcome_series_mails_through_smtp_and_an_unsubscribed_customer_gets_nothing_more(backend: Backend) {
    let sink = SmtpSink::start();
    let app = TestApp::spawn_with(
        backend,
        &[
            ("RAPPORT_SMTP_URL", &sink.url()),
            ("RAPPORT_PUBLIC_URL", "https://shop.example"),
            ("RAPPORT_SHOP_NAME", "Mugs & Co"),
        ],
    )
    .await;
    let id =
        active_flow(&app, json!({"from_template": "welcome_series", "holdout_percent": 0, "quiet_hours": null})).await;
    let start = now();
    let ana = subscriber(&app, "ana@example.com", "Ana").await;
    let ben = subscriber(&app, "ben@example.com", "Ben").await;
    // Entry happens in the scheduler, never in the request.
    assert_eq!(app.count("flow_runs").await, 0);
    let round = tick(&app, start);
    assert_eq!(round.entered, 2);
    assert_eq!(flow_mail(&app).await.len(), 2);
    let mailer = rapport::services::messages::Mailer::from_config(&app.state.config.mail).unwrap().unwrap();
    let deliver =
        |at| app.state.db.with_conn(|conn| rapport::services::messages::deliver_due(conn, &mailer, at)).unwrap();
    assert_eq!(deliver(now()), 2);
    let mails: Vec<String> = sink.wait_for(2).iter().map(|m| decoded(m)).collect();
    let to_ana = mails.iter().find(|m| m.contains("To: ana@example.com")).expect("a mail to Ana");
    assert!(to_ana.contains("Subject: Welcome to Mugs & Co"), "{to_ana}");
    assert!(to_ana.contains("Hello Ana,"), "{to_ana}");
    assert!(to_ana.contains("https://shop.example/v1/public/unsubscribe?token="), "{to_ana}");
    assert!(sink.messages().iter().any(|raw| raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click")));

    // Ben unsubscribes during the three days' wait: nothing more reaches him.
    set_consent(&app, ben, "email", "unsubscribed").await;
    assert_eq!(tick(&app, start + Duration::days(1)).advanced, 0, "nothing is due during the wait");
    tick(&app, start + Duration::days(3) + Duration::minutes(1));
    let mail = flow_mail(&app).await;
    assert_eq!(mail.len(), 3);
    assert_eq!(mail.iter().filter(|m| m["recipient"] == "ben@example.com").count(), 1);
    let report = report(&app, id).await;
    assert_eq!((report["entered"].as_i64(), report["completed"].as_i64()), (Some(2), Some(1)));
    assert_eq!(report["exited"], json!({"unsubscribed": 1}));
    assert_eq!(outcomes(&report, 0), json!({"messaged": 2}));
    assert_eq!(outcomes(&report, 2), json!({"messaged": 1}));
    assert_eq!(report["steps"][1]["type"], "wait");
    // The messages are on Ana's timeline.
    let timeline = app.get(&format!("/v1/customers/{ana}/timeline"), &app.token("customers:read")).await;
    let kinds: Vec<&str> =
        timeline.body["items"].as_array().unwrap().iter().filter_map(|i| i["kind"].as_str()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "flow_contact").count(), 2, "{kinds:?}");
}

async fn the_frequency_cap_shared_with_campaigns_holds_a_flow_message_back(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("RAPPORT_FREQUENCY_CAP", "1/7")]).await;
    let id = active_flow(
        &app,
        json!({"name": "Welcome", "trigger": {"type": "consent_subscribed"}, "channel": "email",
               "steps": [send("Hi", "Hello {{ first_name }}")]}),
    )
    .await;
    let ana = customer(&app, json!({"email": "ana@example.com", "first_name": "Ana", "tags": ["capped"]})).await;
    set_consent(&app, ana, "email", "subscribed").await;
    // A campaign reaches Ana first.
    let campaign = app
        .post(
            "/v1/campaigns",
            &app.token("campaigns:write"),
            json!({"name": "Sale", "channel": "email", "rules": {"field": "tag", "op": "eq", "value": "capped"}}),
        )
        .await;
    let campaign_id = campaign.body["id"].as_i64().unwrap();
    let launched =
        app.post(&format!("/v1/campaigns/{campaign_id}/launch"), &app.token("campaigns:write"), json!({})).await;
    assert_eq!(launched.body["audience"]["contacted"], 1, "{}", launched.text);
    let start = now();
    tick(&app, start);
    assert_eq!(flow_mail(&app).await.len(), 0, "the cap holds the flow message back");
    assert_eq!(outcomes(&report(&app, id).await, 0), json!({"held_cap": 1}));
    tick(&app, start + Duration::days(3));
    assert_eq!(flow_mail(&app).await.len(), 0, "still within the campaign's week");
    tick(&app, start + Duration::days(7) + Duration::minutes(5));
    let mail = flow_mail(&app).await;
    assert_eq!(mail.len(), 1, "sent in the next free slot");
    assert_eq!(mail[0]["customer_id"], ana);
    assert_eq!(outcomes(&report(&app, id).await, 0), json!({"held_cap": 1, "messaged": 1}));
    // And a campaign launched now counts the flow's message against the cap.
    let second = app
        .post(
            "/v1/campaigns",
            &app.token("campaigns:write"),
            json!({"name": "Again", "channel": "email", "rules": {"field": "tag", "op": "eq", "value": "capped"}}),
        )
        .await;
    let second_id = second.body["id"].as_i64().unwrap();
    let launched =
        app.post(&format!("/v1/campaigns/{second_id}/launch"), &app.token("campaigns:write"), json!({})).await;
    assert_eq!(launched.body["audience"]["capped"], 1, "{}", launched.text);
}

async fn holdout_customers_are_never_messaged_and_form_the_baseline(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = active_flow(
        &app,
        json!({"name": "Thanks", "trigger": {"type": "order_created"}, "channel": "email", "holdout_percent": 50,
               "reentry": {"policy": "once"}, "steps": [send("Thank you", "Thank you {{ first_name }}")]}),
    )
    .await;
    let mut customers = Vec::new();
    for n in 0..24 {
        let id = subscriber(&app, &format!("c{n}@example.com"), &format!("C{n}")).await;
        order(&app, id, 1000).await;
        customers.push(id);
    }
    let start = now();
    assert_eq!(tick(&app, start).entered, 24);
    let report_before = report(&app, id).await;
    let (messaged, held) =
        (report_before["messaged"]["runs"].as_i64().unwrap(), report_before["holdout"]["runs"].as_i64().unwrap());
    assert_eq!(messaged + held, 24);
    assert!(held >= 3 && messaged >= 3, "a random half is held out: {held} of 24");
    assert_eq!(outcomes(&report_before, 0), json!({"holdout": held, "messaged": messaged}));
    let mail = flow_mail(&app).await;
    assert_eq!(mail.len() as i64, messaged, "holdout customers are never messaged");

    // Everyone orders again: both groups convert fully, the lift is zero with an interval.
    for id in &customers {
        order(&app, *id, 2500).await;
    }
    let after = report(&app, id).await;
    assert_eq!(after["messaged"]["converted"].as_i64(), Some(messaged));
    assert_eq!(after["holdout"]["converted"].as_i64(), Some(held));
    let lift = &after["incremental_lift"];
    assert_eq!(lift["lift"], 0.0);
    assert!(lift["low"].as_f64().unwrap() <= 0.0 && lift["high"].as_f64().unwrap() >= 0.0);
    let revenue: i64 = after["revenue"].as_array().unwrap().iter().map(|r| r["revenue"].as_i64().unwrap()).sum();
    assert_eq!(revenue, 24 * 2500, "the second orders, once each");
    // The same per step: the message's group against the holdout that reached it.
    let step = &after["steps"][0];
    assert_eq!(
        (step["messaged"]["runs"].as_i64(), step["messaged"]["converted"].as_i64()),
        (Some(messaged), Some(messaged))
    );
    assert_eq!((step["holdout"]["runs"].as_i64(), step["holdout"]["converted"].as_i64()), (Some(held), Some(held)));
    assert_eq!(step["incremental_lift"]["lift"], 0.0);
    assert_eq!(step["revenue"], json!({"EUR": messaged * 2500}));
}

async fn a_crash_between_claiming_and_finishing_a_step_neither_doubles_nor_loses_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    active_flow(
        &app,
        json!({"name": "Once", "trigger": {"type": "consent_subscribed"}, "channel": "email",
               "steps": [{"type": "tag", "tag": "welcomed"}, send("Hi", "Hello")]}),
    )
    .await;
    subscriber(&app, "ana@example.com", "Ana").await;
    let start = now();
    // The runs start without their steps (the run is due, nothing ran yet).
    let config = app.state.config.clone();
    let keys = app.state.keys.clone();
    app.state
        .db
        .with_conn(|conn| {
            rapport::services::events::sequence_on(conn, start)?;
            // A worker claims the due runs, does the steps, and dies before committing.
            let crashed = conn.write_transaction(|conn| -> Result<(), rapport::error::AppError> {
                flows::tick(conn, &config, &keys, start)?;
                Err(rapport::error::AppError::internal("the process was killed"))
            });
            assert!(crashed.is_err());
            Ok::<_, rapport::error::AppError>(())
        })
        .unwrap();
    assert_eq!(app.count("flow_runs").await, 0, "nothing of the crashed round remains");
    assert_eq!(flow_mail(&app).await.len(), 0);
    let round = tick(&app, start);
    assert_eq!((round.entered, round.advanced), (1, 1));
    assert_eq!(flow_mail(&app).await.len(), 1, "the step ran once");
    assert_eq!(tick(&app, start + Duration::minutes(5)), Round::default(), "and never again");
    assert_eq!(flow_mail(&app).await.len(), 1);
    let customer = app.get("/v1/customers?email=ana@example.com", &app.token("customers:read")).await;
    assert_eq!(customer.body["items"][0]["tags"], json!(["welcomed"]));
}

async fn two_schedulers_on_one_database_run_each_step_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    active_flow(
        &app,
        json!({"name": "Hi", "trigger": {"type": "consent_subscribed"}, "channel": "email", "steps": [send("Hi", "Hello")]}),
    )
    .await;
    for n in 0..30 {
        subscriber(&app, &format!("s{n}@example.com"), "S").await;
    }
    let start = now();
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (database, config, keys) = (app.state.db.clone(), app.state.config.clone(), app.state.keys.clone());
            std::thread::spawn(move || {
                let mut total = 0;
                for _ in 0..5 {
                    // SQLite may answer "busy" to the loser of a write race: it retries.
                    if let Ok(round) = database.with_conn(|conn| flows::tick(conn, &config, &keys, start)) {
                        total += round.advanced;
                    }
                }
                total
            })
        })
        .collect();
    let advanced: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert_eq!(advanced, 30);
    assert_eq!(app.count("flow_runs").await, 30, "each customer entered once");
    assert_eq!(flow_mail(&app).await.len(), 30, "each step ran once");
}

async fn reentry_policy_once_and_every_n_days(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let steps = json!([send("Thanks", "Thank you")]);
    let once = active_flow(
        &app,
        json!({"name": "Once", "trigger": {"type": "order_created"}, "channel": "email", "steps": steps, "reentry": {"policy": "once"}}),
    )
    .await;
    let monthly = active_flow(
        &app,
        json!({"name": "Monthly", "trigger": {"type": "order_created"}, "channel": "email", "steps": steps,
               "reentry": {"policy": "every", "days": 30}}),
    )
    .await;
    let ana = subscriber(&app, "ana@example.com", "Ana").await;
    let start = now();
    order(&app, ana, 1000).await;
    order(&app, ana, 1000).await;
    tick(&app, start);
    assert_eq!(report(&app, once).await["entered"], 1);
    assert_eq!(report(&app, monthly).await["entered"], 1, "the second order is within 30 days");
    order(&app, ana, 1000).await;
    tick(&app, start + Duration::days(31));
    assert_eq!(report(&app, once).await["entered"], 1, "once means once");
    assert_eq!(report(&app, monthly).await["entered"], 2, "after 30 days, again");
}

async fn event_and_scanned_triggers_enrol_the_right_customers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // Each flow tags with its own name, so that each records its own step.
    let flow = |name: &str, trigger: Value| json!({"name": name, "trigger": trigger, "channel": "email", "steps": [{"type": "tag", "tag": format!("via {name}")}]});
    let created = active_flow(&app, flow("New", json!({"type": "customer_created"}))).await;
    let second = active_flow(&app, flow("Second order", json!({"type": "nth_order", "n": 2}))).await;
    let birthday = active_flow(&app, flow("Birthday", json!({"type": "birthday", "days_before": 7}))).await;
    let anniversary = active_flow(&app, flow("Anniversary", json!({"type": "first_order_anniversary"}))).await;
    let unlikely = active_flow(&app, flow("Slipping", json!({"type": "lapsed", "probability_alive_below": 0.3}))).await;
    let segment = app
        .post(
            "/v1/segments",
            &app.token("campaigns:write"),
            json!({"name": "VIP", "rules": {"field": "tag", "op": "eq", "value": "vip"}}),
        )
        .await;
    let vip =
        active_flow(&app, flow("VIP", json!({"type": "segment_entered", "segment_id": segment.body["id"]}))).await;

    let start = now();
    // Ana: the birthday flow's one entrant.
    customer(&app, json!({"email": "ana@example.com", "birthday": birthday_in(start, 7)})).await;
    let ben = customer(&app, json!({"email": "ben@example.com", "tags": ["vip"]})).await;
    order(&app, ben, 1000).await;
    order(&app, ben, 1000).await;
    // A first order a year ago today (by its placed_at), and a customer the model gives up on.
    let cy = customer(&app, json!({"email": "cy@example.com"})).await;
    let a_year_ago = (start - Duration::days(365)).and_utc().to_rfc3339();
    let body = json!({"channel": "store", "currency": "EUR", "customer": {"id": cy}, "placed_at": a_year_ago,
        "external_id": "old-1", "lines": [{"sku": "MUG", "name": "Mug", "quantity": 1, "unit_price": 900}], "total": 900});
    assert_eq!(app.post("/v1/orders", &app.token("orders:write"), body).await.status.as_u16(), 201);
    app.state
        .db
        .with_conn(|conn| {
            use diesel::RunQueryDsl;
            diesel::sql_query(format!(
                "INSERT INTO customer_predictions (customer_id, currency, probability_alive, expected_orders_90d, expected_orders, \
                 horizon_days, predicted_clv_12m, expected_days_to_next_order, churn_risk, scored_at) \
                 VALUES ({cy}, 'EUR', 0.1, 0.0, 0.0, 90, 0, NULL, 'high', '2026-01-01 00:00:00')"
            ))
            .execute(conn)
            .map_err(rapport::error::AppError::from)
        })
        .unwrap();

    tick(&app, start);
    assert_eq!(report(&app, created).await["entered"], 3, "every new customer");
    assert_eq!(report(&app, second).await["entered"], 1, "Ben's second order");
    assert_eq!(report(&app, birthday).await["entered"], 1, "Ana's birthday is in 7 days");
    let anniversary_entered = report(&app, anniversary).await["entered"].as_i64().unwrap();
    assert_eq!(anniversary_entered, 1, "Cy's first order was a year ago today");
    assert_eq!(report(&app, unlikely).await["entered"], 1);
    assert_eq!(report(&app, vip).await["entered"], 0, "the first scan records who is in the segment");

    // Dan becomes a VIP: the next scan (an hour on) sees him enter.
    let dan = customer(&app, json!({"email": "dan@example.com"})).await;
    let tagged =
        app.post(&format!("/v1/customers/{dan}/tags"), &app.token("customers:write"), json!({"tags": ["vip"]})).await;
    assert!(tagged.status.is_success(), "{}", tagged.text);
    tick(&app, start + Duration::hours(2));
    assert_eq!(report(&app, vip).await["entered"], 1);
    let contacts = app.get(&format!("/v1/flows/{vip}/contacts"), &app.token("campaigns:read")).await;
    assert_eq!(contacts.body["items"][0]["customer_id"], dan, "{}", contacts.text);
    assert_eq!(contacts.body["items"][0]["outcome"], "tagged");
}

async fn a_late_step_after_downtime_is_skipped_and_counted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = active_flow(
        &app,
        json!({"name": "Nudge", "trigger": {"type": "consent_subscribed"}, "channel": "email", "steps": [
            {"type": "wait", "days": 1},
            {"type": "send", "subject": "Hi", "text": "Hello", "tolerance_hours": 12},
            {"type": "wait", "until": {"weekday": "tue", "time": "10:00"}},
            send("Tuesday", "It is Tuesday")
        ]}),
    )
    .await;
    subscriber(&app, "ana@example.com", "Ana").await;
    let start = now();
    tick(&app, start);
    // The server was down for four days: the first message is two days late and skipped.
    tick(&app, start + Duration::days(5));
    let report_now = report(&app, id).await;
    assert_eq!(outcomes(&report_now, 1), json!({"skipped_late": 1}));
    assert_eq!(flow_mail(&app).await.len(), 0, "no burst of stale messages");
    // The weekly wait counts from the skipped step's moment; the run goes on and sends on time.
    tick(&app, start + Duration::days(15));
    let runs = report(&app, id).await;
    assert_eq!(runs["completed"], 1, "{runs}");
}

async fn merges_move_runs_and_erasure_removes_them(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = active_flow(
        &app,
        json!({"name": "Slow", "trigger": {"type": "consent_subscribed"}, "channel": "email",
               "steps": [send("Hi", "Hello {{ first_name }}"), {"type": "wait", "days": 10}, send("Again", "Hello again")]}),
    )
    .await;
    let ana = subscriber(&app, "ana@example.com", "Ana").await;
    let duplicate = subscriber(&app, "ana.s@example.com", "Ana").await;
    let start = now();
    tick(&app, start);
    assert_eq!(report(&app, id).await["active"], 2);
    let merged = app
        .post(&format!("/v1/customers/{ana}/merge"), &app.token("customers:write"), json!({"duplicate_id": duplicate}))
        .await;
    assert_eq!(merged.status.as_u16(), 200, "{}", merged.text);
    let after_merge = report(&app, id).await;
    assert_eq!((after_merge["active"].as_i64(), after_merge["exited"]["merged"].as_i64()), (Some(1), Some(1)));
    let export = app.get(&format!("/v1/customers/{ana}/export"), &app.token("admin")).await;
    assert_eq!(export.status.as_u16(), 200, "{}", export.text);
    assert_eq!(export.body["flow_runs"].as_array().unwrap().len(), 2, "both runs are the survivor's");
    assert_eq!(export.body["flow_contacts"].as_array().unwrap().len(), 2);
    tick(&app, start + Duration::days(11));
    assert_eq!(flow_mail(&app).await.len(), 3, "one more message, not two");

    let erased = app.delete(&format!("/v1/customers/{ana}"), &app.token("admin")).await;
    assert_eq!(erased.status.as_u16(), 204, "{}", erased.text);
    assert_eq!(app.count("flow_runs").await, 0);
    assert_eq!(app.count("flow_contacts").await, 0);
}

async fn bad_flows_are_refused_with_the_field_named(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let writer = app.token("campaigns:write");
    let base = |steps: Value| json!({"name": "X", "trigger": {"type": "customer_created"}, "channel": "email", "steps": steps});
    let cases = [
        (base(json!([{"type": "exit"}, send("a", "b")])), "steps[1]"),
        (
            base(
                json!([send("a", "b"), {"type": "branch", "condition": {"ordered_since_entry": true}, "then_step": 2, "else_step": 0}, {"type": "exit"}]),
            ),
            "steps[0]",
        ),
        (base(json!([send("Hi", "Hello\n{{ nickname }}")])), "steps[0].text"),
        (base(json!([{"type": "send", "subject": "Hi", "text": "{% if first_name %}"}])), "steps[0].text"),
        (base(json!([{"type": "exit", "colour": "red"}])), "steps[0]"),
        (json!({"from_template": "summer_sale"}), "from_template"),
        (
            json!({"name": "No steps", "trigger": {"type": "customer_created"}, "channel": "email", "steps": []}),
            "steps",
        ),
        (
            json!({"name": "X", "trigger": {"type": "segment_entered", "segment_id": 999}, "channel": "email", "steps": [send("a", "b")]}),
            "trigger.segment_id",
        ),
    ];
    for (body, field) in cases {
        let response = app.post("/v1/flows", &writer, body.clone()).await;
        response.assert_problem(422);
        let fields = response.invalid_fields();
        assert!(fields.iter().any(|f| f.starts_with(field)), "{body}: {fields:?} {}", response.text);
    }
    let line = app.post("/v1/flows", &writer, base(json!([send("Hi", "Hello\n{{ nickname }}")]))).await;
    assert!(line.text.contains("line 2"), "{}", line.text);
    assert_eq!(app.count("flows").await, 0, "nothing was written");

    // Active flows cannot change or go; drafts can.
    let id = create_flow(&app, base(json!([send("Hi", "Hello {{ first_name }}")]))).await;
    activate(&app, id).await;
    app.patch(&format!("/v1/flows/{id}"), &writer, json!({"name": "Y"})).await.assert_problem(409);
    app.delete(&format!("/v1/flows/{id}"), &writer).await.assert_problem(409);
    app.post(&format!("/v1/flows/{id}/activate"), &writer, json!({})).await.assert_problem(409);
    assert_eq!(app.post(&format!("/v1/flows/{id}/pause"), &writer, json!({})).await.status.as_u16(), 200);
    let patched = app.patch(&format!("/v1/flows/{id}"), &writer, json!({"name": "Y", "holdout_percent": 20})).await;
    assert_eq!(patched.status.as_u16(), 200, "{}", patched.text);
    assert_eq!((patched.body["version"].as_i64(), patched.body["holdout_percent"].as_i64()), (Some(2), Some(20)));
    app.patch(&format!("/v1/flows/{id}"), &writer, json!({"holdout_percent": 80})).await.assert_problem(422);
    let draft = create_flow(&app, base(json!([send("Hi", "Hello")]))).await;
    assert_eq!(app.delete(&format!("/v1/flows/{draft}"), &writer).await.status.as_u16(), 204);

    // A preview renders for one customer and sends nothing.
    let ana = customer(&app, json!({"email": "ana@example.com", "first_name": "Ana"})).await;
    let preview = app
        .post(&format!("/v1/flows/{id}/preview"), &app.token("campaigns:read"), json!({"customer_id": ana, "step": 0}))
        .await;
    assert_eq!(preview.status.as_u16(), 200, "{}", preview.text);
    assert_eq!((preview.body["subject"].as_str(), preview.body["text"].as_str()), (Some("Hi"), Some("Hello Ana")));
    assert_eq!(preview.body["recipient"], "ana@example.com");
    let nobody = app
        .post(
            &format!("/v1/flows/{id}/preview"),
            &app.token("campaigns:read"),
            json!({"customer_id": 999999, "step": 0}),
        )
        .await;
    assert_eq!(nobody.assert_problem(422)["errors"][0]["field"], "customer_id");
    assert_eq!(app.count("messages").await, 0);
}

async fn the_six_templates_run_end_to_end(backend: Backend) {
    let sink = SmtpSink::start();
    let app = TestApp::spawn_with(
        backend,
        // The cap is tested on its own; here it stays out of the way of six flows at once.
        &[
            ("RAPPORT_SMTP_URL", &sink.url()),
            ("RAPPORT_SHOP_EMAIL", "Shop desk <desk@shop.example>"),
            ("RAPPORT_FREQUENCY_CAP", "20/7"),
        ],
    )
    .await;
    let templates = app.get("/v1/flow-templates", &app.token("campaigns:read")).await;
    let keys: Vec<&str> =
        templates.body["items"].as_array().unwrap().iter().map(|t| t["key"].as_str().unwrap()).collect();
    assert_eq!(
        keys,
        [
            "welcome_series",
            "post_purchase",
            "birthday_offer",
            "win_back",
            "referral_reward",
            "unresolved_enquiry_alert"
        ]
    );
    let mut ids = std::collections::HashMap::new();
    for key in &keys {
        // No holdout here (one customer each) and no quiet hours (the test runs at any hour).
        let id = active_flow(&app, json!({"from_template": key, "holdout_percent": 0, "quiet_hours": null})).await;
        ids.insert(*key, id);
    }
    let setup = now();
    // Welcome: a subscriber. Post-purchase: an order. Birthday: in a week.
    let wendy = subscriber(&app, "wendy@example.com", "Wendy").await;
    let paul = subscriber(&app, "paul@example.com", "Paul").await;
    order(&app, paul, 3000).await;
    let bea =
        customer(&app, json!({"email": "bea@example.com", "first_name": "Bea", "birthday": birthday_in(setup, 7)}))
            .await;
    set_consent(&app, bea, "email", "subscribed").await;
    // Win-back: orders 200 and 150 days ago (a 50-day rhythm), none since.
    let will = subscriber(&app, "will@example.com", "Will").await;
    for (n, days) in [(1, 200), (2, 150)] {
        let placed_at = (setup - Duration::days(days)).and_utc().to_rfc3339();
        let body = json!({"channel": "store", "currency": "EUR", "customer": {"id": will}, "placed_at": placed_at,
            "external_id": format!("will-{n}"), "lines": [{"sku": "MUG", "name": "Mug", "quantity": 1, "unit_price": 900}], "total": 900});
        assert_eq!(app.post("/v1/orders", &app.token("orders:write"), body).await.status.as_u16(), 201);
    }
    // Referral: Rita's friend orders with her code.
    let rita = subscriber(&app, "rita@example.com", "Rita").await;
    let code =
        app.get(&format!("/v1/customers/{rita}/referral"), &app.token("customers:read")).await.body["code"].clone();
    let friend = json!({"channel": "web", "currency": "EUR", "customer": {"email": "friend@example.com"}, "referral_code": code,
        "external_id": "friend-1", "lines": [{"sku": "MUG", "name": "Mug", "quantity": 1, "unit_price": 1500}], "total": 1500});
    assert_eq!(app.post("/v1/orders", &app.token("orders:write"), friend).await.status.as_u16(), 201);
    // An enquiry nobody answers.
    let enquiry = app
        .call(
            actix_web::test::TestRequest::post()
                .uri("/v1/forms/contact")
                .peer_addr("198.51.100.7:40000".parse().unwrap())
                .insert_header(bearer(&app.token("forms:submit")))
                .set_json(json!({"email": "asker@example.com", "message": "Do you ship to Norway?"})),
        )
        .await;
    assert_eq!(enquiry.status.as_u16(), 202, "{}", enquiry.text);

    // The scheduler runs after all of this happened (entry is after the triggering order).
    let start = now();
    tick(&app, start);
    // The enquiry alert comes a day later; so does everything after it.
    tick(&app, start + Duration::hours(25));
    // Every subscriber is welcomed; the post-purchase flow thanks Paul and Rita's friend
    // (Will's orders are history, placed long before they were recorded).
    let expected = [
        ("welcome_series", 5),
        ("post_purchase", 2),
        ("birthday_offer", 1),
        ("win_back", 1),
        ("referral_reward", 1),
        ("unresolved_enquiry_alert", 1),
    ];
    for (key, entered) in expected {
        assert_eq!(report(&app, ids[key]).await["entered"], entered, "{key}");
    }
    let mailer = rapport::services::messages::Mailer::from_config(&app.state.config.mail).unwrap().unwrap();
    let delivered =
        app.state.db.with_conn(|conn| rapport::services::messages::deliver_due(conn, &mailer, now())).unwrap();
    let mails: Vec<String> = sink.wait_for(delivered).iter().map(|m| decoded(m)).collect();
    let to =
        |address: &str| mails.iter().filter(|m| m.contains(&format!("To: {address}"))).cloned().collect::<Vec<_>>();
    let any = |address: &str, text: &str| to(address).iter().any(|m| m.contains(text));
    assert!(any("wendy@example.com", "Subject: Welcome to rapport"));
    assert!(any("paul@example.com", "Subject: Thank you for your order"));
    assert!(any("bea@example.com", "Your code BDAY-"), "{:?}", to("bea@example.com"));
    assert!(any("will@example.com", "BACK-"), "{:?}", to("will@example.com"));
    assert!(any("rita@example.com", "THANKS-"), "{:?}", to("rita@example.com"));
    let desk: Vec<&String> = mails
        .iter()
        .filter(|m| {
            m.contains("To: \"Shop desk\" <desk@shop.example>") || m.contains("To: Shop desk <desk@shop.example>")
        })
        .collect();
    assert!(desk[0].contains("waits for an answer") && desk[0].contains("asker@example.com"), "{desk:?}");

    // Conversions: Bea uses her code; Will comes back; the reports count them.
    let export = app.get(&format!("/v1/customers/{bea}/export"), &app.token("admin")).await;
    let runs = export.body["flow_runs"].as_array().unwrap().clone();
    let bea_code = runs.iter().find_map(|r| r["promo_code"].as_str()).expect("the birthday code").to_string();
    let with_code = json!({"channel": "web", "currency": "EUR", "customer": {"id": bea}, "promo_code": bea_code, "external_id": "bea-1",
        "lines": [{"sku": "MUG", "name": "Mug", "quantity": 1, "unit_price": 2000}], "discount_total": 300, "total": 1700});
    let placed = app.post("/v1/orders", &app.token("orders:write"), with_code).await;
    assert_eq!(
        (placed.status.as_u16(), placed.body["promo_code_status"].as_str()),
        (201, Some("applied")),
        "{}",
        placed.text
    );
    order(&app, will, 900).await;
    order(&app, wendy, 1200).await;
    // The welcome series counts every subscriber who ordered after entering: Bea, Will and
    // Wendy.
    for (key, converted, revenue) in [("birthday_offer", 1, 1700), ("win_back", 1, 900), ("welcome_series", 3, 3800)] {
        let figures = report(&app, ids[key]).await;
        assert_eq!(figures["messaged"]["converted"], converted, "{key}: {figures}");
        assert_eq!(figures["revenue"][0]["revenue"], revenue, "{key}: {figures}");
        assert!(figures.get("incremental_lift").is_some(), "{key}: the lift is reported (null without a holdout)");
    }
    // Three days on, the second welcome mail; Will's order ends the win-back before its
    // reminder.
    tick(&app, start + Duration::days(3) + Duration::minutes(1));
    tick(&app, start + Duration::days(8));
    assert_eq!(report(&app, ids["win_back"]).await["exited"], json!({"ordered": 1}));
    // Paul did not order again: the cross-sell goes out after 14 days.
    tick(&app, start + Duration::days(15));
    let post_purchase = report(&app, ids["post_purchase"]).await;
    // (Rita's friend never agreed to mail: held back at both messages.)
    assert_eq!(outcomes(&post_purchase, 3), json!({"held_consent": 1, "messaged": 1}), "{post_purchase}");
    assert_eq!(outcomes(&report(&app, ids["welcome_series"]).await, 2), json!({"messaged": 5}));
}

async fn html_mail_and_previews_see_orders_recommendations_and_codes(backend: Backend) {
    let sink = SmtpSink::start();
    let app = TestApp::spawn_with(backend, &[("RAPPORT_SMTP_URL", &sink.url())]).await;
    let ana = subscriber(&app, "ana@example.com", "Ana").await;
    order(&app, ana, 4200).await;
    let id = active_flow(
        &app,
        json!({"name": "Receipt", "trigger": {"type": "order_created"}, "channel": "email", "steps": [
            {"type": "offer", "prefix": "NEXT", "discount_type": "fixed", "discount_value": 500, "currency": "EUR", "valid_days": 10},
            {"type": "send", "subject": "{{ first_name }}, your {{ last_order.total // 100 }} EUR order",
             "text": "Thanks for the {{ last_order.lines[0].name }}. Code {{ promo_code }} until {{ promo_expires_at }}. https://shop.example/mugs",
             "html": "<p>Thanks {{ first_name }} &mdash; <a href=\"https://shop.example/mugs\">mugs</a> {{ customer.email }}</p>"}
        ]}),
    )
    .await;
    let preview = app
        .post(&format!("/v1/flows/{id}/preview"), &app.token("campaigns:read"), json!({"customer_id": ana, "step": 1}))
        .await;
    assert_eq!(preview.status.as_u16(), 200, "{}", preview.text);
    assert_eq!(preview.body["subject"], "Ana, your 42 EUR order");
    assert!(
        preview.body["text"].as_str().unwrap().starts_with("Thanks for the Mug. Code PREVIEW-CODE until "),
        "{}",
        preview.text
    );
    assert!(preview.body["html"].as_str().unwrap().contains("ana@example.com"));
    // The order placed before activation is no trigger; a new one is.
    let start = now();
    order(&app, ana, 4200).await;
    tick(&app, start);
    let mailer = rapport::services::messages::Mailer::from_config(&app.state.config.mail).unwrap().unwrap();
    assert_eq!(
        app.state.db.with_conn(|conn| rapport::services::messages::deliver_due(conn, &mailer, now())).unwrap(),
        1
    );
    let raw = sink.wait_for(1).remove(0);
    assert!(raw.contains("multipart/alternative"), "{raw}");
    assert!(raw.contains("text/html"), "{raw}");
    let mail = decoded(&raw);
    assert!(mail.contains("Code NEXT-"), "{mail}");
    // Links in both parts are tracked.
    assert_eq!(mail.matches("/v1/t/c/").count(), 2, "{mail}");

    // A campaign preview sees the same variables.
    let campaign = app
        .post(
            "/v1/campaigns",
            &app.token("campaigns:write"),
            json!({"name": "Mugs", "channel": "email", "rules": {"field": "source", "op": "eq", "value": "api"},
                   "subject": "{{ first_name }}: {% for p in recommendations %}{{ p.name }}{% endfor %}",
                   "content": "Your last order: {{ last_order.total }} {{ last_order.currency }}"}),
        )
        .await;
    assert_eq!(campaign.status.as_u16(), 201, "{}", campaign.text);
    let campaign_id = campaign.body["id"].as_i64().unwrap();
    let preview = app
        .post(
            &format!("/v1/campaigns/{campaign_id}/preview"),
            &app.token("campaigns:read"),
            json!({"customer_id": ana}),
        )
        .await;
    assert_eq!(preview.status.as_u16(), 200, "{}", preview.text);
    assert_eq!(preview.body["text"], "Your last order: 4200 EUR");
    assert_eq!(preview.body["recipient"], "ana@example.com");
    // A campaign with an HTML part goes out as multipart/alternative too.
    let html_campaign = app
        .post(
            "/v1/campaigns",
            &app.token("campaigns:write"),
            json!({"name": "Mugs HTML", "channel": "email", "rules": {"field": "source", "op": "eq", "value": "api"},
                   "subject": "New mugs", "content": "Hello {{ first_name }}: https://shop.example/new",
                   "content_html": "<p>Hello <b>{{ first_name }}</b>: <a href=\"https://shop.example/new\">new</a></p>"}),
        )
        .await;
    assert_eq!(html_campaign.status.as_u16(), 201, "{}", html_campaign.text);
    let html_id = html_campaign.body["id"].as_i64().unwrap();
    let preview = app
        .post(&format!("/v1/campaigns/{html_id}/preview"), &app.token("campaigns:read"), json!({"customer_id": ana}))
        .await;
    assert_eq!(
        preview.body["html"], "<p>Hello <b>Ana</b>: <a href=\"https://shop.example/new\">new</a></p>",
        "{}",
        preview.text
    );
    let writer = app.token("campaigns:write");
    assert_eq!(app.post(&format!("/v1/campaigns/{html_id}/launch"), &writer, json!({})).await.status.as_u16(), 200);
    let sent = app.post(&format!("/v1/campaigns/{html_id}/send"), &writer, json!({"rate_per_minute": 6000})).await;
    assert_eq!(sent.body["queued"], 1, "{}", sent.text);
    assert_eq!(
        app.state.db.with_conn(|conn| rapport::services::messages::deliver_due(conn, &mailer, now())).unwrap(),
        1
    );
    let raw = sink.wait_for(2).remove(1);
    assert!(raw.contains("multipart/alternative") && raw.contains("text/html"), "{raw}");
    assert_eq!(decoded(&raw).matches("/v1/t/c/").count(), 2, "links tracked in both parts");

    let unknown = app
        .post(
            "/v1/campaigns",
            &app.token("campaigns:write"),
            json!({"name": "Bad", "channel": "email", "rules": {"field": "source", "op": "eq", "value": "api"},
                   "content": "Hi\n{{ nickname }}"}),
        )
        .await;
    let error = &unknown.assert_problem(422)["errors"][0];
    assert_eq!(error["field"], "content");
    assert!(
        error["message"].as_str().unwrap().starts_with("line 2: `nickname` is not a template variable"),
        "{}",
        unknown.text
    );
}

async fn a_step_that_fails_for_one_customer_does_not_hold_up_the_others(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = active_flow(
        &app,
        json!({"name": "Sizes", "trigger": {"type": "consent_subscribed"}, "channel": "email",
               "steps": [send("Your size", "Next size up: {{ attributes.size + 1 }}")]}),
    )
    .await;
    let odd = customer(&app, json!({"email": "odd@example.com", "attributes": {"size": "L"}})).await;
    set_consent(&app, odd, "email", "subscribed").await;
    let fine = customer(&app, json!({"email": "fine@example.com", "attributes": {"size": 40}})).await;
    set_consent(&app, fine, "email", "subscribed").await;
    let start = now();
    let round = tick(&app, start);
    let mail = flow_mail(&app).await;
    assert_eq!(mail.len(), 1, "{round:?} {}", report(&app, id).await);
    assert_eq!(
        (mail[0]["recipient"].as_str(), mail[0]["body"].as_str()),
        (Some("fine@example.com"), Some("Next size up: 41"))
    );
    let figures = report(&app, id).await;
    assert_eq!((figures["active"].as_i64(), figures["completed"].as_i64()), (Some(1), Some(1)));
    // The preview says what fails, for whom.
    let preview = app
        .post(&format!("/v1/flows/{id}/preview"), &app.token("campaigns:read"), json!({"customer_id": odd, "step": 0}))
        .await;
    assert_eq!(preview.assert_problem(422)["errors"][0]["field"], "step");
    // Retried an hour later (and failing again, still alone).
    assert_eq!(tick(&app, start + Duration::minutes(30)).advanced, 0);
    let runs = app.get(&format!("/v1/customers/{odd}/export"), &app.token("admin")).await.body["flow_runs"].clone();
    assert_eq!(tick(&app, start + Duration::minutes(61)).advanced, 1, "{runs} {start}");
}

async fn quiet_hours_hold_a_message_until_they_end_in_the_shop_time_zone(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("RAPPORT_TIMEZONE", "Asia/Tokyo")]).await;
    // Quiet from an hour ago to an hour from now, in Tokyo time (UTC+9, no DST).
    let start = now();
    let tokyo = |at: NaiveDateTime| (at + Duration::hours(9)).format("%H:%M").to_string();
    let quiet = json!({"start": tokyo(start - Duration::hours(1)), "end": tokyo(start + Duration::hours(1))});
    let id = active_flow(
        &app,
        json!({"name": "Polite", "trigger": {"type": "consent_subscribed"}, "channel": "email", "quiet_hours": quiet,
               "steps": [send("Hi", "Hello")]}),
    )
    .await;
    subscriber(&app, "ana@example.com", "Ana").await;
    tick(&app, start);
    assert_eq!(flow_mail(&app).await.len(), 0, "held during quiet hours");
    assert_eq!(outcomes(&report(&app, id).await, 0), json!({}), "a quiet-hours delay is not an outcome");
    tick(&app, start + Duration::minutes(30));
    assert_eq!(flow_mail(&app).await.len(), 0);
    tick(&app, start + Duration::minutes(62));
    assert_eq!(flow_mail(&app).await.len(), 1, "sent when they end");
}
