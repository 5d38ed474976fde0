-- Idempotency keys are now written with their response in the transaction of the work
-- itself. A key left "in progress" by a crash before this change guards nothing: free it,
-- so that the client's retry runs.
DELETE FROM idempotency_keys WHERE status <> 'done';
