"""The training worker reads bundles itself (the runner never parses one): a
bundle job's first run builds its dataset from the CSV the worker extracts;
a later run of the same job (a retry after the build) still trains with the
bundle's trainyard.json, which the worker reads again from the bundle."""
from conftest import job_id_of
from test_workspace import SPEC, job_state, make_bundle, submit, wait_state


def test_bundle_job_built_then_trained_again(api, make_workspace, churn_csv, sql):
    ws, key, client = make_workspace("worker")
    spec = dict(SPEC, duration=10, ignore_fields=["tenure"])
    r = submit(client, ws, make_bundle(churn_csv, spec, code=False))
    assert r.status_code == 200, r.text
    job = job_id_of(r.json())
    doc = wait_state(client, ws, job, ("succeeded", "failed"))
    assert job_state(doc) == "succeeded", doc
    ds = sql("SELECT dataset_id FROM jobs WHERE id = :'p1'", job)[0][0]
    assert ds and sql("SELECT rows FROM datasets WHERE id = :'p1'", ds)[0][0] == "500"
    # Run it again as a retry would: the dataset is built, the bundle still
    # says what to ignore.
    sql("UPDATE jobs SET state = 'queued', finished_at = NULL, result = NULL,"
        " dedupe_key = NULL WHERE id = :'p1'; SELECT pg_notify('trainyard_jobs', :'p1')", job)
    doc = wait_state(client, ws, job, ("succeeded", "failed"))
    assert job_state(doc) == "succeeded", doc
    assert sql("SELECT count(*) FROM models WHERE job_id = :'p1'", job)[0][0] == "2"
    assert sql("SELECT dataset_id FROM jobs WHERE id = :'p1'", job)[0][0] == ds
    logs = [l for (l,) in sql("SELECT line FROM job_logs WHERE job_id = :'p1' ORDER BY id", job)]
    assert sum(1 for l in logs if l.startswith("built dataset")) == 1, logs
    assert sum(1 for l in logs if l.startswith("dataset loaded: 500 rows, 20 columns")) == 2, logs
    imp = sql("SELECT result->'field_importance' FROM jobs WHERE id = :'p1'", job)[0][0]
    assert imp and "tenure" not in imp, imp
