-- The outbox: every message rapport sends, delivered by a background worker over SMTP.
CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id BIGINT REFERENCES customers (id) ON DELETE SET NULL,
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    next_attempt_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP
);
CREATE INDEX messages_due_idx ON messages (status, next_attempt_at, id);
CREATE INDEX messages_customer_idx ON messages (customer_id);

-- What people wrote through the public forms (and spam caught by the honeypot).
CREATE TABLE enquiries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id BIGINT REFERENCES customers (id) ON DELETE SET NULL,
    kind TEXT NOT NULL CHECK (kind IN ('contact', 'subscribe')),
    status TEXT NOT NULL CHECK (status IN ('new', 'in_progress', 'resolved', 'spam')),
    email TEXT,
    subject TEXT,
    message TEXT,
    assignee TEXT,
    note TEXT,
    ip TEXT,
    user_agent TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX enquiries_customer_idx ON enquiries (customer_id, id);
CREATE INDEX enquiries_status_idx ON enquiries (status, id);
CREATE INDEX enquiries_created_idx ON enquiries (created_at, id);

-- Double opt-in links: a random token, stored hashed, single use, expiring.
CREATE TABLE confirmation_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    customer_id BIGINT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    channels TEXT NOT NULL,
    consent_text TEXT,
    source TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX confirmation_tokens_customer_idx ON confirmation_tokens (customer_id);

-- Unsubscribe links: a random token per link handed out, stored hashed.
CREATE TABLE unsubscribe_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    customer_id BIGINT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    channel TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX unsubscribe_tokens_customer_idx ON unsubscribe_tokens (customer_id);
