-- The uploaded file lives apart from its job: the job row is updated after every batch,
-- and SQLite rewrites a whole row on update (an 11 MB file per batch otherwise).
CREATE TABLE import_files (
    job_id BIGINT PRIMARY KEY NOT NULL REFERENCES import_jobs (id) ON DELETE CASCADE,
    csv TEXT NOT NULL
);
