//! From orders to the models' inputs, and from a fitted model to each buyer's figures:
//! probability alive, expected orders, predicted 12-month value, the expected wait for the
//! next order and a churn-risk label. Time is counted in days.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use super::{fit_bg_nbd, fit_gamma_gamma, BgNbd, BuyerHistory, Fit, FitError, GammaGamma};

/// One live order of a buyer, as the models read it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrderPoint {
    pub customer_id: i64,
    pub placed_at: NaiveDateTime,
    /// Net value: the total less refunds, in minor units.
    pub net: i64,
}

/// A buyer summarized for the models: purchases are counted per day (several orders on
/// one day are one purchase, as in the papers' data).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BuyerSummary {
    pub customer_id: i64,
    pub history: BuyerHistory,
    /// Average net value of the buyer's orders, in minor units.
    pub mean_order_value: f64,
}

/// Summarizes each buyer's orders placed before `end`, seen from `end`. `points` must be
/// sorted by customer, then time.
pub fn summarize(points: &[OrderPoint], end: NaiveDateTime) -> Vec<BuyerSummary> {
    let end_day = end.date();
    let mut summaries = Vec::new();
    for orders in points.chunk_by(|a, b| a.customer_id == b.customer_id) {
        let orders: Vec<&OrderPoint> = orders.iter().filter(|o| o.placed_at < end).collect();
        let (Some(first), Some(last)) = (orders.first(), orders.last()) else { continue };
        let mut days: Vec<NaiveDate> = orders.iter().map(|o| o.placed_at.date()).collect();
        days.dedup();
        let (first_day, last_day) = (first.placed_at.date(), last.placed_at.date());
        let net: i64 = orders.iter().map(|o| o.net).sum();
        summaries.push(BuyerSummary {
            customer_id: first.customer_id,
            history: BuyerHistory {
                x: (days.len() - 1) as f64,
                t_x: (last_day - first_day).num_days() as f64,
                age: (end_day - first_day).num_days() as f64,
            },
            mean_order_value: net as f64 / orders.len() as f64,
        });
    }
    summaries
}

/// Purchase days of each buyer from `start` (inclusive) on: what the holdout check compares
/// predictions with.
pub fn purchase_days_from(points: &[OrderPoint], start: NaiveDateTime) -> BTreeMap<i64, u32> {
    let mut days = BTreeMap::new();
    for orders in points.chunk_by(|a, b| a.customer_id == b.customer_id) {
        let mut later: Vec<NaiveDate> =
            orders.iter().filter(|o| o.placed_at >= start).map(|o| o.placed_at.date()).collect();
        later.dedup();
        days.insert(orders[0].customer_id, later.len() as u32);
    }
    days
}

/// A fitted pair of models, as stored and shown.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Model {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
    pub bg_nbd_log_likelihood: f64,
    /// None when there were too few repeat buyers to fit spend: values then come from each
    /// buyer's own average.
    pub spend: Option<SpendModel>,
    pub buyers: u64,
    pub repeat_buyers: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SpendModel {
    pub p: f64,
    pub q: f64,
    pub gamma: f64,
    pub log_likelihood: f64,
}

impl Model {
    pub fn bg_nbd(&self) -> BgNbd {
        BgNbd { r: self.r, alpha: self.alpha, a: self.a, b: self.b }
    }

    pub fn gamma_gamma(&self) -> Option<GammaGamma> {
        self.spend.map(|s| GammaGamma { p: s.p, q: s.q, gamma: s.gamma })
    }
}

/// Fits both models on the buyers. BG/NBD must fit; Gamma-Gamma is left out (None) when
/// there are too few repeat buyers for it, and its other failures are reported.
pub fn fit_model(buyers: &[BuyerSummary]) -> Result<Model, FitError> {
    let histories: Vec<BuyerHistory> = buyers.iter().map(|b| b.history).collect();
    let purchases: Fit<BgNbd> = fit_bg_nbd(&histories)?;
    let repeat: Vec<(f64, f64)> = buyers
        .iter()
        .filter(|b| b.history.x > 0.0 && b.mean_order_value > 0.0)
        .map(|b| (b.history.x, b.mean_order_value))
        .collect();
    let spend = match fit_gamma_gamma(&repeat) {
        Ok(fit) => Some(SpendModel {
            p: fit.params.p,
            q: fit.params.q,
            gamma: fit.params.gamma,
            log_likelihood: fit.log_likelihood,
        }),
        // Without a spend model values come from each buyer's own average.
        Err(FitError::TooFewRepeatBuyers { .. } | FitError::NoConvergence(_)) => None,
        Err(error) => return Err(error),
    };
    let BgNbd { r, alpha, a, b } = purchases.params;
    Ok(Model {
        r,
        alpha,
        a,
        b,
        bg_nbd_log_likelihood: purchases.log_likelihood,
        spend,
        buyers: buyers.len() as u64,
        repeat_buyers: histories.iter().filter(|h| h.x > 0.0).count() as u64,
    })
}

/// The churn-risk label of a probability alive: `low` from 0.7, `high` below 0.3.
pub const CHURN_LOW_FROM: f64 = 0.7;
pub const CHURN_HIGH_BELOW: f64 = 0.3;
/// Below this probability alive no next order is expected (the wait is null).
pub const NEXT_ORDER_MIN_ALIVE: f64 = 0.05;
/// Days in the 12 months of the predicted value, counted month by month.
const DAYS_PER_MONTH: f64 = 365.25 / 12.0;

pub fn churn_risk(probability_alive: f64) -> &'static str {
    if probability_alive >= CHURN_LOW_FROM {
        "low"
    } else if probability_alive >= CHURN_HIGH_BELOW {
        "medium"
    } else {
        "high"
    }
}

/// The labels `churn_risk` gives.
pub const CHURN_RISKS: [&str; 3] = ["low", "medium", "high"];

/// What the figures are computed with, besides the model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoringSettings {
    /// Days ahead that `expected_orders` covers.
    pub horizon_days: u32,
    /// Annual rate the 12-month value is discounted at (0.10: 10 %).
    pub annual_discount_rate: f64,
}

/// One buyer's figures under a model.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerFigures {
    pub customer_id: i64,
    pub probability_alive: f64,
    pub expected_orders_90d: f64,
    pub expected_orders: f64,
    /// Minor units of the model's currency.
    pub predicted_clv_12m: i64,
    pub expected_days_to_next_order: Option<f64>,
    pub churn_risk: &'static str,
}

/// Scores one buyer.
///
/// The 12-month value sums, month by month, the expected orders of that month times the
/// expected order value (Gamma-Gamma's conditional mean, or the buyer's own average
/// without a spend model), discounted to today at the annual rate. The wait for the next
/// order is the mean gap at the buyer's expected purchase rate, (alpha + T) / (r + x), for
/// a buyer who is still active.
pub fn score(model: &Model, buyer: &BuyerSummary, settings: ScoringSettings) -> CustomerFigures {
    let purchases = model.bg_nbd();
    let h = &buyer.history;
    let probability_alive = purchases.probability_alive(h);
    let order_value = match model.gamma_gamma() {
        Some(spend) if h.x > 0.0 && buyer.mean_order_value > 0.0 => {
            spend.expected_order_value(h.x, buyer.mean_order_value)
        }
        Some(spend) => spend.p * spend.gamma / (spend.q - 1.0),
        None => buyer.mean_order_value.max(0.0),
    };
    let monthly_discount = (1.0 + settings.annual_discount_rate).powf(1.0 / 12.0);
    let (mut value, mut before) = (0.0, 0.0);
    for month in 1..=12 {
        let by_then = purchases.expected_purchases(month as f64 * DAYS_PER_MONTH, h);
        value += (by_then - before) * order_value / monthly_discount.powi(month);
        before = by_then;
    }
    let rate = (model.r + h.x) / (model.alpha + h.age);
    // Extreme parameters can overflow a term; a figure that is not a number is stored as 0.
    let finite = |value: f64| if value.is_finite() { value } else { 0.0 };
    let probability_alive = if probability_alive.is_finite() { probability_alive.clamp(0.0, 1.0) } else { 1.0 };
    CustomerFigures {
        customer_id: buyer.customer_id,
        probability_alive,
        expected_orders_90d: finite(purchases.expected_purchases(90.0, h)),
        expected_orders: finite(purchases.expected_purchases(f64::from(settings.horizon_days), h)),
        predicted_clv_12m: finite(value).max(0.0).round() as i64,
        expected_days_to_next_order: (probability_alive >= NEXT_ORDER_MIN_ALIVE && rate > 0.0 && rate.is_finite())
            .then(|| 1.0 / rate),
        churn_risk: churn_risk(probability_alive),
    }
}

/// The holdout check: predicted against actual purchase days after the calibration end.
#[derive(Debug, Clone, PartialEq)]
pub struct HoldoutCheck {
    pub model: Model,
    pub holdout_days: i64,
    pub customers: u64,
    pub predicted_total: f64,
    pub actual_total: u64,
    pub mean_absolute_error: f64,
    /// By repeat purchases in the calibration period (the last row holds that many or more).
    pub by_calibration_purchases: Vec<HoldoutRow>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HoldoutRow {
    pub repeat_purchases: u32,
    pub customers: u64,
    pub predicted_mean: f64,
    pub actual_mean: f64,
}

/// Rows of the holdout table: 0 to 6 repeat purchases, then "7 or more".
pub const HOLDOUT_ROWS: u32 = 8;

/// Fits on orders before `calibration_end` and compares each calibration buyer's expected
/// purchase days up to `now` with the actual ones.
pub fn holdout_check(
    points: &[OrderPoint],
    calibration_end: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<HoldoutCheck, FitError> {
    let buyers = summarize(points, calibration_end);
    let model = fit_model(&buyers)?;
    let purchases = model.bg_nbd();
    let holdout_days = (now.date() - calibration_end.date()).num_days();
    let actual = purchase_days_from(points, calibration_end);
    let mut rows: Vec<(u64, f64, u64)> = vec![(0, 0.0, 0); HOLDOUT_ROWS as usize];
    let (mut predicted_total, mut actual_total, mut absolute_error) = (0.0, 0u64, 0.0);
    for buyer in &buyers {
        let predicted = purchases.expected_purchases(holdout_days as f64, &buyer.history);
        let happened = actual.get(&buyer.customer_id).copied().unwrap_or(0);
        predicted_total += predicted;
        actual_total += u64::from(happened);
        absolute_error += (predicted - f64::from(happened)).abs();
        let row = &mut rows[(buyer.history.x as usize).min(HOLDOUT_ROWS as usize - 1)];
        row.0 += 1;
        row.1 += predicted;
        row.2 += u64::from(happened);
    }
    let by_calibration_purchases = rows
        .into_iter()
        .enumerate()
        .map(|(index, (customers, predicted, happened))| HoldoutRow {
            repeat_purchases: index as u32,
            customers,
            predicted_mean: if customers > 0 { predicted / customers as f64 } else { 0.0 },
            actual_mean: if customers > 0 { happened as f64 / customers as f64 } else { 0.0 },
        })
        .collect();
    Ok(HoldoutCheck {
        model,
        holdout_days,
        customers: buyers.len() as u64,
        predicted_total,
        actual_total,
        mean_absolute_error: if buyers.is_empty() { 0.0 } else { absolute_error / buyers.len() as f64 },
        by_calibration_purchases,
    })
}
