-- Nothing to undo: the freed keys are gone.
SELECT 1;
