"""Authentication and workspace isolation, in each dialect's shape."""
import os
import re
import threading
import uuid

import pytest
import requests

from conftest import Client, children_of, job_id_of


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


# --- every API worker ------------------------------------------------------------
#
# Sequential requests from one client reach one API worker (nginx reuses its
# idle FastCGI connection), so "12 requests" proves nothing about the others.
# These helpers send bursts of parallel requests, each on a connection of its
# own, and read each worker's own counters from /metrics (the pool's shared
# counters, one series per live worker labelled with its pid) until every
# worker of the pool is known to have served one of them.

def n_workers():
    return int(os.environ.get("TRAINYARD_WORKERS") or os.cpu_count() or 2)


def burst(fn, n=16):
    """n calls of fn at once (released together), each on its own connection."""
    out = []
    gate = threading.Barrier(n)

    def run():
        gate.wait()
        out.append(fn())

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def worker_4xx(stack):
    """{worker pid: 4xx answered}, one reading from every worker."""
    seen = {}

    def read():
        text = requests.get(stack.base_url + "/metrics", timeout=30).text
        return {int(m.group(1)): int(m.group(2)) for m in re.finditer(
            r'^trainyard_api_worker_requests_total\{worker="(\d+)",class="4xx"\} (\d+)$',
            text, re.M)}

    for _ in range(100):
        for one in burst(read):
            for pid, v in one.items():
                seen[pid] = max(v, seen.get(pid, 0))
        if len(seen) >= n_workers():
            break
    if len(seen) != n_workers():
        # Name the silent workers and what they are doing, for the report.
        master = stack.pidfile("api")
        states = {}
        for pid in children_of(master):
            try:
                with open("/proc/%d/wchan" % pid) as f:
                    states[pid] = f.read()
            except OSError:
                states[pid] = "?"
        raise AssertionError("not every worker answered /metrics: %r; the master's children "
                             "(wchan): %r" % (seen, states))
    return seen


def on_every_worker(stack, request, expect):
    """Sends request() in parallel bursts (each answer must have status
    expect, a 4xx) until every worker's 4xx count has moved: each worker has
    served at least one. Returns the number of requests sent."""
    before = worker_4xx(stack)
    sent = 0
    for _ in range(100):
        statuses = burst(request)
        sent += len(statuses)
        assert statuses == [expect] * len(statuses), statuses
        after = worker_4xx(stack)
        assert set(after) == set(before), "the pool changed under the test"
        if all(after[p] > before[p] for p in before):
            return sent
    raise AssertionError("some worker never served the request: %r -> %r" % (before, after))


def test_revoked_key_is_refused(stack, make_workspace):
    name, key, c = make_workspace("revoke")
    missing = "/api/v1/datasets/00000000-0000-0000-0000-000000000000"
    # Every API worker checks, and caches, the key (a 404 with it: counted as
    # a 4xx by the worker that answered): revocation must reach every cache
    # at once (NOTIFY), not after the entries expire.
    on_every_worker(stack, lambda: Client(stack.base_url, key).get(missing).status_code, 404)
    # A second key of the same workspace survives the revocation of the first.
    key2 = stack.cli("key", "create", name).stdout.strip().splitlines()[-1].strip()
    prefix = key.split("_")[1] if key.count("_") >= 2 else key
    stack.cli("key", "revoke", prefix)
    on_every_worker(stack, lambda: Client(stack.base_url, key).get(missing).status_code, 401)
    assert c.get("/trainings").status_code == 403
    assert c.get("/api/v1/datasets", key=key2).status_code == 200


@pytest.mark.parametrize("how", ["update", "delete"])
def test_key_revoked_by_sql_is_refused_at_once(stack, make_workspace, how):
    name, key, c = make_workspace("sqlrevoke")
    missing = "/api/v1/datasets/00000000-0000-0000-0000-000000000000"
    on_every_worker(stack, lambda: Client(stack.base_url, key).get(missing).status_code, 404)
    prefix = key.split("_")[1]
    if how == "update":
        stack.sql("UPDATE api_keys SET revoked_at = now() WHERE prefix = :'p1'", prefix)
    else:
        stack.sql("DELETE FROM api_keys WHERE prefix = :'p1'", prefix)
    # The trigger's NOTIFY empties every worker's cache: no 60 s window.
    on_every_worker(stack, lambda: Client(stack.base_url, key).get(missing).status_code, 401)


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
