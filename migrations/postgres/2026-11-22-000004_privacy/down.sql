DROP TABLE erasures;
DROP TABLE suppressions;
ALTER TABLE customers DROP COLUMN erased_at;
