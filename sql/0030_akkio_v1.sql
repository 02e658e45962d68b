-- 0030_akkio_v1.sql — Akkio's legacy /v1 API (handlers/akkio_v1.c).
--
-- GET /v1/models lists a workspace's models newest first: without an index
-- that is a scan of every workspace's models.
CREATE INDEX IF NOT EXISTS models_workspace ON models (workspace_id, created_at DESC);
