use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Weekday};
use serde_json::json;

use super::*;

fn at(text: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap()
}

fn definition(steps: Value) -> FlowDefinition {
    serde_json::from_value(json!({"trigger": {"type": "customer_created"}, "channel": "email", "steps": steps}))
        .unwrap()
}

fn problems(definition: &FlowDefinition) -> Vec<String> {
    definition
        .validate(crate::domain::templates::check, |_, _| Vec::new())
        .into_iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect()
}

#[test]
fn unreachable_steps_and_loops_without_a_wait_are_refused() {
    let unreachable = definition(json!([{"type": "exit"}, {"type": "tag", "tag": "x"}]));
    assert_eq!(problems(&unreachable), ["steps[1]: this step can never be reached"]);
    let busy_loop = definition(json!([
        {"type": "tag", "tag": "x"},
        {"type": "branch", "condition": {"ordered_since_entry": true}, "then_step": 2, "else_step": 0},
        {"type": "exit"}
    ]));
    assert_eq!(problems(&busy_loop), ["steps[0]: this step is on a loop without a wait"]);
    let patient_loop = definition(json!([
        {"type": "wait", "days": 1},
        {"type": "branch", "condition": {"ordered_since_entry": true}, "then_step": 2, "else_step": 0},
        {"type": "exit"}
    ]));
    assert!(problems(&patient_loop).is_empty());
}

#[test]
fn templates_and_fields_are_checked_with_their_paths() {
    let bad = definition(json!([
        {"type": "send", "subject": "Hi", "text": "Hello\n{{ nickname }}"},
        {"type": "wait"},
        {"type": "offer", "prefix": "X", "discount_type": "percent", "discount_value": 150, "valid_days": 0}
    ]));
    let found = problems(&bad);
    assert!(found[0].starts_with("steps[0].text: line 2: `nickname` is not a template variable"), "{found:?}");
    assert!(found.iter().any(|p| p.starts_with("steps[1].days")), "{found:?}");
    assert!(found.iter().any(|p| p.starts_with("steps[2].prefix")), "{found:?}");
    assert!(found.iter().any(|p| p.starts_with("steps[2].discount_value")), "{found:?}");
    assert!(found.iter().any(|p| p.starts_with("steps[2].valid_days")), "{found:?}");
}

#[test]
fn unknown_fields_are_refused() {
    let error = serde_json::from_value::<FlowDefinition>(json!({
        "trigger": {"type": "customer_created"}, "channel": "email", "steps": [{"type": "exit", "colour": 1}]
    }))
    .unwrap_err();
    assert!(error.to_string().contains("colour"), "{error}");
}

#[test]
fn every_library_template_is_valid() {
    for template in library::TEMPLATES {
        let definition: FlowDefinition = serde_json::from_value((template.definition)()).unwrap();
        assert!(problems(&definition).is_empty(), "{}: {:?}", template.key, problems(&definition));
    }
}

#[test]
fn a_weekly_wait_is_local_time_on_both_sides_of_a_dst_change() {
    let tz: Tz = "Europe/Paris".parse().unwrap();
    // Sunday 29 March 2026 is the spring change in Paris (02:00 -> 03:00).
    let tuesday_before =
        next_weekly(at("2026-03-20 12:00"), Weekday::Tue, NaiveTime::from_hms_opt(10, 0, 0).unwrap(), tz);
    assert_eq!(tuesday_before, at("2026-03-24 09:00")); // UTC+1
    let tuesday_after =
        next_weekly(at("2026-03-27 12:00"), Weekday::Tue, NaiveTime::from_hms_opt(10, 0, 0).unwrap(), tz);
    assert_eq!(tuesday_after, at("2026-03-31 08:00")); // UTC+2
                                                       // A local time in the gap moves on by the gap.
    assert_eq!(local_to_utc(tz, at("2026-03-29 02:30")), at("2026-03-29 01:00"));
}

#[test]
fn quiet_hours_push_a_message_to_their_end() {
    let tz: Tz = "Europe/Paris".parse().unwrap();
    let quiet = QuietHours { start: "21:00".into(), end: "08:00".into() };
    // 22:30 local (UTC+1 in January) waits until 08:00 local the next day.
    assert_eq!(after_quiet_hours(Some(&quiet), at("2026-01-10 21:30"), tz), at("2026-01-11 07:00"));
    // 06:00 local waits until 08:00 the same day.
    assert_eq!(after_quiet_hours(Some(&quiet), at("2026-01-10 05:00"), tz), at("2026-01-10 07:00"));
    // Noon is not quiet.
    assert_eq!(after_quiet_hours(Some(&quiet), at("2026-01-10 11:00"), tz), at("2026-01-10 11:00"));
}

#[test]
fn leap_day_birthdays_are_celebrated_on_the_28th_in_other_years() {
    assert_eq!(birthdays_on(NaiveDate::from_ymd_opt(2027, 2, 21).unwrap(), 7), [(2, 28), (2, 29)]);
    assert_eq!(birthdays_on(NaiveDate::from_ymd_opt(2028, 2, 21).unwrap(), 7), [(2, 28)]);
}

#[test]
fn lift_has_a_confidence_interval() {
    let result = lift(1000, 150, 1000, 100).unwrap();
    assert!((result.lift - 0.05).abs() < 1e-9);
    assert!(result.low > 0.0 && result.high < 0.1 && result.low < result.lift && result.lift < result.high);
    assert!(lift(10, 1, 0, 0).is_none());
}
