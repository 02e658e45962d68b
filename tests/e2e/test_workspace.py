"""The workspace jobs API (seeds/001, after KAOS): bundles, job info, logs,
provenance, bundle download and kill."""
import io
import json
import re
import tarfile
import time

import pytest

from conftest import job_id_of, items_of, ws_count


def make_bundle(csv_text, spec, code=True, extra=None):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        def add(name, data, **kw):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            for k, v in kw.items():
                setattr(info, k, v)
            tar.addfile(info, io.BytesIO(data))
        add("trainyard.json", json.dumps(spec).encode())
        add("data/train.csv", csv_text.encode())
        if code:
            add("code/train.py", b"# user code travels with the bundle\nprint('hello')\n")
        for entry in extra or []:
            entry(tar, add)
    return buf.getvalue()


def submit(api, ws, bundle, user=None, multipart=False):
    params = {"user": user} if user else None
    if multipart:
        return api.post("/train/%s" % ws, params=params,
                        files={"data": ("bundle.tar.gz", bundle, "application/gzip")})
    return api.post("/train/%s" % ws, params=params, data=bundle,
                    headers={"Content-Type": "application/gzip"})


def job_info(api, ws, job, **params):
    r = api.post("/train/%s/%s" % (ws, job), params=params or None)
    assert r.status_code == 200, r.text
    doc = r.json()
    # KAOS's shape: {"page_id", "page_count", "response": {...}}
    assert doc["page_id"] == int(params.get("page_id", 0)) and "page_count" in doc, doc
    return doc["response"]


def job_state(doc):
    for k in ("state", "status"):
        if k in doc:
            return doc[k]
    return doc.get("job", {}).get("state")


def wait_state(api, ws, job, states, timeout=150):
    deadline = time.time() + timeout
    doc = None
    while time.time() < deadline:
        doc = job_info(api, ws, job)
        if job_state(doc) in states:
            return doc
        time.sleep(0.3)
    raise AssertionError("job %s never reached %s: %s" % (job, states, doc))


SPEC = {"dataset": "data/train.csv", "predict_fields": ["churn"], "duration": 10}


@pytest.fixture(scope="module")
def ws_job(api, dev_workspace, churn_csv):
    r = submit(api, dev_workspace, make_bundle(churn_csv, SPEC), user="alice")
    assert r.status_code == 200, r.text
    return job_id_of(r.json())


def test_submit_raw_bundle_and_list(api, dev_workspace, ws_job):
    listing = api.get("/train/%s" % dev_workspace)
    assert listing.status_code == 200
    assert ws_job in listing.text


def test_submit_multipart_bundle(api, dev_workspace, churn_csv):
    r = submit(api, dev_workspace, make_bundle(churn_csv, SPEC, code=False), multipart=True)
    assert r.status_code == 200, r.text
    # KAOS's client reads the upload's name at the top level
    assert re.match(r"^[0-9a-f]{10}$", r.json()["glob_name"]), r.json()
    job = job_id_of(r.json())
    wait_state(api, dev_workspace, job, ("succeeded", "failed", "killed", "timed_out"))


def test_inspect(api, dev_workspace, ws_job):
    r = api.get("/train/%s/inspect" % dev_workspace)
    assert r.status_code == 200
    doc = r.json()["response"]
    assert isinstance(doc, dict) and "jobs" in doc
    assert {"image", "data_glob", "hyper_glob"} <= set(doc)


def test_job_info_models_and_paging(api, dev_workspace, ws_job):
    doc = wait_state(api, dev_workspace, ws_job, ("succeeded", "failed"))
    assert job_state(doc) == "succeeded", doc
    assert "alice" in json.dumps(doc)
    models = items_of(doc, "models")
    assert models, doc
    assert "model_id" in models[0] and "metrics" in models[0]
    # The trained models (candidates of the search), page by page.
    page0 = job_info(api, dev_workspace, ws_job, page_id=0, sort_by="metric")
    trained = page0["trained_models"]
    assert trained["page_id"] == 0 and trained["total"] >= 1
    assert 1 <= len(trained["items"]) <= trained["total"]
    far = job_info(api, dev_workspace, ws_job, page_id=999)
    assert far["trained_models"]["items"] == []
    # GET answers the same as POST.
    r = api.get("/train/%s/%s" % (dev_workspace, ws_job))
    assert r.status_code == 200
    bad = api.post("/train/%s/%s" % (dev_workspace, ws_job), params={"page_id": "x"})
    assert bad.status_code == 422, bad.text
    assert bad.json() == {"error_code": "INVALID_REQUEST", "message": "page_id: Input should be "
                          "a valid integer, unable to parse string as an integer"}


def test_logs(api, dev_workspace, ws_job):
    wait_state(api, dev_workspace, ws_job, ("succeeded", "failed"))
    r = api.get("/train/%s/%s/logs" % (dev_workspace, ws_job))
    assert r.status_code == 200
    assert len(r.text) > 10


def tar_names(data):
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
        return tar.getnames()


def test_bundle_download_flags(api, dev_workspace, ws_job):
    wait_state(api, dev_workspace, ws_job, ("succeeded", "failed"))
    base = "/train/%s/%s/bundle" % (dev_workspace, ws_job)
    r = api.get(base, params={"include-code": "true", "include-data": "false",
                              "include-model": "false"})
    assert r.status_code == 200, r.text
    names = tar_names(r.content)
    assert any(n.endswith("train.py") for n in names), names
    assert not any(n.endswith("train.csv") for n in names), names
    r = api.get(base, params={"include-code": "false", "include-data": "true",
                              "include-model": "false"})
    names = tar_names(r.content)
    assert any(n.endswith("train.csv") for n in names), names
    assert not any(n.endswith("train.py") for n in names), names
    r = api.get(base, params={"include-code": "false", "include-data": "false",
                              "include-model": "true"})
    names = tar_names(r.content)
    assert any(n.endswith(".ubj") for n in names), names


def test_provenance(api, dev_workspace, ws_job):
    doc = wait_state(api, dev_workspace, ws_job, ("succeeded", "failed"))
    model_id = items_of(doc, "models")[0]["model_id"]
    r = api.get("/train/%s/%s/provenance" % (dev_workspace, model_id))
    assert r.status_code == 200, r.text
    text = r.text
    assert ws_job in text
    assert "churn" in text
    r = api.get("/train/%s/%s/provenance" % (dev_workspace, "00000000-0000-0000-0000-000000000000"))
    assert r.status_code == 404 and "error_code" in r.json()


def test_kill_shapes(api, dev_workspace, ws_job):
    wait_state(api, dev_workspace, ws_job, ("succeeded", "failed"))
    r = api.delete("/train/%s/%s/" % (dev_workspace, ws_job))
    assert r.status_code == 400
    assert r.json()["error_code"] == "JOB_NOT_RUNNING"
    assert ws_job in r.json()["message"]
    unknown = "00000000-0000-0000-0000-000000000000"
    r = api.delete("/train/%s/%s/" % (dev_workspace, unknown))
    assert r.status_code == 404
    assert r.json()["error_code"] == "JOB_NOT_FOUND"
    r = api.get("/train/%s/%s" % (dev_workspace, unknown))
    assert r.status_code == 404 and r.json()["error_code"] == "JOB_NOT_FOUND"


def test_kill_running_job(api, dev_workspace, churn_csv, sql):
    spec = dict(SPEC, duration=60)
    r = submit(api, dev_workspace, make_bundle(churn_csv, spec))
    assert r.status_code == 200, r.text
    job = job_id_of(r.json())
    wait_state(api, dev_workspace, job, ("building", "running"), timeout=120)
    r = api.delete("/train/%s/%s/" % (dev_workspace, job))
    assert r.status_code == 200, r.text
    wait_state(api, dev_workspace, job, ("killed",), timeout=30)
    assert sql("SELECT state, lease_owner FROM jobs WHERE id = :'p1'", job)[0] == ("killed", None)


BAD_BUNDLES = {
    "traversal": lambda csv: make_bundle(csv, SPEC, extra=[lambda tar, add: add("../evil.txt", b"x")]),
    "absolute": lambda csv: make_bundle(csv, SPEC, extra=[lambda tar, add: add("/etc/evil", b"x")]),
    "symlink": lambda csv: make_bundle(csv, SPEC, extra=[
        lambda tar, add: add("link", b"", type=tarfile.SYMTYPE, linkname="/etc/passwd")]),
    "no-spec": lambda csv: _no_spec(csv),
    "missing-dataset": lambda csv: make_bundle(csv, dict(SPEC, dataset="nope.csv")),
    "not-gzip": lambda csv: b"this is not a tarball",
}


def _no_spec(csv):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("data.csv")
        info.size = len(csv)
        tar.addfile(info, io.BytesIO(csv.encode()))
    return buf.getvalue()


@pytest.fixture(scope="module")
def quiet_ws(make_workspace):
    """A workspace nothing else writes to (no job of it builds a dataset)."""
    name, _, client = make_workspace("badbundle")
    return name, client


@pytest.mark.parametrize("kind", sorted(BAD_BUNDLES))
def test_bad_bundle_refused_nothing_written(quiet_ws, churn_csv, sql, kind):
    ws, api = quiet_ws
    before = (ws_count(sql, "jobs", ws), ws_count(sql, "artifacts", ws))
    r = submit(api, ws, BAD_BUNDLES[kind](churn_csv))
    assert r.status_code == 400, r.text
    assert "error_code" in r.json()
    assert (ws_count(sql, "jobs", ws), ws_count(sql, "artifacts", ws)) == before
