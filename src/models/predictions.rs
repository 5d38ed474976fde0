//! Stored predictions: the model state and each buyer's figures.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::Json;
use crate::domain::predictions::{CustomerFigures, FitError, HoldoutCheck, Model};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = crate::db::schema::prediction_state)]
pub struct PredictionStateRow {
    pub fingerprint: String,
    pub model: Option<Json<Model>>,
    pub currency: Option<String>,
    pub fitted_at: Option<NaiveDateTime>,
    pub problem: Option<String>,
    pub attempted_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = crate::db::schema::customer_predictions)]
pub struct CustomerPredictionRow {
    pub customer_id: i64,
    pub currency: String,
    pub probability_alive: f64,
    pub expected_orders_90d: f64,
    pub expected_orders: f64,
    pub horizon_days: i64,
    pub predicted_clv_12m: i64,
    pub expected_days_to_next_order: Option<f64>,
    pub churn_risk: String,
    pub scored_at: NaiveDateTime,
}

impl CustomerPredictionRow {
    pub fn new(
        figures: &CustomerFigures,
        currency: &str,
        horizon_days: u32,
        scored_at: NaiveDateTime,
    ) -> CustomerPredictionRow {
        CustomerPredictionRow {
            customer_id: figures.customer_id,
            currency: currency.to_string(),
            probability_alive: figures.probability_alive,
            expected_orders_90d: figures.expected_orders_90d,
            expected_orders: figures.expected_orders,
            horizon_days: i64::from(horizon_days),
            predicted_clv_12m: figures.predicted_clv_12m,
            expected_days_to_next_order: figures.expected_days_to_next_order,
            churn_risk: figures.churn_risk.to_string(),
            scored_at,
        }
    }
}

/// What `GET /v1/analytics/predictions` shows.
#[derive(Debug, Clone)]
pub struct PredictionsReport {
    pub state: PredictionStateRow,
    pub horizon_days: u32,
    pub clv_discount_rate: f64,
    pub deciles: Vec<ValueDecile>,
    pub top_customers: Vec<CustomerPredictionRow>,
    /// With a calibration end: the check, or why no model could be fitted on that period.
    pub holdout: Option<Result<HoldoutCheck, FitError>>,
}

/// One tenth of the buyers by predicted 12-month value (decile 1: the highest).
#[derive(Debug, Clone, PartialEq)]
pub struct ValueDecile {
    pub decile: u32,
    pub customers: u64,
    pub min: i64,
    pub max: i64,
    pub total: i64,
}
