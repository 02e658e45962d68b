-- 0152: a key kept to one workspace, and the console's live job events.
--
-- api_keys.workspace_only: a key acts in its own workspace (api_keys.
-- workspace_id) and, by default, in any other workspace of its account when
-- a request names one (a KAOS path, or the X-Trainyard-Workspace header on
-- the routes without a workspace in their path). A key made with
-- `trainyard key create WORKSPACE --account ACCOUNT --only` cannot switch:
-- naming another workspace is refused with 403.
--
-- jobs (workspace_id, updated_at): GET /api/v1/events polls a workspace's
-- jobs changed since its last look once a second (handlers/events.c says
-- why a poll and not a NOTIFY per change); this index makes that look a
-- range scan of the few rows that changed.

ALTER TABLE api_keys ADD COLUMN workspace_only boolean NOT NULL DEFAULT false;

CREATE INDEX jobs_workspace_updated ON jobs (workspace_id, updated_at);
