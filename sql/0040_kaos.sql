-- 0040: accounts above workspaces, and KAOS's separate bundles.
--
-- Until now a workspace was the tenant and a key belonged to one. The tenant
-- becomes the account: it holds many workspaces (KAOS's /workspace/{name}),
-- its keys act in any of them by name and, where a route names none, in the
-- key's own workspace (api_keys.workspace_id, kept: the key's default).
--
-- Existing data migrates without loss: every existing workspace becomes an
-- account of the same name with that one workspace as its default, and its
-- keys belong to that account. Workspace names are unique per account from
-- now on (another account may use the same name without learning that it is
-- taken). A workspace inserted without an account (older code paths, the
-- `trainyard workspace create NAME` of before) still gets an account of its
-- own, of the same name, by the trigger below.

CREATE TABLE accounts (
    id                    bigserial PRIMARY KEY,
    name                  text NOT NULL UNIQUE,
    default_workspace_id  bigint,            -- set once its first workspace exists
    created_at            timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE workspaces ADD COLUMN account_id bigint REFERENCES accounts(id) ON DELETE CASCADE;

INSERT INTO accounts (name, default_workspace_id, created_at)
    SELECT name, id, created_at FROM workspaces ORDER BY id;
UPDATE workspaces w SET account_id = a.id FROM accounts a WHERE a.default_workspace_id = w.id;
ALTER TABLE workspaces ALTER COLUMN account_id SET NOT NULL;
ALTER TABLE accounts ADD CONSTRAINT accounts_default_workspace
    FOREIGN KEY (default_workspace_id) REFERENCES workspaces(id) ON DELETE SET NULL
    DEFERRABLE INITIALLY DEFERRED;

ALTER TABLE workspaces DROP CONSTRAINT workspaces_name_key;
CREATE UNIQUE INDEX workspaces_account_name ON workspaces (account_id, name);
CREATE INDEX workspaces_name ON workspaces (name);

ALTER TABLE api_keys ADD COLUMN account_id bigint REFERENCES accounts(id) ON DELETE CASCADE;
UPDATE api_keys k SET account_id = w.account_id FROM workspaces w WHERE w.id = k.workspace_id;
ALTER TABLE api_keys ALTER COLUMN account_id SET NOT NULL;

-- A workspace without an account gets one of its own (same name), whose
-- default it is; a key without an account belongs to its workspace's.
CREATE FUNCTION workspaces_account_default() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.account_id IS NULL THEN
        INSERT INTO accounts (name) VALUES (NEW.name) RETURNING id INTO NEW.account_id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER workspaces_account_default BEFORE INSERT ON workspaces
    FOR EACH ROW EXECUTE FUNCTION workspaces_account_default();

CREATE FUNCTION workspaces_account_first() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE accounts SET default_workspace_id = NEW.id
        WHERE id = NEW.account_id AND default_workspace_id IS NULL;
    RETURN NULL;
END $$;
CREATE TRIGGER workspaces_account_first AFTER INSERT ON workspaces
    FOR EACH ROW EXECUTE FUNCTION workspaces_account_first();

CREATE FUNCTION api_keys_account() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.account_id IS NULL THEN
        SELECT account_id INTO NEW.account_id FROM workspaces WHERE id = NEW.workspace_id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER api_keys_account BEFORE INSERT ON api_keys
    FOR EACH ROW EXECUTE FUNCTION api_keys_account();

-- KAOS's bundles, as they arrive: source code (POST /train/{ws}), data
-- (POST /data/{ws}/features) and hyperparameters (POST /data/{ws}/params).
-- The bytes are an artifact; what the upload's check found is kept beside
-- it so that the pipeline (latest code x latest data x latest params) needs
-- no second look at the archive.
CREATE TABLE kaos_bundles (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id  bigint NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    kind          text NOT NULL CHECK (kind IN ('code', 'data', 'params')),
    artifact_id   uuid REFERENCES artifacts(id) ON DELETE SET NULL,
    format        text NOT NULL CHECK (format IN ('zip', 'tar')),
    size          bigint NOT NULL DEFAULT 0,
    sha256        text,
    root          text,            -- the one root folder (code, data)
    files         jsonb,           -- params: the hyperparameter files' names
    parallelism   integer NOT NULL DEFAULT 1 CHECK (parallelism >= 1),
    user_name     text,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX kaos_bundles_latest ON kaos_bundles (workspace_id, kind, created_at DESC);
CREATE INDEX kaos_bundles_artifact ON kaos_bundles (artifact_id) WHERE artifact_id IS NOT NULL;
