//! Purchase predictions: the BG/NBD model of repeat purchases (Fader, Hardie & Lee 2005,
//! "Counting your customers the easy way") and the Gamma-Gamma model of spend per order
//! (Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value curves"), fitted by maximum
//! likelihood.
//!
//! A buyer is summarized by `x` (repeat purchases), `t_x` (time of the last purchase since
//! the first) and `T` (time since the first purchase), all in one time unit; the models
//! are fitted on those summaries. Parameters are searched in log space (they are all
//! positive) with argmin's Nelder-Mead simplex.

use argmin::core::{CostFunction, Error as ArgminError, Executor};
use argmin::solver::neldermead::NelderMead;
use libm::lgamma;

/// One buyer's purchase history, in one time unit (days or weeks).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BuyerHistory {
    /// Repeat purchases: orders after the first.
    pub x: f64,
    /// When the last purchase happened, counted from the first (0 without repeats).
    pub t_x: f64,
    /// The buyer's age: from the first purchase to the end of the observation.
    pub age: f64,
}

/// The fitted BG/NBD parameters: purchase rates are Gamma(r, alpha) across buyers, the
/// chance of dropping out after each purchase is Beta(a, b).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BgNbd {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

/// The fitted Gamma-Gamma parameters of spend per order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GammaGamma {
    pub p: f64,
    pub q: f64,
    pub gamma: f64,
}

/// A fit: the parameters and the total log-likelihood at them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fit<P> {
    pub params: P,
    pub log_likelihood: f64,
}

/// Why a model could not be fitted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FitError {
    #[error("too few buyers to fit: {found}, at least {needed} needed")]
    TooFewBuyers { found: usize, needed: usize },
    #[error("too few repeat buyers to fit: {found}, at least {needed} needed")]
    TooFewRepeatBuyers { found: usize, needed: usize },
    #[error("the fit did not converge: {0}")]
    NoConvergence(String),
}

/// Fewest buyers (and, for spend, repeat buyers) a fit is attempted on.
pub const MIN_BUYERS: usize = 30;
/// Fewest repeat buyers BG/NBD is fitted with: without repeats, purchase rates and
/// dropout cannot be told apart.
pub const MIN_REPEAT_BUYERS_BG_NBD: usize = 5;

/// Identical histories counted once, with how many buyers share them (buyers of one
/// purchase often share their age in days).
fn group_histories(buyers: &[BuyerHistory]) -> Vec<(BuyerHistory, f64)> {
    let mut sorted: Vec<BuyerHistory> = buyers.to_vec();
    sorted.sort_by(|p, q| p.x.total_cmp(&q.x).then(p.t_x.total_cmp(&q.t_x)).then(p.age.total_cmp(&q.age)));
    let mut groups: Vec<(BuyerHistory, f64)> = Vec::new();
    for h in sorted {
        match groups.last_mut() {
            Some((last, weight)) if *last == h => *weight += 1.0,
            _ => groups.push((h, 1.0)),
        }
    }
    groups
}

fn ln_beta(a: f64, b: f64) -> f64 {
    lgamma(a) + lgamma(b) - lgamma(a + b)
}

/// `ln(e^x + e^y)` without overflow.
fn log_add_exp(x: f64, y: f64) -> f64 {
    let high = x.max(y);
    if high == f64::NEG_INFINITY {
        return high;
    }
    high + ((x - high).exp() + (y - high).exp()).ln()
}

impl BgNbd {
    /// The log-likelihood of one buyer's history (equation 6 of the paper).
    pub fn log_likelihood(&self, h: &BuyerHistory) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        let x = h.x;
        let a1 = lgamma(r + x) - lgamma(r) + r * alpha.ln();
        let a2 = ln_beta(a, b + x) - ln_beta(a, b);
        let a3 = -(r + x) * (alpha + h.age).ln();
        let with_dropout =
            if x > 0.0 { a.ln() - (b + x - 1.0).ln() - (r + x) * (alpha + h.t_x).ln() } else { f64::NEG_INFINITY };
        a1 + a2 + log_add_exp(a3, with_dropout)
    }

    /// The probability that a buyer with this history has not dropped out.
    pub fn probability_alive(&self, h: &BuyerHistory) -> f64 {
        if h.x == 0.0 {
            return 1.0;
        }
        let BgNbd { r, alpha, a, b } = *self;
        let ratio = (a / (b + h.x - 1.0)) * ((alpha + h.age) / (alpha + h.t_x)).powf(r + h.x);
        1.0 / (1.0 + ratio)
    }
}

impl BgNbd {
    /// The total log-likelihood of many histories.
    pub fn total_log_likelihood(&self, buyers: &[BuyerHistory]) -> f64 {
        self.grouped_log_likelihood(&group_histories(buyers))
    }

    /// The total log-likelihood of distinct histories, each counted `weight` times: the
    /// terms that depend only on `x` are computed once per distinct `x` (the fit
    /// evaluates this thousands of times).
    fn grouped_log_likelihood(&self, groups: &[(BuyerHistory, f64)]) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        let mut by_x: std::collections::HashMap<u64, (f64, f64)> = std::collections::HashMap::new();
        let base = r * alpha.ln() - lgamma(r) - ln_beta(a, b);
        let mut total = 0.0;
        for (h, weight) in groups {
            let x = h.x;
            let (common, dropout) = *by_x.entry(x.to_bits()).or_insert_with(|| {
                let common = lgamma(r + x) + ln_beta(a, b + x) + base;
                let dropout = if x > 0.0 { a.ln() - (b + x - 1.0).ln() } else { f64::NEG_INFINITY };
                (common, dropout)
            });
            let a3 = -(r + x) * (alpha + h.age).ln();
            let with_dropout = if x > 0.0 { dropout - (r + x) * (alpha + h.t_x).ln() } else { f64::NEG_INFINITY };
            total += weight * (common + log_add_exp(a3, with_dropout));
        }
        total
    }

    /// Expected purchases in the next `t` time units of a buyer with this history
    /// (equation 10 of the paper).
    pub fn expected_purchases(&self, t: f64, h: &BuyerHistory) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        let x = h.x;
        let z = t / (alpha + h.age + t);
        let hypergeometric = hyp2f1(r + x, b + x, a + b + x - 1.0, z);
        let numerator = (a + b + x - 1.0) / (a - 1.0)
            * (1.0 - ((alpha + h.age) / (alpha + h.age + t)).powf(r + x) * hypergeometric);
        let dropout_term =
            if x > 0.0 { a / (b + x - 1.0) * ((alpha + h.age) / (alpha + h.t_x)).powf(r + x) } else { 0.0 };
        numerator / (1.0 + dropout_term)
    }
}

/// The Gauss hypergeometric function 2F1(a, b; c; z) for 0 <= z < 1, by its power series
/// (terms are summed until they stop changing the total).
pub fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> f64 {
    let (mut term, mut total) = (1.0, 1.0);
    for n in 0..100_000 {
        let n = n as f64;
        term *= (a + n) * (b + n) / ((c + n) * (n + 1.0)) * z;
        total += term;
        if term.abs() <= 1e-15 * total.abs() {
            break;
        }
    }
    total
}

impl GammaGamma {
    /// The log-likelihood of a repeat buyer's `x` orders of average value `mean_value`.
    pub fn log_likelihood(&self, x: f64, mean_value: f64) -> f64 {
        let GammaGamma { p, q, gamma } = *self;
        lgamma(p * x + q) - lgamma(p * x) - lgamma(q)
            + q * gamma.ln()
            + (p * x - 1.0) * mean_value.ln()
            + (p * x) * x.ln()
            - (p * x + q) * (x * mean_value + gamma).ln()
    }

    /// The total log-likelihood of repeat buyers (`x`, average value), with the terms that
    /// depend only on `x` computed once per distinct `x` and the buyers' logarithms given.
    fn total_log_likelihood(&self, buyers: &[SpendHistory]) -> f64 {
        let GammaGamma { p, q, gamma } = *self;
        let base = -lgamma(q) + q * gamma.ln();
        let mut by_x: std::collections::HashMap<u64, f64> = std::collections::HashMap::new();
        let mut total = 0.0;
        for buyer in buyers {
            let px = p * buyer.x;
            let common = *by_x.entry(buyer.x.to_bits()).or_insert_with(|| lgamma(px + q) - lgamma(px) + base);
            total +=
                common + (px - 1.0) * buyer.ln_mean + px * buyer.ln_x - (px + q) * (buyer.x * buyer.mean + gamma).ln();
        }
        total
    }

    /// The expected value of an order of a buyer with `x` orders averaging `mean_value`.
    pub fn expected_order_value(&self, x: f64, mean_value: f64) -> f64 {
        let GammaGamma { p, q, gamma } = *self;
        let weight = (q - 1.0) / (p * x + q - 1.0);
        weight * (gamma * p / (q - 1.0)) + (1.0 - weight) * mean_value
    }
}

/// The negative mean log-likelihood of log-parameters: what the simplex minimizes.
struct Objective<F: Fn(&[f64]) -> f64> {
    negative_mean_log_likelihood: F,
}

impl<F: Fn(&[f64]) -> f64> CostFunction for Objective<F> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, log_params: &Vec<f64>) -> Result<f64, ArgminError> {
        // Parameters stay within e^±LOG_BOUND: where the likelihood keeps improving along
        // a ridge towards infinity (no dropout, identical order values), the search stops
        // at the wall instead of crawling on.
        if log_params.iter().any(|v| v.abs() > LOG_BOUND) {
            return Ok(f64::INFINITY);
        }
        let value = (self.negative_mean_log_likelihood)(log_params);
        // Outside the numerically sane region the cost is +inf: the simplex moves away.
        Ok(if value.is_finite() { value } else { f64::INFINITY })
    }
}

const MAX_ITERATIONS: u64 = 3_000;
/// Iterations of one Nelder-Mead round (see `minimize`).
const ROUND_ITERATIONS: u64 = 300;
/// A round that improves the mean log-likelihood per buyer by less than this found a flat.
const FLAT_IMPROVEMENT: f64 = 1e-9;
/// Parameters are searched between e^-LOG_BOUND and e^LOG_BOUND.
const LOG_BOUND: f64 = 16.0;

/// Minimizes `cost` over log-parameters from `start`; returns the parameters (not logs).
///
/// Nelder-Mead runs in rounds of at most `ROUND_ITERATIONS`, each restarted from the best
/// point so far with a fresh simplex. The fit has converged when a round's simplex
/// converges, or when a whole round improved the mean log-likelihood by less than
/// `FLAT_IMPROVEMENT`: the likelihood is then flat around the best point (a ridge, as when
/// nobody drops out) and any point on it predicts the same.
fn minimize(cost: impl Fn(&[f64]) -> f64, start: &[f64]) -> Result<Vec<f64>, FitError> {
    let cost: &dyn Fn(&[f64]) -> f64 = &cost;
    let (mut best, mut best_cost, mut step) = (start.to_vec(), f64::INFINITY, 0.5);
    for _ in 0..MAX_ITERATIONS / ROUND_ITERATIONS {
        let (point, point_cost, converged) = simplex_search(cost, &best, step)?;
        let improvement = best_cost - point_cost;
        if point_cost <= best_cost {
            (best, best_cost) = (point, point_cost);
        }
        if converged || improvement.abs() < FLAT_IMPROVEMENT {
            return Ok(best.iter().map(|v| v.exp()).collect());
        }
        step = 0.1;
    }
    Err(FitError::NoConvergence(format!("the likelihood still improved after {MAX_ITERATIONS} iterations")))
}

/// One Nelder-Mead search from `start` with initial steps `step`: the best log-parameters,
/// their cost, and whether the simplex converged within `ROUND_ITERATIONS`.
fn simplex_search(cost: &dyn Fn(&[f64]) -> f64, start: &[f64], step: f64) -> Result<(Vec<f64>, f64, bool), FitError> {
    let mut simplex = vec![start.to_vec()];
    for index in 0..start.len() {
        let mut vertex = start.to_vec();
        vertex[index] += if vertex[index] + step > LOG_BOUND { -step } else { step };
        simplex.push(vertex);
    }
    let solver =
        NelderMead::new(simplex).with_sd_tolerance(1e-12).map_err(|e| FitError::NoConvergence(e.to_string()))?;
    let outcome = Executor::new(Objective { negative_mean_log_likelihood: cost }, solver)
        .configure(|state| state.max_iters(ROUND_ITERATIONS))
        .run()
        .map_err(|e| FitError::NoConvergence(e.to_string()))?;
    let state = outcome.state();
    let best = state.best_param.clone().ok_or_else(|| FitError::NoConvergence("no best point".into()))?;
    if !state.best_cost.is_finite() {
        return Err(FitError::NoConvergence("the likelihood is not finite anywhere tried".into()));
    }
    Ok((best, state.best_cost, state.iter < ROUND_ITERATIONS))
}

/// A repeat buyer as Gamma-Gamma reads it, with the logarithms the likelihood needs.
struct SpendHistory {
    x: f64,
    mean: f64,
    ln_x: f64,
    ln_mean: f64,
}

/// Fits BG/NBD to the buyers' histories.
pub fn fit_bg_nbd(buyers: &[BuyerHistory]) -> Result<Fit<BgNbd>, FitError> {
    if buyers.len() < MIN_BUYERS {
        return Err(FitError::TooFewBuyers { found: buyers.len(), needed: MIN_BUYERS });
    }
    let repeat_buyers = buyers.iter().filter(|h| h.x > 0.0).count();
    if repeat_buyers < MIN_REPEAT_BUYERS_BG_NBD {
        return Err(FitError::TooFewRepeatBuyers { found: repeat_buyers, needed: MIN_REPEAT_BUYERS_BG_NBD });
    }
    let count = buyers.len() as f64;
    let groups = group_histories(buyers);
    let total = |params: BgNbd| params.grouped_log_likelihood(&groups);
    let at = |v: &[f64]| BgNbd { r: v[0].exp(), alpha: v[1].exp(), a: v[2].exp(), b: v[3].exp() };
    let best = minimize(|v| -total(at(v)) / count, &[0.0; 4])?;
    let params = BgNbd { r: best[0], alpha: best[1], a: best[2], b: best[3] };
    Ok(Fit { params, log_likelihood: total(params) })
}

/// Fits Gamma-Gamma to repeat buyers: (`x` orders, average order value).
pub fn fit_gamma_gamma(repeat_buyers: &[(f64, f64)]) -> Result<Fit<GammaGamma>, FitError> {
    if repeat_buyers.len() < MIN_BUYERS {
        return Err(FitError::TooFewRepeatBuyers { found: repeat_buyers.len(), needed: MIN_BUYERS });
    }
    let count = repeat_buyers.len() as f64;
    let spend: Vec<SpendHistory> =
        repeat_buyers.iter().map(|&(x, mean)| SpendHistory { x, mean, ln_x: x.ln(), ln_mean: mean.ln() }).collect();
    let total = |params: GammaGamma| params.total_log_likelihood(&spend);
    let at = |v: &[f64]| GammaGamma { p: v[0].exp(), q: v[1].exp(), gamma: v[2].exp() };
    let best = minimize(|v| -total(at(v)) / count, &[0.0; 3])?;
    let params = GammaGamma { p: best[0], q: best[1], gamma: best[2] };
    Ok(Fit { params, log_likelihood: total(params) })
}

mod figures;
pub use figures::*;

#[cfg(test)]
mod tests;
