"""KAOS (seed 001; github.com/KI-labs/kaos) as its client uses it: X-Token,
workspaces of an account, zip bundles of code, data and hyperparameters, the
user's own training program run in the sandbox, job info partitions sorted by
a metric and paged, provenance as DOT, bundle download with the model, build
and run logs, kill; and hostile programs that must fail cleanly."""
import glob
import io
import json
import os
import pwd
import re
import subprocess
import time
import uuid
import zipfile
from urllib.parse import urlparse

import pytest
import requests

from conftest import ROOT

EXAMPLE = os.path.join(ROOT, "examples", "kaos")
# Where this stack's runner makes job directories (scripts/e2e.sh sets it).
SBX_DIR = os.environ.get("TRAINYARD_SANDBOX_DIR") or "/tmp"


def zip_folder(path, arcroot=None, extra=None, modes=None):
    """A zip of one folder as KAOS's client makes it (the folder is the root)."""
    buf = io.BytesIO()
    arcroot = arcroot or os.path.basename(path.rstrip("/"))
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for dirpath, _, files in os.walk(path):
            for f in sorted(files):
                full = os.path.join(dirpath, f)
                rel = os.path.relpath(full, path)
                z.write(full, os.path.join(arcroot, rel))
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return buf.getvalue()


def zip_files(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


class Kaos:
    """KAOS's client, as far as the wire goes: X-Token, multipart `data`."""

    def __init__(self, base_url, token):
        self.base = base_url
        self.h = {"X-Token": token}

    def get(self, path, **kw):
        return requests.get(self.base + path, headers=self.h, timeout=60, **kw)

    def post(self, path, **kw):
        return requests.post(self.base + path, headers=self.h, timeout=120, **kw)

    def delete(self, path, **kw):
        return requests.delete(self.base + path, headers=self.h, timeout=60, **kw)

    def upload(self, path, blob, **params):
        return self.post(path, params=params or None,
                         files={"data": ("bundle.zip", blob, "application/zip")})

    def info(self, ws, job, **params):
        r = self.get("/train/%s/%s" % (ws, job), params=params or None)
        assert r.status_code == 200, r.text
        return r.json()

    def wait(self, ws, job, states=("JOB_SUCCESS", "JOB_FAILURE", "JOB_KILLED"), timeout=240):
        deadline = time.time() + timeout
        doc = None
        while time.time() < deadline:
            doc = self.info(ws, job)
            if doc["response"]["state"] in states:
                return doc
            time.sleep(0.5)
        raise AssertionError("job %s never reached %s: %s" % (job, states, doc))


@pytest.fixture(scope="module")
def account(stack):
    name = "kaos%s" % uuid.uuid4().hex[:8]
    key = stack.cli("workspace", "create", name).stdout.strip()
    return name, Kaos(stack.base_url, key)


@pytest.fixture(scope="module")
def kaos(account):
    return account[1]


@pytest.fixture(scope="module")
def ws(kaos):
    name = "iris-%s" % uuid.uuid4().hex[:6]
    r = kaos.post("/workspace/%s" % name)
    assert r.status_code == 200, r.text
    return name


@pytest.fixture(scope="module")
def grid_job(kaos, ws):
    code = zip_folder(os.path.join(EXAMPLE, "iris-forest"))
    r = kaos.upload("/train/%s" % ws, code, user="jane.doe")
    assert r.status_code == 200, r.text
    assert r.json()["response"]["job_id"] is None  # no data yet
    params = zip_files({"grid/p%d.json" % i: open(os.path.join(EXAMPLE, "params", "p%d.json" % i)).read()
                        for i in range(1, 5)})
    r = kaos.upload("/data/%s/params" % ws, params, parallelism=2)
    assert r.status_code == 200, r.text
    assert len(r.json()["response"]["bundle"]["files"]) == 4
    data = zip_folder(os.path.join(EXAMPLE, "data", "features"))
    r = kaos.upload("/data/%s/features" % ws, data)
    assert r.status_code == 200, r.text
    doc = r.json()["response"]
    assert sorted(doc["folders"]) == ["test", "training", "validation"]
    assert doc["job_id"], doc  # new data retrains the latest code
    return doc["job_id"]


def test_workspaces_per_account(stack, kaos, ws, make_workspace):
    r = kaos.get("/workspace")
    assert r.status_code == 200
    assert ws in r.json()["response"]["names"]
    assert kaos.get("/workspace/%s" % ws).json()["response"]["name"] == ws
    r = kaos.post("/workspace/%s" % ws)
    assert r.status_code == 409 and r.json()["error_code"] == "WORKSPACE_EXISTS"
    # Another account: the same name is free for it, and ours is a 404 exactly
    # like one that does not exist.
    _, other_key, _ = make_workspace("kaosother")
    other = Kaos(stack.base_url, other_key)
    missing = other.get("/workspace/nope-%s" % uuid.uuid4().hex[:6])
    theirs = other.get("/workspace/%s" % ws)
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["error_code"] == missing.json()["error_code"]
    assert other.get("/train/%s" % ws).status_code == 404
    assert other.upload("/data/%s/features" % ws, b"PK").status_code == 404
    assert other.post("/workspace/%s" % ws).status_code == 200  # its own, same name
    # Each account lists its own workspace of that name, once.
    assert kaos.get("/workspace").json()["response"]["names"].count(ws) == 1
    assert other.get("/workspace").json()["response"]["names"].count(ws) == 1
    # Bearer and X-API-Key still work; a bad X-Token is a 401.
    assert requests.get(stack.base_url + "/workspace", timeout=30,
                        headers={"X-Token": "ty_nope"}).status_code == 401


def test_cli_workspace_in_account(stack, account):
    name, kaos = account
    stack.cli("workspace", "create", "from-cli", "--account", name)
    assert "from-cli" in kaos.get("/workspace").json()["response"]["names"]
    r = kaos.delete("/workspace/from-cli")
    assert r.status_code == 200, r.text
    assert "from-cli" not in kaos.get("/workspace").json()["response"]["names"]


def test_bad_source_bundles(kaos, ws):
    cases = {
        "Bundle must be non-empty": zip_files({}),
        "Missing Dockerfile in source-code bundle": zip_files({"p/model/train": "x"}),
        "Missing model directory in source-code bundle": zip_files({"p/Dockerfile": "x"}),
        "Too many directories in source-code bundle": zip_files({"a/Dockerfile": "x", "b/Dockerfile": "y"}),
    }
    for message, blob in cases.items():
        r = kaos.upload("/train/%s" % ws, blob)
        assert r.status_code == 400, (message, r.text)
        assert message in r.json()["message"], (message, r.text)
    r = kaos.upload("/train/%s" % ws, zip_files({"p/../../evil": "x"}))
    assert r.status_code == 400 and "escapes" in r.json()["message"]
    r = kaos.upload("/data/%s/features" % ws, zip_files({"d/validation/a.csv": "a\n1\n"}))
    assert r.status_code == 400 and "training" in r.json()["message"]
    r = kaos.upload("/data/%s/params" % ws, zip_files({"p.json": "[1"}))
    assert r.status_code == 400


def test_grid_of_four_succeeds(kaos, ws, grid_job):
    doc = kaos.wait(ws, grid_job)
    info = doc["response"]
    if info["state"] != "JOB_SUCCESS":
        with open("/tmp/kaos-grid-logs.txt", "w") as f:
            f.write(kaos.get("/train/%s/%s/logs" % (ws, grid_job)).json()["response"])
    assert info["state"] == "JOB_SUCCESS", \
        (info, kaos.get("/train/%s/%s/logs" % (ws, grid_job)).json()["response"][-3000:])
    assert info["user"] == "janedoe"
    assert doc["page_count"] == 1 and len(info["partitions"]) == 4
    assert all(p["status"] == "succeeded" and p["model_id"] for p in info["partitions"])
    assert all("accuracy" in p["metrics"] for p in info["partitions"])


def test_job_info_sorted_and_paged(kaos, ws, grid_job):
    kaos.wait(ws, grid_job)
    doc = kaos.info(ws, grid_job, sort_by="accuracy")
    scores = [p["score"] for p in doc["response"]["partitions"]]
    assert scores == sorted(scores, reverse=True), scores
    doc = kaos.info(ws, grid_job, sort_by="log_loss")
    scores = [p["score"] for p in doc["response"]["partitions"]]
    assert scores == sorted(scores), scores  # a loss: lower is better
    p0 = kaos.info(ws, grid_job, sort_by="accuracy", page_size=3, page_id=0)
    p1 = kaos.info(ws, grid_job, sort_by="accuracy", page_size=3, page_id=1)
    assert p0["page_count"] == 2 and len(p0["response"]["partitions"]) == 3
    assert len(p1["response"]["partitions"]) == 1 and p1["page_id"] == 1
    # KAOS's JobInfo / PartitionInfo fields, which its client's from_dict needs.
    info = kaos.info(ws, grid_job, sort_by="accuracy")["response"]
    assert {"accuracy", "f1_macro", "log_loss"} <= set(info["available_metrics"]), info
    assert isinstance(info["process_time"], int) and info["process_time"] >= 0
    for p in info["partitions"]:
        for key in ("code", "data", "image", "output"):
            assert {"repo", "commit", "path", "branch", "author"} <= set(p[key]), (key, p)
        assert p["code"]["commit"] == info["code"]["sha256"] and p["code"]["path"] == "iris-forest"
        assert p["code"]["author"] == "janedoe"
        assert p["data"]["commit"] == info["data"]["sha256"] and p["data"]["path"] == "features"
        assert p["output"]["path"] == p["model_id"] and p["output"]["commit"] == grid_job
        assert p["hyperparams"]["path"].endswith(p["hyperparameters_file"]), p
        assert p["datum_id"] == p["hyperparameters_file"]
    # The seed's POST answers the same.
    assert kaos.post("/train/%s/%s" % (ws, grid_job)).json()["page_count"] == 1
    r = kaos.get("/train/%s/%s" % (ws, grid_job), params={"sort_by": "nope"})
    assert r.status_code == 404 and r.json()["message"] == "Metric nope not found"


def test_list_inspect_logs(kaos, ws, grid_job):
    kaos.wait(ws, grid_job)
    doc = kaos.get("/train/%s" % ws).json()["response"]
    assert any(j["job_id"] == grid_job and j["status"] == "JOB_SUCCESS" for j in doc["training"])
    # KAOS's SubmissionInfo: "started" a string, "duration" whole seconds.
    assert all(isinstance(j["started"], str) and isinstance(j["duration"], int)
               for j in doc["training"] + doc["building"]), doc
    assert {e["kind"] for e in doc["ingesting"]} == {"data", "params"}
    insp = kaos.get("/train/%s/inspect" % ws).json()["response"]
    assert insp["image"] and insp["data_glob"] == "/pfs/data/features/*"
    assert insp["hyper_glob"] == "/pfs/hyper/*"
    logs = kaos.get("/train/%s/%s/logs" % (ws, grid_job)).json()["response"]
    assert "validation:" in logs and "[run p3.json]" in logs
    for path in ("/train/%s/build/%s/logs", "/build/%s/%s/logs"):
        build = kaos.get(path % (ws, grid_job)).json()["response"]
        assert "ok: pandas" in build and "version differs: scikit-learn" in build, build
    r = kaos.get("/train/%s/%s/logs" % (ws, str(uuid.uuid4())))
    assert r.status_code == 404 and r.json()["message"].startswith("There is no job with id: ")


def test_bundles_unpacked_by_an_unprivileged_process(kaos, ws, grid_job):
    """The runner never parses the user's archives itself: a confined
    unpacker does, and the files it made are owned by the sandbox user (the
    runner reads the owner from the kernel, not from the unpacker)."""
    kaos.wait(ws, grid_job)
    build = kaos.get("/train/%s/build/%s/logs" % (ws, grid_job)).json()["response"]
    m = re.search(r"by a confined unpacker, uid (-?\d+)", build)
    assert m, build
    uid = int(m.group(1))
    assert uid > 0, build
    if os.geteuid() == 0:  # a root trainer drops the unpacker to nobody
        assert uid == pwd.getpwnam("nobody").pw_uid, build


def test_bundle_with_model_and_provenance(kaos, ws, grid_job):
    info = kaos.wait(ws, grid_job)["response"]
    best = kaos.info(ws, grid_job, sort_by="accuracy")["response"]["partitions"][0]
    r = kaos.get("/train/%s/%s/bundle" % (ws, grid_job),
                 params={"include_code": "True", "include_data": "False",
                         "include_model": "True", "model_id": best["model_id"]})
    assert r.status_code == 200, r.text
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert "iris-forest/model/train" in names, names
    assert any(n.endswith("/model/model.pkl") for n in names), names
    assert not any(n.startswith("data/") for n in names), names
    r = kaos.get("/train/%s/%s/bundle" % (ws, grid_job),
                 params={"include-code": "false", "include-data": "true", "include-model": "false"})
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert names and all(n.startswith("data/features/") for n in names), names
    r = kaos.get("/train/%s/%s/bundle" % (ws, grid_job), params={"model_id": str(uuid.uuid4())})
    assert r.status_code == 404 and "There is no model with id" in r.json()["message"]
    dot = kaos.get("/train/%s/%s/provenance" % (ws, best["model_id"])).json()["response"]
    assert dot.startswith("digraph")
    assert info["code"]["sha256"] in dot and info["data"]["sha256"] in dot
    assert best["hyperparameters_file"] in dot and "scikit-learn" in dot


def test_delete_workspace_with_live_job_refused(kaos, ws, grid_job):
    # A job that sleeps: the workspace cannot go while it runs; kill stops it.
    code = zip_files({
        "slow/Dockerfile": "FROM scratch\n",
        "slow/model/__init__.py": "",
        "slow/model/requirements.txt": "",
        "slow/model/train": "#!/bin/sh\necho started\nsleep 300 & sleep 300\n",
    })
    name = "slow-%s" % uuid.uuid4().hex[:6]
    assert kaos.post("/workspace/%s" % name).status_code == 200
    assert kaos.upload("/data/%s/features" % name,
                       zip_folder(os.path.join(EXAMPLE, "data", "features"))).status_code == 200
    r = kaos.upload("/train/%s" % name, code)
    assert r.status_code == 200, r.text
    job = r.json()["response"]["job_id"]
    kaos.wait(name, job, states=("JOB_RUNNING",), timeout=120)
    deadline = time.time() + 60
    while "started" not in kaos.get("/train/%s/%s/logs" % (name, job)).json()["response"]:
        assert time.time() < deadline
        time.sleep(0.3)
    r = kaos.delete("/workspace/%s" % name)
    assert r.status_code == 409 and "running job" in r.json()["message"]
    r = kaos.delete("/train/%s/%s/" % (name, job))
    assert r.status_code == 200, r.text
    kaos.wait(name, job, states=("JOB_KILLED",), timeout=30)
    r = kaos.delete("/train/%s/%s/" % (name, job))
    assert r.status_code == 400 and r.json()["message"] == "Job is not running, id: %s" % job
    # The tree is killed within the kill grace (the e2e stack's: 5 s).
    deadline = time.time() + 10
    while True:
        # the sandbox user's only (a root trainer's runs are nobody's): another
        # session's `sleep 300` on a shared machine is none of ours
        who = ["-u", "nobody"] if os.geteuid() == 0 else []
        out = subprocess.run(["pgrep"] + who + ["-f", "sleep 300"], capture_output=True,
                             text=True).stdout
        if out.strip() == "" or time.time() > deadline:
            break
        time.sleep(0.2)
    assert out.strip() == "", "sandboxed processes outlived the kill: %s" % out
    assert kaos.delete("/workspace/%s" % name).status_code == 200


HOSTILE_TRAIN = r'''#!/usr/bin/env python3
import ctypes, glob, json, os, socket, subprocess, sys, time
attack = json.load(open(glob.glob("/pfs/hyper/*.json")[0]))
kind, arg = attack["attack"], attack.get("arg")
out = sys.argv[1]

def breach(what):
    print("BREACH: " + what); sys.exit(0)

def blocked(what):
    print("blocked: " + what); sys.exit(3)

try:
    if kind in ("pg_port", "any_address"):
        host, port = arg
        s = socket.create_connection((host, port), timeout=3)
        breach("connected to %s:%d" % (host, port))
    elif kind == "read_file":
        data = open(arg, "rb").read(100)
        breach("read %s" % arg)
    elif kind == "proc1_environ":
        env = open("/proc/1/environ", "rb").read()
        if b"TRAINYARD" in env or b"DATABASE" in env or b"PG" in env:
            breach("environ: %r" % env[:200])
        blocked("pid 1's environment is empty: %r; mine: %r" % (env[:60], dict(os.environ)))
    elif kind == "other_job":
        seen = glob.glob("/tmp/trainyard-sbx-*") + glob.glob(arg + "*") + os.listdir("/pfs/data")
        if len(os.listdir("/pfs/data")) != 1 or len(seen) != 1:
            breach("saw %r" % seen)
        blocked("only my own data: %r" % seen)
    elif kind == "write_outside":
        for p in ("/code/model/x", "/usr/x", "/pfs/data/x", "/x", arg):
            try:
                open(p, "w").write("x")
                breach("wrote %s" % p)
            except OSError as e:
                print("cannot write %s: %s" % (p, e.strerror))
        blocked("nothing outside <out> is writable")
    elif kind == "fork_bomb":
        n = 0
        while True:
            pid = os.fork()
            if pid == 0:
                time.sleep(60); os._exit(0)
            n += 1
    elif kind == "memory_bomb":
        hog = []
        while True:
            hog.append(bytearray(256 << 20))
    elif kind == "disk_fill":
        i = 0
        while True:
            with open(os.path.join(out, "fill%d" % i), "wb") as f:
                for _ in range(8):
                    f.write(b"\0" * (16 << 20))
            i += 1
    elif kind == "busy_loop":
        while True:
            pass
    elif kind == "sleep":
        time.sleep(3600)
    elif kind == "daemon":
        subprocess.Popen(["/bin/sleep", "987654"], start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print("daemon started"); sys.exit(3)
    elif kind == "setuid":
        try:
            os.setuid(0)
            breach("setuid(0) worked")
        except PermissionError:
            pass
        r = subprocess.run(["/usr/bin/su", "-c", "id -u", "root"], capture_output=True, text=True,
                           stdin=subprocess.DEVNULL)
        if r.stdout.strip() == "0":
            breach("su gave root")
        blocked("no root: setuid refused, su said %r" % (r.stderr.strip()[:80],))
    elif kind == "seccomp":
        libc = ctypes.CDLL(None, use_errno=True)
        for name, call in (("unshare", lambda: libc.unshare(0x10000000)),
                           ("mount", lambda: libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)),
                           ("ptrace", lambda: libc.ptrace(16, 1, None, None)),
                           ("keyctl", lambda: libc.syscall(250, 0, 0, 0, 0))):
            if call() == 0:
                breach(name)
            print("%s refused: errno %d" % (name, ctypes.get_errno()))
        blocked("seccomp and namespaces refuse them")
except (OSError, MemoryError) as e:
    blocked("%s: %s" % (kind, e))
'''


def test_hostile_bundles_fail_cleanly(stack, kaos, grid_job):
    pg_port = urlparse(stack.db_url).port or int(stack.env.get("TRAINYARD_PG_PORT", 5432))
    name = "hostile-%s" % uuid.uuid4().hex[:6]
    assert kaos.post("/workspace/%s" % name).status_code == 200
    attacks = {
        "pg_port": ["127.0.0.1", pg_port],
        "any_address": ["1.1.1.1", 53],
        "read_checkout": None, "read_var": None, "proc1_environ": None,
        "other_job": os.path.join(SBX_DIR, "trainyard-sbx-"),
        "write_outside": os.path.join(ROOT, "pwned"), "fork_bomb": None, "memory_bomb": None,
        "disk_fill": None, "busy_loop": None, "sleep": None, "daemon": None, "setuid": None,
        "seccomp": None,
    }
    files = {}
    for kind, arg in attacks.items():
        real = {"read_checkout": "read_file", "read_var": "read_file"}.get(kind, kind)
        if kind == "read_checkout":
            arg = os.path.join(ROOT, "README.md")
        if kind == "read_var":
            arg = os.path.join(stack.var, "env")
        files["%s.json" % kind] = json.dumps({"attack": real, "arg": arg})
    assert kaos.upload("/data/%s/params" % name, zip_files(files), parallelism=1).status_code == 200
    assert kaos.upload("/data/%s/features" % name,
                       zip_folder(os.path.join(EXAMPLE, "data", "features"))).status_code == 200
    code = zip_files({
        "evil/Dockerfile": "FROM scratch\n",
        "evil/model/__init__.py": "",
        "evil/model/requirements.txt": "numpy\n",
        "evil/model/train": HOSTILE_TRAIN,
    })
    r = kaos.upload("/train/%s" % name, code, timeout=6, memory="1Gi")
    assert r.status_code == 200, r.text
    job = r.json()["response"]["job_id"]
    doc = kaos.wait(name, job, timeout=400)["response"]
    # The runner ends the job itself while its last log lines are still on
    # their way through the trainer: wait for the last run's verdict line.
    deadline = time.time() + 60
    while True:
        logs = kaos.get("/train/%s/%s/logs" % (name, job)).json()["response"]
        done = sum(("[run %s.json] failed" % k) in logs or ("[run %s.json] succeeded" % k) in logs
                   for k in attacks)
        if done == len(attacks) or time.time() > deadline:
            break
        time.sleep(0.5)
    with open(os.path.join(stack.var, "kaos-hostile-logs.txt"), "w") as f:
        f.write(logs)
    assert "BREACH" not in logs, logs
    assert doc["state"] == "JOB_FAILURE" and doc["error"], doc
    parts = {p["hyperparameters_file"]: p for p in doc["partitions"]}
    assert len(parts) == len(attacks)
    for kind in attacks:
        p = parts["%s.json" % kind]
        assert p["status"] == "failed" and p["error"], (kind, p)
        assert p["model_id"] is None
    for kind in ("sleep", "busy_loop"):
        assert "wall-clock limit" in parts["%s.json" % kind]["error"] or \
            "CPU" in parts["%s.json" % kind]["error"], parts["%s.json" % kind]
    assert "wrote more than" in parts["disk_fill.json"]["error"] or \
        "blocked: disk_fill" in logs, parts["disk_fill.json"]
    for kind in ("pg_port", "any_address", "read_checkout", "read_var", "proc1_environ",
                 "other_job", "write_outside", "setuid", "seccomp", "memory_bomb", "fork_bomb"):
        if kind == "memory_bomb" and "limit" in parts["memory_bomb.json"]["error"]:
            continue  # killed by the clock while the kernel paged: a failure all the same
        assert "[run %s.json] blocked: " % kind in logs, (kind, logs[-3000:])
    assert not os.path.exists(os.path.join(ROOT, "pwned"))
    out = subprocess.run(["pgrep", "-f", "987654"], capture_output=True, text=True).stdout
    assert out.strip() == "", "a daemon outlived its run: %s" % out
    # The runner removes its directory right after it ended the job.
    deadline = time.time() + 15
    while glob.glob(os.path.join(SBX_DIR, "trainyard-sbx-*", "code", "evil")) and \
            time.time() < deadline:
        time.sleep(0.3)
    assert not glob.glob(os.path.join(SBX_DIR, "trainyard-sbx-*", "code", "evil")), \
        "the job directory was left behind"


def test_trainer_healthy_after_hostile(stack, kaos, ws):
    r = kaos.upload("/data/%s/features" % ws, zip_folder(os.path.join(EXAMPLE, "data", "features")))
    job = r.json()["response"]["job_id"]
    doc = kaos.wait(ws, job)["response"]
    assert doc["state"] == "JOB_SUCCESS", doc
    r = requests.get(stack.base_url + "/healthz", timeout=30)
    assert r.status_code == 200
