//! `GET /v1/analytics/predictions`: the fitted purchase models, the spread of predicted
//! value, the top buyers and the holdout check.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::predictions::{FitError, HoldoutCheck, Model, HOLDOUT_ROWS};
use crate::error::{AppError, FieldError};
use crate::models::predictions::{CustomerPredictionRow, PredictionsReport, ValueDecile};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PredictionsQuery {
    /// Run the holdout check: fit on the orders placed before this date (UTC) and compare
    /// the predicted with the actual purchases from it to today. Must be before today.
    #[param(format = Date)]
    pub calibration_end: Option<String>,
    /// How many top customers by predicted 12-month value, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100)]
    pub top: Option<i64>,
}

impl PredictionsQuery {
    /// The calibration end and the number of top customers; problems are 422s naming the
    /// parameter.
    pub fn parse(&self, today: NaiveDate) -> Result<(Option<NaiveDate>, i64), AppError> {
        let mut errors = Vec::new();
        let calibration_end = match &self.calibration_end {
            None => None,
            Some(text) => match NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d") {
                Ok(date) if date < today => Some(date),
                Ok(_) => {
                    errors.push(FieldError::new("calibration_end", format!("must be before today ({today})")));
                    None
                }
                Err(_) => {
                    errors.push(FieldError::new("calibration_end", format!("`{text}` is not a date (YYYY-MM-DD)")));
                    None
                }
            },
        };
        let top = crate::dto::analytics::limit_of("top", self.top, 10, &mut errors) as i64;
        if errors.is_empty() {
            Ok((calibration_end, top))
        } else {
            Err(AppError::Validation(errors))
        }
    }
}

/// The BG/NBD parameters (time unit: days): purchase rates while active are
/// Gamma(r, alpha) across customers, the chance of dropping out after a purchase is
/// Beta(a, b).
#[derive(Debug, Serialize, ToSchema)]
pub struct BgNbdParameters {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
    pub log_likelihood: f64,
    /// Always `day`.
    pub time_unit: &'static str,
}

/// The Gamma-Gamma parameters of the value of an order.
#[derive(Debug, Serialize, ToSchema)]
pub struct GammaGammaParameters {
    pub p: f64,
    pub q: f64,
    pub gamma: f64,
    pub log_likelihood: f64,
}

impl From<&Model> for BgNbdParameters {
    fn from(m: &Model) -> Self {
        BgNbdParameters {
            r: m.r,
            alpha: m.alpha,
            a: m.a,
            b: m.b,
            log_likelihood: m.bg_nbd_log_likelihood,
            time_unit: "day",
        }
    }
}

fn spend_of(model: &Model) -> Option<GammaGammaParameters> {
    model.spend.map(|s| GammaGammaParameters { p: s.p, q: s.q, gamma: s.gamma, log_likelihood: s.log_likelihood })
}

/// One tenth of the buyers by predicted 12-month value; decile 1 holds the highest.
#[derive(Debug, Serialize, ToSchema)]
pub struct ValueDecileFigures {
    pub decile: u32,
    pub customers: u64,
    pub min: i64,
    pub max: i64,
    pub total: i64,
}

impl From<ValueDecile> for ValueDecileFigures {
    fn from(d: ValueDecile) -> Self {
        ValueDecileFigures { decile: d.decile, customers: d.customers, min: d.min, max: d.max, total: d.total }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PredictedCustomer {
    pub customer_id: i64,
    pub predicted_clv_12m: i64,
    pub probability_alive: f64,
    pub expected_orders_90d: f64,
    #[schema(value_type = crate::dto::schema::ChurnRiskName)]
    pub churn_risk: String,
}

impl From<CustomerPredictionRow> for PredictedCustomer {
    fn from(row: CustomerPredictionRow) -> Self {
        PredictedCustomer {
            customer_id: row.customer_id,
            predicted_clv_12m: row.predicted_clv_12m,
            probability_alive: row.probability_alive,
            expected_orders_90d: row.expected_orders_90d,
            churn_risk: row.churn_risk,
        }
    }
}

/// Predicted against actual purchases of the calibration buyers with the same number of
/// repeat purchases before the calibration end.
#[derive(Debug, Serialize, ToSchema)]
pub struct HoldoutRowFigures {
    /// Repeat purchases (purchase days after the first) before the calibration end.
    pub repeat_purchases: u32,
    /// This row counts buyers with `repeat_purchases` or more (the last row).
    pub or_more: bool,
    pub customers: u64,
    /// Mean predicted purchases per buyer in the holdout period.
    pub predicted_mean: f64,
    /// Mean actual purchases per buyer in the holdout period.
    pub actual_mean: f64,
}

/// The holdout check: a model fitted on the orders before `calibration_end`, and its
/// predictions for the days from it to today against what the customers did.
#[derive(Debug, Serialize, ToSchema)]
pub struct HoldoutFigures {
    pub calibration_end: NaiveDate,
    pub holdout_days: i64,
    /// Why no model could be fitted on the calibration period (the figures below are then
    /// zero), or null.
    pub problem: Option<String>,
    pub bg_nbd: Option<BgNbdParameters>,
    /// Buyers with an order before the calibration end.
    pub customers: u64,
    /// Purchases (purchase days) predicted for the holdout period, all buyers together.
    pub predicted_total: f64,
    pub actual_total: u64,
    /// Mean over buyers of |predicted - actual| purchases.
    pub mean_absolute_error: f64,
    pub by_calibration_purchases: Vec<HoldoutRowFigures>,
}

impl HoldoutFigures {
    fn new(calibration_end: NaiveDate, today: NaiveDate, check: Result<HoldoutCheck, FitError>) -> HoldoutFigures {
        let holdout_days = (today - calibration_end).num_days();
        match check {
            Err(error) => HoldoutFigures {
                calibration_end,
                holdout_days,
                problem: Some(error.to_string()),
                bg_nbd: None,
                customers: 0,
                predicted_total: 0.0,
                actual_total: 0,
                mean_absolute_error: 0.0,
                by_calibration_purchases: Vec::new(),
            },
            Ok(check) => HoldoutFigures {
                calibration_end,
                holdout_days: check.holdout_days,
                problem: None,
                bg_nbd: Some(BgNbdParameters::from(&check.model)),
                customers: check.customers,
                predicted_total: check.predicted_total,
                actual_total: check.actual_total,
                mean_absolute_error: check.mean_absolute_error,
                by_calibration_purchases: check
                    .by_calibration_purchases
                    .into_iter()
                    .map(|row| HoldoutRowFigures {
                        repeat_purchases: row.repeat_purchases,
                        or_more: row.repeat_purchases == HOLDOUT_ROWS - 1,
                        customers: row.customers,
                        predicted_mean: row.predicted_mean,
                        actual_mean: row.actual_mean,
                    })
                    .collect(),
            },
        }
    }
}

/// The purchase predictions: the model in use and how well the models fit this shop.
#[derive(Debug, Serialize, ToSchema)]
pub struct PredictionsAnalytics {
    /// `fitted`: a model is in use; `insufficient_data`: too few buyers or repeat buyers to
    /// fit one (customers' `predictions` are null); `not_fitted`: the background job has not
    /// run yet.
    #[schema(value_type = String, example = "fitted")]
    pub status: &'static str,
    /// Why the last attempt gave no new model (too few buyers, no convergence: the last
    /// good model then stays in use), or null.
    pub problem: Option<String>,
    /// The currency of the model: the one most buyers paid in.
    pub currency: Option<String>,
    pub fitted_at: Option<DateTime<Utc>>,
    /// When the background job last fitted or tried to.
    pub attempted_at: Option<DateTime<Utc>>,
    /// Buyers the model was fitted on.
    pub customers: u64,
    /// Of them, buyers with at least one repeat purchase.
    pub repeat_buyers: u64,
    pub bg_nbd: Option<BgNbdParameters>,
    /// Null without a model, or with too few repeat buyers to fit spend (values then come
    /// from each buyer's own average order).
    pub gamma_gamma: Option<GammaGammaParameters>,
    /// `RAPPORT_PREDICTION_HORIZON_DAYS`, the span of customers' `expected_orders`.
    pub horizon_days: u32,
    /// `RAPPORT_CLV_DISCOUNT_RATE`, the annual rate the 12-month value is discounted at.
    pub clv_discount_rate: f64,
    /// Predicted 12-month value by decile of buyers (fewer than ten rows under ten buyers).
    pub clv_deciles: Vec<ValueDecileFigures>,
    pub top_customers: Vec<PredictedCustomer>,
    /// With `calibration_end`: the holdout check; otherwise null.
    pub holdout: Option<HoldoutFigures>,
}

impl PredictionsAnalytics {
    pub fn new(report: PredictionsReport, calibration_end: Option<NaiveDate>, today: NaiveDate) -> Self {
        let state = report.state;
        let model = state.model.map(|m| m.into_inner());
        let status = match (&model, state.attempted_at) {
            (Some(_), _) => "fitted",
            (None, Some(_)) => "insufficient_data",
            (None, None) => "not_fitted",
        };
        PredictionsAnalytics {
            status,
            problem: state.problem,
            currency: state.currency,
            fitted_at: state.fitted_at.map(|t| t.and_utc()),
            attempted_at: state.attempted_at.map(|t| t.and_utc()),
            customers: model.map_or(0, |m| m.buyers),
            repeat_buyers: model.map_or(0, |m| m.repeat_buyers),
            bg_nbd: model.as_ref().map(BgNbdParameters::from),
            gamma_gamma: model.as_ref().and_then(spend_of),
            horizon_days: report.horizon_days,
            clv_discount_rate: report.clv_discount_rate,
            clv_deciles: report.deciles.into_iter().map(ValueDecileFigures::from).collect(),
            top_customers: report.top_customers.into_iter().map(PredictedCustomer::from).collect(),
            holdout: match (calibration_end, report.holdout) {
                (Some(end), Some(check)) => Some(HoldoutFigures::new(end, today, check)),
                _ => None,
            },
        }
    }
}
