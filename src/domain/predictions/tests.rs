use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Beta, Distribution, Exp, Gamma};

use super::*;

/// The CDNOW cohort: (history in weeks, average repeat purchase value).
fn cdnow() -> Vec<(BuyerHistory, f64)> {
    include_str!("../../../tests/fixtures/cdnow_summary.csv")
        .lines()
        .skip(1)
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let fields: Vec<f64> = line.split(',').map(|f| f.trim().parse().unwrap()).collect();
            (BuyerHistory { x: fields[1], t_x: fields[2], age: fields[3] }, fields[4])
        })
        .collect()
}

fn assert_close(name: &str, found: f64, published: f64, tolerance: f64) {
    let off = (found - published).abs() / published;
    assert!(off <= tolerance, "{name}: {found:.4} is {:.2} % off {published}", off * 100.0);
}

#[test]
fn bg_nbd_reproduces_the_published_cdnow_fit() {
    let buyers: Vec<BuyerHistory> = cdnow().into_iter().map(|(h, _)| h).collect();
    assert_eq!(buyers.len(), 2357);
    let fit = fit_bg_nbd(&buyers).unwrap();
    println!("CDNOW BG/NBD: {:?}, log-likelihood {:.2}", fit.params, fit.log_likelihood);
    // Fader, Hardie & Lee (2005), section 5: r = 0.243, alpha = 4.414, a = 0.793, b = 2.426.
    assert_close("r", fit.params.r, 0.243, 0.01);
    assert_close("alpha", fit.params.alpha, 4.414, 0.01);
    assert_close("a", fit.params.a, 0.793, 0.01);
    assert_close("b", fit.params.b, 2.426, 0.01);
    // The paper's log-likelihood at these parameters: -9582.4.
    assert!((fit.log_likelihood - (-9582.4)).abs() < 1.0, "log-likelihood {}", fit.log_likelihood);
}

#[test]
fn gamma_gamma_reproduces_the_published_cdnow_fit() {
    let repeat_buyers: Vec<(f64, f64)> =
        cdnow().into_iter().filter(|(h, value)| h.x > 0.0 && *value > 0.0).map(|(h, value)| (h.x, value)).collect();
    assert_eq!(repeat_buyers.len(), 946);
    let fit = fit_gamma_gamma(&repeat_buyers).unwrap();
    println!("CDNOW Gamma-Gamma: {:?}, log-likelihood {:.2}", fit.params, fit.log_likelihood);
    // Fader, Hardie & Lee (2005), "RFM and CLV": p = 6.25, q = 3.74, gamma = 15.44.
    assert_close("p", fit.params.p, 6.25, 0.01);
    assert_close("q", fit.params.q, 3.74, 0.01);
    assert_close("gamma", fit.params.gamma, 15.44, 0.01);
}

/// Buyers drawn from the BG/NBD story with known parameters, observed for `weeks`.
fn simulate_bg_nbd(truth: BgNbd, buyers: usize, weeks: f64, rng: &mut StdRng) -> Vec<BuyerHistory> {
    let rates = Gamma::new(truth.r, 1.0 / truth.alpha).unwrap();
    let dropouts = Beta::new(truth.a, truth.b).unwrap();
    (0..buyers)
        .map(|_| {
            let rate: f64 = rates.sample(rng);
            let dropout: f64 = dropouts.sample(rng);
            let wait = Exp::new(rate).unwrap();
            let (mut now, mut x, mut t_x) = (0.0, 0.0, 0.0);
            loop {
                now += wait.sample(rng);
                if now > weeks {
                    break;
                }
                x += 1.0;
                t_x = now;
                if rng.random::<f64>() < dropout {
                    break;
                }
            }
            BuyerHistory { x, t_x, age: weeks }
        })
        .collect()
}

#[test]
fn bg_nbd_recovers_known_parameters_from_simulated_buyers() {
    let truth = BgNbd { r: 0.5, alpha: 6.0, a: 0.7, b: 3.0 };
    let mut rng = StdRng::seed_from_u64(7);
    let buyers = simulate_bg_nbd(truth, 20_000, 52.0, &mut rng);
    let fit = fit_bg_nbd(&buyers).unwrap().params;
    assert_close("r", fit.r, truth.r, 0.10);
    assert_close("alpha", fit.alpha, truth.alpha, 0.10);
    assert_close("a", fit.a, truth.a, 0.20);
    assert_close("b", fit.b, truth.b, 0.25);
}

#[test]
fn gamma_gamma_recovers_known_parameters_from_simulated_spend() {
    let truth = GammaGamma { p: 5.0, q: 4.0, gamma: 20.0 };
    let mut rng = StdRng::seed_from_u64(11);
    let scales = Gamma::new(truth.q, 1.0 / truth.gamma).unwrap();
    let repeat_buyers: Vec<(f64, f64)> = (0..20_000)
        .map(|_| {
            let x = rng.random_range(1..=8) as f64;
            let nu: f64 = scales.sample(&mut rng);
            let spend = Gamma::new(truth.p, 1.0 / nu).unwrap();
            let total: f64 = (0..x as usize).map(|_| spend.sample(&mut rng)).sum();
            (x, total / x)
        })
        .collect();
    let fit = fit_gamma_gamma(&repeat_buyers).unwrap().params;
    assert_close("p", fit.p, truth.p, 0.10);
    assert_close("q", fit.q, truth.q, 0.10);
    assert_close("gamma", fit.gamma, truth.gamma, 0.15);
}

#[test]
fn too_few_buyers_is_an_answer_not_a_crash() {
    let few = vec![BuyerHistory { x: 1.0, t_x: 2.0, age: 10.0 }; 5];
    assert_eq!(fit_bg_nbd(&few), Err(FitError::TooFewBuyers { found: 5, needed: MIN_BUYERS }));
    assert_eq!(fit_gamma_gamma(&[(1.0, 10.0)]), Err(FitError::TooFewRepeatBuyers { found: 1, needed: MIN_BUYERS }));
}

#[test]
fn probability_alive_and_expected_value() {
    let model = BgNbd { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
    // No repeat purchase: the model cannot have seen a dropout.
    assert_eq!(model.probability_alive(&BuyerHistory { x: 0.0, t_x: 0.0, age: 30.0 }), 1.0);
    // A recent repeat buyer is more likely alive than one silent for long. By hand:
    // 1 / (1 + 0.793 / 5.426 * (36.414 / 34.414)^4.243) = 0.8434.
    let recent = model.probability_alive(&BuyerHistory { x: 4.0, t_x: 30.0, age: 32.0 });
    let silent = model.probability_alive(&BuyerHistory { x: 4.0, t_x: 5.0, age: 32.0 });
    assert!((recent - 0.8434).abs() < 1e-3 && silent < 0.05, "{recent} {silent}");
    let spend = GammaGamma { p: 6.25, q: 3.74, gamma: 15.44 };
    // Shrinks a buyer's own average towards the population mean, more so with few orders.
    let population = spend.p * spend.gamma / (spend.q - 1.0);
    let one = spend.expected_order_value(1.0, 100.0);
    let many = spend.expected_order_value(20.0, 100.0);
    assert!(population < one && one < many && many < 100.0, "{population} {one} {many}");
}

#[test]
fn hypergeometric_series_matches_closed_forms() {
    // 2F1(1, 1; 2; z) = -ln(1 - z) / z
    for z in [0.1f64, 0.5, 0.9, 0.99] {
        let closed: f64 = -(1.0 - z).ln() / z;
        assert!((hyp2f1(1.0, 1.0, 2.0, z) - closed).abs() < 1e-9 * closed, "z = {z}");
    }
    // 2F1(a, b; b; z) = (1 - z)^-a
    assert!((hyp2f1(2.5, 3.0, 3.0, 0.3) - 0.7f64.powf(-2.5)).abs() < 1e-12);
    assert_eq!(hyp2f1(1.0, 2.0, 3.0, 0.0), 1.0);
}

#[test]
fn expected_purchases_match_the_papers_example() {
    // Section 5 of the paper: with the CDNOW parameters, a customer with x = 2, t_x = 30.43
    // and T = 38.86 weeks is expected to make 1.226 purchases in the next 39 weeks.
    let model = BgNbd { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
    let expected = model.expected_purchases(39.0, &BuyerHistory { x: 2.0, t_x: 30.43, age: 38.86 });
    assert!((expected - 1.226).abs() < 0.005, "{expected}");
}

fn at(day: i64, hour: u32) -> chrono::NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap().and_hms_opt(hour, 0, 0).unwrap() + chrono::Duration::days(day)
}

#[test]
fn orders_become_purchase_days_seen_from_the_end() {
    let point = |customer_id, day, hour, net| OrderPoint { customer_id, placed_at: at(day, hour), net };
    // Customer 1: two orders on day 0 (one purchase), one on day 10, one after the end.
    // Customer 2: one order on day 5. Customer 3: only after the end.
    let points = [
        point(1, 0, 9, 1000),
        point(1, 0, 17, 3000),
        point(1, 10, 12, 2000),
        point(1, 40, 12, 9999),
        point(2, 5, 8, 500),
        point(3, 35, 8, 700),
    ];
    let summaries = summarize(&points, at(30, 0));
    assert_eq!(summaries.len(), 2);
    assert_eq!(summaries[0].customer_id, 1);
    assert_eq!(summaries[0].history, BuyerHistory { x: 1.0, t_x: 10.0, age: 30.0 });
    assert_eq!(summaries[0].mean_order_value, 2000.0);
    assert_eq!(summaries[1].history, BuyerHistory { x: 0.0, t_x: 0.0, age: 25.0 });
    let later = purchase_days_from(&points, at(30, 0));
    assert_eq!(later.get(&1), Some(&1));
    assert_eq!(later.get(&2), Some(&0));
    assert_eq!(later.get(&3), Some(&1));
}

#[test]
fn the_grouped_likelihood_is_the_sum_of_the_buyers() {
    let buyers: Vec<BuyerHistory> = cdnow().into_iter().map(|(h, _)| h).collect();
    let model = BgNbd { r: 0.3, alpha: 5.0, a: 0.8, b: 2.5 };
    let summed: f64 = buyers.iter().map(|h| model.log_likelihood(h)).sum();
    assert!((model.total_log_likelihood(&buyers) - summed).abs() < 1e-6 * summed.abs());
}

fn model() -> Model {
    Model {
        r: 0.243,
        alpha: 4.414 * 7.0,
        a: 0.793,
        b: 2.426,
        bg_nbd_log_likelihood: 0.0,
        spend: Some(SpendModel { p: 6.25, q: 3.74, gamma: 15.44, log_likelihood: 0.0 }),
        buyers: 100,
        repeat_buyers: 50,
    }
}

#[test]
fn a_buyer_is_scored_from_the_model() {
    let settings = ScoringSettings { horizon_days: 90, annual_discount_rate: 0.0 };
    let once = BuyerSummary {
        customer_id: 1,
        history: BuyerHistory { x: 0.0, t_x: 0.0, age: 10.0 },
        mean_order_value: 5000.0,
    };
    let figures = score(&model(), &once, settings);
    assert_eq!(figures.probability_alive, 1.0);
    assert_eq!(figures.churn_risk, "low");
    assert_eq!(figures.expected_orders, figures.expected_orders_90d);
    // Without discounting, 12 months of value is the year's expected purchases times the
    // expected order value (the population mean for a buyer without repeats).
    let year = model().bg_nbd().expected_purchases(365.25, &once.history);
    let mean_value = 6.25 * 15.44 / (3.74 - 1.0);
    assert!((figures.predicted_clv_12m as f64 - year * mean_value).abs() <= 1.0, "{figures:?}");
    let discounted = score(&model(), &once, ScoringSettings { horizon_days: 30, annual_discount_rate: 0.10 });
    assert!(discounted.predicted_clv_12m < figures.predicted_clv_12m);
    assert!(discounted.expected_orders < discounted.expected_orders_90d);
    // A frequent buyer who stopped long ago is probably gone: high risk, no next order.
    let gone = BuyerSummary {
        customer_id: 2,
        history: BuyerHistory { x: 8.0, t_x: 60.0, age: 700.0 },
        mean_order_value: 5000.0,
    };
    let gone = score(&model(), &gone, settings);
    assert!(gone.probability_alive < CHURN_HIGH_BELOW, "{gone:?}");
    assert_eq!(gone.churn_risk, "high");
    assert_eq!(gone.expected_days_to_next_order, None);
    let regular = BuyerSummary {
        customer_id: 3,
        history: BuyerHistory { x: 8.0, t_x: 695.0, age: 700.0 },
        mean_order_value: 5000.0,
    };
    let regular = score(&model(), &regular, settings);
    assert_eq!(regular.churn_risk, "low");
    let wait = regular.expected_days_to_next_order.unwrap();
    assert!((wait - (model().alpha + 700.0) / (model().r + 8.0)).abs() < 1e-9);
    assert_eq!(churn_risk(0.7), "low");
    assert_eq!(churn_risk(0.69), "medium");
    assert_eq!(churn_risk(0.3), "medium");
    assert_eq!(churn_risk(0.29), "high");
}

/// Orders of buyers drawn from the BG/NBD story, in days: each buyer's first order on a
/// day of the first 100, then waits at their own rate until they drop out, up to `days`.
fn simulate_orders(truth: BgNbd, buyers: i64, days: f64, rng: &mut StdRng) -> Vec<OrderPoint> {
    let rates = Gamma::new(truth.r, 1.0 / truth.alpha).unwrap();
    let dropouts = Beta::new(truth.a, truth.b).unwrap();
    let mut points = Vec::new();
    for customer_id in 0..buyers {
        let rate: f64 = rates.sample(rng);
        let dropout: f64 = dropouts.sample(rng);
        let wait = Exp::new(rate).unwrap();
        let mut now = rng.random_range(0.0..100.0);
        loop {
            points.push(OrderPoint {
                customer_id,
                placed_at: at(0, 0) + chrono::Duration::seconds((now * 86_400.0) as i64),
                net: 1000,
            });
            if rng.random::<f64>() < dropout {
                break;
            }
            now += wait.sample(rng);
            if now >= days {
                break;
            }
        }
    }
    points
}

#[test]
fn the_holdout_check_predicts_simulated_buyers() {
    // Rates low enough that two orders rarely fall on one day (days are the unit).
    let truth = BgNbd { r: 0.6, alpha: 30.0, a: 0.8, b: 4.0 };
    let mut rng = StdRng::seed_from_u64(3);
    let points = simulate_orders(truth, 8_000, 400.0, &mut rng);
    let check = holdout_check(&points, at(250, 0), at(400, 0)).unwrap();
    assert_eq!(check.holdout_days, 150);
    let ratio = check.predicted_total / check.actual_total as f64;
    assert!((0.9..1.1).contains(&ratio), "predicted {} against actual {}", check.predicted_total, check.actual_total);
    // Row by row too, where there are enough buyers to compare.
    for row in check.by_calibration_purchases.iter().filter(|row| row.customers >= 300) {
        assert!((row.predicted_mean - row.actual_mean).abs() <= 0.15 * row.actual_mean.max(0.5), "{row:?}");
    }
}

#[test]
fn a_fit_on_degenerate_data_stops_at_the_bounds() {
    // Nobody drops out and every order is worth the same: both likelihoods keep improving
    // towards infinite parameters. The fit must still end, with finite figures.
    let truth = BgNbd { r: 0.4, alpha: 50.0, a: 1.0e5, b: 5.0e6 };
    let mut rng = StdRng::seed_from_u64(5);
    let points = simulate_orders(truth, 3_000, 1100.0, &mut rng);
    let buyers = summarize(&points, at(1100, 0));
    let model = fit_model(&buyers).expect("a model");
    for value in [model.r, model.alpha, model.a, model.b] {
        assert!(value.is_finite() && value > 0.0 && value <= LOG_BOUND.exp() * 1.0001, "{model:?}");
    }
    let settings = ScoringSettings { horizon_days: 90, annual_discount_rate: 0.1 };
    for buyer in &buyers {
        let figures = score(&model, buyer, settings);
        assert!((0.0..=1.0).contains(&figures.probability_alive));
        assert!(figures.expected_orders_90d.is_finite() && figures.predicted_clv_12m >= 0);
    }
}
