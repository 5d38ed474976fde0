-- CSV imports run in the background in batches; `next_row` records progress, so a job
-- interrupted by a crash resumes where its last committed batch ended.
CREATE TABLE import_jobs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    mode TEXT NOT NULL CHECK (mode IN ('create_only', 'upsert')),
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed')),
    -- The uploaded file; emptied once the job has finished (it holds personal data).
    csv TEXT NOT NULL,
    next_row BIGINT NOT NULL DEFAULT 0,
    rows_total BIGINT NOT NULL DEFAULT 0,
    created BIGINT NOT NULL DEFAULT 0,
    updated BIGINT NOT NULL DEFAULT 0,
    unchanged BIGINT NOT NULL DEFAULT 0,
    rejected BIGINT NOT NULL DEFAULT 0,
    -- JSON array of the first 1,000 row errors: [{"line": 3, "field": "email", "message": "..."}]
    errors TEXT NOT NULL DEFAULT '[]',
    failure TEXT,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP
);
CREATE INDEX import_jobs_status_idx ON import_jobs (status);
