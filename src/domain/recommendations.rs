//! Recommendations, the pure part (see docs/recommendations.md): a customer's purchase
//! profile (shares of product types and line attributes, price band), "also bought"
//! associations between products counted over customers (lift with a minimum support),
//! and the ranking of candidate products for a customer, with a reason a person can read.
//!
//! Everything here works on rows already loaded; the repository loads them and the
//! service decides what to load.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

/// Lower and upper percentile of the price band.
pub const BAND_LOW_PERCENTILE: f64 = 0.25;
pub const BAND_HIGH_PERCENTILE: f64 = 0.75;
/// A product is "within the band" from 20 % below its low to 20 % above its high.
pub const BAND_TOLERANCE: f64 = 0.20;
/// A pair of products is associated only when at least this many customers bought both.
pub const MIN_SUPPORT: i64 = 2;
/// Related products kept per product.
pub const RELATED_PER_PRODUCT: usize = 20;
/// Distinct products of a customer that count for associations (the most recent ones):
/// bounds the pairs a very large buyer adds (n^2).
pub const MAX_BASKET: usize = 100;
/// Products a customer bought that seed their "also bought" candidates (the most recent).
pub const MAX_SEEDS: usize = 20;
/// Attribute keys of one line that count for affinities.
pub const MAX_ATTRIBUTES_PER_LINE: usize = 20;
/// `limit` of the recommendation and related-product endpoints.
pub const DEFAULT_LIMIT: i64 = 10;
pub const MAX_RECOMMENDATIONS: i64 = 50;
/// Recommendations each campaign contact carries.
pub const CONTACT_RECOMMENDATIONS: usize = 3;
/// The affinity dimension of product types; attributes are `attributes.<key>`.
pub const PRODUCT_TYPE: &str = "product_type";

/// One order line as the profile sees it: of an order that was not cancelled, with the
/// units that were not refunded (always > 0).
#[derive(Debug, Clone, PartialEq)]
pub struct PurchasedLine {
    pub customer_id: i64,
    pub product_id: Option<i64>,
    pub product_type: Option<String>,
    /// The line's attributes (a JSON object as text).
    pub attributes: String,
    pub units: i64,
    /// Unit price as charged on the line, before the order-level discount (minor units).
    pub unit_price: i64,
    pub currency: String,
}

/// The range of unit prices a customer usually pays in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceBand {
    pub currency: String,
    /// 25th percentile (minor units).
    pub low: i64,
    /// 75th percentile (minor units).
    pub high: i64,
    /// Units the band was computed from.
    pub units: i64,
}

impl PriceBand {
    /// Whether `price` falls in the band widened by the tolerance.
    pub fn admits(&self, price: i64) -> bool {
        let low = self.low as f64 * (1.0 - BAND_TOLERANCE);
        let high = self.high as f64 * (1.0 + BAND_TOLERANCE);
        (low..=high).contains(&(price as f64))
    }

    /// `20-60 EUR`, in major units.
    pub fn describe(&self) -> String {
        format!(
            "{}-{} {}",
            major_units(self.low, &self.currency),
            major_units(self.high, &self.currency),
            self.currency
        )
    }
}

/// The share of a customer's units (and spend) of one product type or attribute value.
#[derive(Debug, Clone, PartialEq)]
pub struct Affinity {
    /// `product_type` or `attributes.<key>`.
    pub dimension: String,
    pub value: String,
    pub units: i64,
    /// Of all the customer's units, 0 to 1.
    pub unit_share: f64,
    /// Of the customer's spend in `Profile::spend_currency`, 0 to 1.
    pub spend_share: f64,
}

/// What a customer buys.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Profile {
    pub units: i64,
    /// The currency with the most units; spend shares are in it.
    pub spend_currency: Option<String>,
    pub price_bands: Vec<PriceBand>,
    /// By dimension, then unit share (largest first), then value.
    pub affinities: Vec<Affinity>,
}

/// The `p` quantile (0..1) of prices where each `(price, units)` counts `units` times,
/// interpolated linearly between neighbouring units (the usual "type 7" definition),
/// rounded to a whole minor unit. `prices` must be sorted by price and not empty.
pub fn weighted_percentile(prices: &[(i64, i64)], p: f64) -> i64 {
    let total: i64 = prices.iter().map(|(_, n)| *n).sum();
    let at = |rank: i64| -> i64 {
        let mut seen = 0;
        for (price, n) in prices {
            seen += n;
            if rank < seen {
                return *price;
            }
        }
        prices.last().map_or(0, |(price, _)| *price)
    };
    let h = p.clamp(0.0, 1.0) * (total - 1).max(0) as f64;
    let below = h.floor() as i64;
    let (a, b) = (at(below), at((below + 1).min(total - 1)));
    (a as f64 + (h - below as f64) * (b - a) as f64).round() as i64
}

/// The profile of one customer from their lines.
pub fn profile(lines: &[&PurchasedLine]) -> Profile {
    let units: i64 = lines.iter().map(|l| l.units).sum();
    if units == 0 {
        return Profile::default();
    }
    let mut units_by_currency: BTreeMap<&str, i64> = BTreeMap::new();
    let mut prices: BTreeMap<&str, Vec<(i64, i64)>> = BTreeMap::new();
    for line in lines {
        *units_by_currency.entry(&line.currency).or_default() += line.units;
        prices.entry(&line.currency).or_default().push((line.unit_price, line.units));
    }
    let spend_currency =
        units_by_currency.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))).map(|(c, _)| c.to_string());
    let price_bands = prices
        .into_iter()
        .map(|(currency, mut pairs)| {
            pairs.sort_unstable();
            PriceBand {
                currency: currency.to_string(),
                low: weighted_percentile(&pairs, BAND_LOW_PERCENTILE),
                high: weighted_percentile(&pairs, BAND_HIGH_PERCENTILE),
                units: pairs.iter().map(|(_, n)| n).sum(),
            }
        })
        .collect();
    let spend_of = |line: &PurchasedLine| {
        if Some(line.currency.as_str()) == spend_currency.as_deref() {
            line.units.saturating_mul(line.unit_price)
        } else {
            0
        }
    };
    let spend: i64 = lines.iter().map(|l| spend_of(l)).sum();
    // (dimension, value) -> (units, spend)
    let mut groups: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
    for line in lines {
        for key in dimensions(line) {
            let entry = groups.entry(key).or_default();
            entry.0 += line.units;
            entry.1 += spend_of(line);
        }
    }
    let mut affinities: Vec<Affinity> = groups
        .into_iter()
        .map(|((dimension, value), (u, s))| Affinity {
            dimension,
            value,
            units: u,
            unit_share: u as f64 / units as f64,
            spend_share: if spend > 0 { s as f64 / spend as f64 } else { 0.0 },
        })
        .collect();
    affinities.sort_by(|a, b| {
        a.dimension.cmp(&b.dimension).then(b.unit_share.total_cmp(&a.unit_share)).then_with(|| a.value.cmp(&b.value))
    });
    Profile { units, spend_currency, price_bands, affinities }
}

/// The (dimension, value) pairs a line counts for: its product type and each scalar
/// attribute (strings as they are, numbers and booleans as JSON writes them).
fn dimensions(line: &PurchasedLine) -> Vec<(String, String)> {
    let mut keys = Vec::new();
    if let Some(product_type) = line.product_type.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        keys.push((PRODUCT_TYPE.to_string(), product_type.to_string()));
    }
    if let Ok(Value::Object(attributes)) = serde_json::from_str::<Value>(&line.attributes) {
        for (key, value) in attributes.iter().take(MAX_ATTRIBUTES_PER_LINE) {
            let valid_key =
                (1..=64).contains(&key.len()) && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            let text = match value {
                Value::String(s) => s.trim().to_string(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => continue,
            };
            if valid_key && !text.is_empty() && text.chars().count() <= 200 {
                keys.push((format!("attributes.{key}"), text));
            }
        }
    }
    keys
}

/// An "also bought" association: customers who bought `product_id` also bought `related_id`.
#[derive(Debug, Clone, PartialEq)]
pub struct Association {
    pub product_id: i64,
    pub related_id: i64,
    /// Customers who bought both.
    pub customers: i64,
    /// P(both) / (P(product) P(related)), over customers.
    pub lift: f64,
    /// 1 for the strongest association of `product_id`.
    pub position: i64,
}

/// Customers who bought each product (a product counts once per basket).
pub fn popularity(baskets: &[Vec<i64>]) -> HashMap<i64, i64> {
    let mut counts: HashMap<i64, i64> = HashMap::new();
    for basket in baskets {
        for product in basket.iter().collect::<HashSet<_>>() {
            *counts.entry(*product).or_default() += 1;
        }
    }
    counts
}

/// Associations between products from each customer's distinct products (one basket per
/// customer): for each product, the `RELATED_PER_PRODUCT` related products with the
/// highest lift among those bought together by at least `MIN_SUPPORT` customers.
pub fn associations(baskets: &[Vec<i64>]) -> Vec<Association> {
    let customers = baskets.iter().filter(|b| !b.is_empty()).count() as f64;
    let counts = popularity(baskets);
    let mut pairs: HashMap<(i64, i64), i64> = HashMap::new();
    for basket in baskets {
        let mut basket = basket.clone();
        basket.sort_unstable();
        basket.dedup();
        for (i, a) in basket.iter().enumerate() {
            for b in &basket[i + 1..] {
                *pairs.entry((*a, *b)).or_default() += 1;
            }
        }
    }
    let mut related: HashMap<i64, Vec<(i64, i64, f64)>> = HashMap::new();
    for ((a, b), both) in pairs {
        if both < MIN_SUPPORT {
            continue;
        }
        let lift = both as f64 * customers / (counts[&a] as f64 * counts[&b] as f64);
        related.entry(a).or_default().push((b, both, lift));
        related.entry(b).or_default().push((a, both, lift));
    }
    let mut out = Vec::new();
    let mut products: Vec<i64> = related.keys().copied().collect();
    products.sort_unstable();
    for product in products {
        let mut list = related.remove(&product).unwrap_or_default();
        list.sort_by(|x, y| y.2.total_cmp(&x.2).then(y.1.cmp(&x.1)).then(x.0.cmp(&y.0)));
        for (index, (related_id, both, lift)) in list.into_iter().take(RELATED_PER_PRODUCT).enumerate() {
            out.push(Association {
                product_id: product,
                related_id,
                customers: both,
                lift,
                position: index as i64 + 1,
            });
        }
    }
    out
}

/// A catalogue product that may be recommended.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub product_id: i64,
    pub sku: String,
    pub name: String,
    pub product_type: String,
    pub price: i64,
    pub currency: String,
    pub active: bool,
    pub track_inventory: bool,
    pub stock_quantity: i64,
    /// Customers who bought it (0 when unknown).
    pub buyers: i64,
}

impl Candidate {
    pub fn available(&self) -> bool {
        self.active && (!self.track_inventory || self.stock_quantity > 0)
    }
}

/// What a customer brings to the ranking.
#[derive(Debug, Clone, Default)]
pub struct CustomerTaste {
    /// Products they bought (catalogue ids), with name and type, most recent first.
    pub bought: Vec<(i64, String, Option<String>)>,
    pub price_bands: Vec<PriceBand>,
    /// Product type -> unit share.
    pub type_shares: HashMap<String, f64>,
}

/// A product of the "also bought" list of another.
#[derive(Debug, Clone, PartialEq)]
pub struct RelatedProduct {
    pub product: Candidate,
    /// Customers who bought both.
    pub customers: i64,
    pub lift: f64,
}

/// Why a product is recommended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Bought with what the customer bought.
    AlsoBought,
    /// A best seller of the customer's product types (and price band).
    TypeBestSeller,
    /// A best seller of the whole catalogue.
    BestSeller,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::AlsoBought => "also_bought",
            Source::TypeBestSeller => "type_best_seller",
            Source::BestSeller => "best_seller",
        }
    }
}

/// One recommended product.
#[derive(Debug, Clone, PartialEq)]
pub struct Recommendation {
    pub product: Candidate,
    pub score: f64,
    pub source: Source,
    pub reason: String,
}

/// Weight of the customer's share of the product's type in the score.
const TYPE_WEIGHT: f64 = 2.0;

/// Ranks recommendations for one customer: products associated with what they bought
/// (the sum of the lifts from each product they bought, plus their affinity with the
/// product's type), then best sellers of their types, then best sellers; always
/// available, not bought before unless the type is repeatable, within the price band
/// (with the tolerance) when the customer has one in the product's currency.
pub fn rank(
    taste: &CustomerTaste,
    associated: &HashMap<i64, Vec<(i64, f64)>>,
    products: &HashMap<i64, Candidate>,
    best_sellers: &[Candidate],
    repeatable: &HashSet<String>,
    limit: usize,
) -> Vec<Recommendation> {
    let bought: HashSet<i64> = taste.bought.iter().map(|(id, _, _)| *id).collect();
    let eligible = |c: &Candidate| {
        c.available()
            && (!bought.contains(&c.product_id) || repeatable.contains(&c.product_type))
            && within_band(&taste.price_bands, c)
    };
    let band_reason = |c: &Candidate| {
        taste
            .price_bands
            .iter()
            .find(|b| b.currency == c.currency)
            .map(|b| format!("your usual price range {}", b.describe()))
    };
    let type_share = |c: &Candidate| taste.type_shares.get(&c.product_type).copied().unwrap_or(0.0);
    let max_buyers = best_sellers.iter().chain(products.values()).map(|c| c.buyers).max().unwrap_or(0).max(1) as f64;
    // product -> (score, strongest seed name, its lift)
    let mut scored: HashMap<i64, (f64, String, f64)> = HashMap::new();
    for (seed, name, _) in taste.bought.iter().take(MAX_SEEDS) {
        for (related, lift) in associated.get(seed).map(Vec::as_slice).unwrap_or(&[]) {
            let entry = scored.entry(*related).or_insert((0.0, String::new(), 0.0));
            entry.0 += lift;
            if *lift > entry.2 {
                entry.1 = name.clone();
                entry.2 = *lift;
            }
        }
    }
    let mut ranked: Vec<Recommendation> = scored
        .into_iter()
        .filter_map(|(id, (lifts, seed, _))| {
            let product = products.get(&id).filter(|c| eligible(c))?;
            let score = lifts + TYPE_WEIGHT * type_share(product) + product.buyers as f64 / max_buyers / 10.0;
            let mut reason = format!("customers who bought {seed} also bought this");
            if let Some(band) = band_reason(product) {
                reason = format!("{reason}; {band}");
            }
            Some(Recommendation { product: product.clone(), score, source: Source::AlsoBought, reason })
        })
        .collect();
    ranked.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.product.product_id.cmp(&b.product.product_id)));
    ranked.truncate(limit);
    let mut chosen: HashSet<i64> = ranked.iter().map(|r| r.product.product_id).collect();
    // Cold start (and filling up): best sellers of their types, then of everything.
    for pass in [Source::TypeBestSeller, Source::BestSeller] {
        if ranked.len() >= limit {
            break;
        }
        for product in best_sellers {
            if ranked.len() >= limit {
                break;
            }
            let share = type_share(product);
            if chosen.contains(&product.product_id)
                || !eligible(product)
                || (pass == Source::TypeBestSeller && share <= 0.0)
            {
                continue;
            }
            let mut reason = match pass {
                Source::TypeBestSeller => format!("a best seller among {}, a type you buy", product.product_type),
                _ => "a best seller".to_string(),
            };
            if let Some(band) = band_reason(product) {
                reason = format!("{reason}; {band}");
            }
            let score = TYPE_WEIGHT * share + product.buyers as f64 / max_buyers / 10.0;
            chosen.insert(product.product_id);
            ranked.push(Recommendation { product: product.clone(), score, source: pass, reason });
        }
    }
    ranked
}

/// Within the band of the product's currency (with the tolerance). Prices in different
/// currencies cannot be compared (no exchange rates), so a customer without a band in the
/// product's currency (no orders yet, or orders in other currencies only: a catalogue
/// priced in EUR sold in USD too) is not filtered by price.
pub fn within_band(bands: &[PriceBand], product: &Candidate) -> bool {
    bands.iter().find(|b| b.currency == product.currency).is_none_or(|b| b.admits(product.price))
}

/// Minor units as major units: `2000` EUR -> `20`, `1999` -> `19.99`, `500` JPY -> `500`.
pub fn major_units(amount: i64, currency: &str) -> String {
    let digits = minor_digits(currency);
    if digits == 0 {
        return amount.to_string();
    }
    let scale = 10_i64.pow(digits);
    let (sign, amount) = if amount < 0 { ("-", -amount) } else { ("", amount) };
    let (whole, fraction) = (amount / scale, amount % scale);
    if fraction == 0 {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{fraction:0width$}", width = digits as usize)
    }
}

/// Digits of the minor unit (ISO 4217): 0 for JPY and the like, 3 for the dinars, else 2.
pub fn minor_digits(currency: &str) -> u32 {
    const ZERO: &[&str] = &[
        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF",
        "XPF",
    ];
    const THREE: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];
    if ZERO.contains(&currency) {
        0
    } else if THREE.contains(&currency) {
        3
    } else {
        2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(
        product: i64,
        product_type: &str,
        attributes: &str,
        units: i64,
        price: i64,
        currency: &str,
    ) -> PurchasedLine {
        PurchasedLine {
            customer_id: 1,
            product_id: Some(product),
            product_type: Some(product_type.into()),
            attributes: attributes.into(),
            units,
            unit_price: price,
            currency: currency.into(),
        }
    }

    #[test]
    fn percentiles_interpolate_between_units() {
        // 1, 2, 3, 4 -> p25 = 1.75, p75 = 3.25 (type 7)
        let prices = [(100, 1), (200, 1), (300, 1), (400, 1)];
        assert_eq!(weighted_percentile(&prices, 0.25), 175);
        assert_eq!(weighted_percentile(&prices, 0.75), 325);
        // Units weigh: 100 x3, 1000 x1 -> 100,100,100,1000: p75 = 100 + 0.25 * 900
        assert_eq!(weighted_percentile(&[(100, 3), (1000, 1)], 0.75), 325);
        assert_eq!(weighted_percentile(&[(100, 3), (1000, 1)], 0.25), 100);
        // One unit: the band is that price.
        assert_eq!(weighted_percentile(&[(999, 1)], 0.25), 999);
        assert_eq!(weighted_percentile(&[(999, 1)], 0.75), 999);
    }

    #[test]
    fn profile_shares_and_bands() {
        let lines = [
            line(1, "ring", r#"{"material": "silver"}"#, 2, 2000, "EUR"),
            line(2, "ring", r#"{"material": "gold", "size": 52}"#, 1, 6000, "EUR"),
            line(3, "necklace", r#"{"material": "silver"}"#, 1, 4000, "EUR"),
            line(4, "necklace", "{}", 1, 9000, "GBP"),
        ];
        let refs: Vec<&PurchasedLine> = lines.iter().collect();
        let p = profile(&refs);
        assert_eq!(p.units, 5);
        assert_eq!(p.spend_currency.as_deref(), Some("EUR"));
        let eur = p.price_bands.iter().find(|b| b.currency == "EUR").unwrap();
        // 2000, 2000, 4000, 6000 -> p25 = 2000, p75 = 4500
        assert_eq!((eur.low, eur.high, eur.units), (2000, 4500, 4));
        let gbp = p.price_bands.iter().find(|b| b.currency == "GBP").unwrap();
        assert_eq!((gbp.low, gbp.high), (9000, 9000));
        let find = |d: &str, v: &str| p.affinities.iter().find(|a| a.dimension == d && a.value == v).unwrap().clone();
        let ring = find("product_type", "ring");
        assert!((ring.unit_share - 0.6).abs() < 1e-9);
        // EUR spend: 4000 + 6000 + 4000 = 14000, rings 10000
        assert!((ring.spend_share - 10.0 / 14.0).abs() < 1e-9);
        let necklace = find("product_type", "necklace");
        assert!((necklace.unit_share - 0.4).abs() < 1e-9);
        assert!((find("attributes.material", "silver").unit_share - 0.6).abs() < 1e-9);
        assert_eq!(find("attributes.size", "52").units, 1);
        assert_eq!(p.affinities[0].dimension, "attributes.material");
        assert_eq!(profile(&[]), Profile::default());
    }

    #[test]
    fn lift_over_customers_with_minimum_support() {
        // 4 customers: {1,2}, {1,2}, {1,3}, {3}
        let baskets = vec![vec![1, 2], vec![2, 1, 1], vec![1, 3], vec![3]];
        let all = associations(&baskets);
        // 1 and 2: both 2 of 4, P(1)=3/4, P(2)=2/4 -> lift = (2/4)/((3/4)(2/4)) = 4/3
        let one_two = all.iter().find(|a| a.product_id == 1 && a.related_id == 2).unwrap();
        assert_eq!(one_two.customers, 2);
        assert!((one_two.lift - 4.0 / 3.0).abs() < 1e-9);
        assert_eq!(one_two.position, 1);
        assert!(all.iter().any(|a| a.product_id == 2 && a.related_id == 1));
        // 1 and 3: one customer only, below the minimum support
        assert!(!all.iter().any(|a| (a.product_id, a.related_id) == (1, 3)));
        assert!(associations(&[]).is_empty());
        assert!(associations(&[vec![7]]).is_empty());
    }

    fn candidate(id: i64, product_type: &str, price: i64, buyers: i64) -> Candidate {
        Candidate {
            product_id: id,
            sku: format!("SKU-{id}"),
            name: format!("P{id}"),
            product_type: product_type.into(),
            price,
            currency: "EUR".into(),
            active: true,
            track_inventory: false,
            stock_quantity: 0,
            buyers,
        }
    }

    #[test]
    fn ranking_filters_and_explains() {
        let taste = CustomerTaste {
            bought: vec![(1, "Silver ring".into(), Some("ring".into()))],
            price_bands: vec![PriceBand { currency: "EUR".into(), low: 2000, high: 6000, units: 3 }],
            type_shares: HashMap::from([("ring".to_string(), 1.0)]),
        };
        let mut products = HashMap::new();
        for c in [
            candidate(2, "ring", 3000, 5),
            candidate(3, "ring", 100_000, 5), // outside the band
            Candidate { active: false, ..candidate(4, "ring", 3000, 5) },
            Candidate { track_inventory: true, stock_quantity: 0, ..candidate(5, "ring", 3000, 5) },
            candidate(6, "earring", 7000, 1), // 7000 <= 6000 * 1.2: inside with the tolerance
        ] {
            products.insert(c.product_id, c);
        }
        let associated = HashMap::from([(1, vec![(2, 3.0), (3, 9.0), (4, 9.0), (5, 9.0), (6, 1.5)])]);
        let best = vec![candidate(1, "ring", 3000, 50), candidate(7, "ring", 2500, 40), candidate(8, "hat", 2500, 45)];
        let recs = rank(&taste, &associated, &products, &best, &HashSet::new(), 10);
        let ids: Vec<i64> = recs.iter().map(|r| r.product.product_id).collect();
        assert_eq!(ids, [2, 6, 7, 8]);
        assert_eq!(
            recs[0].reason,
            "customers who bought Silver ring also bought this; your usual price range 20-60 EUR"
        );
        assert_eq!(recs[2].source, Source::TypeBestSeller);
        assert_eq!(recs[3].source, Source::BestSeller);
        // A repeatable type lets the bought ring back in.
        let recs = rank(&taste, &associated, &products, &best, &HashSet::from(["ring".to_string()]), 10);
        assert!(recs.iter().any(|r| r.product.product_id == 1));
        // Bands in another currency only: no price filter, no price in the reason.
        let usd = CustomerTaste {
            price_bands: vec![PriceBand { currency: "USD".into(), low: 100, high: 200, units: 1 }],
            ..CustomerTaste::default()
        };
        let recs = rank(&usd, &HashMap::new(), &HashMap::new(), &best, &HashSet::new(), 2);
        assert_eq!(recs.iter().map(|r| r.product.product_id).collect::<Vec<_>>(), [1, 7]);
        assert_eq!(recs[0].reason, "a best seller");
        // Cold start: no history, best sellers.
        let recs = rank(&CustomerTaste::default(), &HashMap::new(), &HashMap::new(), &best, &HashSet::new(), 2);
        assert_eq!(recs.iter().map(|r| r.product.product_id).collect::<Vec<_>>(), [1, 7]);
        assert_eq!(recs[0].reason, "a best seller");
    }

    #[test]
    fn money_in_major_units() {
        assert_eq!(major_units(2000, "EUR"), "20");
        assert_eq!(major_units(1999, "EUR"), "19.99");
        assert_eq!(major_units(5, "EUR"), "0.05");
        assert_eq!(major_units(500, "JPY"), "500");
        assert_eq!(major_units(1500, "KWD"), "1.500");
    }
}
