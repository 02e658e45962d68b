"""test_workspace_choice.py — X-Trainyard-Workspace: an account's key acts in
any of its workspaces on the routes without one in their path (/api/v1,
/trainings, Akkio's /v1), refused with 403 in each dialect's shape for a
workspace it may not use; a key made --only cannot switch at all.

One account, two workspaces A (its default) and B: datasets, models and
jobs made in B are invisible with A chosen and the other way round.
"""
import uuid

import pytest

from conftest import Client

H = "X-Trainyard-Workspace"


@pytest.fixture(scope="module")
def account(stack, churn_csv):
    a = "acct-" + uuid.uuid4().hex[:8]
    key = stack.cli("workspace", "create", a).stdout.strip().splitlines()[-1]
    b = a + "-b"
    stack.cli("workspace", "create", b, "--account", a)
    c = Client(stack.base_url, key)
    # One dataset and one trained model in each, chosen by header.
    made = {}
    for ws in (a, b):
        r = c.post("/api/v1/datasets", params={"name": "churn-" + ws}, data=churn_csv.encode(),
                   headers={"Content-Type": "text/csv", H: ws})
        assert r.status_code == 201, r.text
        ds = r.json()["dataset_id"]
        r = c.post("/api/v1/models/train/new", headers={H: ws},
                   json={"dataset_id": ds, "predict_fields": ["churn"], "duration": 10})
        assert r.status_code == 201, r.text
        made[ws] = {"dataset": ds, "task": r.json()["task_id"]}
    for ws in (a, b):
        made[ws]["model"] = None
    return {"a": a, "b": b, "key": key, "client": c, "made": made}


def wait_model(c, ws, task):
    import time
    deadline = time.time() + 180
    while time.time() < deadline:
        st = c.get("/api/v1/models/train/%s/status" % task, headers={H: ws}).json()
        if st["status"] in ("SUCCEEDED", "FAILED", "UNKNOWN_TIMEOUT"):
            assert st["status"] == "SUCCEEDED", st
            return c.get("/api/v1/models/train/%s/result" % task, headers={H: ws}).json()["model_id"]
        time.sleep(0.5)
    raise AssertionError("task %s not done" % task)


def test_choice_separates_datasets_models_and_jobs(account):
    c, a, b, made = account["client"], account["a"], account["b"], account["made"]
    for ws in (a, b):
        made[ws]["model"] = wait_model(c, ws, made[ws]["task"])
    for mine, theirs in ((a, b), (b, a)):
        h = {H: mine}
        ids = [d["dataset_id"] for d in c.get("/api/v1/datasets", headers=h).json()["datasets"]]
        assert made[mine]["dataset"] in ids and made[theirs]["dataset"] not in ids
        assert c.get("/api/v1/datasets/%s" % made[theirs]["dataset"], headers=h).status_code == 404
        models = [m["model_id"] for m in c.get("/api/v1/models", headers=h).json()["models"]]
        assert made[mine]["model"] in models and made[theirs]["model"] not in models
        assert c.get("/api/v1/models/%s" % made[theirs]["model"], headers=h).status_code == 404
        r = c.get("/api/v1/models/train/%s/status" % made[theirs]["task"], headers=h)
        assert r.status_code == 404
        v1 = [m["id"] for m in c.get("/v1/models", headers=h).json()["models"]]
        assert made[mine]["model"] in v1 and made[theirs]["model"] not in v1
        # The KAOS page of the chosen workspace lists its own jobs only.
        jobs = [j["job_id"] for j in c.get("/train/%s" % mine).json()["response"]["jobs"]]
        assert made[mine]["task"] in jobs and made[theirs]["task"] not in jobs
        # GET /workspace names the workspace the request acts in.
        assert c.get("/workspace", headers=h).json()["response"]["current"] == mine
    # No header: the key's own workspace (here the account's default, A).
    ids = [d["dataset_id"] for d in c.get("/api/v1/datasets").json()["datasets"]]
    assert made[a]["dataset"] in ids and made[b]["dataset"] not in ids


def test_choice_reaches_trainings_collection(account):
    c, a, b = account["client"], account["a"], account["b"]
    doc = {"uuid": "wc-" + uuid.uuid4().hex[:8], "version": "v1"}
    r = c.post("/trainings", json=doc, headers={H: b})
    assert r.status_code in (200, 201), r.text
    in_b = [d["uuid"] for d in c.get("/trainings", headers={H: b}).json()]
    in_a = [d["uuid"] for d in c.get("/trainings", headers={H: a}).json()]
    assert doc["uuid"] in in_b and doc["uuid"] not in in_a


def test_choice_refused_in_each_dialects_shape(account, other):
    c = account["client"]
    # A workspace of another account, and one of no account: the same 403.
    for bad in (other[0], "no-such-ws-" + uuid.uuid4().hex[:6]):
        r = c.get("/api/v1/datasets", headers={H: bad})
        assert r.status_code == 403, r.text
        doc = r.json()
        assert H in doc["detail"] and bad in doc["detail"], doc
        r = c.get("/trainings", headers={H: bad})
        assert r.status_code == 403 and r.json()["code"] == 403, r.text
        assert H in r.json()["message"] or bad in r.json()["message"], r.text
        r = c.get("/v1/models", headers={H: bad})
        assert r.status_code == 403 and r.json()["status"] == "error", r.text
        assert r.json().get("field") == H, r.text
    # The other account's own key cannot reach ours either.
    r = other[2].get("/api/v1/datasets", headers={H: account["b"]})
    assert r.status_code == 403


def test_choice_documented_in_openapi(anon):
    doc = anon.get("/openapi.json").json()
    params = doc["paths"]["/api/v1/datasets"]["get"]["parameters"]
    assert any(p["name"] == H and p["in"] == "header" for p in params)
    assert not any(p["name"] == H for p in doc["paths"]["/train/{workspace}"]["get"].get("parameters", []))


def test_key_kept_to_one_workspace_cannot_switch(stack, account):
    a, b, made = account["a"], account["b"], account["made"]
    only = stack.cli("key", "create", b, "--account", a, "--only").stdout.strip().splitlines()[-1]
    k = Client(stack.base_url, only)
    # Without a header it acts in its own workspace, B (not the account's default).
    ids = [d["dataset_id"] for d in k.get("/api/v1/datasets").json()["datasets"]]
    assert made[b]["dataset"] in ids and made[a]["dataset"] not in ids
    assert k.get("/api/v1/datasets", headers={H: b}).status_code == 200
    r = k.get("/api/v1/datasets", headers={H: a})
    assert r.status_code == 403 and "own workspace only" in r.text, r.text
    # Nor by a KAOS path; and its workspace list shows its own only.
    r = k.get("/train/%s" % a)
    assert r.status_code == 403 and r.json()["error_code"], r.text
    assert k.get("/train/%s" % b).status_code == 200
    ws = k.get("/workspace").json()["response"]
    assert ws["names"] == [b] and ws["current"] == b and ws["workspace_only"] is True
    # An account-wide key made for B acts in B by default, and may switch.
    kb = Client(stack.base_url,
                stack.cli("key", "create", b, "--account", a).stdout.strip().splitlines()[-1])
    assert kb.get("/workspace").json()["response"]["current"] == b
    ids = [d["dataset_id"] for d in kb.get("/api/v1/datasets", headers={H: a}).json()["datasets"]]
    assert made[a]["dataset"] in ids
    # Usage errors of the admin command.
    p = stack.cli("key", "create", "nope-" + uuid.uuid4().hex[:6], "--account", a, check=False)
    assert p.returncode != 0 and "no workspace" in p.stderr
