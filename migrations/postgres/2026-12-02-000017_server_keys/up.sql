-- Keys for everything that outlives an API token (suppression hashes of erased people,
-- campaign unsubscribe and click link signatures), one per purpose, as hex. rapport
-- creates them at start-up: random for a new database; for a database whose data was
-- keyed with the token secret before keys were stored, that secret, so every existing
-- hash and link stays valid. They never change when the token secret rotates.
CREATE TABLE server_keys (
    purpose TEXT PRIMARY KEY NOT NULL,
    key_hex TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
