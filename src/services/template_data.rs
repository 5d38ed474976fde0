//! What message templates (campaigns and flows) know about each customer: their record,
//! their last order and its lines, their top recommendations and their predictions. Built
//! for a whole page of customers in a fixed number of queries.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use serde_json::{json, Value};

use crate::config::Config;
use crate::db::DbConn;
use crate::domain::flows::utc_to_local;
use crate::domain::recommendations::Recommendation;
use crate::error::AppError;
use crate::repositories::{customers as customer_repo, flows as flow_repo, orders as order_repo};

/// Recommendations a template gets per customer (as many as a campaign contact shows).
const RECOMMENDATIONS: usize = crate::domain::recommendations::CONTACT_RECOMMENDATIONS;

/// A date as the shop reads it (its time zone), for messages.
pub fn local_date(config: &Config, at: NaiveDateTime) -> String {
    utc_to_local(config.timezone, at).format("%Y-%m-%d").to_string()
}

/// The variables every message has, whoever it is for.
pub fn shop(config: &Config) -> Value {
    json!({ "shop_name": config.mail.shop_name })
}

/// Each customer's template variables (`customer`, `first_name`, `last_name`, `email`,
/// `attributes`, `last_order`, `recommendations`, `predictions`, `shop_name`), in six
/// queries for recommendations plus four, whatever the number of customers.
pub fn for_customers(conn: &mut DbConn, config: &Config, ids: &[i64]) -> Result<HashMap<i64, Value>, AppError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let recommendations =
        super::recommendations::for_customers(conn, &config.repeatable_product_types, ids, RECOMMENDATIONS)?;
    with_recommendations(conn, config, ids, recommendations)
}

/// As [`for_customers`], with each customer's recommendations already ranked by the caller
/// (a campaign's contact page has them for its own use).
pub fn with_recommendations(
    conn: &mut DbConn,
    config: &Config,
    ids: &[i64],
    mut recommendations: HashMap<i64, Vec<Recommendation>>,
) -> Result<HashMap<i64, Value>, AppError> {
    let mut contexts = HashMap::with_capacity(ids.len());
    let customers = customer_repo::find_many(conn, ids)?;
    let last_order_ids = flow_repo::last_order_ids(conn, ids)?;
    let last_orders = order_repo::find_many(conn, &last_order_ids)?;
    let last_order_of: HashMap<i64, _> = last_orders.into_iter().map(|o| (o.order.customer_id, o)).collect();
    let predictions = flow_repo::predictions_of(conn, ids)?;
    for id in ids {
        let mut context = shop(config);
        if let Some(customer) = customers.get(id) {
            let mut record = serde_json::to_value(customer).unwrap_or(Value::Null);
            // The record keeps attributes as stored text; templates want the object.
            let attributes = Value::Object(customer.row.attributes.0.clone());
            record["attributes"] = attributes.clone();
            context["first_name"] = json!(customer.row.first_name);
            context["last_name"] = json!(customer.row.last_name);
            context["email"] = json!(customer.row.email);
            context["attributes"] = attributes;
            context["customer"] = record;
        }
        if let Some(record) = last_order_of.get(id) {
            let order = &record.order;
            let lines: Vec<Value> = record
                .lines
                .iter()
                .map(|l| json!({"sku": l.sku, "name": l.name, "quantity": l.quantity, "unit_price": l.unit_price}))
                .collect();
            context["last_order"] = json!({
                "id": order.id, "external_id": order.external_id, "placed_at": local_date(config, order.placed_at),
                "currency": order.currency, "total": order.total, "lines": lines,
            });
        }
        let picks = recommendations.remove(id).unwrap_or_default();
        context["recommendations"] = picks
            .iter()
            .map(|r| json!({"sku": r.product.sku, "name": r.product.name, "price": r.product.price, "currency": r.product.currency}))
            .collect();
        if let Some((currency, alive, churn_risk, next_days, clv)) = predictions.get(id) {
            context["predictions"] = json!({
                "currency": currency, "probability_alive": alive, "churn_risk": churn_risk,
                "expected_days_to_next_order": next_days, "predicted_clv_12m": clv,
            });
        }
        contexts.insert(*id, context);
    }
    Ok(contexts)
}
