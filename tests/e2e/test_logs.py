"""Traceable logs (issue 13, part 7): nginx sets or passes X-Request-Id, the
API echoes it and logs it, the job it creates records it (column, status,
job logs) and the job's own lines carry the job id; TRAINYARD_LOG_FORMAT=json
gives one JSON object per line for the API, the trainer and nginx."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid

import pytest

from test_metrics_access import fcgi_get

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


def wait_for(fn, timeout=30, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError("timed out waiting for " + what)


def test_request_id_is_echoed_or_made(api):
    rid = "client-" + uuid.uuid4().hex
    r = api.get("/api/v1/datasets", headers={"X-Request-Id": rid})
    assert r.status_code == 200
    assert r.headers["X-Request-Id"] == rid
    # None sent: nginx makes one ($request_id, 32 hex digits).
    r = api.get("/api/v1/datasets")
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["X-Request-Id"]), r.headers
    # Unfit for a header or a log line: replaced, never echoed.
    r = api.get("/api/v1/datasets", headers={"X-Request-Id": "a b\"c" + "x" * 200})
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["X-Request-Id"]), r.headers
    # Errors carry it too, nginx's own (413) as well as the API's.
    r = api.get("/no/such/route", headers={"X-Request-Id": rid + "-404"})
    assert r.status_code == 404 and r.headers["X-Request-Id"] == rid + "-404"
    r = api.post("/trainings", data=b"x" * (2 * 1024 * 1024),
                 headers={"X-Request-Id": rid + "-413", "Content-Type": "application/json"})
    assert r.status_code == 413 and r.headers.get("X-Request-Id") == rid + "-413", r.headers


def test_a_job_is_traced_from_access_line_to_its_logs(stack, api, sql):
    rid = "trace-" + uuid.uuid4().hex
    body = "a,b,y\n" + "".join("%d,%d,%d\n" % (i, i * 7 % 11, (i * 7 % 11) > 5)
                               for i in range(80))
    ds = api.upload_csv(body, name="trace")["dataset_id"]
    r = api.post("/api/v1/models/train/new", headers={"X-Request-Id": rid},
                 json={"dataset_id": ds, "predict_fields": ["y"], "duration": 10, "force": True})
    assert r.status_code == 201, r.text
    assert r.headers["X-Request-Id"] == rid
    task = r.json()["task_id"]
    # The column, and the status answer.
    assert sql("SELECT request_id FROM jobs WHERE id = :'p1'", task) == [(rid,)]
    st = api.get("/api/v1/models/train/%s/status" % task).json()
    assert st["metadata"]["request_id"] == rid, st
    # The API's own line for train/new names the job and the request.
    logdir = os.path.join(stack.var, "log")
    line = wait_for(lambda: [l for l in read(os.path.join(logdir, "api.log")).splitlines()
                             if task in l and "train/new" in l], what="the train/new log line")
    assert rid in line[0], line
    # nginx's access line carries the same id (its log is flushed every second).
    wait_for(lambda: "request_id=" + rid in read(os.path.join(logdir, "nginx-access.log")),
             timeout=10, what="the access line")
    # The job's logs say which request created it, in lines that name the job.
    api.wait(task, timeout=180)

    def job_line():
        rows = sql("SELECT line FROM job_logs WHERE job_id = :'p1' ORDER BY id", task)
        return [r[0] for r in rows if "created by request " + rid in r[0]]
    lines = wait_for(job_line, what="the job's created-by line")
    assert "job_id=" + task in lines[0], lines


@pytest.fixture
def json_api(stack):
    d = tempfile.mkdtemp(prefix="ty-logs-")
    sock = os.path.join(d, "api.sock")
    env = stack.proc_env()
    env.update({"TRAINYARD_SOCKET": sock, "TRAINYARD_WORKERS": "1",
                "TRAINYARD_LOG_FORMAT": "json"})
    env.pop("TRAINYARD_SOCKET_GROUP", None)
    err = open(os.path.join(d, "stderr"), "wb")
    p = subprocess.Popen([os.path.join(stack.build, "trainyard-api")], env=env,
                         stdout=subprocess.DEVNULL, stderr=err)
    err.close()
    for _ in range(100):
        if os.path.exists(sock):
            break
        time.sleep(0.05)
    yield sock, os.path.join(d, "stderr")
    p.terminate()
    p.wait(timeout=20)
    shutil.rmtree(d, ignore_errors=True)


def test_json_log_format_for_the_api(json_api):
    sock, stderr = json_api
    rid = "json-" + uuid.uuid4().hex
    # The pool's own lines (start, listening, parker) and any request's: every
    # one a JSON object (the request context itself is checked by the unit
    # test common_log_json_carries_the_context).
    status, _ = fcgi_get(sock, "/healthz", "127.0.0.1", {"X-Request-Id": rid})
    assert status in (200, 503)
    lines = [l for l in read(stderr).splitlines() if l.strip()]
    assert lines, "the API wrote nothing"
    for l in lines:
        doc = json.loads(l)  # every line is one JSON object
        assert {"time", "program", "pid", "level", "msg"} <= set(doc), doc
        assert doc["program"] == "trainyard-api"


def test_json_format_refuses_unknown_values(stack):
    env = stack.proc_env()
    env["TRAINYARD_LOG_FORMAT"] = "xml"
    p = subprocess.run([os.path.join(stack.build, "trainyard-api")], env=env,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "log-format" in p.stderr, p.stderr
    p = subprocess.run([os.path.join(stack.build, "trainyard-trainer")], env=env,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "log-format" in p.stderr, p.stderr


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_nginx_access_log_formats_render_and_load(fmt, tmp_path):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    env = dict(os.environ, NGINX_PREFIX=str(tmp_path), NGINX_LISTEN="127.0.0.1:1",
               NGINX_API_SOCKET=str(tmp_path / "api.sock"), NGINX_WWW_DIR=str(tmp_path),
               NGINX_ACCESS_LOG="%s/access.log combined" % tmp_path, TRAINYARD_LOG_FORMAT=fmt)
    conf = subprocess.run([os.path.join(ROOT, "nginx", "render.sh")], env=env,
                          capture_output=True, text=True, check=True).stdout
    want = "trainyard_json" if fmt == "json" else "trainyard_redacted"
    assert re.search(r"access_log \S+ %s;" % want, conf), [l for l in conf.splitlines()
                                                          if "access_log" in l]
    for sub in ("tmp/client_body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi"):
        (tmp_path / sub).mkdir(parents=True, exist_ok=True)
    (tmp_path / "nginx.conf").write_text(conf.replace("@USER_LINE@", ""))
    p = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"),
                        "-e", "stderr"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
