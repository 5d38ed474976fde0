//! The HTML of a form: a fragment a shop pastes into its site (`/v1/forms/{key}/embed`)
//! or the page a personal link opens. Plain, accessible HTML (a label for every input,
//! fieldsets for groups of choices, a live status line) and a small inline script that
//! posts the answers as JSON; no external assets.

use serde_json::{json, Value};

use super::form_definitions::{FieldType, FormDefinition};

/// How the page authenticates its post.
pub enum PostWith<'a> {
    /// The `forms:submit` token, in the Authorization header (an embedded form).
    Bearer(&'a str),
    /// A personal link's token, in the body.
    LinkToken(&'a str),
}

const TEMPLATE: &str = r#"{% if standalone %}<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title></head>
<body><main>
{% endif %}<form id="{{ form_id }}" class="rapport-form" novalidate>
<h2>{{ title }}</h2>
{% for f in fields %}<div class="rapport-field">
{% if f.type == "select" %}<label for="{{ form_id }}-{{ f.name }}">{{ f.label }}{% if f.required %} (required){% endif %}</label>
<select id="{{ form_id }}-{{ f.name }}" name="{{ f.name }}"{% if f.required %} required{% endif %}>
<option value=""></option>{% for o in f.options %}<option>{{ o }}</option>{% endfor %}
</select>
{% elif f.type == "multiselect" or f.type == "rating" %}<fieldset>
<legend>{{ f.label }}{% if f.required %} (required){% endif %}</legend>
{% for o in f.choices %}<label><input type="{{ f.input }}" name="{{ f.name }}" value="{{ o }}"> {{ o }}</label>
{% endfor %}</fieldset>
{% elif f.type == "checkbox" %}<label><input type="checkbox" id="{{ form_id }}-{{ f.name }}" name="{{ f.name }}" value="true"{% if f.required %} required{% endif %}> {{ f.label }}</label>
{% elif f.type == "text" %}<label for="{{ form_id }}-{{ f.name }}">{{ f.label }}{% if f.required %} (required){% endif %}</label>
<textarea id="{{ form_id }}-{{ f.name }}" name="{{ f.name }}" rows="4"{% if f.required %} required{% endif %}></textarea>
{% else %}<label for="{{ form_id }}-{{ f.name }}">{{ f.label }}{% if f.required %} (required){% endif %}</label>
<input type="{{ f.input }}" id="{{ form_id }}-{{ f.name }}" name="{{ f.name }}"{% if f.autocomplete %} autocomplete="{{ f.autocomplete }}"{% endif %}{% if f.required %} required{% endif %}>
{% endif %}</div>
{% endfor %}{% for c in consents %}<div class="rapport-consent"><label><input type="checkbox" name="consent" value="{{ c.channel }}"> {{ c.text }}</label></div>
{% endfor %}<div aria-hidden="true" style="position:absolute;left:-10000px"><label>Leave this empty <input type="text" name="website" tabindex="-1" autocomplete="off"></label></div>
<button type="submit">Send</button>
<p class="rapport-status" role="status" aria-live="polite"></p>
</form>
<script>
(function () {
  var form = document.getElementById({{ form_id|tojson }});
  var fields = {{ script_fields|tojson }};
  var post = {{ post|tojson }};
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var answers = {};
    fields.forEach(function (f) {
      var inputs = form.querySelectorAll('[name="' + f.name + '"]');
      if (f.type === "multiselect") {
        var picked = [];
        inputs.forEach(function (i) { if (i.checked) { picked.push(i.value); } });
        if (picked.length) { answers[f.name] = picked; }
      } else if (f.type === "checkbox") {
        answers[f.name] = inputs[0].checked;
      } else if (f.type === "rating") {
        inputs.forEach(function (i) { if (i.checked) { answers[f.name] = Number(i.value); } });
      } else if (inputs[0].value !== "") {
        answers[f.name] = f.type === "number" ? Number(inputs[0].value) : inputs[0].value;
      }
    });
    var consent = [];
    form.querySelectorAll('[name="consent"]').forEach(function (i) { if (i.checked) { consent.push(i.value); } });
    var body = { answers: answers, consent: consent, website: form.querySelector('[name="website"]').value };
    var headers = { "Content-Type": "application/json" };
    if (post.bearer) { headers.Authorization = "Bearer " + post.bearer; } else { body.token = post.token; }
    var status = form.querySelector(".rapport-status");
    fetch(post.url, { method: "POST", headers: headers, body: JSON.stringify(body) }).then(function (res) {
      if (res.ok) { form.reset(); status.textContent = "Thank you: your answers were sent."; return; }
      return res.json().then(function (problem) {
        var details = (problem.errors || []).map(function (e) { return e.field + ": " + e.message; }).join("; ");
        status.textContent = problem.detail + (details ? " (" + details + ")" : "");
      });
    }).catch(function () { status.textContent = "The form could not be sent; please try again."; });
  });
})();
</script>
{% if standalone %}</main></body></html>
{% endif %}"#;

fn input_type(field_type: FieldType) -> &'static str {
    match field_type {
        FieldType::Email => "email",
        FieldType::Phone => "tel",
        FieldType::Date => "date",
        FieldType::Number => "number",
        FieldType::Multiselect => "checkbox",
        FieldType::Rating => "radio",
        _ => "text",
    }
}

/// The autocomplete hint of a field that fills a profile field.
fn autocomplete(maps_to: Option<&str>) -> Option<&'static str> {
    Some(match maps_to? {
        "email" => "email",
        "phone" => "tel",
        "first_name" => "given-name",
        "last_name" => "family-name",
        "birthday" => "bday",
        "address.postal_code" => "postal-code",
        "address.city" => "address-level2",
        "address.country" => "country-name",
        _ => return None,
    })
}

/// The form's HTML, posting to `url`. `standalone` wraps it in a whole page.
pub fn render(
    definition: &FormDefinition,
    url: &str,
    post_with: PostWith<'_>,
    standalone: bool,
) -> Result<String, String> {
    let fields: Vec<Value> = definition
        .fields
        .iter()
        .map(|f| {
            let choices: Vec<String> = match f.r#type {
                FieldType::Rating => (1..=5).map(|n| n.to_string()).collect(),
                _ => f.options.clone(),
            };
            json!({
                "name": f.name, "label": f.label, "type": f.r#type, "required": f.required,
                "options": f.options, "choices": choices, "input": input_type(f.r#type),
                "autocomplete": autocomplete(f.maps_to.as_deref()),
            })
        })
        .collect();
    let script_fields: Vec<Value> =
        definition.fields.iter().map(|f| json!({"name": f.name, "type": f.r#type})).collect();
    let consents: Vec<Value> =
        definition.consent_texts.iter().map(|(channel, text)| json!({"channel": channel, "text": text})).collect();
    let post = match post_with {
        PostWith::Bearer(token) => json!({"url": url, "bearer": token}),
        PostWith::LinkToken(token) => json!({"url": url, "token": token}),
    };
    let context = json!({
        "standalone": standalone,
        "form_id": format!("rapport-form-{}", definition.key),
        "title": definition.title,
        "fields": fields,
        "script_fields": script_fields,
        "consents": consents,
        "post": post,
    });
    super::templates::render(TEMPLATE, &context, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::form_definitions::FormPurpose;
    use std::collections::BTreeMap;

    #[test]
    fn labels_are_escaped_and_every_input_is_labelled() {
        let definition = FormDefinition {
            key: "taste".into(),
            title: "Taste <b>test</b>".into(),
            purpose: FormPurpose::Questionnaire,
            fields: serde_json::from_value(json!([
                {"name": "mail", "label": "Mail", "type": "email", "maps_to": "email", "required": true},
                {"name": "notes", "label": "</script><script>alert(1)</script>", "type": "text"},
            ]))
            .unwrap(),
            consent_texts: BTreeMap::from([("email".to_string(), "News & offers".to_string())]),
            reward: None,
        };
        let html =
            render(&definition, "https://shop.example/v1/forms/taste/submissions", PostWith::Bearer("tok"), true)
                .unwrap();
        assert!(html.contains("Taste &lt;b&gt;test&lt;&#x2f;b&gt;") || html.contains("Taste &lt;b&gt;test&lt;/b&gt;"));
        assert!(!html.contains("<script>alert(1)"));
        assert!(html.contains(r#"<label for="rapport-form-taste-mail">"#));
        assert!(html.contains(r#"autocomplete="email""#));
        assert!(html.contains("News &amp; offers"));
        assert!(!html.contains("http://") && !html.contains("src="), "no external assets");
    }
}
