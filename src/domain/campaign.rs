//! Campaign messages: templates (minijinja, shared with flows: `domain::templates`), and
//! the links in them that rapport rewrites into tracked, signed click URLs.

/// The variables a template uses, or what is wrong with it (naming the line).
pub fn placeholders(template: &str) -> Result<Vec<String>, String> {
    crate::domain::templates::variables(template, false)
}

/// Rewrites every http(s) URL written in the template with `rewrite`. Placeholders are
/// left alone, so `{{unsubscribe_url}}` is never wrapped.
pub fn rewrite_links(template: &str, rewrite: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    loop {
        let next = [rest.find("https://"), rest.find("http://")].into_iter().flatten().min();
        let Some(start) = next else { break };
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let mut end = tail.find(|c: char| c.is_whitespace() || "<>\"'(){}[]".contains(c)).unwrap_or(tail.len());
        // A sentence's final punctuation is not part of the link.
        while end > 0 && ".,;:!?".contains(tail[..end].chars().last().unwrap_or(' ')) {
            end -= 1;
        }
        out.push_str(&rewrite(&tail[..end]));
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_checked() {
        assert_eq!(placeholders("Hi {{ first_name }}, code {{promo_code}}").unwrap(), ["first_name", "promo_code"]);
        assert!(placeholders("Hi {{name}}").unwrap_err().contains("`name` is not a template variable"));
        assert!(placeholders("Hi {{first_name").is_err());
    }

    #[test]
    fn links_are_rewritten_but_not_placeholders_or_punctuation() {
        let out =
            rewrite_links("See https://shop.example/sale?a=1. Or (http://x.example) {{unsubscribe_url}}", |url| {
                format!("<{url}>")
            });
        assert_eq!(out, "See <https://shop.example/sale?a=1>. Or (<http://x.example>) {{unsubscribe_url}}");
    }
}

/// What a launch did with the segment's customers; each customer is counted once, under
/// the first rule that left them out, in this order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AudienceCounts {
    pub segment_size: i64,
    /// Consent for the channel is not `subscribed` (`pending`, `unsubscribed`, `not_set`).
    pub no_consent: i64,
    /// On the erasure suppression list, and their consent was not their own new opt-in.
    pub suppressed: i64,
    /// No email, phone or postal address for the channel.
    pub unreachable: i64,
    /// Contacted by one of `exclude_campaign_ids`.
    pub excluded: i64,
    /// Over the frequency cap.
    pub capped: i64,
    pub holdout: i64,
    pub contacted: i64,
}

/// How a campaign's promotion is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromoSpec {
    None,
    /// An existing code everyone gets.
    Shared(String),
    /// One single-use code per recipient: `PREFIX-XXXXXXXX`.
    Unique {
        prefix: String,
        discount_type: String,
        discount_value: i64,
        currency: Option<String>,
    },
}

/// The size of the holdout group: `percent` of `eligible`, rounded to the nearest.
pub fn holdout_size(eligible: usize, percent: i64) -> usize {
    ((eligible as i64 * percent.clamp(0, 100) + 50) / 100) as usize
}

/// A validated campaign, before its references are checked against the database.
#[derive(Debug, Clone)]
pub struct CampaignSpec {
    pub name: String,
    pub channel: crate::domain::ConsentChannel,
    pub segment_id: Option<i64>,
    /// Rules as JSON (already parsed once), when no segment is given.
    pub rules: Option<String>,
    pub offer: Option<String>,
    pub subject: Option<String>,
    pub content: Option<String>,
    pub content_html: Option<String>,
    pub promo: PromoSpec,
    pub frequency_cap: Option<(i64, i64)>,
    pub exclude_campaign_ids: Vec<i64>,
    pub holdout_percent: i64,
    pub attribution_window_days: i64,
    pub cost: Option<crate::domain::costs::ContactCost>,
}

/// A response reported for a campaign: `token` or `customer_id` names the contact.
#[derive(Debug, Clone)]
pub struct ResponseReport {
    pub token: Option<String>,
    pub customer_id: Option<i64>,
    pub kind: crate::domain::ResponseKind,
    /// None: now.
    pub occurred_at: Option<chrono::NaiveDateTime>,
}
