-- 0020: a job reaching a final state says so on trainyard_job_done (payload:
-- its id), whoever ends it (a trainer's finish, a kill, the reaper, an
-- operator in psql). The API's parker LISTENs to it to resume requests
-- that wait for a job (fcgi/park.h) without holding a worker.
CREATE OR REPLACE FUNCTION trainyard_job_done_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('trainyard_job_done', NEW.id::text);
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS jobs_done_notify ON jobs;
CREATE TRIGGER jobs_done_notify
    AFTER UPDATE OF state ON jobs
    FOR EACH ROW
    WHEN (NEW.state IN ('succeeded', 'failed', 'killed', 'timed_out')
          AND OLD.state IS DISTINCT FROM NEW.state)
    EXECUTE FUNCTION trainyard_job_done_notify();
