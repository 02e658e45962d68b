-- 0032: a model deleted by anyone (DELETE /v1/models or /api/v1/models/{id},
-- the retention collector, an operator in psql) says so on
-- trainyard_models (payload: its id). Every API worker LISTENs there and
-- drops the model from its cache before its next request, so no worker
-- keeps predicting with a model that no longer exists
-- (handlers/model_cache.h).
CREATE OR REPLACE FUNCTION trainyard_model_deleted_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('trainyard_models', OLD.id::text);
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS models_deleted_notify ON models;
CREATE TRIGGER models_deleted_notify
    AFTER DELETE ON models
    FOR EACH ROW
    EXECUTE FUNCTION trainyard_model_deleted_notify();
