"""The cross-workspace matrix: every route of every dialect, tried by another
account with the owner's ids and workspace path.

The route list is the route table itself (handlers/routes.c, parsed here at
collection time; /openapi.json, generated from the same table, must list the
same routes). Every route must have an entry in CASES (probes with ids) or in
NO_TENANT_DATA (routes that take no id: checked by what they must not show);
a route with neither fails, so a new route cannot be added without a case.

A probe is a pair of requests made by the intruder: one naming the owner's
thing, one naming a thing that does not exist. They must answer the same
status and the same body once each id is replaced by a placeholder: another
account's ids are indistinguishable from unknown ones. Around every probe the
rows of both accounts' workspaces (datasets, jobs, models, artifacts, bundles,
trainings, logs, workspaces) are fingerprinted: the probe must change nothing.
"""
import io
import json
import os
import re
import tarfile
import time
import uuid
import zipfile

import pytest
import requests

from conftest import ROOT, Client, job_id_of

ROUTE_RE = re.compile(r'\{"(GET|POST|PUT|PATCH|DELETE)",\s*"([^"]+)"')


def table_routes():
    with open(os.path.join(ROOT, "handlers", "routes.c")) as f:
        return ROUTE_RE.findall(f.read())


ROUTES = table_routes()


def fresh_id():
    return str(uuid.uuid4())


def fresh_ws():
    return "nope-%s" % uuid.uuid4().hex[:10]


# --- the owner's world ------------------------------------------------------------

SPEC = {"dataset": "data/train.csv", "predict_fields": ["churn"], "duration": 10}


def spec_bundle(csv_text):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in (("trainyard.json", json.dumps(SPEC).encode()),
                           ("data/train.csv", csv_text.encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def data_zip():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("features/training/a.csv", "x,y\n1,2\n")
    return buf.getvalue()


def params_zip():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("p1.json", json.dumps({"n": 1}))
    return buf.getvalue()


def wait_job(client, ws, job, timeout=180):
    deadline = time.time() + timeout
    doc = None
    while time.time() < deadline:
        r = client.get("/train/%s/%s" % (ws, job))
        assert r.status_code == 200, r.text
        doc = r.json()["response"]
        state = doc.get("state") or doc.get("status") or doc.get("job", {}).get("state")
        if state in ("succeeded", "failed", "killed", "timed_out"):
            assert state == "succeeded", doc
            return doc
        time.sleep(0.3)
    raise AssertionError("job %s not finished: %s" % (job, doc))


class World:
    pass


@pytest.fixture(scope="module")
def world(stack, make_workspace, churn_csv):
    w = World()
    w.owner_ws, w.owner_key, w.owner = make_workspace("isoown")
    w.intruder_ws, w.intruder_key, w.intruder = make_workspace("isoint")
    w.stack = stack
    csv = "\n".join(churn_csv.splitlines()[:201]) + "\n"
    w.csv = csv
    w.dataset = w.owner.upload_csv(csv, name="iso")["dataset_id"]
    w.task = w.owner.train(w.dataset, ["churn"], duration=10)
    r = w.owner.post("/train/%s" % w.owner_ws, data=spec_bundle(csv),
                     headers={"Content-Type": "application/gzip"})
    assert r.status_code == 200, r.text
    w.job = job_id_of(r.json())
    r = w.owner.post("/trainings", json={"uuid": fresh_id(), "accuracy": 0.5})
    assert r.status_code == 200, r.text
    w.doc = r.json()["id"]
    doc = wait_job(w.owner, w.owner_ws, w.job)
    w.model = doc["models"][0]["model_id"]
    w.owner.wait_success(w.task, timeout=180)
    w.task_model = w.owner.result(w.task)["model_id"]
    # The intruder's view of its own account, for the fingerprint.
    w.accounts = [stack.sql_value("SELECT account_id FROM workspaces WHERE name = :'p1'", n)
                  for n in (w.owner_ws, w.intruder_ws)]
    return w


FINGERPRINT_SQL = """
WITH ws AS (SELECT id FROM workspaces WHERE account_id IN (:'p1', :'p2'))
SELECT 'workspaces', md5(coalesce(string_agg(w::text, '|' ORDER BY w.id), ''))
  FROM workspaces w WHERE w.account_id IN (:'p1', :'p2')
UNION ALL SELECT 'datasets', md5(coalesce(string_agg(d::text, '|' ORDER BY d.id), ''))
  FROM datasets d WHERE d.workspace_id IN (SELECT id FROM ws)
UNION ALL SELECT 'artifacts', md5(coalesce(string_agg(a::text, '|' ORDER BY a.id), ''))
  FROM artifacts a WHERE a.workspace_id IN (SELECT id FROM ws)
UNION ALL SELECT 'jobs', md5(coalesce(string_agg(j::text, '|' ORDER BY j.id), ''))
  FROM jobs j WHERE j.workspace_id IN (SELECT id FROM ws)
UNION ALL SELECT 'models', md5(coalesce(string_agg(m::text, '|' ORDER BY m.id), ''))
  FROM models m WHERE m.workspace_id IN (SELECT id FROM ws)
UNION ALL SELECT 'kaos_bundles', md5(coalesce(string_agg(b::text, '|' ORDER BY b.id), ''))
  FROM kaos_bundles b WHERE b.workspace_id IN (SELECT id FROM ws)
UNION ALL SELECT 'trainings', md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), ''))
  FROM trainings t WHERE t.workspace_id IN (SELECT id FROM ws)
UNION ALL SELECT 'job_logs', count(*)::text
  FROM job_logs l JOIN jobs j ON j.id = l.job_id WHERE j.workspace_id IN (SELECT id FROM ws)
"""


def fingerprint(w):
    return dict(w.stack.sql(FINGERPRINT_SQL, *w.accounts))


# --- the probes ---------------------------------------------------------------------
#
# A probe: (label, theirs, unknown, status) where theirs/unknown are
# (method, path, kwargs, [ids to mask]) and status is the one not-found
# status the dialect answers.

def req(method, path, ids, **kw):
    return (method, path, kw, ids)


def by_id(method, fmt, attr, status=404, **kw):
    """A route whose path names one id of the owner's (a trainings document's
    id is a number: its unknown twin is a number nobody has)."""
    def probe(w):
        mine = str(getattr(w, attr))
        unk = str(2**31 - 2) if mine.isdigit() else fresh_id()
        return [("id", req(method, fmt % mine, [mine], **kw),
                 req(method, fmt % unk, [unk], **kw), status)]
    return probe


def by_ws(method, fmt, attr=None, status=404, **kw):
    """A workspace route: the owner's workspace (and id) against an unknown
    workspace (and id); and where the route takes an id, the intruder's own
    workspace with the owner's id against its own workspace and an unknown id."""
    def probe(w):
        kwargs = {k: (v() if callable(v) else v) for k, v in kw.items()}
        if attr is None:
            unk_ws = fresh_ws()
            return [("path", req(method, fmt % w.owner_ws, [w.owner_ws], **kwargs),
                     req(method, fmt % unk_ws, [unk_ws], **kwargs), status)]
        mine, unk, unk_ws = getattr(w, attr), fresh_id(), fresh_ws()
        return [
            ("path+id", req(method, fmt % (w.owner_ws, mine), [w.owner_ws, mine], **kwargs),
             req(method, fmt % (unk_ws, unk), [unk_ws, unk], **kwargs), status),
            ("own path+their id", req(method, fmt % (w.intruder_ws, mine), [mine], **kwargs),
             req(method, fmt % (w.intruder_ws, unk), [unk], **kwargs), status),
        ]
    return probe


def v1_body(method, path, make, status=404, where="json"):
    """An Akkio v1 route: the id travels in the body (or query), the key as
    api_key in the body or query."""
    def probe(w):
        mine, unk = make(w, None), make(w, fresh_id())
        out = []
        for params, ids in ((mine, [mine["_id"]]), (unk, [unk["_id"]])):
            p = {k: v for k, v in params.items() if k != "_id"}
            p["api_key"] = w.intruder_key
            out.append(req(method, path, ids, **{where: p, "no_key": True}))
        return [("body", out[0], out[1], status)]
    return probe


def with_id(fn):
    """make(w, id or None): the body with the owner's id when id is None."""
    def make(w, unk):
        body, mine = fn(w, unk)
        body["_id"] = mine
        return body
    return make


def trainings_meta(w):
    mine, unk = w.dataset, fresh_id()
    u1, u2 = fresh_id(), fresh_id()
    spec = {"predict_fields": ["churn"], "duration": 10}
    return [("meta", req("POST", "/trainings", [mine, u1],
                         json={"uuid": u1, "meta": dict(spec, dataset_id=mine)}),
             req("POST", "/trainings", [unk, u2],
                 json={"uuid": u2, "meta": dict(spec, dataset_id=unk)}), 400)]


def train_new(w):
    mine, unk = w.dataset, fresh_id()
    body = {"predict_fields": ["churn"], "duration": 10}
    return [("dataset", req("POST", "/api/v1/models/train/new", [mine],
                            json=dict(body, dataset_id=mine)),
             req("POST", "/api/v1/models/train/new", [unk], json=dict(body, dataset_id=unk)),
             422)]


def gz():
    return spec_bundle("churn,x\nYes,1\nNo,2\n")


CASES = {
    # Akkio training tasks.
    ("POST", "/api/v1/models/train/new"): train_new,
    ("GET", "/api/v1/models/train/{task_id}/status"):
        by_id("GET", "/api/v1/models/train/%s/status", "task"),
    ("GET", "/api/v1/models/train/{task_id}/result"):
        by_id("GET", "/api/v1/models/train/%s/result", "task"),
    # The same result where a client joined the host and `location`.
    ("GET", "/models/train/{task_id}/result"):
        by_id("GET", "/models/train/%s/result", "task"),
    # Live job events: another account's job is not found (its workspace's
    # stream, without job_id, is its own: test_events.py).
    ("GET", "/api/v1/events"): by_id("GET", "/api/v1/events?job_id=%s", "task"),
    # Datasets.
    ("GET", "/api/v1/datasets/{dataset_id}"): by_id("GET", "/api/v1/datasets/%s", "dataset"),
    ("DELETE", "/api/v1/datasets/{dataset_id}"):
        by_id("DELETE", "/api/v1/datasets/%s", "dataset"),
    ("GET", "/api/v1/datasets/{dataset_id}/preview"):
        by_id("GET", "/api/v1/datasets/%s/preview", "dataset"),
    # Models.
    ("GET", "/api/v1/models/{model_id}"): by_id("GET", "/api/v1/models/%s", "model"),
    ("PATCH", "/api/v1/models/{model_id}"):
        by_id("PATCH", "/api/v1/models/%s", "model", json={"name": "mine now", "pinned": True}),
    ("DELETE", "/api/v1/models/{model_id}"): by_id("DELETE", "/api/v1/models/%s", "model"),
    ("GET", "/api/v1/models/{model_id}/download"):
        by_id("GET", "/api/v1/models/%s/download", "model"),
    ("POST", "/api/v1/models/{model_id}/predict"):
        by_id("POST", "/api/v1/models/%s/predict", "model", json={"data": [{"tenure": 3}]}),
    ("POST", "/api/v1/models/{model_id}/evaluate"):
        by_id("POST", "/api/v1/models/%s/evaluate", "model",
              data="churn,tenure\nYes,3\n", headers={"Content-Type": "text/csv"}),
    # Akkio's legacy /v1 API.
    ("GET", "/v1/datasets"): v1_body("GET", "/v1/datasets", with_id(
        lambda w, u: ({"id": u or w.dataset}, u or w.dataset)), where="params"),
    ("POST", "/v1/datasets"): v1_body("POST", "/v1/datasets", with_id(
        lambda w, u: ({"id": u or w.dataset, "rows": [{"churn": "Yes", "tenure": 1}]},
                      u or w.dataset))),
    ("DELETE", "/v1/datasets"): v1_body("DELETE", "/v1/datasets", with_id(
        lambda w, u: ({"id": u or w.dataset}, u or w.dataset)), where="params"),
    ("POST", "/v1/models"): v1_body("POST", "/v1/models", with_id(
        lambda w, u: ({"id": u or w.task_model, "data": [{"tenure": 3}]}, u or w.task_model))),
    ("DELETE", "/v1/models"): v1_body("DELETE", "/v1/models", with_id(
        lambda w, u: ({"id": u or w.task_model}, u or w.task_model)), where="params"),
    # Strapi trainings.
    ("POST", "/trainings"): trainings_meta,
    ("GET", "/trainings/{id}"): by_id("GET", "/trainings/%s", "doc"),
    ("PUT", "/trainings/{id}"): by_id("PUT", "/trainings/%s", "doc", json={"accuracy": 0.1}),
    ("DELETE", "/trainings/{id}"): by_id("DELETE", "/trainings/%s", "doc"),
    # Workspace jobs (KAOS).
    ("GET", "/train/{workspace}"): by_ws("GET", "/train/%s"),
    ("POST", "/train/{workspace}"): by_ws("POST", "/train/%s", data=gz,
                                          headers={"Content-Type": "application/gzip"}),
    ("GET", "/train/{workspace}/inspect"): by_ws("GET", "/train/%s/inspect"),
    ("GET", "/train/{workspace}/build/{job_id}/logs"):
        by_ws("GET", "/train/%s/build/%s/logs", "job"),
    ("POST", "/train/{workspace}/{job_id}"): by_ws("POST", "/train/%s/%s", "job"),
    ("GET", "/train/{workspace}/{job_id}"): by_ws("GET", "/train/%s/%s", "job"),
    ("DELETE", "/train/{workspace}/{job_id}"): by_ws("DELETE", "/train/%s/%s", "job"),
    ("GET", "/train/{workspace}/{job_id}/bundle"):
        by_ws("GET", "/train/%s/%s/bundle", "job", params={"include_model": "True"}),
    ("GET", "/train/{workspace}/{model_id}/provenance"):
        by_ws("GET", "/train/%s/%s/provenance", "model"),
    ("GET", "/train/{workspace}/{job_id}/logs"): by_ws("GET", "/train/%s/%s/logs", "job"),
    ("GET", "/workspace/{name}"): by_ws("GET", "/workspace/%s"),
    ("DELETE", "/workspace/{name}"): by_ws("DELETE", "/workspace/%s"),
    ("POST", "/data/{workspace}/features"):
        by_ws("POST", "/data/%s/features", files=lambda: {"data": ("d.zip", data_zip())}),
    ("POST", "/data/{workspace}/params"):
        by_ws("POST", "/data/%s/params", files=lambda: {"data": ("p.zip", params_zip())}),
    ("GET", "/build/{workspace}/{job_id}/logs"): by_ws("GET", "/build/%s/%s/logs", "job"),
}

# Routes that name no id: a listing must not show the owner's things; the
# rest hold no tenant data at all.
LISTINGS = {
    ("GET", "/api/v1/datasets"): ("/api/v1/datasets", {}),
    ("GET", "/api/v1/models"): ("/api/v1/models", {}),
    ("GET", "/v1/models"): ("/v1/models", {}),
    ("GET", "/trainings"): ("/trainings", {}),
    ("GET", "/trainings/count"): ("/trainings/count", {}),
    ("GET", "/workspace"): ("/workspace", {}),
}
NO_TENANT_DATA = {
    ("POST", "/workspace/{name}"): "names are per account: test_workspace_create_same_name_is_own",
    ("POST", "/api/v1/datasets"): "an upload names no id: it lands in the key's own workspace",
    ("POST", "/api/v1/events/ticket"): "names no id: a ticket for the key's own workspace "
                                       "(a forged one for another: test_events.py)",
    ("GET", "/healthz"): "no tenant data",
    ("GET", "/metrics"): "no tenant data (and local-only)",
    ("GET", "/openapi.json"): "no tenant data",
}


def test_route_table_matches_openapi(stack):
    doc = requests.get(stack.base_url + "/openapi.json", timeout=30).json()
    served = {(m.upper(), p) for p, ms in doc["paths"].items() for m in ms}
    assert served == set(ROUTES)
    # Every operation is tagged with its dialect (the tag table once fell one
    # dialect short and the /v1 routes read past its end).
    tags = {"Training (Akkio-compatible)", "Workspace jobs", "Trainings collection", "System",
            "Akkio legacy (/v1)"}
    for p, ms in doc["paths"].items():
        for m, op in ms.items():
            assert len(op["tags"]) == 1 and op["tags"][0] in tags, (m, p, op["tags"])
    assert len(ROUTES) == len(set(ROUTES)), "a route is listed twice in handlers/routes.c"


@pytest.mark.parametrize("route", ROUTES, ids=["%s %s" % r for r in ROUTES])
def test_every_route_has_a_case(route):
    assert route in CASES or route in LISTINGS or route in NO_TENANT_DATA, \
        "no cross-workspace case for %s %s: add one to tests/e2e/test_isolation.py" % route


def send(client, r):
    method, path, kw, _ = r
    kw = dict(kw)
    return client.request(method, path, **kw)


def masked(resp, ids):
    text = resp.text
    for i in ids:
        text = re.sub(r"(?<![\w-])%s(?![\w-])" % re.escape(i), "<ID>", text)
    try:
        return json.loads(text)
    except ValueError:
        return text


@pytest.mark.parametrize("route", sorted(CASES), ids=["%s %s" % r for r in sorted(CASES)])
def test_other_account_is_not_found(world, route):
    probes = CASES[route](world)
    assert probes, route
    for label, theirs, unknown, status in probes:
        before = fingerprint(world)
        a = send(world.intruder, theirs)
        b = send(world.intruder, unknown)
        after = fingerprint(world)
        assert a.status_code == status, (label, a.status_code, a.text)
        assert b.status_code == status, (label, b.status_code, b.text)
        assert masked(a, theirs[3]) == masked(b, unknown[3]), (label, a.text, b.text)
        assert a.headers.get("Content-Type") == b.headers.get("Content-Type")
        changed = {k for k in before if before[k] != after.get(k)}
        assert not changed, (label, "changed:", changed)
    # And the owner still has it all.
    assert world.owner.get("/api/v1/datasets/%s" % world.dataset).status_code == 200
    assert world.owner.get("/api/v1/models/%s" % world.model).status_code == 200
    assert world.owner.get("/api/v1/models/%s" % world.task_model).status_code == 200
    assert world.owner.get("/trainings/%s" % world.doc).json()["accuracy"] == 0.5
    assert world.owner.get("/train/%s/%s" % (world.owner_ws, world.job)).status_code == 200


@pytest.mark.parametrize("route", sorted(LISTINGS),
                         ids=["%s %s" % r for r in sorted(LISTINGS)])
def test_listings_show_nothing_of_another_account(world, route):
    path, params = LISTINGS[route]
    if path.startswith("/v1/"):
        r = world.intruder.get(path, params={"api_key": world.intruder_key}, no_key=True)
    else:
        r = world.intruder.get(path, params=params)
    assert r.status_code == 200, r.text
    for thing in (world.dataset, world.model, world.task_model, world.job, world.task,
                  world.owner_ws):
        assert thing not in r.text, (route, thing)
    if route == ("GET", "/trainings"):
        assert r.json() == []
    if route == ("GET", "/trainings/count"):
        assert r.json() == 0


def test_v1_dataset_listing_shows_nothing_of_another_account(world):
    r = world.intruder.get("/v1/datasets", params={"api_key": world.intruder_key}, no_key=True)
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "success", "datasets": []}


def test_workspace_create_same_name_is_own(world, make_workspace, stack):
    """POST /workspace/{name} with the owner's name, from a third account:
    answered as for a name nobody has, creating that account's own workspace;
    the owner's is untouched."""
    _, _, third = make_workspace("isothird")
    before = fingerprint(world)
    unk = fresh_ws()
    a = third.post("/workspace/%s" % world.owner_ws)
    b = third.post("/workspace/%s" % unk)
    assert a.status_code == b.status_code == 200, (a.text, b.text)
    assert masked(a, [world.owner_ws]) == masked(b, [unk])
    assert fingerprint(world) == before
    assert stack.sql_value("SELECT count(*) FROM workspaces WHERE name = :'p1'",
                           world.owner_ws) == "2"
    # The third account's workspace of that name is empty: the owner's job is not in it.
    assert world.job not in third.get("/train/%s" % world.owner_ws).text
