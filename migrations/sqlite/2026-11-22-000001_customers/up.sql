CREATE TABLE customers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('person', 'company')),
    first_name TEXT,
    last_name TEXT,
    company_name TEXT,
    email TEXT,
    phone TEXT,
    birthday DATE,
    gender TEXT,
    address_line1 TEXT,
    address_line2 TEXT,
    city TEXT,
    region TEXT,
    postal_code TEXT,
    country TEXT,
    preferred_language TEXT,
    source TEXT NOT NULL,
    attributes TEXT NOT NULL DEFAULT '{}',
    notes TEXT,
    -- lower-cased "first|last|postal" and "company|country", filled by rapport, for duplicate detection
    name_key TEXT,
    company_key TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX customers_email_key ON customers (email);
CREATE INDEX customers_phone_idx ON customers (phone);
CREATE INDEX customers_name_key_idx ON customers (name_key);
CREATE INDEX customers_company_key_idx ON customers (company_key);
CREATE INDEX customers_source_id_idx ON customers (source, id);
CREATE INDEX customers_created_at_idx ON customers (created_at, id);

CREATE TABLE customer_tags (
    customer_id BIGINT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (customer_id, tag)
);
CREATE INDEX customer_tags_tag_idx ON customer_tags (tag, customer_id);

-- Lower-cased names, email and phone of each customer, for indexed prefix search (`q`).
CREATE TABLE customer_search_terms (
    term TEXT NOT NULL,
    customer_id BIGINT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    PRIMARY KEY (term, customer_id)
);
CREATE INDEX customer_search_terms_customer_idx ON customer_search_terms (customer_id);

CREATE TABLE customer_merges (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    survivor_id BIGINT NOT NULL,
    duplicate_id BIGINT NOT NULL,
    merged_by TEXT NOT NULL,
    merged_at TIMESTAMP NOT NULL,
    duplicate_snapshot TEXT NOT NULL
);
CREATE INDEX customer_merges_survivor_idx ON customer_merges (survivor_id);
