-- Enquiries from any channel: how the person reached the shop and when, an optional
-- follow-up (a reminder on the shop's to-do list, announced once by
-- `enquiry.follow_up_due`), tags, and when the enquiry was resolved.
ALTER TABLE enquiries ADD COLUMN channel TEXT NOT NULL DEFAULT 'form'
    CHECK (channel IN ('phone', 'email', 'in_person', 'social', 'form', 'letter'));
-- SQLite adds a NOT NULL column only with a default; every row gets its own value below.
ALTER TABLE enquiries ADD COLUMN occurred_at TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:00';
UPDATE enquiries SET occurred_at = created_at;
ALTER TABLE enquiries ADD COLUMN follow_up_at TIMESTAMP;
-- When `enquiry.follow_up_due` was recorded for the current `follow_up_at` (a new
-- `follow_up_at` clears it): the due scan records the event once per follow-up.
ALTER TABLE enquiries ADD COLUMN follow_up_due_at TIMESTAMP;
-- A JSON array of lower-cased tags.
ALTER TABLE enquiries ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE enquiries ADD COLUMN resolved_at TIMESTAMP;
-- Enquiries resolved before this column existed: their last change is the best guess.
UPDATE enquiries SET resolved_at = updated_at WHERE status = 'resolved';

CREATE INDEX enquiries_channel_idx ON enquiries (channel, id);
CREATE INDEX enquiries_occurred_idx ON enquiries (occurred_at);
-- The to-do list (`follow_up_before`) and the due scan.
CREATE INDEX enquiries_follow_up_idx ON enquiries (follow_up_at) WHERE follow_up_at IS NOT NULL;
CREATE INDEX enquiries_follow_up_due_idx ON enquiries (follow_up_at)
    WHERE follow_up_at IS NOT NULL AND follow_up_due_at IS NULL;
