//! Recommendations: the live purchase profile of a customer, the background refresh of
//! the stored tables (price bands, affinities, "also bought" associations, best sellers),
//! related products, and recommendations for a batch of customers in a fixed number of
//! queries (one customer is a batch of one). See docs/recommendations.md.

use std::collections::{HashMap, HashSet};

use super::now;
use crate::db::{Database, DbConn};
use crate::domain::recommendations::{
    self as rec, Candidate, CustomerTaste, PriceBand, Profile, PurchasedLine, Recommendation, RelatedProduct,
    MAX_BASKET, MAX_SEEDS, PRODUCT_TYPE,
};
use crate::error::AppError;
use crate::models::recommendations::{AffinityRow, AssociationRow, CandidateRow, LineRow, PopularityRow, PriceBandRow};
use crate::repositories::recommendations::{self as repo, Customers};
use crate::repositories::{customers as customer_repo, products as product_repo};

/// Customer ids per chunk of the refresh: one read and one short write transaction each.
pub const REFRESH_CHUNK: i64 = 2_000;
/// Products per write transaction of the associations.
const ASSOCIATION_CHUNK: usize = 500;
/// Best sellers read per batch: overall, and per product type of the batch's customers.
const BEST_SELLERS: i64 = 200;
const BEST_SELLERS_PER_TYPE: i64 = 50;

fn customer_not_found(id: i64) -> AppError {
    AppError::not_found(format!("customer {id} does not exist"))
}

fn purchased(row: LineRow) -> PurchasedLine {
    PurchasedLine {
        customer_id: row.customer_id,
        product_id: row.product_id,
        product_type: row.product_type,
        attributes: row.attributes,
        units: row.units,
        unit_price: row.unit_price,
        currency: row.currency,
    }
}

/// The purchase profile of a customer, computed live from their order lines (exact).
pub fn profile(conn: &mut DbConn, customer_id: i64) -> Result<Profile, AppError> {
    if !customer_repo::exists(conn, customer_id)? {
        return Err(customer_not_found(customer_id));
    }
    let lines: Vec<PurchasedLine> =
        repo::purchased_lines(conn, Customers::Ids(&[customer_id]))?.into_iter().map(purchased).collect();
    Ok(rec::profile(&lines.iter().collect::<Vec<_>>()))
}

/// The stored rows of one customer's profile.
fn profile_rows(customer_id: i64, profile: &Profile) -> (Vec<PriceBandRow>, Vec<AffinityRow>) {
    let bands = profile
        .price_bands
        .iter()
        .map(|b| PriceBandRow { customer_id, currency: b.currency.clone(), low: b.low, high: b.high, units: b.units })
        .collect();
    let affinities = profile
        .affinities
        .iter()
        .map(|a| AffinityRow {
            customer_id,
            dimension: a.dimension.clone(),
            value: a.value.clone(),
            unit_share: a.unit_share,
            spend_share: a.spend_share,
        })
        .collect();
    (bands, affinities)
}

/// Profiles of the customers of `lines` (sorted by customer), their distinct catalogue
/// products (most recent first), and each product's units.
struct Computed {
    bands: Vec<PriceBandRow>,
    affinities: Vec<AffinityRow>,
    baskets: Vec<Vec<i64>>,
}

fn compute(lines: Vec<LineRow>, popularity: &mut HashMap<i64, (String, i64, i64)>) -> Computed {
    let mut out = Computed { bands: Vec::new(), affinities: Vec::new(), baskets: Vec::new() };
    let mut start = 0;
    let lines: Vec<(Option<String>, PurchasedLine)> =
        lines.into_iter().map(|row| (row.catalogue_type.clone(), purchased(row))).collect();
    while start < lines.len() {
        let customer = lines[start].1.customer_id;
        let end = start + lines[start..].iter().take_while(|(_, l)| l.customer_id == customer).count();
        let group = &lines[start..end];
        let (bands, affinities) =
            profile_rows(customer, &rec::profile(&group.iter().map(|(_, l)| l).collect::<Vec<_>>()));
        out.bands.extend(bands);
        out.affinities.extend(affinities);
        let mut basket: Vec<i64> = Vec::new();
        let mut seen = HashSet::new();
        for (catalogue_type, line) in group {
            let Some(product) = line.product_id else { continue };
            let entry = popularity.entry(product).or_insert_with(|| (catalogue_type.clone().unwrap_or_default(), 0, 0));
            entry.2 += line.units;
            if seen.insert(product) {
                entry.1 += 1;
                if basket.len() < MAX_BASKET {
                    basket.push(product);
                }
            }
        }
        if !basket.is_empty() {
            out.baskets.push(basket);
        }
        start = end;
    }
    out
}

/// Recomputes the stored tables from the orders when they changed since the last time
/// (a fingerprint of the order statistics, erasures and merges); true when it did.
/// Customers are read and written a chunk at a time, each chunk in its own short
/// transaction; associations and best sellers are written after all customers were read.
pub fn refresh(database: &Database) -> Result<bool, AppError> {
    database.with_conn(refresh_with)
}

pub fn refresh_with(conn: &mut DbConn) -> Result<bool, AppError> {
    refresh_in_chunks(conn, REFRESH_CHUNK)
}

/// `refresh_with`, `chunk` customer ids at a time.
pub fn refresh_in_chunks(conn: &mut DbConn, chunk: i64) -> Result<bool, AppError> {
    let chunk = chunk.max(1);
    let fingerprint = repo::current_fingerprint(conn)?;
    if repo::stored_fingerprint(conn)? == fingerprint {
        return Ok(false);
    }
    let last = repo::max_customer_id(conn)?;
    let mut popularity: HashMap<i64, (String, i64, i64)> = HashMap::new();
    let mut baskets: Vec<Vec<i64>> = Vec::new();
    // Ranges of customer ids; the first and the last are open, so that stored rows of
    // customers who no longer qualify (all orders cancelled, erased) go too.
    let mut from = i64::MIN;
    let mut to = chunk;
    loop {
        if to >= last {
            to = i64::MAX;
        }
        let computed = compute(repo::purchased_lines(conn, Customers::Range(from, to))?, &mut popularity);
        conn.write_transaction(|conn| repo::replace_profiles(conn, from, to, &computed.bands, &computed.affinities))?;
        baskets.extend(computed.baskets);
        if to == i64::MAX {
            break;
        }
        from = to + 1;
        to = from + chunk - 1;
    }
    let associations: Vec<AssociationRow> = rec::associations(&baskets)
        .into_iter()
        .map(|a| AssociationRow {
            product_id: a.product_id,
            related_id: a.related_id,
            customers: a.customers,
            lift: a.lift,
            position: a.position,
        })
        .collect();
    // Chunks of whole products, covering every product id between them.
    let mut start = 0;
    let mut from = i64::MIN;
    loop {
        let mut end = (start + ASSOCIATION_CHUNK * rec::RELATED_PER_PRODUCT).min(associations.len());
        while end < associations.len() && end > 0 && associations[end].product_id == associations[end - 1].product_id {
            end += 1;
        }
        let to = if end >= associations.len() { i64::MAX } else { associations[end - 1].product_id };
        let chunk = &associations[start..end];
        conn.write_transaction(|conn| repo::replace_associations(conn, from, to, chunk))?;
        if to == i64::MAX {
            break;
        }
        from = to + 1;
        start = end;
    }
    let mut popular: Vec<PopularityRow> = popularity
        .into_iter()
        .map(|(product_id, (product_type, customers, units))| PopularityRow {
            product_id,
            product_type,
            customers,
            units,
        })
        .collect();
    popular.sort_by_key(|p| p.product_id);
    conn.write_transaction(|conn| -> Result<(), AppError> {
        repo::replace_popularity(conn, &popular)?;
        repo::lock_state(conn)?;
        repo::set_fingerprint(conn, &fingerprint, now())?;
        Ok(())
    })?;
    Ok(true)
}

/// Recomputes the stored profiles of some customers now (a merge: the survivor's follow
/// its new orders at once; the duplicate's go). Associations follow at the next refresh.
pub fn refresh_customers(conn: &mut DbConn, customers: &[i64]) -> Result<(), AppError> {
    let lines = repo::purchased_lines(conn, Customers::Ids(customers))?;
    let computed = compute(lines, &mut HashMap::new());
    repo::delete_profiles(conn, customers)?;
    repo::insert_profiles(conn, &computed.bands, &computed.affinities)?;
    Ok(())
}

/// Forgets the stored profile of an erased customer.
pub fn forget_customer(conn: &mut DbConn, customer_id: i64) -> Result<(), AppError> {
    Ok(repo::delete_profiles(conn, &[customer_id])?)
}

fn candidate(row: CandidateRow) -> Candidate {
    Candidate {
        product_id: row.id,
        sku: row.sku,
        name: row.name,
        product_type: row.product_type,
        price: row.price,
        currency: row.currency,
        active: row.active,
        track_inventory: row.track_inventory,
        stock_quantity: row.stock_quantity,
        buyers: row.buyers,
    }
}

/// The "also bought" list of a product, strongest first.
pub fn related(conn: &mut DbConn, sku: &str, limit: i64) -> Result<Vec<RelatedProduct>, AppError> {
    let product = product_repo::find_by_sku(conn, sku)?
        .ok_or_else(|| AppError::not_found(format!("product `{sku}` does not exist")))?;
    let rows = repo::related(conn, product.id, limit)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.product_id).collect();
    let mut products: HashMap<i64, Candidate> =
        repo::candidates(conn, &ids)?.into_iter().map(|row| (row.id, candidate(row))).collect();
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            Some(RelatedProduct {
                product: products.remove(&row.product_id)?,
                customers: row.customers,
                lift: row.lift,
            })
        })
        .collect())
}

/// Recommendations of one customer (404 when there is no such customer).
pub fn for_customer(
    conn: &mut DbConn,
    repeatable: &[String],
    customer_id: i64,
    limit: usize,
) -> Result<Vec<Recommendation>, AppError> {
    if !customer_repo::exists(conn, customer_id)? {
        return Err(customer_not_found(customer_id));
    }
    Ok(for_customers(conn, repeatable, &[customer_id], limit)?.remove(&customer_id).unwrap_or_default())
}

/// Recommendations of a batch of customers in six queries, whatever the batch's size:
/// what they bought, their price bands, their product-type shares, the associations of
/// what they bought, those products, and the best sellers.
pub fn for_customers(
    conn: &mut DbConn,
    repeatable: &[String],
    customers: &[i64],
    limit: usize,
) -> Result<HashMap<i64, Vec<Recommendation>>, AppError> {
    if customers.is_empty() {
        return Ok(HashMap::new());
    }
    let mut tastes: HashMap<i64, CustomerTaste> = customers.iter().map(|id| (*id, CustomerTaste::default())).collect();
    let mut bought = repo::bought(conn, customers)?;
    bought.sort_by(|a, b| b.last_at.cmp(&a.last_at).then(b.product_id.cmp(&a.product_id)));
    for row in bought {
        if let Some(taste) = tastes.get_mut(&row.customer_id) {
            taste.bought.push((row.product_id, row.name, Some(row.product_type)));
        }
    }
    for row in repo::bands_of(conn, customers)? {
        if let Some(taste) = tastes.get_mut(&row.customer_id) {
            taste.price_bands.push(PriceBand {
                currency: row.currency,
                low: row.low,
                high: row.high,
                units: row.units,
            });
        }
    }
    let mut types: HashSet<String> = HashSet::new();
    for row in repo::affinities_of(conn, customers, PRODUCT_TYPE)? {
        if let Some(taste) = tastes.get_mut(&row.customer_id) {
            types.insert(row.value.clone());
            taste.type_shares.insert(row.value, row.unit_share);
        }
    }
    let seeds: HashSet<i64> =
        tastes.values().flat_map(|t| t.bought.iter().take(MAX_SEEDS).map(|(id, _, _)| *id)).collect();
    let mut seeds: Vec<i64> = seeds.into_iter().collect();
    seeds.sort_unstable();
    let mut associated: HashMap<i64, Vec<(i64, f64)>> = HashMap::new();
    for row in repo::associations_of(conn, &seeds)? {
        associated.entry(row.product_id).or_default().push((row.related_id, row.lift));
    }
    let mut related: Vec<i64> = associated.values().flatten().map(|(id, _)| *id).collect();
    related.sort_unstable();
    related.dedup();
    let products: HashMap<i64, Candidate> =
        repo::candidates(conn, &related)?.into_iter().map(|row| (row.id, candidate(row))).collect();
    let mut types: Vec<String> = types.into_iter().collect();
    types.sort();
    let best: Vec<Candidate> =
        repo::best_sellers(conn, &types, BEST_SELLERS_PER_TYPE, BEST_SELLERS)?.into_iter().map(candidate).collect();
    let repeatable: HashSet<String> = repeatable.iter().cloned().collect();
    Ok(tastes
        .into_iter()
        .map(|(id, taste)| (id, rec::rank(&taste, &associated, &products, &best, &repeatable, limit)))
        .collect())
}

/// Brings the stored tables up to date every `interval` (recomputed only when the orders
/// changed). With several instances on one database, one of them does it per interval.
pub fn spawn_recommendations_refresh(database: Database, interval: std::time::Duration) {
    if interval.is_zero() {
        return;
    }
    std::thread::Builder::new()
        .name("recommendations-refresh".into())
        .spawn(move || loop {
            let work = |conn: &mut DbConn| refresh_with(conn).map(drop);
            if let Err(error) = super::leases::once_per_period(&database, "recommendations-refresh", interval, work) {
                tracing::warn!(%error, "recommendations refresh failed");
            }
            std::thread::sleep(interval);
        })
        .expect("start the recommendations refresh thread");
}

#[cfg(test)]
mod tests;
