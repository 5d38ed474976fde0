//! Purchase predictions: fitting the models on the shop's orders and keeping each buyer's
//! figures in `customer_predictions`, by a background job (never inside a request), and
//! the report of `GET /v1/analytics/predictions` with its holdout check.
//!
//! One model is fitted, on the main currency: the one most buyers paid in. Buyers who only
//! paid in other currencies have no figures.

use chrono::{NaiveDate, NaiveDateTime};

use super::now;
use crate::config::PredictionsConfig;
use crate::db::{Database, DbConn};
use crate::domain::predictions::{
    fit_model, holdout_check, score, summarize, FitError, HoldoutCheck, ScoringSettings, MIN_BUYERS,
};
use crate::error::AppError;
use crate::models::predictions::{CustomerPredictionRow, PredictionsReport, ValueDecile};
use crate::repositories::predictions as repo;
use crate::repositories::segments as segment_repo;

/// Buyers' figures written per transaction.
const WRITE_CHUNK: usize = 2_000;

/// What a refresh did.
#[derive(Debug, Clone, PartialEq)]
pub enum Refresh {
    /// Neither the orders, the day nor the settings changed since the stored figures.
    Unchanged,
    /// A new model; every buyer of its currency was rescored.
    Fitted { buyers: u64 },
    /// Too little data: no model and no figures, for this reason.
    NoModel(String),
    /// The fit failed: the last good model and its figures stay, for this reason.
    KeptLastModel(String),
}

fn settings_of(config: &PredictionsConfig) -> ScoringSettings {
    ScoringSettings { horizon_days: config.horizon_days, annual_discount_rate: config.clv_discount_rate }
}

/// How long each part of the last refresh took.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RefreshTimings {
    pub read: std::time::Duration,
    pub fit: std::time::Duration,
    pub write: std::time::Duration,
}

/// Refits and rescores when the order statistics, the day or the settings changed since
/// the stored figures. The orders are read and the figures written on short-lived
/// connections; the fit runs in between, holding none.
pub fn refresh(database: &Database, config: &PredictionsConfig) -> Result<Refresh, AppError> {
    refresh_timed(database, config).map(|(outcome, _)| outcome)
}

/// `refresh`, with how long its parts took (logged, and printed by the benchmark).
pub fn refresh_timed(database: &Database, config: &PredictionsConfig) -> Result<(Refresh, RefreshTimings), AppError> {
    refresh_at(database, config, now())
}

/// `refresh` as of `started`: buyers' ages and the day in the fingerprint are counted to
/// that moment (tests move the clock with it).
pub fn refresh_at(
    database: &Database,
    config: &PredictionsConfig,
    started: NaiveDateTime,
) -> Result<(Refresh, RefreshTimings), AppError> {
    let mut timings = RefreshTimings::default();
    let clock = std::time::Instant::now();
    let (fingerprint, currency) = database.with_conn(|conn| {
        let fingerprint = format!(
            "{}|{}|{}|{}|{}",
            segment_repo::stats_fingerprint(conn)?,
            repo::erased_count(conn)?,
            started.date(),
            config.horizon_days,
            config.clv_discount_rate
        );
        if repo::state(conn)?.fingerprint == fingerprint {
            return Ok((None, None));
        }
        Ok((Some(fingerprint), repo::main_currency(conn)?))
    })?;
    let Some(fingerprint) = fingerprint else { return Ok((Refresh::Unchanged, timings)) };
    let points = match &currency {
        Some(currency) => database.with_conn(|conn| Ok(repo::order_points(conn, currency)?))?,
        None => Vec::new(),
    };
    timings.read = clock.elapsed();
    let clock = std::time::Instant::now();
    let buyers = summarize(&points, started);
    drop(points);
    let fitted = fit_model(&buyers);
    let currency = currency.unwrap_or_default();
    let rows: Vec<CustomerPredictionRow> = match &fitted {
        Ok(model) => buyers
            .iter()
            .map(|buyer| {
                let figures = score(model, buyer, settings_of(config));
                CustomerPredictionRow::new(&figures, &currency, config.horizon_days, started)
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    timings.fit = clock.elapsed();
    let clock = std::time::Instant::now();
    let outcome = match &fitted {
        Ok(model) => {
            // Short transactions, so that orders never wait long behind the refresh (on
            // SQLite one writer at a time); readers meanwhile see old and new figures.
            for chunk in rows.chunks(WRITE_CHUNK) {
                database.with_conn(|conn| {
                    conn.write_transaction(|conn| Ok::<_, AppError>(repo::write_figures(conn, chunk)?))?;
                    Ok(repo::checkpoint(conn)?)
                })?;
            }
            database.with_conn(|conn| {
                conn.write_transaction(|conn| -> Result<Refresh, AppError> {
                    repo::remove_figures_scored_before(conn, started)?;
                    repo::save_model(conn, &fingerprint, Some(model), &currency, None, started)?;
                    Ok(Refresh::Fitted { buyers: model.buyers })
                })
            })?
        }
        Err(error @ (FitError::TooFewBuyers { .. } | FitError::TooFewRepeatBuyers { .. })) => {
            let reason = error.to_string();
            database.with_conn(|conn| {
                conn.write_transaction(|conn| -> Result<(), AppError> {
                    repo::remove_all_figures(conn)?;
                    Ok(repo::save_model(conn, &fingerprint, None, "", Some(&reason), started)?)
                })
            })?;
            Refresh::NoModel(reason)
        }
        Err(error @ FitError::NoConvergence(_)) => {
            let reason = error.to_string();
            database.with_conn(|conn| Ok(repo::record_problem(conn, &fingerprint, &reason, started)?))?;
            Refresh::KeptLastModel(reason)
        }
    };
    timings.write = clock.elapsed();
    tracing::info!(?outcome, read = ?timings.read, fit = ?timings.fit, write = ?timings.write, "predictions refreshed");
    Ok((outcome, timings))
}

/// Runs `refresh` every `config.refresh`; with several instances on one database, one of
/// them per period (a lease).
pub fn spawn_refresh(database: Database, config: PredictionsConfig) {
    if config.refresh.is_zero() {
        return;
    }
    std::thread::Builder::new()
        .name("predictions-refresh".into())
        .spawn(move || loop {
            let work = |_: &mut DbConn| match refresh(&database, &config) {
                Ok(Refresh::KeptLastModel(reason)) => {
                    tracing::warn!(%reason, "predictions: the refit failed; the last model stays");
                    Ok(())
                }
                Ok(_) => Ok(()),
                Err(error) => Err(error),
            };
            if let Err(error) = super::leases::once_per_period(&database, "predictions-refresh", config.refresh, work) {
                tracing::warn!(%error, "predictions refresh failed");
            }
            std::thread::sleep(config.refresh);
        })
        .expect("start the predictions refresh thread");
}

/// The stored model, the spread of predicted values, the top buyers and, with a
/// calibration end, the holdout check.
pub fn report(
    conn: &mut DbConn,
    config: &PredictionsConfig,
    calibration_end: Option<NaiveDate>,
    top: i64,
) -> Result<PredictionsReport, AppError> {
    let state = repo::state(conn)?;
    let values = repo::all_values(conn)?;
    let top_customers = repo::top_by_value(conn, top)?;
    let holdout = match calibration_end {
        None => None,
        Some(end) => Some(holdout(conn, state.currency.clone(), end)?),
    };
    Ok(PredictionsReport {
        state,
        horizon_days: config.horizon_days,
        clv_discount_rate: config.clv_discount_rate,
        deciles: deciles(&values),
        top_customers,
        holdout,
    })
}

/// Fits on the orders before `end` (in the stored model's currency, or the main one) and
/// compares with what happened since.
fn holdout(
    conn: &mut DbConn,
    currency: Option<String>,
    end: NaiveDate,
) -> Result<Result<HoldoutCheck, FitError>, AppError> {
    let Some(currency) = currency.filter(|c| !c.is_empty()).or(repo::main_currency(conn)?) else {
        return Ok(Err(FitError::TooFewBuyers { found: 0, needed: MIN_BUYERS }));
    };
    let points = repo::order_points(conn, &currency)?;
    let end: NaiveDateTime = end.and_hms_opt(0, 0, 0).expect("midnight exists");
    Ok(holdout_check(&points, end, now()))
}

/// Ten groups of equal size by predicted value, highest first.
fn deciles(ascending: &[i64]) -> Vec<ValueDecile> {
    let descending: Vec<i64> = ascending.iter().rev().copied().collect();
    let n = descending.len();
    if n == 0 {
        return Vec::new();
    }
    (0..10)
        .filter_map(|index| {
            let group = &descending[n * index / 10..n * (index + 1) / 10];
            Some(ValueDecile {
                decile: index as u32 + 1,
                customers: group.len() as u64,
                max: *group.first()?,
                min: *group.last()?,
                total: group.iter().sum(),
            })
        })
        .collect()
}
