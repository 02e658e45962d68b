-- 0033: a job trains on its dataset as it was when the job was submitted.
-- Akkio v1 appends replace a dataset's artifact (handlers/akkio_v1.c); a
-- job queued before an append used to read the new bytes when it started.
-- Each job now records the artifact at insert (this trigger, so every
-- dialect's submission does it), the trainer reads that artifact
-- (trainer/child.c), and the storage collector keeps an artifact that an
-- unfinished job is pinned to and reclaims it once the job is over
-- (db/retention.c).
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS dataset_artifact_id uuid;

-- FOR SHARE: a submission racing an append waits for the append's commit
-- and pins the new bytes, never the old ones the append may drop. As the
-- owner (SECURITY DEFINER), since row locks need more than the SELECT
-- right the trainer's role has on datasets.
CREATE OR REPLACE FUNCTION trainyard_job_pin_dataset() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    IF NEW.dataset_id IS NOT NULL AND NEW.dataset_artifact_id IS NULL THEN
        SELECT artifact_id INTO NEW.dataset_artifact_id FROM datasets
            WHERE id = NEW.dataset_id FOR SHARE;
    END IF;
    RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS jobs_pin_dataset ON jobs;
CREATE TRIGGER jobs_pin_dataset
    BEFORE INSERT OR UPDATE OF dataset_id ON jobs
    FOR EACH ROW
    EXECUTE FUNCTION trainyard_job_pin_dataset();

-- The collector's check: is an artifact pinned by a job not yet over?
CREATE INDEX IF NOT EXISTS jobs_dataset_artifact ON jobs (dataset_artifact_id)
    WHERE dataset_artifact_id IS NOT NULL AND state IN ('queued', 'building', 'running');
