ALTER TABLE campaigns DROP COLUMN content_html;
ALTER TABLE messages DROP COLUMN html_body;
DROP TABLE flow_segment_members;
DROP TABLE flow_cursor;
DROP TABLE flow_contacts;
DROP TABLE flow_runs;
DROP TABLE flow_versions;
DROP TABLE flows;
