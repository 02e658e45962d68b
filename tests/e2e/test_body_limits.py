"""Exact limits over HTTP: for every route that takes a body, a body of
exactly the route's limit is let through by nginx and the API, and one byte
more is refused with 413. The limits are read from the route table
(handlers/routes.c), so a route added or a limit changed is tested as it is;
nginx's client_max_body_size for the route's location must be at least the
API's (otherwise the API's limit could never be reached) and, where they are
equal, nginx's 413 is the one answered.

Upload routes (the configured upload limit, 2 GiB on the test stack) are
checked by Content-Length alone: at the limit nginx waits for the body (the
connection, half-closed by us, ends without an answer), one byte more is a
413 before a body byte is read.

Also: the `user` length limit, the /trainings filter-count limit, and the
longer durations (300, 1800) accepted.
"""
import json
import os
import re
import socket
import uuid
from urllib.parse import urlparse

import pytest

from conftest import ROOT

KB, MB = 1024, 1024 * 1024
LIMIT_RE = re.compile(r'\{"(GET|POST|PUT|PATCH|DELETE)",\s*"([^"]+)",\s*\w+,\s*([^,]+),')


def route_limits():
    with open(os.path.join(ROOT, "handlers", "routes.c")) as f:
        text = f.read()
    out = {}
    for method, path, expr in LIMIT_RE.findall(text):
        expr = expr.strip()
        if expr == "UPLOAD_LIMIT":
            out[(method, path)] = "upload"
        else:
            out[(method, path)] = eval(expr, {"KB": KB, "MB": MB})  # e.g. 64 * KB
    return out


LIMITS = route_limits()
BODY_ROUTES = sorted(k for k, v in LIMITS.items() if v not in (0, "upload"))
UPLOAD_ROUTES = sorted(k for k, v in LIMITS.items() if v == "upload")
NGINX_413 = {"detail": "request body too large", "code": 413, "message": "request body too large"}


def nginx_limit(path):
    """client_max_body_size of the nginx location a path falls in (the
    template's; the upload limit is the stack's)."""
    with open(os.path.join(ROOT, "nginx", "trainyard.conf.in")) as f:
        conf = f.read()
    default = re.search(r"^\s*client_max_body_size (\w+);", conf, re.M).group(1)
    sizes = {"1m": MB, "32m": 32 * MB}
    if re.match(r"^/(api/v1/datasets|train/|data/)", path):
        return "upload"
    if re.match(r"^/api/v1/models/[^/]+/(predict|evaluate)$", path):
        return "upload"  # text/csv streams; the API caps other bodies itself
    if path in ("/v1/models", "/v1/datasets"):
        return sizes["32m"]
    return sizes[default]


def test_every_body_route_is_covered():
    assert set(BODY_ROUTES) <= set(CASES), set(BODY_ROUTES) - set(CASES)
    assert {"/api/v1/datasets", "/train/{workspace}", "/data/{workspace}/features",
            "/data/{workspace}/params"} == {p for _, p in UPLOAD_ROUTES}
    # The limit classes the issue names are all present.
    assert {64 * KB, 256 * KB, 32 * MB} == {LIMITS[k] for k in BODY_ROUTES}


@pytest.mark.parametrize("route", BODY_ROUTES, ids=["%s %s" % r for r in BODY_ROUTES])
def test_nginx_lets_the_api_limit_through(route):
    ngx = nginx_limit(route[1].replace("{", "").replace("}", ""))
    assert ngx == "upload" or ngx >= LIMITS[route], (route, ngx, LIMITS[route])


@pytest.fixture(scope="module")
def mine(make_workspace):
    name, key, client = make_workspace("bodylim")
    return name, key, client


def padded(doc, size):
    """doc as JSON followed by spaces: exactly size bytes, still valid JSON."""
    text = json.dumps(doc).encode()
    assert len(text) <= size
    return text + b" " * (size - len(text))


def unknown():
    return str(uuid.uuid4())


# route -> (path, body doc, status at the limit, 413 body over it | None for nginx's)
def case_train_new(w):
    return ("/api/v1/models/train/new",
            {"dataset_id": unknown(), "predict_fields": ["y"], "duration": 10}, 422,
            {"detail": "body exceeds the limit of 65536 bytes for this route"})


def case_trainings_post(w):
    return ("/trainings", {"uuid": unknown()}, 200,
            {"code": 413, "message": "body exceeds the limit of 262144 bytes for this route"})


def case_trainings_put(w):
    name, key, c = w
    doc = c.post("/trainings", json={"uuid": unknown()}).json()
    return ("/trainings/%s" % doc["id"], {"accuracy": 0.5}, 200,
            {"code": 413, "message": "body exceeds the limit of 262144 bytes for this route"})


def case_job_info(w):
    return ("/train/%s/%s" % (w[0], unknown()), {}, 404,
            {"error_code": "PAYLOAD_TOO_LARGE",
             "message": "body exceeds the limit of 65536 bytes for this route"})


def case_ws_create(w):
    return ("/workspace/lim-%s" % uuid.uuid4().hex[:8], {}, 200,
            {"error_code": "PAYLOAD_TOO_LARGE",
             "message": "body exceeds the limit of 65536 bytes for this route"})


def case_predict(w):
    return ("/api/v1/models/%s/predict" % unknown(), {"data": [{"a": 1}]}, 404,
            {"detail": "body exceeds the limit of 33554432 bytes for this route"})


def case_evaluate(w):
    return ("/api/v1/models/%s/evaluate" % unknown(), {"dataset_id": unknown()}, 404,
            {"detail": "body exceeds the limit of 65536 bytes for this route"})


def case_v1(path, body, status, v1_413):
    def make(w):
        return (path, dict(body, api_key=w[1]), status, v1_413)
    return make


V1_64K = {"status": "error", "message": "body exceeds the limit of 65536 bytes for this route"}

CASES = {
    ("POST", "/api/v1/models/train/new"): case_train_new,
    ("POST", "/trainings"): case_trainings_post,
    ("PUT", "/trainings/{id}"): case_trainings_put,
    ("POST", "/train/{workspace}/{job_id}"): case_job_info,
    ("POST", "/workspace/{name}"): case_ws_create,
    ("POST", "/api/v1/models/{model_id}/predict"): case_predict,
    ("POST", "/api/v1/models/{model_id}/evaluate"): case_evaluate,
    ("PATCH", "/api/v1/models/{model_id}"): lambda w: (
        "/api/v1/models/%s" % unknown(), {"name": "x"}, 404,
        {"detail": "body exceeds the limit of 65536 bytes for this route"}),
    ("POST", "/v1/models"): case_v1("/v1/models", {"id": unknown(), "data": [{"a": 1}]}, 404, None),
    ("POST", "/v1/datasets"): case_v1("/v1/datasets", {"id": unknown(), "rows": [{"a": 1}]}, 404,
                                      None),
    ("DELETE", "/v1/datasets"): case_v1("/v1/datasets", {"id": unknown()}, 404, V1_64K),
    ("DELETE", "/v1/models"): case_v1("/v1/models", {"id": unknown()}, 404, V1_64K),
}


@pytest.mark.parametrize("route", BODY_ROUTES, ids=["%s %s" % r for r in BODY_ROUTES])
def test_body_of_exactly_the_limit_and_one_byte_more(mine, route):
    method, _ = route
    limit = LIMITS[route]
    path, doc, status, over_body = CASES[route](mine)
    _, key, c = mine
    kw = {"headers": {"Content-Type": "application/json"}, "timeout": 120}
    if path.startswith("/v1/"):
        kw["no_key"] = True
    r = c.request(method, path, data=padded(doc, limit), **kw)
    assert r.status_code == status, (route, r.status_code, r.text[:300])
    r = c.request(method, path, data=padded(doc, limit + 1), **kw)
    assert r.status_code == 413, (route, r.status_code, r.text[:300])
    if over_body is None:
        # nginx and the API draw the line at the same byte: nginx answers.
        assert nginx_limit(path) == limit
        assert r.json() == NGINX_413
    else:
        assert r.json() == over_body, r.text


def raw_post(base_url, path, key, length, ctype):
    """Sends headers announcing length bytes and a few bytes of body, then
    half-closes; returns the status line's code, or None when the server
    closed without answering (it was waiting for the rest of the body)."""
    u = urlparse(base_url)
    s = socket.create_connection((u.hostname, u.port), timeout=30)
    try:
        head = ("POST %s HTTP/1.1\r\nHost: x\r\nX-API-Key: %s\r\nContent-Type: %s\r\n"
                "Content-Length: %d\r\nConnection: close\r\n\r\n" % (path, key, ctype, length))
        s.sendall(head.encode() + b"a,b\n1,2\n")
        s.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        if not data:
            return None, b""
        return int(data.split(b" ", 2)[1]), data.partition(b"\r\n\r\n")[2]
    finally:
        s.close()


@pytest.mark.parametrize("route", UPLOAD_ROUTES, ids=["%s %s" % r for r in UPLOAD_ROUTES])
def test_upload_of_exactly_the_limit_and_one_byte_more(stack, mine, sql, route):
    name, key, _ = mine
    # The API's and nginx's upload limit: one setting (scripts/stack.sh renders
    # TRAINYARD_UPLOAD_LIMIT into the template), 2g unless the stack sets it.
    text = os.environ.get("TRAINYARD_UPLOAD_LIMIT", "2g").lower()
    limit = int(text[:-1]) * {"k": KB, "m": MB, "g": 1024 * MB}[text[-1]] \
        if text[-1] in "kmg" else int(text)
    path = route[1].replace("{workspace}", name)
    if path == "/api/v1/datasets":
        path += "?name=huge"
    before = sql("SELECT count(*) FROM artifacts a JOIN workspaces w ON w.id = a.workspace_id "
                 "WHERE w.name = :'p1'", name)
    status, _ = raw_post(stack.base_url, path, key, limit, "text/csv")
    assert status is None, status  # taken: nginx waited for the rest
    status, body = raw_post(stack.base_url, path, key, limit + 1, "text/csv")
    assert status == 413
    assert json.loads(body) == NGINX_413
    assert sql("SELECT count(*) FROM artifacts a JOIN workspaces w ON w.id = a.workspace_id "
               "WHERE w.name = :'p1'", name) == before


def test_user_length_limit(mine):
    from test_isolation import spec_bundle
    name, _, c = mine
    csv = "churn,x\n" + "".join("%s,%d\n" % ("Yes" if i % 2 else "No", i) for i in range(20))
    for user, status in (("u" * 200, 200), ("u" * 201, 400)):
        r = c.post("/train/%s" % name, params={"user": user}, data=spec_bundle(csv),
                   headers={"Content-Type": "application/gzip"})
        assert r.status_code == status, (len(user), r.text)
    assert r.json() == {"error_code": "INVALID_REQUEST", "message": "user: at most 200 characters"}



def test_filter_count_limit(mine):
    # At most 64 conditions in one list query (handlers/strapi_query.c),
    # however they are written: here as _where groups.
    _, _, c = mine

    def where(n):
        return {"_where[%d][accuracy_gte]" % i: "0" for i in range(n)}

    r = c.get("/trainings", params=where(64))
    assert r.status_code == 200, r.text
    r = c.get("/trainings", params=where(65))
    assert r.status_code == 400, r.text
    assert r.json()["code"] == 400
    assert r.json()["message"].endswith("too many conditions (at most 64)"), r.text


@pytest.mark.parametrize("duration", [300, 1800])
def test_long_durations_accepted(mine, sql, churn_csv, duration):
    _, _, c = mine
    ds = c.upload_csv(churn_csv, name="dur")["dataset_id"]
    # The worker exits at once (test mode): nothing trains for half an hour.
    task = c.train(ds, ["churn"], duration=duration, test_mode={"exit_code": 3})
    assert sql("SELECT spec->>'duration' FROM jobs WHERE id = :'p1'", task)[0][0] == str(duration)
    r = c.post("/trainings", json={"uuid": unknown(), "meta": {
        "dataset_id": ds, "predict_fields": ["churn"], "duration": duration,
        "test_mode": {"exit_code": 3}}})
    assert r.status_code == 200, r.text
    job = sql("SELECT job_id FROM trainings WHERE id = :'p1'", r.json()["id"])[0][0]
    assert sql("SELECT spec->>'duration' FROM jobs WHERE id = :'p1'", job)[0][0] == str(duration)
    assert c.wait(task, timeout=120)["status"] == "FAILED"


def test_streamed_body_over_the_limit_is_refused_as_json(mine):
    """A body of unknown length (chunked) goes by path: nginx's named
    location for large and streamed prediction bodies reads it, and its 413
    is still the JSON one (recursive error pages), not nginx's HTML."""
    _, _, c = mine

    def body():
        yield b'{"id": "%s", "data": [' % unknown().encode()
        for _ in range(33):
            yield b" " * MB
        yield b"]}"

    r = c.request("POST", "/v1/models", data=body(), no_key=True, timeout=120,
                  headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text[:300]
    assert r.json() == NGINX_413
