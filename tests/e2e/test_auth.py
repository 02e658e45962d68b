"""Authentication and workspace isolation, in each dialect's shape."""
import uuid

import pytest

from conftest import Client, job_id_of


AKKIO_ROUTES = [("GET", "/api/v1/datasets"), ("POST", "/api/v1/models/train/new"),
                ("GET", "/api/v1/models/train/00000000-0000-0000-0000-000000000000/status")]


@pytest.mark.parametrize("method,path", AKKIO_ROUTES)
def test_akkio_no_key_is_401_detail(anon, method, path):
    kw = {"json": {}} if method == "POST" else {}
    r = anon.request(method, path, no_key=True, **kw)
    assert r.status_code == 401, r.text
    doc = r.json()
    assert isinstance(doc["detail"], str) and doc["detail"]


def test_akkio_bad_key_is_401(api):
    r = api.get("/api/v1/datasets", key="ty_000000000000_" + "0" * 64)
    assert r.status_code == 401
    assert isinstance(r.json()["detail"], str)
    r = api.get("/api/v1/datasets", key="garbage")
    assert r.status_code == 401


def test_strapi_no_key_is_403_code_message(anon):
    r = anon.get("/trainings", no_key=True)
    assert r.status_code == 403
    doc = r.json()
    assert doc["code"] == 403 and isinstance(doc["message"], str)
    r = anon.post("/trainings", no_key=True, json={"uuid": "x"})
    assert r.status_code == 403


def test_strapi_bad_key_is_403(api):
    r = api.get("/trainings", key="ty_000000000000_" + "1" * 64)
    assert r.status_code == 403
    assert r.json()["code"] == 403


def test_workspace_no_key_has_error_code(anon, dev_workspace):
    r = anon.get("/train/%s" % dev_workspace, no_key=True)
    assert r.status_code == 401
    assert r.json() == {"error_code": "UNAUTHORIZED", "message": "missing API key: send it as "
                        "X-API-Key, X-Token or Authorization: Bearer"}


def test_bearer_and_x_api_key_both_work(stack, dev_key):
    for header in ("X-API-Key", "Authorization"):
        c = Client(stack.base_url, dev_key, header=header)
        assert c.get("/api/v1/datasets").status_code == 200
        assert c.get("/trainings").status_code == 200


def test_revoked_key_is_refused(stack, make_workspace):
    name, key, c = make_workspace("revoke")
    # Enough requests that every API worker has checked, and cached, the key:
    # revocation must reach the caches at once (NOTIFY), not after they expire.
    for _ in range(12):
        assert c.get("/api/v1/datasets").status_code == 200
    # A second key of the same workspace survives the revocation of the first.
    key2 = stack.cli("key", "create", name).stdout.strip().splitlines()[-1].strip()
    prefix = key.split("_")[1] if key.count("_") >= 2 else key
    stack.cli("key", "revoke", prefix)
    for _ in range(12):
        r = c.get("/api/v1/datasets")
        assert r.status_code == 401
    assert c.get("/trainings").status_code == 403
    assert c.get("/api/v1/datasets", key=key2).status_code == 200


@pytest.mark.parametrize("how", ["update", "delete"])
def test_key_revoked_by_sql_is_refused_at_once(stack, make_workspace, how):
    name, key, c = make_workspace("sqlrevoke")
    for _ in range(12):
        assert c.get("/api/v1/datasets").status_code == 200
    prefix = key.split("_")[1]
    if how == "update":
        stack.sql("UPDATE api_keys SET revoked_at = now() WHERE prefix = :'p1'", prefix)
    else:
        stack.sql("DELETE FROM api_keys WHERE prefix = :'p1'", prefix)
    # The trigger's NOTIFY empties every worker's cache: no 60 s window.
    for _ in range(12):
        assert c.get("/api/v1/datasets").status_code == 401


def test_keys_are_stored_hashed(sql, dev_key):
    rows = sql("SELECT * FROM api_keys")
    assert rows
    for row in rows:
        assert dev_key not in row


def test_other_workspace_ids_are_404(api, other, churn):
    _, _, them = other
    ds = churn["dataset_id"]
    assert api.get("/api/v1/datasets/%s" % ds).status_code == 200
    r = them.get("/api/v1/datasets/%s" % ds)
    assert r.status_code == 404
    assert them.delete("/api/v1/datasets/%s" % ds).status_code == 404
    assert api.get("/api/v1/datasets/%s" % ds).status_code == 200
    # Their listing does not show it.
    listing = them.get("/api/v1/datasets").json()
    assert ds not in str(listing)
    # Nor can they train on it: unknown dataset, shaped as Akkio validation.
    r = them.post("/api/v1/models/train/new",
                  json={"dataset_id": ds, "predict_fields": ["churn"], "duration": 10})
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body", "dataset_id"]
    assert r.json()["detail"][0]["msg"] == ('Value error, there is no dataset with id "%s" '
                                            'in this workspace' % ds)


def test_other_workspace_task_is_404(api, other, background):
    _, _, them = other
    task = background.task("churn")
    for suffix in ("status", "result"):
        r = them.get("/api/v1/models/train/%s/%s" % (task, suffix))
        assert r.status_code == 404, r.text
        assert "detail" in r.json()


def test_other_workspace_training_doc_is_404(api, other):
    _, _, them = other
    r = api.post("/trainings", json={"uuid": "iso-doc-%s" % uuid.uuid4().hex, "accuracy": 0.5})
    assert r.status_code == 200, r.text
    doc_id = r.json()["id"]
    for method in ("GET", "PUT", "DELETE"):
        kw = {"json": {"accuracy": 0.1}} if method == "PUT" else {}
        r = them.request(method, "/trainings/%s" % doc_id, **kw)
        assert r.status_code == 404, (method, r.text)
        assert r.json()["code"] == 404
    assert api.get("/trainings/%s" % doc_id).json()["accuracy"] == 0.5
    assert doc_id not in [d["id"] for d in them.get("/trainings").json()]


def test_other_workspace_path_is_404(api, other, dev_workspace):
    name, _, them = other
    r = them.get("/train/%s" % dev_workspace)
    assert r.status_code == 404
    assert "error_code" in r.json()
    r = api.get("/train/%s" % name)
    assert r.status_code == 404
