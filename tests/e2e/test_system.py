"""System routes, nginx's own answers, and the body-size limits."""
import json
import socket
import uuid
from urllib.parse import urlparse

from conftest import ws_count


def test_static_page(anon):
    r = anon.get("/", no_key=True)
    assert r.status_code == 200
    assert "text/html" in r.headers["Content-Type"]
    assert "trainyard" in r.text


def test_healthz(anon):
    r = anon.get("/healthz", no_key=True)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    doc = r.json()
    assert isinstance(doc, dict) and doc


def test_metrics_prometheus_text(anon):
    anon.get("/healthz", no_key=True)
    r = anon.get("/metrics", no_key=True)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain")
    lines = [l for l in r.text.splitlines() if l and not l.startswith("#")]
    assert lines, "no samples"
    for l in lines:
        name, value = l.rsplit(" ", 1)
        float(value)
        assert name[0].isalpha() or name[0] == "_"
    assert "# TYPE" in r.text


def test_openapi_lists_every_dialect(anon):
    r = anon.get("/openapi.json", no_key=True)
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    for p in ("/api/v1/models/train/new", "/api/v1/models/train/{task_id}/status",
              "/api/v1/models/train/{task_id}/result", "/api/v1/datasets", "/trainings",
              "/trainings/count", "/trainings/{id}", "/train/{workspace}",
              "/train/{workspace}/inspect", "/healthz"):
        assert p in paths, p
    assert "post" in paths["/api/v1/models/train/new"]


def test_unknown_route_is_json_404(api):
    r = api.get("/no/such/route")
    assert r.status_code == 404
    assert r.headers["Content-Type"].startswith("application/json")
    r.json()


def test_wrong_method_is_405_with_allow(api):
    r = api.request("PATCH", "/trainings")
    assert r.status_code == 405
    allow = r.headers.get("Allow", "")
    assert "GET" in allow and "POST" in allow


def raw_request(base_url, head, body=b"", read_timeout=10):
    u = urlparse(base_url)
    s = socket.create_connection((u.hostname, u.port), timeout=read_timeout)
    try:
        s.sendall(head.encode() + body)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        status = int(data.split(b" ", 2)[1])
        hdr, _, rest = data.partition(b"\r\n\r\n")
        return status, hdr.decode("latin-1"), rest
    finally:
        s.close()


def test_2gb_content_length_is_413_without_reading(stack, dev_key, sql):
    before = ws_count(sql, "jobs", "dev")
    head = ("POST /api/v1/models/train/new HTTP/1.1\r\nHost: x\r\nX-API-Key: %s\r\n"
            "Content-Type: application/json\r\nContent-Length: 2147483648\r\n"
            "Connection: close\r\n\r\n" % dev_key)
    status, _, _ = raw_request(stack.base_url, head, b'{"dataset_id":')
    assert status == 413
    assert ws_count(sql, "jobs", "dev") == before


def test_upload_over_2g_is_413(stack, make_workspace, sql):
    ws, dev_key, _ = make_workspace("over2g")  # no job of it builds a dataset meanwhile
    before = ws_count(sql, "datasets", ws)
    head = ("POST /api/v1/datasets?name=huge HTTP/1.1\r\nHost: x\r\nX-API-Key: %s\r\n"
            "Content-Type: text/csv\r\nContent-Length: 3221225472\r\n"
            "Connection: close\r\n\r\n" % dev_key)
    status, _, _ = raw_request(stack.base_url, head, b"a,b\n1,2\n")
    assert status == 413
    assert ws_count(sql, "datasets", ws) == before


def test_body_over_route_limit_is_413(api, sql):
    before = ws_count(sql, "trainings", "dev")
    big = {"uuid": "big-%s" % uuid.uuid4().hex, "meta": "x" * (2 * 1024 * 1024)}
    r = api.post("/trainings", data=json.dumps(big), headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert ws_count(sql, "trainings", "dev") == before


def test_app_route_limit_below_nginx_limit(api, sql):
    # /api/v1/models/train/new takes 64 KiB; nginx would let 1 MiB through.
    before = ws_count(sql, "jobs", "dev")
    body = json.dumps({"dataset_id": "x", "predict_fields": ["a"], "duration": 10,
                       "ignore_fields": ["f" * 100] * 2000})
    assert 64 * 1024 < len(body) < 1024 * 1024
    r = api.post("/api/v1/models/train/new", data=body,
                 headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert ws_count(sql, "jobs", "dev") == before


def test_psql_views_exist(sql):
    cols = [r[0] for r in sql(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'trainyard_jobs'")]
    for c in ("workspace", "state", "dialect", "attempts"):
        assert c in cols, (c, cols)
    rows = sql("SELECT * FROM trainyard_queue")
    assert rows is not None
