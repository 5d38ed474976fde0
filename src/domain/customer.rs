//! A customer's data as rapport understands it, and the rules that combine it:
//! create, upsert (fill or replace, never erase), JSON Merge Patch, and merge (fill blanks).

use std::collections::BTreeSet;

use chrono::{NaiveDate, NaiveDateTime, Utc};
use serde_json::{Map, Value};

use super::clean_text;
use super::patch::merge_patch_object;
use super::{
    ConsentChannel, ConsentState, Country, CustomerKind, CustomerSource, Email, Gender, Language, Patch, Phone, Tag,
};
use crate::error::{AppError, FieldError, FieldErrors};

pub type Attributes = Map<String, Value>;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Address {
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<Country>,
}

/// A company's own typed fields: only a customer of kind `company` has them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CompanyFacts {
    pub founded_on: Option<NaiveDate>,
    pub industry: Option<String>,
    /// 0 or more.
    pub employees: Option<i64>,
    pub website: Option<String>,
    pub registration_number: Option<String>,
    pub vat_number: Option<String>,
    /// The shop's own assessment (e.g. financial health), 1 to 5.
    pub rating: Option<i64>,
    pub particularities: Option<String>,
}

impl CompanyFacts {
    /// The wire names of the fields that are set (for "only a company has ..." errors).
    pub fn set_fields(&self) -> Vec<&'static str> {
        [
            ("founded_on", self.founded_on.is_some()),
            ("industry", self.industry.is_some()),
            ("employees", self.employees.is_some()),
            ("website", self.website.is_some()),
            ("registration_number", self.registration_number.is_some()),
            ("vat_number", self.vat_number.is_some()),
            ("rating", self.rating.is_some()),
            ("particularities", self.particularities.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect()
    }

    fn fill_from(&mut self, given: CompanyFacts) {
        replace_if_given(&mut self.founded_on, given.founded_on);
        replace_if_given(&mut self.industry, given.industry);
        replace_if_given(&mut self.employees, given.employees);
        replace_if_given(&mut self.website, given.website);
        replace_if_given(&mut self.registration_number, given.registration_number);
        replace_if_given(&mut self.vat_number, given.vat_number);
        replace_if_given(&mut self.rating, given.rating);
        replace_if_given(&mut self.particularities, given.particularities);
    }

    fn absorb(&mut self, other: CompanyFacts) {
        fill_blank(&mut self.founded_on, other.founded_on);
        fill_blank(&mut self.industry, other.industry);
        fill_blank(&mut self.employees, other.employees);
        fill_blank(&mut self.website, other.website);
        fill_blank(&mut self.registration_number, other.registration_number);
        fill_blank(&mut self.vat_number, other.vat_number);
        fill_blank(&mut self.rating, other.rating);
        self.particularities = match (self.particularities.take(), other.particularities) {
            (Some(mine), Some(theirs)) if mine != theirs => Some(format!("{mine}\n\n{theirs}")),
            (mine, theirs) => mine.or(theirs),
        };
    }
}

/// A merge patch of a company's fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CompanyFactsPatch {
    pub founded_on: Patch<NaiveDate>,
    pub industry: Patch<String>,
    pub employees: Patch<i64>,
    pub website: Patch<String>,
    pub registration_number: Patch<String>,
    pub vat_number: Patch<String>,
    pub rating: Patch<i64>,
    pub particularities: Patch<String>,
}

/// Everything about a customer except the two fields with defaults (kind, source).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CustomerDetails {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company_name: Option<String>,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    pub birthday: Option<NaiveDate>,
    pub gender: Option<Gender>,
    pub address: Address,
    pub preferred_language: Option<Language>,
    pub tags: BTreeSet<Tag>,
    pub attributes: Attributes,
    pub notes: Option<String>,
    /// A company's own fields (empty for a person).
    pub company: CompanyFacts,
    /// The company a person belongs to (never set on a company).
    pub company_id: Option<i64>,
    /// The person's role in that company (needs `company_id`).
    pub role: Option<String>,
}

/// What a client sent to create or upsert a customer, parsed and normalized.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CustomerDraft {
    pub kind: Option<CustomerKind>,
    pub source: Option<CustomerSource>,
    pub details: CustomerDetails,
}

/// A complete, valid customer record (without id and timestamps).
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerProfile {
    pub kind: CustomerKind,
    pub source: CustomerSource,
    pub details: CustomerDetails,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AddressPatch {
    pub line1: Patch<String>,
    pub line2: Patch<String>,
    pub city: Patch<String>,
    pub region: Patch<String>,
    pub postal_code: Patch<String>,
    pub country: Patch<Country>,
}

/// A parsed JSON Merge Patch (RFC 7396) of a customer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CustomerPatch {
    pub kind: Option<CustomerKind>,
    pub source: Option<CustomerSource>,
    pub first_name: Patch<String>,
    pub last_name: Patch<String>,
    pub company_name: Patch<String>,
    pub email: Patch<Email>,
    pub phone: Patch<Phone>,
    pub birthday: Patch<NaiveDate>,
    pub gender: Patch<Gender>,
    pub address: Patch<AddressPatch>,
    pub preferred_language: Patch<Language>,
    pub tags: Patch<BTreeSet<Tag>>,
    /// Merged key by key; a null value removes its key.
    pub attributes: Patch<Attributes>,
    pub notes: Patch<String>,
    pub company: CompanyFactsPatch,
    pub company_id: Patch<i64>,
    pub role: Patch<String>,
}

/// `current = given` when something was given.
fn replace_if_given<T>(current: &mut Option<T>, given: Option<T>) {
    if given.is_some() {
        *current = given;
    }
}

/// `current = other` only where current is empty.
fn fill_blank<T>(current: &mut Option<T>, other: Option<T>) {
    if current.is_none() {
        *current = other;
    }
}

impl CustomerProfile {
    /// A new customer: kind defaults to `person`, source to `api`.
    pub fn from_draft(draft: CustomerDraft) -> Result<CustomerProfile, FieldError> {
        let profile = CustomerProfile {
            kind: draft.kind.unwrap_or(CustomerKind::Person),
            source: draft.source.unwrap_or(CustomerSource::Api),
            details: draft.details,
        };
        profile.check_identity()?;
        profile.check_company_fields()?;
        Ok(profile)
    }

    /// Only a company has company fields; only a person belongs to a company; a role
    /// needs the company it is held in.
    pub fn check_company_fields(&self) -> Result<(), FieldError> {
        let d = &self.details;
        match self.kind {
            CustomerKind::Person => {
                if let Some(field) = d.company.set_fields().first() {
                    return Err(FieldError::new(*field, "only a company (kind `company`) has this field"));
                }
                if d.role.is_some() && d.company_id.is_none() {
                    return Err(FieldError::new("role", "a role needs the company_id it is held in"));
                }
                Ok(())
            }
            CustomerKind::Company => {
                if d.company_id.is_some() {
                    return Err(FieldError::new(
                        "company_id",
                        "a company cannot belong to a company; only a person can",
                    ));
                }
                if d.role.is_some() {
                    return Err(FieldError::new("role", "only a person who belongs to a company has a role"));
                }
                Ok(())
            }
        }
    }

    /// A person needs an email, a phone or a name; a company needs its name.
    pub fn check_identity(&self) -> Result<(), FieldError> {
        let d = &self.details;
        match self.kind {
            CustomerKind::Company if d.company_name.is_none() => {
                Err(FieldError::new("company_name", "a company needs a company_name"))
            }
            CustomerKind::Person
                if d.email.is_none() && d.phone.is_none() && d.first_name.is_none() && d.last_name.is_none() =>
            {
                Err(FieldError::new("email", "a person needs at least an email, a phone, or a first or last name"))
            }
            _ => Ok(()),
        }
    }

    /// Upsert: given non-empty values fill or replace; nothing given erases anything;
    /// tags are unioned and attributes merged. The source (where the record was first
    /// captured) is kept.
    pub fn fill_from(&mut self, draft: CustomerDraft) {
        if let Some(kind) = draft.kind {
            self.kind = kind;
        }
        let (d, given) = (&mut self.details, draft.details);
        replace_if_given(&mut d.first_name, given.first_name);
        replace_if_given(&mut d.last_name, given.last_name);
        replace_if_given(&mut d.company_name, given.company_name);
        replace_if_given(&mut d.email, given.email);
        replace_if_given(&mut d.phone, given.phone);
        replace_if_given(&mut d.birthday, given.birthday);
        replace_if_given(&mut d.gender, given.gender);
        replace_if_given(&mut d.address.line1, given.address.line1);
        replace_if_given(&mut d.address.line2, given.address.line2);
        replace_if_given(&mut d.address.city, given.address.city);
        replace_if_given(&mut d.address.region, given.address.region);
        replace_if_given(&mut d.address.postal_code, given.address.postal_code);
        replace_if_given(&mut d.address.country, given.address.country);
        replace_if_given(&mut d.preferred_language, given.preferred_language);
        replace_if_given(&mut d.notes, given.notes);
        d.company.fill_from(given.company);
        if given.company_id.is_some() {
            d.company_id = given.company_id;
            d.role = given.role;
        } else {
            replace_if_given(&mut d.role, given.role);
        }
        d.tags.extend(given.tags);
        for (key, value) in given.attributes {
            if !value.is_null() {
                d.attributes.insert(key, value);
            }
        }
    }

    /// Merge of a duplicate into this record: blanks are filled from the duplicate,
    /// tags unioned, attribute keys this record lacks are taken from the duplicate.
    pub fn absorb(&mut self, duplicate: CustomerProfile) {
        let (d, other) = (&mut self.details, duplicate.details);
        fill_blank(&mut d.first_name, other.first_name);
        fill_blank(&mut d.last_name, other.last_name);
        fill_blank(&mut d.company_name, other.company_name);
        fill_blank(&mut d.email, other.email);
        fill_blank(&mut d.phone, other.phone);
        fill_blank(&mut d.birthday, other.birthday);
        fill_blank(&mut d.gender, other.gender);
        if d.address == Address::default() {
            // An address is one unit: never mix lines of two different addresses.
            d.address = other.address;
        }
        fill_blank(&mut d.preferred_language, other.preferred_language);
        d.notes = match (d.notes.take(), other.notes) {
            (Some(mine), Some(theirs)) if mine != theirs => Some(format!("{mine}\n\n{theirs}")),
            (mine, theirs) => mine.or(theirs),
        };
        d.tags.extend(other.tags);
        for (key, value) in other.attributes {
            d.attributes.entry(key).or_insert(value);
        }
        // A company takes the duplicate's company fields; a person its company (with the
        // role held there), when it has none. What does not fit the survivor's kind goes.
        match self.kind {
            CustomerKind::Company => d.company.absorb(other.company),
            CustomerKind::Person if d.company_id.is_none() => {
                d.company_id = other.company_id;
                d.role = other.role;
            }
            CustomerKind::Person => {}
        }
    }

    /// JSON Merge Patch: absent = unchanged, null = cleared, attributes merged key by key.
    pub fn apply_patch(&mut self, patch: CustomerPatch) -> Result<(), FieldError> {
        if let Some(kind) = patch.kind {
            self.kind = kind;
        }
        if let Some(source) = patch.source {
            self.source = source;
        }
        let d = &mut self.details;
        patch.first_name.apply_to(&mut d.first_name);
        patch.last_name.apply_to(&mut d.last_name);
        patch.company_name.apply_to(&mut d.company_name);
        patch.email.apply_to(&mut d.email);
        patch.phone.apply_to(&mut d.phone);
        patch.birthday.apply_to(&mut d.birthday);
        patch.gender.apply_to(&mut d.gender);
        match patch.address {
            Patch::Absent => {}
            Patch::Null => d.address = Address::default(),
            Patch::Value(address) => {
                address.line1.apply_to(&mut d.address.line1);
                address.line2.apply_to(&mut d.address.line2);
                address.city.apply_to(&mut d.address.city);
                address.region.apply_to(&mut d.address.region);
                address.postal_code.apply_to(&mut d.address.postal_code);
                address.country.apply_to(&mut d.address.country);
            }
        }
        patch.preferred_language.apply_to(&mut d.preferred_language);
        match patch.tags {
            Patch::Absent => {}
            Patch::Null => d.tags.clear(),
            Patch::Value(tags) => d.tags = tags,
        }
        match patch.attributes {
            Patch::Absent => {}
            Patch::Null => d.attributes.clear(),
            Patch::Value(changes) => merge_patch_object(&mut d.attributes, changes),
        }
        patch.notes.apply_to(&mut d.notes);
        let c = patch.company;
        c.founded_on.apply_to(&mut d.company.founded_on);
        c.industry.apply_to(&mut d.company.industry);
        c.employees.apply_to(&mut d.company.employees);
        c.website.apply_to(&mut d.company.website);
        c.registration_number.apply_to(&mut d.company.registration_number);
        c.vat_number.apply_to(&mut d.company.vat_number);
        c.rating.apply_to(&mut d.company.rating);
        c.particularities.apply_to(&mut d.company.particularities);
        // Leaving a company ends the role held there.
        if patch.company_id == Patch::Null && patch.role == Patch::Absent {
            d.role = None;
        }
        patch.company_id.apply_to(&mut d.company_id);
        patch.role.apply_to(&mut d.role);
        self.check_identity()?;
        self.check_company_fields()
    }

    /// "first|last|postal code", lower-cased, when all three are known: two customers
    /// with the same key are likely the same person.
    pub fn name_key(&self) -> Option<String> {
        let d = &self.details;
        match (&d.first_name, &d.last_name, &d.address.postal_code) {
            (Some(first), Some(last), Some(postal)) => Some(format!(
                "{}|{}|{}",
                first.to_lowercase(),
                last.to_lowercase(),
                postal.to_lowercase().replace(' ', "")
            )),
            _ => None,
        }
    }

    /// "company|country", lower-cased, when both are known.
    pub fn company_key(&self) -> Option<String> {
        let d = &self.details;
        match (&d.company_name, &d.address.country) {
            (Some(company), Some(country)) => Some(format!("{}|{}", company.to_lowercase(), country.as_str())),
            _ => None,
        }
    }

    /// The lower-cased strings a prefix search (`q`) matches: each name whole and word
    /// by word (split at spaces, hyphens and apostrophes), the email, and the phone with
    /// and without its `+`.
    pub fn search_terms(&self) -> BTreeSet<String> {
        let d = &self.details;
        let mut terms = BTreeSet::new();
        for name in [&d.first_name, &d.last_name, &d.company_name].into_iter().flatten() {
            let lowered = name.to_lowercase();
            terms.extend(lowered.split([' ', '-', '\'', '’']).map(str::to_owned));
            terms.insert(lowered);
        }
        if let Some(email) = &d.email {
            terms.insert(email.as_str().to_owned());
        }
        if let Some(phone) = &d.phone {
            terms.insert(phone.as_str().to_owned());
            terms.insert(phone.as_str().trim_start_matches('+').to_owned());
        }
        terms.retain(|term| !term.is_empty());
        terms
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn person(first: &str, email: &str) -> CustomerProfile {
        CustomerProfile::from_draft(CustomerDraft {
            details: CustomerDetails {
                first_name: Some(first.into()),
                email: Some(Email::parse(email).unwrap()),
                ..Default::default()
            },
            ..Default::default()
        })
        .unwrap()
    }

    fn object(value: Value) -> Attributes {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn identity_rules() {
        assert!(CustomerProfile::from_draft(CustomerDraft::default()).is_err());
        let company = CustomerDraft {
            kind: Some(CustomerKind::Company),
            details: CustomerDetails { first_name: Some("Ana".into()), ..Default::default() },
            ..Default::default()
        };
        assert_eq!(CustomerProfile::from_draft(company).unwrap_err().field, "company_name");
    }

    #[test]
    fn upsert_fills_and_replaces_but_never_erases() {
        let mut profile = person("Ana", "ana@example.com");
        profile.details.last_name = Some("Silva".into());
        profile.details.tags.insert(Tag::parse("vip").unwrap());
        profile.details.attributes = object(json!({"colour": "blue", "size": 7}));
        profile.fill_from(CustomerDraft {
            source: Some(CustomerSource::Checkout),
            details: CustomerDetails {
                first_name: Some("Anna".into()),
                tags: [Tag::parse("newsletter").unwrap()].into(),
                attributes: object(json!({"colour": "red", "size": null})),
                ..Default::default()
            },
            ..Default::default()
        });
        assert_eq!(profile.details.first_name.as_deref(), Some("Anna"));
        assert_eq!(profile.details.last_name.as_deref(), Some("Silva"));
        assert_eq!(profile.source, CustomerSource::Api, "the first capture source is kept");
        assert_eq!(profile.details.tags.len(), 2);
        assert_eq!(Value::Object(profile.details.attributes), json!({"colour": "red", "size": 7}));
    }

    #[test]
    fn merge_patch_semantics() {
        let mut profile = person("Ana", "ana@example.com");
        profile.details.attributes = object(json!({"a": 1, "nested": {"x": 1, "y": 2}}));
        profile
            .apply_patch(CustomerPatch {
                first_name: Patch::Null,
                attributes: Patch::Value(object(json!({"a": null, "b": 2, "nested": {"y": null, "z": 3}}))),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(profile.details.first_name, None);
        assert_eq!(profile.details.email.as_ref().unwrap().as_str(), "ana@example.com");
        assert_eq!(Value::Object(profile.details.attributes), json!({"b": 2, "nested": {"x": 1, "z": 3}}));
    }

    #[test]
    fn patch_cannot_remove_the_last_identity() {
        let mut profile = person("Ana", "ana@example.com");
        let result =
            profile.apply_patch(CustomerPatch { first_name: Patch::Null, email: Patch::Null, ..Default::default() });
        assert!(result.is_err());
    }

    #[test]
    fn absorb_fills_blanks_only() {
        let mut survivor = person("Ana", "ana@example.com");
        survivor.details.attributes = object(json!({"colour": "blue"}));
        let mut duplicate = person("Anita", "anita@example.com");
        duplicate.details.last_name = Some("Silva".into());
        duplicate.details.attributes = object(json!({"colour": "red", "size": 7}));
        duplicate.details.tags.insert(Tag::parse("vip").unwrap());
        survivor.absorb(duplicate);
        assert_eq!(survivor.details.first_name.as_deref(), Some("Ana"));
        assert_eq!(survivor.details.email.as_ref().unwrap().as_str(), "ana@example.com");
        assert_eq!(survivor.details.last_name.as_deref(), Some("Silva"));
        assert_eq!(Value::Object(survivor.details.attributes), json!({"colour": "blue", "size": 7}));
        assert!(survivor.details.tags.contains(&Tag::parse("vip").unwrap()));
    }

    #[test]
    fn keys_and_terms() {
        let mut profile = person("Jean Paul", "jp@example.com");
        profile.details.last_name = Some("Dupont-O'Neil".into());
        profile.details.address.postal_code = Some("75 001".into());
        assert_eq!(profile.name_key().as_deref(), Some("jean paul|dupont-o'neil|75001"));
        let terms = profile.search_terms();
        assert!(terms.contains("jean paul") && terms.contains("paul") && terms.contains("dupont"));
        assert!(terms.contains("neil") && terms.contains("dupont-o'neil"));
        assert!(terms.contains("jp@example.com"));
    }
}

pub(crate) const NAME_MAX: usize = 200;
pub(crate) const NOTES_MAX: usize = 10_000;

/// A customer's fields as received (a JSON body or an import row), before parsing.
#[derive(Debug, Default)]
pub struct CustomerFields {
    pub kind: Option<CustomerKind>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub birthday: Option<String>,
    pub gender: Option<Gender>,
    pub address: AddressFields,
    pub preferred_language: Option<String>,
    pub source: Option<CustomerSource>,
    pub tags: Option<Vec<String>>,
    pub attributes: Option<Map<String, Value>>,
    pub notes: Option<String>,
    pub founded_on: Option<String>,
    pub industry: Option<String>,
    pub employees: Option<i64>,
    pub website: Option<String>,
    pub registration_number: Option<String>,
    pub vat_number: Option<String>,
    pub rating: Option<i64>,
    pub particularities: Option<String>,
    pub company_id: Option<i64>,
    pub role: Option<String>,
}

#[derive(Debug, Default)]
pub struct AddressFields {
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
}

impl CustomerFields {
    pub fn into_draft(self, default_country: Option<Country>) -> Result<CustomerDraft, AppError> {
        let mut errors = FieldErrors::default();
        let address = self.address;
        let details = CustomerDetails {
            first_name: errors.text("first_name", self.first_name, NAME_MAX),
            last_name: errors.text("last_name", self.last_name, NAME_MAX),
            company_name: errors.text("company_name", self.company_name, NAME_MAX),
            email: errors.parse("email", self.email.and_then(|e| clean_text(&e)), |e| Email::parse(&e)),
            phone: errors
                .parse("phone", self.phone.and_then(|p| clean_text(&p)), |p| Phone::parse(&p, default_country)),
            birthday: errors.parse("birthday", self.birthday.and_then(|b| clean_text(&b)), |b| parse_birthday(&b)),
            gender: self.gender,
            address: Address {
                line1: errors.text("address.line1", address.line1, NAME_MAX),
                line2: errors.text("address.line2", address.line2, NAME_MAX),
                city: errors.text("address.city", address.city, NAME_MAX),
                region: errors.text("address.region", address.region, NAME_MAX),
                postal_code: errors.text("address.postal_code", address.postal_code, 20),
                country: errors
                    .parse("address.country", address.country.and_then(|c| clean_text(&c)), |c| Country::parse(&c)),
            },
            preferred_language: errors.parse(
                "preferred_language",
                self.preferred_language.and_then(|l| clean_text(&l)),
                |l| Language::parse(&l),
            ),
            tags: errors.tags(self.tags.unwrap_or_default()),
            attributes: self.attributes.unwrap_or_default(),
            notes: errors.text("notes", self.notes, NOTES_MAX),
            company: CompanyFacts {
                founded_on: errors
                    .parse("founded_on", self.founded_on.and_then(|d| clean_text(&d)), |d| parse_founded_on(&d)),
                industry: errors.text("industry", self.industry, NAME_MAX),
                employees: errors.parse("employees", self.employees, check_employees),
                website: errors.parse("website", self.website.and_then(|w| clean_text(&w)), |w| parse_website(&w)),
                registration_number: errors.text("registration_number", self.registration_number, NAME_MAX),
                vat_number: errors.text("vat_number", self.vat_number, NAME_MAX),
                rating: errors.parse("rating", self.rating, check_rating),
                particularities: errors.text("particularities", self.particularities, NOTES_MAX),
            },
            company_id: errors.parse("company_id", self.company_id, check_company_id),
            role: errors.text("role", self.role, NAME_MAX),
        };
        errors.into_result(CustomerDraft { kind: self.kind, source: self.source, details })
    }
}

/// A founding date: `YYYY-MM-DD`, not in the future.
pub fn parse_founded_on(raw: &str) -> Result<NaiveDate, String> {
    let date = NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .map_err(|_| format!("`{}` is not a date in the form YYYY-MM-DD", raw.trim()))?;
    if date > Utc::now().date_naive() {
        return Err("must not be in the future".into());
    }
    Ok(date)
}

/// A website: an absolute `http` or `https` URL with a host, at most 2000 characters.
pub fn parse_website(raw: &str) -> Result<String, String> {
    let text = raw.trim();
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .ok_or_else(|| format!("`{text}` is not an http(s) URL (https://example.com)"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_ok = !host.is_empty() && !host.starts_with('.') && !host.starts_with(':');
    if !host_ok || text.chars().count() > 2000 || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("`{text}` is not an http(s) URL with a host, at most 2000 characters"));
    }
    Ok(text.to_string())
}

pub fn check_employees(n: i64) -> Result<i64, String> {
    if n < 0 {
        Err("must be 0 or more".into())
    } else {
        Ok(n)
    }
}

pub fn check_rating(n: i64) -> Result<i64, String> {
    if (1..=5).contains(&n) {
        Ok(n)
    } else {
        Err("must be from 1 to 5".into())
    }
}

pub fn check_company_id(id: i64) -> Result<i64, String> {
    if id >= 1 {
        Ok(id)
    } else {
        Err("must be a customer id (1 or more)".into())
    }
}

pub fn parse_birthday(raw: &str) -> Result<NaiveDate, String> {
    let date = NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .map_err(|_| format!("`{}` is not a date in the form YYYY-MM-DD", raw.trim()))?;
    let today = Utc::now().date_naive();
    if date > today {
        return Err("must not be in the future".into());
    }
    if date < NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid date") {
        return Err("must be 1900-01-01 or later".into());
    }
    Ok(date)
}

/// Parsing helpers shared by create, upsert and patch.
impl FieldErrors {
    pub(crate) fn text(&mut self, field: &str, raw: Option<String>, max: usize) -> Option<String> {
        self.parse(field, raw.and_then(|r| clean_text(&r)), |text| {
            if text.chars().count() > max {
                Err(format!("must be at most {max} characters"))
            } else {
                Ok(text)
            }
        })
    }

    /// A patch of a text field: blank text clears it like null.
    pub(crate) fn text_patch(&mut self, field: &str, patch: Patch<String>, max: usize) -> Patch<String> {
        self.value_patch(field, patch, |text| {
            if text.chars().count() > max {
                Err(format!("must be at most {max} characters"))
            } else {
                Ok(text.to_string())
            }
        })
    }

    pub(crate) fn value_patch<T>(
        &mut self,
        field: &str,
        patch: Patch<String>,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Patch<T> {
        match patch {
            Patch::Absent => Patch::Absent,
            Patch::Null => Patch::Null,
            Patch::Value(raw) => match clean_text(&raw) {
                None => Patch::Null,
                Some(text) => match self.parse(field, Some(text), |t| parse(&t)) {
                    Some(value) => Patch::Value(value),
                    None => Patch::Absent,
                },
            },
        }
    }

    /// A patch of a field that always has a value: null is refused.
    pub(crate) fn required<T>(&mut self, field: &str, patch: Patch<T>) -> Option<T> {
        match patch {
            Patch::Absent => None,
            Patch::Null => {
                self.0.push(crate::error::FieldError::new(field, "cannot be null"));
                None
            }
            Patch::Value(value) => Some(value),
        }
    }

    pub(crate) fn tags(&mut self, raw: Vec<String>) -> BTreeSet<Tag> {
        raw.iter()
            .enumerate()
            .filter_map(|(index, tag)| self.parse(&format!("tags[{index}]"), Some(tag), |t| Tag::parse(t)))
            .collect()
    }
}

/// Filters of `GET /v1/customers`, already parsed.
#[derive(Debug, Clone, Default)]
pub struct CustomerFilter {
    pub email: Option<Email>,
    /// Lower-cased prefix.
    pub search_prefix: Option<String>,
    pub tag: Option<Tag>,
    pub source: Option<CustomerSource>,
    pub created_after: Option<NaiveDateTime>,
    pub created_before: Option<NaiveDateTime>,
    /// Current consent state required per channel (`consent.email=subscribed`).
    pub consent: Vec<(ConsentChannel, ConsentState)>,
}
