-- 0003: the result document keeps its key order, and live jobs' dedupe keys
-- are unique so that enqueue needs no lock.

-- json, not jsonb: jsonb reorders keys, and the Akkio result is read by
-- people next to the documented example.
ALTER TABLE jobs ALTER COLUMN result TYPE json USING result::json;

-- At most one live job per Akkio "identical request": enqueue inserts with
-- ON CONFLICT DO NOTHING against this index, in one statement. (The lock
-- that guarded the lookup before kept duplicates out, so none exist.)
DROP INDEX IF EXISTS jobs_dedupe;
CREATE UNIQUE INDEX jobs_dedupe ON jobs (workspace_id, dedupe_key)
    WHERE dedupe_key IS NOT NULL AND state IN ('queued', 'building', 'running', 'succeeded');
