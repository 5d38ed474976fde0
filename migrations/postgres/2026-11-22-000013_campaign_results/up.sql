-- Campaign results, kept in the same transaction as every order, refund, cancellation and
-- merge (services::rollups), and computed once at launch, so a campaign report reads a few
-- rows instead of looking for orders of every contact.

-- Contacts (holdout = FALSE) or holdout members (TRUE) with an order, not cancelled, placed
-- in the campaign's attribution window.
CREATE TABLE campaign_conversions (
    campaign_id BIGINT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    holdout BOOLEAN NOT NULL,
    contacts BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, holdout)
);

-- Per currency: the orders attributed to the campaign (its contacts' orders in the window,
-- and orders since the launch with its codes) and their revenue net of refunds; the
-- redemptions of its codes on orders that stand, and the discount they gave.
CREATE TABLE campaign_orders (
    campaign_id BIGINT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    currency TEXT NOT NULL,
    orders BIGINT NOT NULL,
    revenue BIGINT NOT NULL,
    redemptions BIGINT NOT NULL,
    discount BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, currency)
);

-- Rebuild every rollup at the next start, so the tables above are filled for the
-- campaigns launched before them.
UPDATE rollup_state SET timezone = '', built_at = NULL;
