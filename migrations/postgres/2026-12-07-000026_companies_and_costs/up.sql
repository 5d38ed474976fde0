-- Companies: the typed fields of a company (customers.kind = 'company'), one row per
-- company that has any, and the people who belong to one (company_id, company_role on a
-- person). rapport never gives a person company fields, nor a company a company_id.
CREATE TABLE company_details (
    customer_id BIGINT PRIMARY KEY REFERENCES customers (id) ON DELETE CASCADE,
    founded_on DATE,
    industry TEXT,
    employees BIGINT CHECK (employees >= 0),
    website TEXT,
    registration_number TEXT,
    vat_number TEXT,
    -- The shop's own assessment of the company (e.g. financial health), 1 to 5.
    rating BIGINT CHECK (rating BETWEEN 1 AND 5),
    particularities TEXT
);
ALTER TABLE customers ADD COLUMN company_id BIGINT REFERENCES customers (id) ON DELETE SET NULL;
ALTER TABLE customers ADD COLUMN company_role TEXT;
-- A company's people (listing, roll-up, merge, erasure), in id order.
CREATE INDEX customers_company_id_idx ON customers (company_id, id) WHERE company_id IS NOT NULL;

-- What a promotion cost, in minor units of cost_currency: a fixed part and a part per
-- contact (campaigns; flows keep theirs in their definition) or per redemption (codes).
ALTER TABLE campaigns ADD COLUMN cost_currency TEXT;
ALTER TABLE campaigns ADD COLUMN cost_fixed_minor BIGINT;
ALTER TABLE campaigns ADD COLUMN cost_per_contact_minor BIGINT;
ALTER TABLE promo_codes ADD COLUMN cost_currency TEXT;
ALTER TABLE promo_codes ADD COLUMN cost_fixed_minor BIGINT;
ALTER TABLE promo_codes ADD COLUMN cost_per_redemption_minor BIGINT;
