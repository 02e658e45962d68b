"""Per-workspace limits (issue 7, sharing): set by the admin CLI, enforced at
submission and upload in every dialect, answered 429 (413 for bytes) in the
dialect's own error shape with a message naming the limit and its value."""
import io
import json
import tarfile
import uuid

import pytest


def bundle_of(csv_text):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in (("trainyard.json", json.dumps(
                {"dataset": "data/train.csv", "predict_fields": ["churn"], "duration": 10}).encode()),
                           ("data/train.csv", csv_text.encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def limited(stack, make_workspace, churn_csv):
    """A workspace with one dataset, whose queue cannot move: max_running 1
    and one job held as running by a trainer that does not exist (its lease
    far away), so that whatever is submitted stays queued."""
    name, key, client = make_workspace("limits")
    ds = client.upload_csv(churn_csv, name="churn")["dataset_id"]
    ws = stack.sql_value("SELECT id FROM workspaces WHERE name = :'p1'", name)
    stack.cli("limits", "set", name, "--running", "1", "--queued", "2")
    stack.sql("INSERT INTO jobs (workspace_id, dialect, state, lease_owner, lease_expires_at)"
              " VALUES (:'p1', 'akkio', 'running', 'nobody', now() + interval '1 hour')", ws)
    yield name, client, ds
    stack.sql("UPDATE jobs SET state = 'killed', lease_owner = NULL, finished_at = now()"
              " WHERE workspace_id = :'p1' AND state IN ('queued', 'building', 'running')", ws)


def fill_queue(client, ds):
    for _ in range(2):
        client.train(ds, ["churn"], force=True)


def test_limits_show_and_set(stack, make_workspace):
    name, _, _ = make_workspace("limits")
    out = stack.cli("limits", "show", name).stdout
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:]}
    assert rows["queued"] == ["100000", "0"] and rows["running"][0] == "64", out
    assert rows["bytes"][0] == str(100 * 2**30) and rows["datasets"] == ["10000", "0"], out
    stack.cli("limits", "set", name, "--bytes", "1m", "--datasets", "7")
    rows = {line.split()[0]: line.split()[1:] for line in
            stack.cli("limits", "show", name).stdout.splitlines()[1:]}
    assert rows["bytes"][0] == "1048576" and rows["datasets"][0] == "7"
    assert rows["queued"][0] == "100000", "limits not named stay as they were"
    p = stack.cli("limits", "set", name, "--queued", "0", check=False)
    assert p.returncode != 0 and "--queued" in p.stderr
    p = stack.cli("limits", "set", "no-such-" + uuid.uuid4().hex[:8], "--queued", "5", check=False)
    assert p.returncode != 0 and "no workspace" in p.stderr


def test_queued_limit_akkio(limited):
    name, client, ds = limited
    fill_queue(client, ds)
    r = client.post("/api/v1/models/train/new",
                    json={"dataset_id": ds, "predict_fields": ["churn"], "duration": 10, "force": True})
    assert r.status_code == 429, r.text
    assert r.json() == {"detail": "limit reached: at most 2 queued jobs per workspace (max_queued = 2)"}


def test_queued_limit_strapi(limited):
    name, client, ds = limited
    fill_queue(client, ds)
    r = client.post("/trainings", json={"uuid": uuid.uuid4().hex,
                                        "meta": {"dataset_id": ds, "predict_fields": ["churn"]}})
    assert r.status_code == 429, r.text
    body = r.json()
    assert body["code"] == 429 and "max_queued = 2" in body["message"], body
    assert set(body) == {"code", "message"}


def test_queued_limit_workspace(limited, churn_csv):
    name, client, ds = limited
    fill_queue(client, ds)
    r = client.post("/train/%s" % name, data=bundle_of(churn_csv),
                    headers={"Content-Type": "application/gzip"})
    assert r.status_code == 429, r.text
    body = r.json()
    assert body["error_code"] == "TOO_MANY_REQUESTS" and "max_queued = 2" in body["message"], body


def test_bytes_limit(stack, make_workspace, churn_csv):
    name, _, client = make_workspace("bytes")
    client.upload_csv(churn_csv, name="first")
    used = int(stack.sql_value("SELECT u.bytes FROM workspace_usage u JOIN workspaces w"
                               " ON w.id = u.workspace_id WHERE w.name = :'p1'", name))
    assert used == len(churn_csv.encode())
    stack.cli("limits", "set", name, "--bytes", str(used + 100))
    r = client.post("/api/v1/datasets", params={"name": "second"}, data=churn_csv.encode(),
                    headers={"Content-Type": "text/csv"})
    assert r.status_code == 413, r.text
    # /api/v1/datasets speaks the Akkio dialect: {"detail": "<message>"}.
    assert r.json() == {"detail": "limit reached: at most %d bytes stored per workspace"
                                  " (max_bytes = %d); with this upload it would hold %d"
                                  % (used + 100, used + 100, used + len(churn_csv.encode()))}
    r = client.post("/train/%s" % name, data=bundle_of(churn_csv),
                    headers={"Content-Type": "application/gzip"})
    assert r.status_code == 413, r.text
    assert r.json()["error_code"] == "PAYLOAD_TOO_LARGE" and "max_bytes" in r.json()["message"]
    # Nothing was kept of the refused uploads.
    assert int(stack.sql_value("SELECT u.bytes FROM workspace_usage u JOIN workspaces w"
                               " ON w.id = u.workspace_id WHERE w.name = :'p1'", name)) == used


def test_datasets_limit(stack, make_workspace):
    name, _, client = make_workspace("datasets")
    stack.cli("limits", "set", name, "--datasets", "1")
    client.upload_csv("a,b\n1,2\n", name="one")
    r = client.post("/api/v1/datasets", params={"name": "two"}, data=b"a,b\n1,2\n",
                    headers={"Content-Type": "text/csv"})
    assert r.status_code == 429, r.text
    assert r.json() == {"detail": "limit reached: at most 1 datasets per workspace"
                                  " (max_datasets = 1)"}
