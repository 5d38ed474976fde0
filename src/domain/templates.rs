//! Message templates (campaigns and flows): minijinja, sandboxed (no file system, no
//! includes), with a fixed set of variables. A template is checked when it is saved, so a
//! syntax error or an unknown variable is a 422 naming the line, never a broken message.

use minijinja::{Environment, UndefinedBehavior};
use serde_json::Value;

/// The variables a template may use. `customer` holds the customer as the API shows it;
/// the short names are kept so that `{{first_name}}` templates keep working.
pub const VARIABLES: &[&str] = &[
    "customer",
    "first_name",
    "last_name",
    "email",
    "attributes",
    "last_order",
    "recommendations",
    "predictions",
    "promo_code",
    "promo_expires_at",
    "unsubscribe_url",
    "shop_name",
    "enquiry",
    "form_links",
];

/// Instructions one rendering may run: a template cannot loop for ever at send time.
const FUEL: u64 = 200_000;

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_fuel(Some(FUEL));
    // A variable that is known but empty for this customer (no last order) renders empty;
    // an unknown one was refused when the template was saved.
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env
}

/// The name the template is compiled under: `.html` turns on HTML escaping of values.
fn name_for(html: bool) -> &'static str {
    if html {
        "message.html"
    } else {
        "message.txt"
    }
}

/// Checks a template: its syntax and that it only uses [`VARIABLES`]. The error names the
/// line.
pub fn check(source: &str, html: bool) -> Result<(), String> {
    variables(source, html).map(drop)
}

/// The variables a template uses (all of them among [`VARIABLES`]), sorted; or what is
/// wrong with it, naming the line.
pub fn variables(source: &str, html: bool) -> Result<Vec<String>, String> {
    let env = environment();
    let template = env.template_from_named_str(name_for(html), source).map_err(describe)?;
    let mut used: Vec<String> = template.undeclared_variables(false).into_iter().collect();
    used.sort();
    let unknown: Vec<&String> = used.iter().filter(|name| !VARIABLES.contains(&name.as_str())).collect();
    match unknown.first() {
        None => Ok(used),
        Some(name) => {
            let line = line_of(source, name).map(|n| format!("line {n}: ")).unwrap_or_default();
            Err(format!("{line}`{name}` is not a template variable; use one of {}", VARIABLES.join(", ")))
        }
    }
}

/// Renders a checked template with `context` (an object of [`VARIABLES`]).
pub fn render(source: &str, context: &Value, html: bool) -> Result<String, String> {
    let env = environment();
    let template = env.template_from_named_str(name_for(html), source).map_err(describe)?;
    template.render(context).map_err(describe)
}

fn describe(error: minijinja::Error) -> String {
    let detail = error.detail().map(str::to_string).unwrap_or_else(|| error.kind().to_string());
    match error.line() {
        Some(line) => format!("line {line}: {detail}"),
        None => detail,
    }
}

/// The first line that mentions `name` as a word (for the message about it).
fn line_of(source: &str, name: &str) -> Option<usize> {
    source
        .lines()
        .position(|line| {
            line.match_indices(name).any(|(at, _)| {
                let before = line[..at].chars().last();
                let after = line[at + name.len()..].chars().next();
                let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
                !word(before) && !word(after)
            })
        })
        .map(|index| index + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn old_placeholders_keep_working() {
        let text = render(
            "Hi {{first_name}}, code {{ promo_code }}",
            &json!({"first_name": "Ana", "promo_code": "X1"}),
            false,
        )
        .unwrap();
        assert_eq!(text, "Hi Ana, code X1");
    }

    #[test]
    fn unknown_variables_and_syntax_errors_name_the_line() {
        let error = check("Hello\n{{ nickname }}", false).unwrap_err();
        assert!(error.starts_with("line 2: `nickname` is not a template variable"), "{error}");
        let error = check("Hello\n\n{% if first_name %}", false).unwrap_err();
        assert!(error.starts_with("line 3"), "{error}");
        assert!(check("{% for p in recommendations %}{{ p.name }}{% endfor %}", false).is_ok());
    }

    #[test]
    fn html_escapes_values_and_text_does_not() {
        let context = json!({"first_name": "<b>Ana</b>"});
        assert_eq!(render("{{first_name}}", &context, true).unwrap(), "&lt;b&gt;Ana&lt;&#x2f;b&gt;");
        assert_eq!(render("{{first_name}}", &context, false).unwrap(), "<b>Ana</b>");
    }

    #[test]
    fn a_runaway_loop_runs_out_of_fuel() {
        let error = render(
            "{% for i in range(10000) %}{% for j in range(10000) %}x{% endfor %}{% endfor %}",
            &json!({}),
            false,
        )
        .unwrap_err();
        assert!(error.contains("fuel"), "{error}");
    }

    #[test]
    fn missing_values_render_empty() {
        assert_eq!(render("[{{ last_order.total }}]", &json!({}), false).unwrap(), "[]");
    }
}
