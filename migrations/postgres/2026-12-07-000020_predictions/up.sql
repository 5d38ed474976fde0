-- Purchase predictions (domain::predictions): the fitted BG/NBD and Gamma-Gamma model and
-- every buyer's figures under it, refitted in the background when the orders or the day
-- change (services::predictions::refresh), never inside a request.

-- One row: the last good model, and how the last attempt went.
CREATE TABLE prediction_state (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    -- What the stored figures were computed from (order statistics, day, settings).
    fingerprint TEXT NOT NULL,
    -- The last good model as JSON (parameters, log-likelihoods, counts, currency), or NULL.
    model TEXT,
    -- The currency the model was fitted on (the one most buyers paid in), or NULL.
    currency TEXT,
    fitted_at TIMESTAMP,
    -- Why the last attempt left no new model (too few buyers, no convergence), or NULL.
    problem TEXT,
    attempted_at TIMESTAMP
);
INSERT INTO prediction_state (id, fingerprint, model, currency, fitted_at, problem, attempted_at)
VALUES (1, '', NULL, NULL, NULL, NULL, NULL);

-- Each buyer's figures under the stored model (the model's currency only).
CREATE TABLE customer_predictions (
    customer_id BIGINT PRIMARY KEY,
    currency TEXT NOT NULL,
    probability_alive DOUBLE PRECISION NOT NULL,
    expected_orders_90d DOUBLE PRECISION NOT NULL,
    -- Over the configured horizon (RAPPORT_PREDICTION_HORIZON_DAYS) at scoring time.
    expected_orders DOUBLE PRECISION NOT NULL,
    horizon_days BIGINT NOT NULL,
    predicted_clv_12m BIGINT NOT NULL,
    expected_days_to_next_order DOUBLE PRECISION,
    churn_risk TEXT NOT NULL,
    -- When the refresh that wrote the row started: rows an older refresh wrote are of
    -- customers who are no longer buyers of the model's currency, and are removed.
    scored_at TIMESTAMP NOT NULL
);
-- Segments select by each figure.
CREATE INDEX customer_predictions_alive_idx ON customer_predictions (probability_alive, customer_id);
CREATE INDEX customer_predictions_clv_idx ON customer_predictions (predicted_clv_12m, customer_id);
CREATE INDEX customer_predictions_orders_idx ON customer_predictions (expected_orders_90d, customer_id);
CREATE INDEX customer_predictions_churn_idx ON customer_predictions (churn_risk, customer_id);
