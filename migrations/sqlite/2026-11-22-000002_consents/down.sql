DROP TABLE customer_consents;
DROP TABLE consent_events;
