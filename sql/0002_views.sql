-- 0002_views.sql — read-only views for inspecting the queue with psql.
--
--   SELECT * FROM trainyard_jobs LIMIT 20;
--   SELECT * FROM trainyard_queue;

CREATE OR REPLACE VIEW trainyard_jobs AS
SELECT j.id,
       w.name AS workspace,
       j.state,
       j.dialect,
       coalesce(d.name, CASE WHEN j.bundle_id IS NOT NULL THEN '(bundle)' END) AS dataset,
       (SELECT string_agg(f, ',') FROM jsonb_array_elements_text(
            CASE WHEN jsonb_typeof(j.spec->'predict_fields') = 'array'
                 THEN j.spec->'predict_fields' ELSE '[]'::jsonb END) AS f) AS predict,
       j.attempts || '/' || j.max_attempts AS attempts,
       coalesce(j.lease_owner, j.trainer) AS trainer,
       round((j.progress * 100)::numeric, 0) || '%' AS progress,
       date_trunc('second', j.created_at) AS created,
       date_trunc('millisecond', coalesce(j.started_at, now()) - j.created_at) AS waited,
       date_trunc('millisecond', coalesce(j.finished_at, now()) - j.started_at) AS ran,
       CASE WHEN j.kill_requested_at IS NOT NULL THEN 'kill requested' END AS kill,
       j.error
  FROM jobs j
  JOIN workspaces w ON w.id = j.workspace_id
  LEFT JOIN datasets d ON d.id = j.dataset_id
 ORDER BY j.created_at DESC;

CREATE OR REPLACE VIEW trainyard_queue AS
SELECT s.state,
       count(j.id) AS jobs,
       CASE WHEN s.state = 'queued'
            THEN date_trunc('millisecond', now() - min(j.created_at)) END AS oldest_age
  FROM unnest(ARRAY['queued', 'building', 'running', 'succeeded', 'failed', 'killed',
                    'timed_out']) WITH ORDINALITY AS s(state, ord)
  LEFT JOIN jobs j ON j.state = s.state
 GROUP BY s.state, s.ord
 ORDER BY s.ord;
