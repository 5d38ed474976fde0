//! The first pass: who the customers are, when each order happens and who places it,
//! consent histories, and the campaigns launched along the way (their audience computed
//! from the state of the data at launch). Orders get their contents in a second pass.
//!
//! Time runs day by day over the history. Each day gets its share of the orders (season,
//! weekday, growth); an order is either a first order that creates its customer, or a
//! repeat order by an existing customer drawn by their propensity (a heavy-tailed weight,
//! so a few customers buy very often and many once). Customers who sign up without
//! buying (newsletter, events, an import) arrive on their own schedule and may buy later.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Weekday};

use super::catalogue::{self, anchor, Audience, Campaign, Country, COUNTRIES, HISTORY_DAYS};
use super::rng::{Rng, WeightedSet};
use crate::domain::campaign::{holdout_size, AudienceCounts};
use crate::domain::consent::ConsentChange;
use crate::domain::customer::{Address, CustomerDetails, CustomerProfile};
use crate::domain::{
    ConsentChannel, ConsentSource, ConsentState, Country as CountryCode, CustomerKind, CustomerSource, Email, Gender,
    Language, Phone, Tag,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Web,
    Store,
    Marketplace,
    Phone,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Web => "web",
            Channel::Store => "store",
            Channel::Marketplace => "marketplace",
            Channel::Phone => "phone",
        }
    }
}

/// The channel mix of orders that do not follow the customer's habit.
const CHANNEL_MIX: [(Channel, u64); 4] =
    [(Channel::Web, 62), (Channel::Store, 20), (Channel::Marketplace, 12), (Channel::Phone, 6)];

/// Orders per hour of the day (UTC, close enough to European local time), per channel.
fn hour_profile(channel: Channel) -> &'static [u64; 24] {
    match channel {
        Channel::Web => &[3, 2, 1, 1, 1, 1, 2, 4, 6, 8, 9, 10, 11, 11, 10, 10, 10, 11, 13, 15, 17, 16, 12, 6],
        Channel::Marketplace => &[4, 3, 2, 2, 2, 2, 3, 5, 7, 8, 9, 9, 10, 10, 9, 9, 9, 10, 11, 12, 13, 12, 9, 6],
        Channel::Store => &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6, 9, 10, 9, 10, 11, 12, 12, 10, 5, 0, 0, 0, 0],
        Channel::Phone => &[0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 10, 10, 6, 7, 10, 10, 9, 7, 3, 0, 0, 0, 0, 0],
    }
}

/// One consent event, as the API would have recorded it.
#[derive(Debug, Clone)]
pub struct PlannedConsent {
    pub change: ConsentChange,
    pub recorded_at: NaiveDateTime,
    pub actor: &'static str,
    /// The consent was given at the checkout of the customer's first order: its
    /// `method_detail` names that order once its id is known.
    pub at_first_checkout: bool,
}

#[derive(Debug, Clone)]
pub struct PlannedCustomer {
    pub profile: CustomerProfile,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub country: usize,
    pub store: Option<&'static str>,
    pub home_channel: Channel,
    /// How likely this customer is to be drawn for a repeat order (0: never).
    pub weight: u64,
    /// Sorted by occurrence.
    pub consents: Vec<PlannedConsent>,
    /// Running state while time advances (non-cancelled orders).
    pub orders_count: i64,
    pub last_order_at: Option<NaiveDateTime>,
}

impl PlannedCustomer {
    pub fn currency(&self) -> &'static str {
        COUNTRIES[self.country].currency
    }

    /// The consent state of a channel at `at`: the latest event that occurred by then.
    pub fn consent_at(&self, channel: ConsentChannel, at: NaiveDateTime) -> ConsentState {
        self.consents
            .iter()
            .rfind(|c| c.change.channel == channel && c.change.occurred_at <= at)
            .map_or(ConsentState::NotSet, |c| c.change.state)
    }

    fn insert_consent(&mut self, consent: PlannedConsent) {
        let at = consent.change.occurred_at;
        let position = self.consents.partition_point(|c| c.change.occurred_at <= at);
        self.consents.insert(position, consent);
    }
}

#[derive(Debug, Clone, Copy)]
pub struct PlannedOrder {
    pub placed_at: NaiveDateTime,
    pub customer: u32,
    pub channel: Channel,
    pub cancelled: bool,
    /// The order that created its customer.
    pub first: bool,
    /// A campaign's promo code (index) the customer was sent.
    pub campaign_code: Option<u8>,
}

#[derive(Debug, Clone)]
pub struct PlannedContact {
    pub customer: u32,
    pub holdout: bool,
    pub token: Option<String>,
}

#[derive(Debug, Clone)]
pub struct PlannedResponse {
    /// Index into the campaign's contacts.
    pub contact: u32,
    pub kind: &'static str,
    pub occurred_at: NaiveDateTime,
    pub recorded_at: NaiveDateTime,
    pub actor: &'static str,
}

#[derive(Debug, Clone)]
pub struct PlannedCampaign {
    pub counts: AudienceCounts,
    pub contacts: Vec<PlannedContact>,
    pub responses: Vec<PlannedResponse>,
}

pub struct Plan {
    pub customers: Vec<PlannedCustomer>,
    pub orders: Vec<PlannedOrder>,
    pub campaigns: Vec<PlannedCampaign>,
}

pub fn history_start() -> NaiveDateTime {
    anchor() - Duration::days(HISTORY_DAYS)
}

/// The relative number of orders on a day: season (Black Friday, Christmas, Valentine's
/// and Mother's Day peaks, a quiet summer), weekday, and a business growing 25% a year.
pub fn day_weight(day_index: i64, date: NaiveDate) -> u64 {
    let month: u64 = [80, 88, 90, 95, 105, 80, 70, 70, 90, 100, 150, 190][date.month0() as usize];
    let black_friday = black_friday(date.year());
    let offset = (date - black_friday).num_days();
    let special: u64 = match (date.month(), date.day()) {
        _ if offset == 0 => 400,
        _ if (1..=3).contains(&offset) => 250,
        _ if (-7..0).contains(&offset) => 130,
        (2, 7..=13) => 180,
        (5, 1..=24) => 120,
        (12, 1..=20) => 130,
        (12, 24) => 60,
        (12, 25) => 30,
        (12, 26..=31) => 70,
        _ => 100,
    };
    let weekday: u64 = match date.weekday() {
        Weekday::Mon => 105,
        Weekday::Tue | Weekday::Wed | Weekday::Thu => 100,
        Weekday::Fri => 105,
        Weekday::Sat => 110,
        Weekday::Sun => 85,
    };
    let growth = 1000 + (day_index as u64) * 250 / 365;
    month * special * weekday * growth
}

/// The Friday after the fourth Thursday of November.
pub fn black_friday(year: i32) -> NaiveDate {
    let first = NaiveDate::from_ymd_opt(year, 11, 1).expect("valid date");
    let to_thursday = (7 + 3 - first.weekday().num_days_from_monday() as i64) % 7;
    first + Duration::days(to_thursday + 21 + 1)
}

/// `total` split over days in proportion to their weights, exactly (cumulative rounding).
fn split_by_day(total: u64) -> Vec<u64> {
    let start = history_start().date();
    let weights: Vec<u64> = (0..HISTORY_DAYS).map(|d| day_weight(d, start + Duration::days(d))).collect();
    let sum: u128 = weights.iter().map(|&w| u128::from(w)).sum();
    let mut out = Vec::with_capacity(weights.len());
    let (mut cumulative, mut given) = (0u128, 0u64);
    for weight in weights {
        cumulative += u128::from(weight);
        let upto = (u128::from(total) * cumulative / sum) as u64;
        out.push(upto - given);
        given = upto;
    }
    out
}

/// A sign-up that is not a purchase, with when and how it happened.
struct SignUp {
    at: NaiveDateTime,
    source: CustomerSource,
}

/// Trade fairs where people sign up on paper (tagged with the fair's name).
const FAIRS: [(i32, u32, u32); 3] = [(2024, 3, 16), (2025, 3, 15), (2026, 3, 14)];

fn sign_up_schedule(count: u64, rng: &mut Rng) -> Vec<SignUp> {
    let start = history_start();
    let imported = count / 5;
    let import_at = start + Duration::days(1) + Duration::hours(10);
    let mut schedule: Vec<SignUp> = (0..imported)
        .map(|n| SignUp { at: import_at + Duration::seconds((n / 50) as i64), source: CustomerSource::Import })
        .collect();
    let sources = [
        (CustomerSource::NewsletterForm, 45),
        (CustomerSource::ContactForm, 10),
        (CustomerSource::Event, 10),
        (CustomerSource::Store, 12),
        (CustomerSource::Referral, 5),
        (CustomerSource::Phone, 5),
        (CustomerSource::Email, 3),
        (CustomerSource::Api, 3),
    ];
    for _ in imported..count {
        let source = *rng.weighted_pick(&sources);
        let at = match source {
            CustomerSource::Event => {
                let (y, m, d) = *rng.pick(&FAIRS);
                catalogue::at(y, m, d, 10, 0) + Duration::seconds(rng.between(0, 8 * 3600))
            }
            _ => {
                start
                    + Duration::days(rng.between(2, HISTORY_DAYS - 1))
                    + Duration::seconds(rng.between(7 * 3600, 23 * 3600))
            }
        };
        schedule.push(SignUp { at, source });
    }
    schedule.sort_by_key(|s| s.at);
    schedule
}

/// Lower-case ASCII for an email address's local part.
fn email_part(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.to_lowercase().chars() {
        let folded = match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => "a",
            'ç' => "c",
            'è' | 'é' | 'ê' | 'ë' => "e",
            'ì' | 'í' | 'î' | 'ï' => "i",
            'ñ' => "n",
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' => "o",
            'ù' | 'ú' | 'û' | 'ü' => "u",
            'ý' | 'ÿ' => "y",
            'ß' => "ss",
            'œ' => "oe",
            'æ' => "ae",
            c if c.is_ascii_alphanumeric() => {
                out.push(c);
                continue;
            }
            _ => "",
        };
        out.push_str(folded);
    }
    out
}

fn digits(rng: &mut Rng, pattern: &str) -> String {
    pattern.chars().map(|c| if c == '#' { char::from(b'0' + rng.below(10) as u8) } else { c }).collect()
}

/// A mobile number in E.164 form from the country's valid ranges. (Not `Phone::parse`:
/// its validation costs more than the rest of a customer; the ranges are checked once in
/// the tests.)
fn phone_number(rng: &mut Rng, country: &Country) -> Phone {
    let (prefix, count) = *rng.pick(country.mobiles);
    let mut number = String::from(prefix);
    // The first digit after the prefix is never 0 or 1 (not a valid exchange everywhere).
    number.push(char::from(b'2' + rng.below(8) as u8));
    for _ in 1..count {
        number.push(char::from(b'0' + rng.below(10) as u8));
    }
    Phone::from_stored(number)
}

fn documentation_ip(rng: &mut Rng) -> IpAddr {
    let networks = [[192, 0, 2], [198, 51, 100], [203, 0, 113]];
    let [a, b, c] = *rng.pick(&networks);
    IpAddr::V4(Ipv4Addr::new(a, b, c, 1 + rng.below(254) as u8))
}

/// The heavy-tailed propensity to buy again: `share_once` per mille never do; the
/// others get 1000/(k + 1) for k uniform in 1..=50 (a Pareto-like tail: the top 2%
/// weigh seven times the mean, the median about half of it).
fn propensity(rng: &mut Rng, share_once: u64) -> u64 {
    if rng.chance(share_once) {
        0
    } else {
        1000 / (2 + rng.below(50))
    }
}

/// Weight at which a customer is tagged `vip` (the top 2% of repeat buyers).
const VIP_WEIGHT: u64 = 500;
/// Weight of the `silver` loyalty tier (the next 6%).
const SILVER_WEIGHT: u64 = 200;

pub struct Planner {
    rng: Rng,
    end: NaiveDateTime,
    sequence: u64,
}

/// How a customer came to exist.
#[derive(Clone, Copy)]
enum Origin {
    Checkout(Channel),
    SignUp(CustomerSource),
}

impl Planner {
    fn new_customer(&mut self, origin: Origin, created_at: NaiveDateTime) -> PlannedCustomer {
        self.sequence += 1;
        let sequence = self.sequence;
        let rng = &mut self.rng;
        let needs_store = matches!(origin, Origin::Checkout(Channel::Store) | Origin::SignUp(CustomerSource::Store));
        let country_weights: Vec<u64> =
            COUNTRIES.iter().map(|c| if needs_store && c.stores.is_empty() { 0 } else { c.weight }).collect();
        let country_index = rng.weighted(&country_weights);
        let country = &COUNTRIES[country_index];
        let city_weights: Vec<u64> = country.cities.iter().map(|c| c.weight).collect();
        let city = &country.cities[rng.weighted(&city_weights)];
        let store = (!country.stores.is_empty()).then(|| *rng.pick(country.stores));

        let gender = *rng.weighted_pick(&[
            (Some(Gender::Female), 620),
            (Some(Gender::Male), 330),
            (Some(Gender::NonBinary), 15),
            (Some(Gender::PreferNotToSay), 10),
            (None, 25),
        ]);
        let names = country.names;
        let first_name = match gender {
            Some(Gender::Female) => *rng.pick(names.female),
            Some(Gender::Male) => *rng.pick(names.male),
            _ => {
                if rng.chance(500) {
                    *rng.pick(names.female)
                } else {
                    *rng.pick(names.male)
                }
            }
        };
        let last_name = *rng.pick(names.last);
        let company = matches!(origin, Origin::Checkout(Channel::Web | Channel::Phone)) && rng.chance(12);
        let company_name = company.then(|| {
            let word = *rng.pick(catalogue::COMPANY_WORDS);
            let other = *rng.pick(names.last);
            format!("{word} {other} {}", rng.between(2, 99))
        });

        let (source, home_channel) = match origin {
            Origin::Checkout(Channel::Store) => (CustomerSource::Store, Channel::Store),
            Origin::Checkout(Channel::Phone) => (CustomerSource::Phone, Channel::Phone),
            Origin::Checkout(channel) => (CustomerSource::Checkout, channel),
            Origin::SignUp(CustomerSource::Store) => (CustomerSource::Store, Channel::Store),
            Origin::SignUp(source) => (source, Channel::Web),
        };
        let offline = matches!(source, CustomerSource::Store | CustomerSource::Phone | CustomerSource::Event);
        let has_email = !offline || rng.chance(900);
        let email = has_email.then(|| {
            let domain = *rng.pick(country.email_domains);
            let local = match &company_name {
                Some(name) => format!("orders.{}{sequence}", email_part(name)),
                None => format!("{}.{}{sequence}", email_part(first_name), email_part(last_name)),
            };
            Email::parse(&format!("{local}@{domain}")).expect("generated emails are valid")
        });
        let phone_share = match source {
            CustomerSource::Phone => 1000,
            CustomerSource::Store | CustomerSource::Event => 700,
            _ => 400,
        };
        let weight = match origin {
            Origin::Checkout(_) => propensity(rng, 400),
            Origin::SignUp(CustomerSource::Import) => propensity(rng, 300),
            Origin::SignUp(_) => propensity(rng, 550),
        };
        let vip = weight >= VIP_WEIGHT;
        let phone_share = if vip { 800 } else { phone_share };
        let phone = (rng.chance(phone_share) || email.is_none()).then(|| phone_number(rng, country));
        let has_address = matches!(origin, Origin::Checkout(_)) || rng.chance(550);
        let address = if has_address {
            let street = *rng.pick(country.streets);
            let number = rng.between(1, 180).to_string();
            Address {
                line1: Some(country.address_format.replace("{n}", &number).replace("{s}", street)),
                line2: rng.chance(80).then(|| format!("Apt {}", rng.between(1, 60))),
                city: Some(city.name.to_string()),
                region: Some(city.region.to_string()),
                postal_code: Some({
                    let pattern = *rng.pick(city.postal_codes);
                    digits(rng, pattern)
                }),
                country: Some(CountryCode::parse(country.code).expect("catalogue countries are valid")),
            }
        } else {
            Address {
                country: rng.chance(700).then(|| CountryCode::parse(country.code).expect("valid")),
                ..Address::default()
            }
        };
        let language = match rng.below(100) {
            0..=87 => Some(city.language),
            88..=91 => Some("en"),
            _ => None,
        };
        let birthday = rng.chance(600).then(|| {
            let age_days = (20 + rng.below(26) + rng.below(26)) as i64 * 365 + rng.between(0, 364);
            (anchor() - Duration::days(age_days)).date()
        });

        let mut tags = BTreeSet::new();
        let mut tag = |text: &str| {
            tags.insert(Tag::parse(text).expect("catalogue tags are valid"));
        };
        if vip {
            tag("vip");
        }
        if company {
            tag("b2b");
        }
        match source {
            CustomerSource::Import => tag("legacy-list"),
            CustomerSource::Event => tag(&format!("salon-{}", created_at.year())),
            CustomerSource::NewsletterForm if rng.chance(150) => tag("instagram"),
            _ => {}
        }
        if rng.chance(90) {
            tag("gift-buyer");
        }
        if rng.chance(30) {
            tag("bridal");
        }
        let mut attributes = serde_json::Map::new();
        if gender == Some(Gender::Female) && rng.chance(250) {
            attributes.insert("ring_size".into(), (*rng.weighted_pick(catalogue::RING_SIZES)).into());
        }
        if rng.chance(200) {
            let metal = *rng.pick(&["silver", "gold", "rose gold"]);
            attributes.insert("favourite_metal".into(), metal.into());
        }
        if vip {
            attributes.insert("loyalty_tier".into(), "gold".into());
        } else if weight >= SILVER_WEIGHT {
            attributes.insert("loyalty_tier".into(), "silver".into());
        }
        let notes = rng.chance(20).then(|| rng.pick(catalogue::NOTES).to_string());
        let updated_at = if rng.chance(80) {
            let span = (self.end - created_at).num_seconds().max(1);
            created_at + Duration::seconds(rng.between(0, span - 1))
        } else {
            created_at
        };

        let profile = CustomerProfile {
            kind: if company { CustomerKind::Company } else { CustomerKind::Person },
            source,
            details: CustomerDetails {
                company: Default::default(),
                company_id: None,
                role: None,
                first_name: Some(first_name.to_string()),
                last_name: Some(last_name.to_string()),
                company_name,
                email,
                phone,
                birthday,
                gender,
                address,
                preferred_language: language.map(|l| Language::parse(l).expect("catalogue languages are valid")),
                tags,
                attributes,
                notes,
            },
        };
        let mut customer = PlannedCustomer {
            profile,
            created_at,
            updated_at,
            country: country_index,
            store,
            home_channel,
            weight,
            consents: Vec::new(),
            orders_count: 0,
            last_order_at: None,
        };
        self.plan_consents(&mut customer, origin);
        customer
    }

    /// The consent history of a new customer, from how they arrived, with some later
    /// unsubscribing.
    fn plan_consents(&mut self, customer: &mut PlannedCustomer, origin: Origin) {
        let created = customer.created_at;
        let has_email = customer.profile.details.email.is_some();
        let has_phone = customer.profile.details.phone.is_some();
        // Frequent buyers are keener to hear about new collections.
        let keen = customer.weight >= VIP_WEIGHT;
        let store = customer.store.unwrap_or("Paris Marais");
        let rng = &mut self.rng;
        let mut events: Vec<PlannedConsent> = Vec::new();
        let event = |channel, state, source, detail: &str, text: Option<&str>, at, actor| PlannedConsent {
            change: ConsentChange {
                channel,
                state,
                source,
                method_detail: Some(detail.to_string()),
                consent_text: text.map(str::to_string),
                consent_text_version: None,
                ip: None,
                user_agent: None,
                occurred_at: at,
            },
            recorded_at: at,
            actor,
            at_first_checkout: false,
        };
        const EMAIL_TEXT: &str = "Send me news and offers by email";
        const SMS_TEXT: &str = "Send me offers by SMS";
        let with_client = |mut consent: PlannedConsent, rng: &mut Rng| {
            consent.change.ip = Some(documentation_ip(rng));
            consent.change.user_agent = Some(rng.pick(catalogue::USER_AGENTS).to_string());
            consent.change.consent_text_version = Some("2023-10".to_string());
            consent
        };
        match origin {
            Origin::Checkout(channel) => {
                // The first order is placed a few minutes after the customer record.
                let at = created + Duration::minutes(3);
                let (email_share, actor) = match channel {
                    Channel::Web => (550, "shop-checkout"),
                    Channel::Phone => (300, "customer-service"),
                    Channel::Store => (450, "pos"),
                    Channel::Marketplace => (0, "marketplace-sync"),
                };
                let source = if channel == Channel::Store { ConsentSource::Admin } else { ConsentSource::Checkout };
                let detail = if channel == Channel::Store { format!("in store, {store}") } else { String::new() };
                if has_email && (rng.chance(email_share) || (keen && channel != Channel::Marketplace)) {
                    let mut consent = event(
                        ConsentChannel::Email,
                        ConsentState::Subscribed,
                        source,
                        &detail,
                        Some(EMAIL_TEXT),
                        at,
                        actor,
                    );
                    consent.at_first_checkout = channel != Channel::Store;
                    consent.recorded_at = at + Duration::seconds(1);
                    events.push(consent);
                }
                if has_phone && channel != Channel::Marketplace && rng.chance(if keen { 600 } else { 110 }) {
                    let mut consent = event(
                        ConsentChannel::Sms,
                        ConsentState::Subscribed,
                        source,
                        &detail,
                        Some(SMS_TEXT),
                        at,
                        actor,
                    );
                    consent.at_first_checkout = channel != Channel::Store;
                    consent.recorded_at = at + Duration::seconds(1);
                    events.push(consent);
                }
            }
            Origin::SignUp(CustomerSource::NewsletterForm | CustomerSource::Referral) if has_email => {
                let pending = event(
                    ConsentChannel::Email,
                    ConsentState::Pending,
                    ConsentSource::NewsletterForm,
                    "public form, awaiting double opt-in confirmation",
                    Some(EMAIL_TEXT),
                    created,
                    "public:newsletter_form",
                );
                events.push(with_client(pending, rng));
                if rng.chance(850) {
                    let at = created + Duration::seconds(rng.between(60, 4 * 3600));
                    let confirmed = event(
                        ConsentChannel::Email,
                        ConsentState::Subscribed,
                        ConsentSource::ConfirmationLink,
                        "double opt-in confirmation link",
                        Some(EMAIL_TEXT),
                        at,
                        "public:confirmation_link",
                    );
                    events.push(with_client(confirmed, rng));
                }
            }
            Origin::SignUp(CustomerSource::ContactForm) => {
                if has_email && rng.chance(300) {
                    let consent = event(
                        ConsentChannel::Email,
                        ConsentState::Subscribed,
                        ConsentSource::ContactForm,
                        "public form, single opt-in",
                        Some(EMAIL_TEXT),
                        created,
                        "public:contact_form",
                    );
                    events.push(with_client(consent, rng));
                }
            }
            Origin::SignUp(CustomerSource::Import) if has_email => {
                let occurred = created - Duration::days(rng.between(30, 900));
                let state = match rng.below(100) {
                    0..=64 => Some(ConsentState::Subscribed),
                    65..=72 => Some(ConsentState::Unsubscribed),
                    _ => None,
                };
                if let Some(state) = state {
                    let mut consent = event(
                        ConsentChannel::Email,
                        state,
                        ConsentSource::Import,
                        "legacy newsletter list",
                        None,
                        occurred,
                        "admin",
                    );
                    consent.recorded_at = created;
                    events.push(consent);
                }
            }
            Origin::SignUp(source @ (CustomerSource::Event | CustomerSource::Store)) if has_email => {
                let share = if source == CustomerSource::Event { 600 } else { 500 };
                if rng.chance(share) {
                    let detail = if source == CustomerSource::Event {
                        format!("sign-up sheet, Salon du Bijou {}", created.year())
                    } else {
                        format!("in store, {store}")
                    };
                    let mut consent = event(
                        ConsentChannel::Email,
                        ConsentState::Subscribed,
                        ConsentSource::Admin,
                        &detail,
                        Some(EMAIL_TEXT),
                        created,
                        "admin",
                    );
                    consent.recorded_at = created + Duration::hours(rng.between(1, 72));
                    events.push(consent);
                }
            }
            Origin::SignUp(_) => {
                if has_email && rng.chance(250) {
                    events.push(event(
                        ConsentChannel::Email,
                        ConsentState::Subscribed,
                        ConsentSource::Admin,
                        "asked by phone or email",
                        Some(EMAIL_TEXT),
                        created,
                        "admin",
                    ));
                }
            }
        }
        let has_address = customer.profile.details.address.line1.is_some();
        if has_address && rng.chance(40) {
            let at = created + Duration::days(rng.between(0, 200));
            events.push(event(
                ConsentChannel::Post,
                ConsentState::Subscribed,
                ConsentSource::Admin,
                "catalogue request",
                Some("Send me the printed catalogue"),
                at,
                "admin",
            ));
        }
        // Some subscribers leave later.
        let mut later = Vec::new();
        for consent in &events {
            if consent.change.state != ConsentState::Subscribed || !rng.chance(120) {
                continue;
            }
            let at = consent.change.occurred_at.max(created) + Duration::seconds(rng.between(86_400, 700 * 86_400));
            let (source, detail, actor) = match consent.change.channel {
                ConsentChannel::Sms => (ConsentSource::CampaignReply, "replied STOP", "sms-gateway"),
                _ => (ConsentSource::UnsubscribeLink, "unsubscribe link", "public:unsubscribe_link"),
            };
            let mut withdrawn =
                event(consent.change.channel, ConsentState::Unsubscribed, source, detail, None, at, actor);
            if source == ConsentSource::UnsubscribeLink {
                withdrawn = with_client(withdrawn, rng);
                withdrawn.change.consent_text_version = None;
            }
            later.push(withdrawn);
        }
        events.extend(later);
        let end = self.end;
        events.retain(|e| e.change.occurred_at < end && e.recorded_at < end);
        events.sort_by_key(|e| e.change.occurred_at);
        customer.consents = events;
    }
}

/// A campaign's effect on orders: for its attribution window, clickers order more (and
/// use the campaign's code when it has one).
struct Boost {
    until: NaiveDateTime,
    window_days: u64,
    clickers: Vec<u32>,
    code: Option<u8>,
}

/// Where a customer of the day being built is: already in the list, or created today.
#[derive(Clone, Copy)]
enum Who {
    Known(u32),
    Today(usize),
}

struct DayOrder {
    placed_at: NaiveDateTime,
    who: Who,
    channel: Channel,
    cancelled: bool,
    first: bool,
    campaign_code: Option<u8>,
}

pub fn plan(customer_count: u64, order_count: u64, seed: u64) -> Plan {
    let start = history_start();
    let end = anchor();
    let mut planner = Planner { rng: Rng::stream(seed, "customers"), end, sequence: 0 };
    let mut rng = Rng::stream(seed, "orders");
    let first_orders = if order_count == 0 { 0 } else { order_count.min((customer_count * 7 / 10).max(1)) };
    let mut sign_ups =
        sign_up_schedule(customer_count - first_orders, &mut Rng::stream(seed, "sign-ups")).into_iter().peekable();
    let per_day = split_by_day(order_count);
    let campaigns = catalogue::campaigns();
    let mut launched = 0usize;
    let mut planned_campaigns = Vec::with_capacity(campaigns.len());
    let mut campaign_rng = Rng::stream(seed, "campaigns");
    let mut contact_times: HashMap<u32, Vec<NaiveDateTime>> = HashMap::new();
    let mut boosts: Vec<Boost> = Vec::new();

    let mut customers: Vec<PlannedCustomer> = Vec::with_capacity(customer_count as usize);
    let mut orders: Vec<PlannedOrder> = Vec::with_capacity(order_count as usize);
    let mut pool = WeightedSet::new();
    let (mut slot, mut first_given) = (0u64, 0u64);

    for (day, &count) in per_day.iter().enumerate() {
        let day_start = start + Duration::days(day as i64);
        let day_end = day_start + Duration::days(1);
        while launched < campaigns.len() && campaigns[launched].launched_at < day_end {
            let campaign = &campaigns[launched];
            // Campaign ids follow the catalogue's order.
            let planned = launch(campaign, launched + 1, &mut customers, &mut contact_times, &mut campaign_rng, end);
            let clickers: Vec<u32> = planned
                .responses
                .iter()
                .filter(|r| r.kind == "clicked")
                .map(|r| planned.contacts[r.contact as usize].customer)
                .collect();
            boosts.push(Boost {
                until: campaign.launched_at + Duration::days(campaign.attribution_window_days),
                window_days: campaign.attribution_window_days as u64,
                clickers,
                code: campaign.promo.map(|p| p as u8),
            });
            planned_campaigns.push(planned);
            launched += 1;
        }
        boosts.retain(|b| b.until > day_start);

        let mut today: Vec<PlannedCustomer> = Vec::new();
        while let Some(sign_up) = sign_ups.next_if(|s| s.at < day_end) {
            today.push(planner.new_customer(Origin::SignUp(sign_up.source), sign_up.at));
        }
        let sunday = day_start.weekday() == Weekday::Sun;
        let mut day_orders: Vec<DayOrder> = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let remaining_first = first_orders - first_given;
            let remaining_slots = order_count - slot;
            slot += 1;
            let is_first = remaining_first > 0
                && (remaining_first >= remaining_slots
                    || (pool.total() == 0 && boosts.iter().all(|b| b.clickers.is_empty()))
                    || rng.below(remaining_slots) < remaining_first);
            let time_in_day = |rng: &mut Rng, channel: Channel| {
                let hour = rng.weighted(hour_profile(channel)) as i64;
                day_start + Duration::seconds(hour * 3600 + rng.between(0, 3599))
            };
            if is_first {
                first_given += 1;
                let mut channel = *rng.weighted_pick(&[
                    (Channel::Web, 70),
                    (Channel::Store, 15),
                    (Channel::Marketplace, 10),
                    (Channel::Phone, 5),
                ]);
                if sunday && channel == Channel::Store {
                    channel = Channel::Web;
                }
                let placed_at = time_in_day(&mut rng, channel).max(day_start + Duration::minutes(3));
                let created_at = placed_at - Duration::minutes(3);
                let customer = planner.new_customer(Origin::Checkout(channel), created_at);
                today.push(customer);
                day_orders.push(DayOrder {
                    placed_at,
                    who: Who::Today(today.len() - 1),
                    channel,
                    cancelled: rng.chance(if channel == Channel::Store { 5 } else { 30 }),
                    first: true,
                    campaign_code: None,
                });
                continue;
            }
            // A repeat order: a campaign's clicker now and then, else by propensity.
            let mut campaign_code = None;
            let mut who = None;
            for boost in &boosts {
                if boost.clickers.is_empty() {
                    continue;
                }
                let clickers = boost.clickers.len() as u64;
                // About 15% of clickers order during the window.
                if rng.below(100 * boost.window_days * count.max(1)) < 15 * clickers {
                    who = Some(Who::Known(*rng.pick(&boost.clickers)));
                    campaign_code = boost.code;
                    break;
                }
            }
            let who = match who {
                Some(who) => who,
                None => match pool.draw(&mut rng) {
                    Some(index) => Who::Known(index as u32),
                    None if !customers.is_empty() => Who::Known(rng.below(customers.len() as u64) as u32),
                    None => Who::Today(rng.below(today.len() as u64) as usize),
                },
            };
            let customer = match who {
                Who::Known(index) => &customers[index as usize],
                Who::Today(index) => &today[index],
            };
            let mut channel = if rng.chance(750) { customer.home_channel } else { *rng.weighted_pick(&CHANNEL_MIX) };
            if channel == Channel::Store && (sunday || customer.store.is_none()) {
                channel = Channel::Web;
            }
            let mut placed_at = time_in_day(&mut rng, channel);
            if let Who::Today(_) = who {
                // Only when nobody else could buy: never before the customer existed.
                placed_at =
                    placed_at.max(customer.created_at + Duration::minutes(5)).min(day_end - Duration::seconds(1));
            }
            day_orders.push(DayOrder {
                placed_at,
                who,
                channel,
                cancelled: rng.chance(if channel == Channel::Store { 5 } else { 30 }),
                first: false,
                campaign_code,
            });
        }

        // The day's new customers get their ids in order of creation, then join the pool.
        let mut order_of_today: Vec<usize> = (0..today.len()).collect();
        order_of_today.sort_by_key(|&i| (today[i].created_at, i));
        let mut index_of_today = vec![0u32; today.len()];
        let base = customers.len();
        let mut today: Vec<Option<PlannedCustomer>> = today.into_iter().map(Some).collect();
        for (position, &i) in order_of_today.iter().enumerate() {
            index_of_today[i] = (base + position) as u32;
            let customer = today[i].take().expect("each customer moves once");
            pool.push(customer.weight);
            customers.push(customer);
        }
        day_orders.sort_by_key(|o| o.placed_at);
        for order in day_orders {
            let customer = match order.who {
                Who::Known(index) => index,
                Who::Today(i) => index_of_today[i],
            };
            let id = orders.len() as i64 + 1;
            let planned = &mut customers[customer as usize];
            if order.first {
                for consent in planned.consents.iter_mut().filter(|c| c.at_first_checkout) {
                    consent.change.method_detail = Some(format!("checkout, order {id}"));
                }
            }
            if !order.cancelled {
                planned.orders_count += 1;
                planned.last_order_at = Some(planned.last_order_at.map_or(order.placed_at, |t| t.max(order.placed_at)));
            }
            orders.push(PlannedOrder {
                placed_at: order.placed_at,
                customer,
                channel: order.channel,
                cancelled: order.cancelled,
                first: order.first,
                campaign_code: order.campaign_code,
            });
        }
    }
    // Sign-ups scheduled on the last day are in; campaigns after the history are not launched.
    debug_assert_eq!(customers.len() as u64, customer_count);
    Plan { customers, orders, campaigns: planned_campaigns }
}

fn matches(audience: &Audience, customer: &PlannedCustomer, at: NaiveDateTime) -> bool {
    let d = &customer.profile.details;
    match audience {
        Audience::EmailSubscribers => customer.consent_at(ConsentChannel::Email, at) == ConsentState::Subscribed,
        Audience::MinOrders(n) => customer.orders_count >= *n,
        Audience::Tag(tag) => d.tags.iter().any(|t| t.as_str() == *tag),
        Audience::Gender(gender) => d.gender.is_some_and(|g| g.as_str() == *gender),
        Audience::Language(language) => d.preferred_language.as_ref().is_some_and(|l| l.as_str() == *language),
        Audience::LastOrderBefore(time) => customer.last_order_at.is_some_and(|t| t < *time),
    }
}

/// A launch as `services::campaigns::launch` performs it, on the data as it is at
/// `launched_at`: the audience, each exclusion counted once, a random holdout, tracking
/// tokens; then what the contacts did (deliveries, opens, clicks, unsubscribes, which
/// also withdraw consent).
fn launch(
    campaign: &Campaign,
    campaign_id: usize,
    customers: &mut [PlannedCustomer],
    contact_times: &mut HashMap<u32, Vec<NaiveDateTime>>,
    rng: &mut Rng,
    end: NaiveDateTime,
) -> PlannedCampaign {
    let at = campaign.launched_at;
    let channel = ConsentChannel::parse(campaign.channel).expect("catalogue channels are valid");
    let since = at - Duration::days(catalogue::CAP_PER_DAYS);
    let mut counts = AudienceCounts::default();
    let mut eligible: Vec<u32> = Vec::new();
    for (index, customer) in customers.iter().enumerate() {
        if customer.created_at > at || !matches(&campaign.audience, customer, at) {
            continue;
        }
        counts.segment_size += 1;
        let d = &customer.profile.details;
        let reachable = match channel {
            ConsentChannel::Email => d.email.is_some(),
            ConsentChannel::Sms | ConsentChannel::Phone => d.phone.is_some(),
            ConsentChannel::Post => d.address.line1.is_some() && d.address.city.is_some(),
        };
        let recent =
            contact_times.get(&(index as u32)).map_or(0, |times| times.iter().filter(|&&t| t >= since).count());
        if customer.consent_at(channel, at) != ConsentState::Subscribed {
            counts.no_consent += 1;
        } else if !reachable {
            counts.unreachable += 1;
        } else if recent as i64 >= catalogue::CAP_MAX_CONTACTS {
            counts.capped += 1;
        } else {
            eligible.push(index as u32);
        }
    }
    rng.shuffle(&mut eligible);
    let holdout = holdout_size(eligible.len(), campaign.holdout_percent);
    counts.holdout = holdout as i64;
    counts.contacted = (eligible.len() - holdout) as i64;
    let mut contacts = Vec::with_capacity(eligible.len());
    let mut responses = Vec::new();
    for (position, &customer) in eligible.iter().enumerate() {
        if position < holdout {
            contacts.push(PlannedContact { customer, holdout: true, token: None });
            continue;
        }
        let mut bytes = [0u8; 16];
        rng.fill(&mut bytes);
        contacts.push(PlannedContact { customer, holdout: false, token: Some(URL_SAFE_NO_PAD.encode(bytes)) });
        contact_times.entry(customer).or_default().push(at);
        let contact = (contacts.len() - 1) as u32;
        let mut respond = |kind: &'static str, occurred_at: NaiveDateTime, actor: &'static str, delay: i64| {
            let occurred_at = occurred_at.min(end - Duration::seconds(2));
            let recorded_at = (occurred_at + Duration::seconds(delay)).min(end - Duration::seconds(1));
            responses.push(PlannedResponse { contact, kind, occurred_at, recorded_at, actor });
            occurred_at
        };
        let sent = at + Duration::minutes(5) + Duration::seconds(rng.between(0, 3600));
        let withdrawn = if channel == ConsentChannel::Email {
            if rng.chance(20) {
                respond("bounced", sent + Duration::seconds(rng.between(5, 600)), "esp-webhook", 30);
                None
            } else {
                let delivered = respond("delivered", sent + Duration::seconds(rng.between(1, 120)), "esp-webhook", 20);
                let mut withdrawn = None;
                if rng.chance(380) {
                    let opened = respond(
                        "opened",
                        delivered + Duration::seconds(rng.between(60, 3 * 86_400)),
                        "public:open_pixel",
                        0,
                    );
                    if rng.chance(120) {
                        respond(
                            "opened",
                            opened + Duration::seconds(rng.between(3600, 5 * 86_400)),
                            "public:open_pixel",
                            0,
                        );
                    }
                    if rng.chance(250) {
                        respond("clicked", opened + Duration::seconds(rng.between(5, 900)), "public:click", 0);
                    } else if rng.chance(15) {
                        withdrawn = Some(respond(
                            "unsubscribed",
                            opened + Duration::seconds(rng.between(5, 600)),
                            "esp-webhook",
                            60,
                        ));
                    }
                } else if rng.chance(2) {
                    withdrawn = Some(respond(
                        "complained",
                        delivered + Duration::seconds(rng.between(600, 86_400)),
                        "esp-webhook",
                        60,
                    ));
                }
                withdrawn
            }
        } else {
            let delivered = respond("delivered", sent + Duration::seconds(rng.between(1, 60)), "sms-gateway", 5);
            if rng.chance(80) {
                respond("clicked", delivered + Duration::seconds(rng.between(30, 86_400)), "public:click", 0);
                None
            } else if rng.chance(15) {
                Some(respond("unsubscribed", delivered + Duration::seconds(rng.between(30, 3600)), "sms-gateway", 5))
            } else {
                None
            }
        };
        if let Some(occurred_at) = withdrawn {
            withdraw(&mut customers[customer as usize], channel, campaign_id, occurred_at, responses.last());
        }
    }
    PlannedCampaign { counts, contacts, responses }
}

/// What `record_responses` does on `unsubscribed` / `complained`: an `unsubscribed`
/// event from the campaign, unless already unsubscribed. Later planned events of the
/// channel did not happen.
fn withdraw(
    customer: &mut PlannedCustomer,
    channel: ConsentChannel,
    campaign_id: usize,
    occurred_at: NaiveDateTime,
    response: Option<&PlannedResponse>,
) {
    if customer.consent_at(channel, occurred_at) == ConsentState::Unsubscribed {
        return;
    }
    customer.consents.retain(|c| c.change.channel != channel || c.change.occurred_at <= occurred_at);
    let kind = response.map_or("unsubscribed", |r| r.kind);
    let (recorded_at, actor) = response.map_or((occurred_at, "esp-webhook"), |r| (r.recorded_at, r.actor));
    customer.insert_consent(PlannedConsent {
        change: ConsentChange {
            channel,
            state: ConsentState::Unsubscribed,
            source: ConsentSource::CampaignReply,
            method_detail: Some(format!("campaign {campaign_id}: {kind}")),
            consent_text: None,
            consent_text_version: None,
            ip: None,
            user_agent: None,
            occurred_at,
        },
        recorded_at,
        actor,
        at_first_checkout: false,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn black_friday_dates() {
        assert_eq!(black_friday(2023), NaiveDate::from_ymd_opt(2023, 11, 24).unwrap());
        assert_eq!(black_friday(2024), NaiveDate::from_ymd_opt(2024, 11, 29).unwrap());
        assert_eq!(black_friday(2025), NaiveDate::from_ymd_opt(2025, 11, 28).unwrap());
    }

    #[test]
    fn orders_split_exactly_and_follow_the_season() {
        let days = split_by_day(1_000_000);
        assert_eq!(days.len() as i64, HISTORY_DAYS);
        assert_eq!(days.iter().sum::<u64>(), 1_000_000);
        let start = history_start().date();
        let month_total = |year: i32, month: u32| -> u64 {
            days.iter()
                .enumerate()
                .filter(|(d, _)| {
                    let date = start + Duration::days(*d as i64);
                    date.year() == year && date.month() == month
                })
                .map(|(_, n)| n)
                .sum()
        };
        assert!(month_total(2025, 12) > 2 * month_total(2025, 7), "December outsells July");
        assert!(month_total(2025, 11) > month_total(2024, 11), "the business grows");
        assert_eq!(split_by_day(0).iter().sum::<u64>(), 0);
    }

    #[test]
    fn generated_contact_data_is_valid() {
        let mut rng = Rng::new(3);
        for country in COUNTRIES {
            for _ in 0..2000 {
                let phone = phone_number(&mut rng, country);
                let parsed = Phone::parse(phone.as_str(), None).unwrap_or_else(|e| panic!("{}: {e}", phone.as_str()));
                assert_eq!(parsed.as_str(), phone.as_str());
            }
            assert!(CountryCode::parse(country.code).is_ok());
        }
        assert_eq!(email_part("Zoé D'Almeida-Müller"), "zoedalmeidamuller");
        assert_eq!(email_part("van den Berg"), "vandenberg");
    }

    #[test]
    fn the_plan_is_consistent() {
        let plan = plan(300, 2000, 9);
        assert_eq!((plan.customers.len(), plan.orders.len()), (300, 2000));
        let mut previous = None;
        for order in &plan.orders {
            let customer = &plan.customers[order.customer as usize];
            assert!(customer.created_at <= order.placed_at, "nobody orders before they exist");
            assert!(previous.is_none_or(|p| p <= order.placed_at), "ids follow time");
            previous = Some(order.placed_at);
        }
        assert!(plan.customers.windows(2).all(|w| w[0].created_at <= w[1].created_at), "ids follow creation");
        let emails: BTreeSet<_> =
            plan.customers.iter().filter_map(|c| c.profile.details.email.as_ref().map(|e| e.as_str())).collect();
        assert_eq!(emails.len(), plan.customers.iter().filter(|c| c.profile.details.email.is_some()).count());
        assert_eq!(plan.campaigns.len(), catalogue::campaigns().len());
        for (campaign, planned) in catalogue::campaigns().iter().zip(&plan.campaigns) {
            let channel = ConsentChannel::parse(campaign.channel).unwrap();
            for contact in &planned.contacts {
                let customer = &plan.customers[contact.customer as usize];
                assert!(customer.created_at <= campaign.launched_at);
                assert_eq!(customer.consent_at(channel, campaign.launched_at), ConsentState::Subscribed);
            }
            let c = planned.counts;
            assert_eq!(c.no_consent + c.unreachable + c.capped + c.holdout + c.contacted, c.segment_size);
        }
        let repeaters = plan.customers.iter().filter(|c| c.orders_count >= 2).count();
        assert!(repeaters > 30, "repeat buyers exist: {repeaters}");
    }

    #[test]
    fn the_same_seed_plans_the_same_data() {
        let (a, b, c) = (plan(100, 500, 1), plan(100, 500, 1), plan(100, 500, 2));
        let key =
            |p: &Plan| -> Vec<(NaiveDateTime, u32)> { p.orders.iter().map(|o| (o.placed_at, o.customer)).collect() };
        assert_eq!(key(&a), key(&b));
        assert_ne!(key(&a), key(&c));
        assert_eq!(a.customers[7].profile, b.customers[7].profile);
    }
}
