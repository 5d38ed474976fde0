-- Background work shared by every rapport instance on this database (an import job, the
-- periodic RFM rescoring, clean-ups) is claimed by a lease: one holder at a time, until it
-- expires, so two instances never do the same work at once and a crashed one's work is
-- taken over when its lease runs out.
CREATE TABLE background_leases (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    lease_until TIMESTAMP NOT NULL
);
