-- 0010: the API and the trainers connect as trainyard_app, a role that owns
-- nothing: it may read and write the rows of the tables it uses, take ids
-- from their sequences and LISTEN/NOTIFY (which any role may), and nothing
-- else: no DDL, no TRUNCATE, no triggers, no references, no changing the
-- migration history. The owner (whoever runs `trainyard migrate`) keeps
-- everything.
--
-- The role is created here only if it is missing (as NOLOGIN: whoever set up
-- the cluster gives it LOGIN and a password, scripts/stack.sh or the compose
-- migrate one-shot); creating it needs CREATEROLE, which the owner has only
-- where an administrator gave it.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'trainyard_app') THEN
        CREATE ROLE trainyard_app NOLOGIN NOINHERIT;
    END IF;
    -- Only the owner and the application may connect to this database.
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO trainyard_app', current_database());
END $$;

-- PostgreSQL 15 already keeps PUBLIC from creating in schema public; say so
-- anyway for clusters upgraded from older versions.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO trainyard_app;

GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO trainyard_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO trainyard_app;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO trainyard_app;

-- The migration history is read (db_migrate finds nothing to do) but never
-- written by the application.
REVOKE INSERT, UPDATE, DELETE ON schema_migrations FROM trainyard_app;

-- Tables, sequences and functions later migrations create (as the same
-- owner) get the same grants without each migration having to remember.
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO trainyard_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO trainyard_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT EXECUTE ON FUNCTIONS TO trainyard_app;
