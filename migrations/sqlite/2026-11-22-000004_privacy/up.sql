-- An erased customer stays as an anonymous placeholder (so statistics keep their rows);
-- rapport never serves it again.
ALTER TABLE customers ADD COLUMN erased_at TIMESTAMP;

-- Keyed hashes (HMAC) of erased people's email and phone: an import or a checkout must
-- never silently recreate marketing consent for them.
CREATE TABLE suppressions (
    hash TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('email', 'phone')),
    created_at TIMESTAMP NOT NULL
);

-- That an erasure happened, when and by whom; no personal data.
CREATE TABLE erasures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id BIGINT NOT NULL,
    erased_by TEXT NOT NULL,
    erased_at TIMESTAMP NOT NULL
);
