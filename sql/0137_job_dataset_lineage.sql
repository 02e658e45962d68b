-- 0137: a job records what its dataset was when it was submitted: the
-- SHA-256, size and row count of the bytes it pinned (0033). Akkio v1
-- appends replace a dataset's bytes (handlers/akkio_v1.c), so the dataset
-- row's own hash and size describe its latest bytes, not the ones an older
-- model was trained on; a model's lineage (handlers/lineage.h) reads these
-- instead, and the pinned artifact may be collected long after.
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS dataset_sha256 text;
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS dataset_size bigint;
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS dataset_rows bigint;

-- The trigger of 0033, recording the three with the artifact, from the
-- same locked row.
CREATE OR REPLACE FUNCTION trainyard_job_pin_dataset() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    IF NEW.dataset_id IS NOT NULL AND NEW.dataset_artifact_id IS NULL THEN
        SELECT artifact_id, sha256, size, rows
            INTO NEW.dataset_artifact_id, NEW.dataset_sha256, NEW.dataset_size,
                 NEW.dataset_rows
            FROM datasets WHERE id = NEW.dataset_id FOR SHARE;
    END IF;
    RETURN NEW;
END
$$;

-- Jobs from before: the pinned artifact's hash and size where it is still
-- there (rows were not recorded per artifact: left unknown).
UPDATE jobs j SET dataset_sha256 = a.sha256, dataset_size = a.size
    FROM artifacts a
    WHERE a.id = j.dataset_artifact_id AND j.dataset_sha256 IS NULL;
