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
            f.write(kaos.get("/train/%s/%s/logs" % (ws, grid_job)).json())
    assert info["state"] == "JOB_SUCCESS", \
        (info, kaos.get("/train/%s/%s/logs" % (ws, grid_job)).json()[-3000:])
    assert info["user"] == "janedoe"
    assert doc["page_count"] == 1 and len(info["partitions"]) == 4
    assert all(p["status"] == "succeeded" and p["model_id"] for p in info["partitions"])
    assert all("accuracy" in p["metrics"] for p in info["partitions"])


def test_job_info_sorted_and_paged(kaos, ws, grid_job):
    kaos.wait(ws, grid_job)
    doc = kaos.info(ws, grid_job, sort_by="accuracy")
    scores = [float(p["score"]) for p in doc["response"]["partitions"]]
    assert scores == sorted(scores, reverse=True), scores
    doc = kaos.info(ws, grid_job, sort_by="log_loss")
    scores = [float(p["score"]) for p in doc["response"]["partitions"]]
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
    assert any(j["job_id"] == grid_job and j["state"] == "JOB_SUCCESS" and j["status"] == "succeeded"
               for j in doc["training"])
    # KAOS's SubmissionInfo: "started" a string, "duration" whole seconds.
    assert all(isinstance(j["started"], str) and isinstance(j["duration"], int)
               for j in doc["training"] + doc["building"]), doc
    assert {e["kind"] for e in doc["ingesting"]} == {"data", "params"}
    insp = kaos.get("/train/%s/inspect" % ws).json()["response"]
    assert insp["image"] and insp["data_glob"] == "/pfs/data/features/*"
    assert insp["hyper_glob"] == "/pfs/hyper/*"
    logs = kaos.get("/train/%s/%s/logs" % (ws, grid_job)).json()
    assert "validation:" in logs and "[run p3.json]" in logs
    for path in ("/train/%s/build/%s/logs", "/build/%s/%s/logs"):
        build = kaos.get(path % (ws, grid_job)).json()
        assert "ok: pandas" in build and "version differs: scikit-learn" in build, build
    r = kaos.get("/train/%s/%s/logs" % (ws, str(uuid.uuid4())))
    assert r.status_code == 404 and r.json()["message"].startswith("There is no job with id: ")


def test_bundles_unpacked_by_an_unprivileged_process(kaos, ws, grid_job):
    """The runner never parses the user's archives itself: a confined
    unpacker does, and the files it made are owned by the sandbox user (the
    runner reads the owner from the kernel, not from the unpacker)."""
    kaos.wait(ws, grid_job)
    build = kaos.get("/train/%s/build/%s/logs" % (ws, grid_job)).json()
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
    assert "code/iris-forest/model/train" in names, names  # KAOS's layout
    assert any(n.endswith("/model/model.pkl") for n in names), names
    assert not any(n.startswith("data/") for n in names), names
    r = kaos.get("/train/%s/%s/bundle" % (ws, grid_job),
                 params={"include-code": "false", "include-data": "true", "include-model": "false"})
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert names and all(n.startswith("data/features/") for n in names), names
    r = kaos.get("/train/%s/%s/bundle" % (ws, grid_job), params={"model_id": str(uuid.uuid4())})
    assert r.status_code == 404 and "There is no model with id" in r.json()["message"]
    dot = kaos.get("/train/%s/%s/provenance" % (ws, best["model_id"])).json()
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
    while "started" not in kaos.get("/train/%s/%s/logs" % (name, job)).json():
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
        logs = kaos.get("/train/%s/%s/logs" % (name, job)).json()
        done = sum(("[run %s.json] failed" % k) in logs or ("[run %s.json] succeeded" % k) in logs
                   for k in attacks)
        if done == len(attacks) or time.time() > deadline:
            break
        time.sleep(0.5)
    with open(os.path.join(stack.var, "kaos-hostile-logs.txt"), "w") as f:
        f.write(logs)
    assert "BREACH" not in logs, logs
    assert doc["state"] == "JOB_FAILURE" and doc["error"], doc
    # all runs on one page (KAOS's page is 10 partitions)
    doc = kaos.info(name, job, page_size=50)["response"]
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


# --- KAOS's own client, replayed ------------------------------------------------
#
# The requests below are built as KAOS's CLI builds them (KI-labs/kaos,
# cli/kaos_cli/facades/workspace_facade.py and train_facade.py, and
# cli/kaos_cli/utils/helpers.py for uploads), and the answers are read as its
# commands and parsers read them (cli/kaos_cli/commands/workspace.py and
# train.py, cli/kaos_cli/utils/rendering.py, model/kaos_model/api.py and
# common.py: dataclasses-json's from_dict needs every field without a
# default). Its client cannot be installed here (no PyPI), so its reads are
# re-implemented, each citing where it comes from.

def kaos_required(doc, fields, what):
    """dataclasses-json from_dict: a field without a default must be there."""
    assert isinstance(doc, dict), (what, doc)
    missing = [f for f in fields if f not in doc]
    assert not missing, "%s.from_dict would fail: %s missing in %r" % (what, missing, doc)
    return doc


def kaos_descriptor(doc, what):
    # common.py DataDescriptor: repo, commit, path; branch, author optional
    kaos_required(doc, ("repo", "commit", "path"), what)
    assert all(isinstance(doc[k], str) for k in ("repo", "commit", "path")), (what, doc)
    return doc


def kaos_job_info(paged):
    # rendering.py render_job_info: PagedResponse.from_dict, JobInfo.from_dict
    kaos_required(paged, ("page_id", "page_count", "response"), "PagedResponse")
    info = kaos_required(paged["response"], ("job_id", "state", "available_metrics",
                                             "process_time", "partitions"), "JobInfo")
    for p in info["partitions"]:
        kaos_required(p, ("datum_id", "code", "data", "image", "output"), "PartitionInfo")
        for k in ("code", "data", "image", "output"):
            kaos_descriptor(p[k], k)
        if p.get("hyperparams") is not None:
            kaos_descriptor(p["hyperparams"], "hyperparams")
        assert p.get("score") is None or isinstance(p["score"], str), p  # Optional[str]
    return info


def kaos_table(rows, drop=()):
    """rendering.py render_table: the first row's keys are the header, every
    row's values a line (prettytable refuses a row of another length)."""
    rows = [{k: v for k, v in r.items() if k not in drop} for r in rows]
    if rows:
        width = len(rows[0])
        assert all(len(r) == width for r in rows), rows
    return rows


def kaos_queued_table(rows, drop):
    # rendering.py render_queued_table: sorted by "started", the newest shown
    # when its "state" is JOB_RUNNING or JOB_FAILURE
    last = sorted(rows, key=lambda x: x["started"], reverse=True)[:1]
    if last and last[0]["state"] in ("JOB_RUNNING", "JOB_FAILURE"):
        kaos_table(last, drop)
    return last


def kaos_compress(folder):
    """helpers.py Compressor: the files under folder, named relative to it."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for root, _, files in os.walk(folder):
            for f in files:
                full = os.path.abspath(os.path.join(root, f))
                z.write(full, full[len(os.path.abspath(folder)) + 1:])
    return buf.getvalue()


class KaosClient:
    """The wire of KAOS's facades, call by call."""

    def __init__(self, base, token, workspace=None, user="jane.doe"):
        self.base, self.token, self.workspace, self.user = base, token, workspace, user

    def error(self, r):
        # every facade: 4xx -> Error.from_dict(r.json()).message
        assert 400 <= r.status_code < 500, r.text
        return kaos_required(r.json(), ("error_code", "message"), "Error")["message"]

    # workspace_facade.py: X-Token on every call
    def ws_list(self):
        r = requests.get(self.base + "/workspace", headers={"X-Token": self.token}, timeout=60)
        assert r.status_code < 300, r.text
        return [{"name": v} for v in r.json()["names"]]

    def ws_create(self, name):
        if not name or not re.match(r"^[a-zA-Z0-9_]*$", name):
            raise ValueError("Invalid Workspace name")
        name = name.lower()
        assert name not in [w["name"] for w in self.ws_list()]
        r = requests.post(self.base + "/workspace/%s" % name, params={"user": self.user},
                          headers={"X-Token": self.token}, timeout=60)
        assert r.status_code < 300, r.text
        self.workspace = name
        return r.json()

    def ws_info(self):
        r = requests.get(self.base + "/workspace/%s" % self.workspace,
                         headers={"X-Token": self.token}, timeout=60)
        assert r.status_code < 300, r.text
        info = r.json()["response"]  # commands/workspace.py, info
        kaos_required(info, ("name", "pipelines", "repos"), "WorkspaceInfo")
        return info

    # train_facade.py: "Token" on its GETs; uploads through helpers.py
    # upload_with_progress_bar: multipart field `data`, file name `data`,
    # text/plain, the query kwargs, and X-Authorization-Token (one version)
    # or Authorization: Bearer (another)
    def upload(self, path, data, bearer=False, **kwargs):
        kwargs["user"] = self.user
        params = {k: v for k, v in kwargs.items() if v is not None}  # requests drops None
        auth = {"Authorization": "Bearer %s" % self.token} if bearer else \
            {"X-Authorization-Token": self.token}
        return requests.post(self.base + path % self.workspace, params=params, headers=auth,
                             files={"data": ("data", data, "text/plain")}, timeout=120)

    def get(self, path, **params):
        return requests.get(self.base + path, params=params or None,
                            headers={"Token": self.token}, timeout=60)


@pytest.fixture(scope="module")
def kaos_client(stack, account):
    # `kaos init -e <base>/kaos/<key> -t <key>`: the endpoint carries the key
    # for the one call that sends no token (train get); the others send both.
    token = account[1].h["X-Token"]
    return KaosClient(stack.base_url + "/kaos/" + token, token)


def test_kaos_client_workspace_commands(kaos_client):
    c = kaos_client
    name = "Client_%s" % uuid.uuid4().hex[:6]
    c.ws_create(name)  # the client lowercases; so does the server
    assert c.workspace == name.lower()
    assert {"name": name.lower()} in c.ws_list()
    info = c.ws_info()
    assert info["name"] == name.lower() and info["pipelines"] and info["repos"]
    # The server lowercases too, as KAOS's backend does, and finds the
    # workspace under either spelling; a name KAOS's client refuses is a 400.
    r = requests.post(c.base + "/workspace/Other_%s" % name, headers={"X-Token": c.token},
                      timeout=60)
    assert r.status_code == 200 and r.json()["response"]["name"] == ("other_%s" % name).lower()
    assert requests.get(c.base + "/workspace/%s" % name.upper(), timeout=60,
                        headers={"X-Token": c.token}).json()["response"]["name"] == name.lower()
    r = requests.post(c.base + "/workspace/bad.name", headers={"X-Token": c.token}, timeout=60)
    assert r.status_code == 400 and "Invalid Workspace name" in c.error(r), r.text
    # workspace kill: DELETE, any status < 300 (workspace_facade.py, delete)
    r = requests.delete(c.base + "/workspace/other_%s" % name.lower(),
                        headers={"X-Token": c.token}, timeout=60)
    assert r.status_code < 300, r.text


def test_kaos_endpoint_with_the_key(stack, kaos_client):
    """The key in the endpoint's path: KAOS's routes only, refused in KAOS's
    shape when it is wrong, never written to a log."""
    c = kaos_client
    r = requests.get(c.base + "/workspace", timeout=60)  # no header: the path's key
    assert r.status_code == 200 and "names" in r.json(), r.text
    # A header, when sent, is the key that counts.
    assert requests.get(c.base + "/workspace", headers={"X-Token": "ty_nope"},
                        timeout=60).status_code == 401
    bad = stack.base_url + "/kaos/ty_wrong_secretvalue"
    r = requests.get(bad + "/workspace", timeout=60)
    assert r.status_code == 401 and c.error(r), r.text
    r = requests.get(bad + "/train/%s/%s/bundle" % ("iris", uuid.uuid4()),
                     params={"include_code": True}, timeout=60)
    assert r.status_code == 401 and c.error(r), r.text
    # Only KAOS's routes are served under the endpoint.
    for path in ("/api/v1/models", "/trainings", "/v1/models", "/", "/workspacex"):
        r = requests.get(c.base + path, timeout=60)
        assert r.status_code == 404, (path, r.status_code, r.text)
    # A body over nginx's 256 KiB buffer puts the request line in nginx's
    # error log (a warning that it went to a temporary file); so does the
    # bare endpoint in the access log.
    r = requests.post(c.base + "/workspace", data=b"x" * 600000, timeout=60)
    assert r.status_code == 405, r.text
    requests.get(c.base, timeout=60)
    time.sleep(1.5)  # the access log is flushed every second
    logs = os.path.join(stack.var, "log")
    seen = set()
    for name in os.listdir(logs):
        text = open(os.path.join(logs, name), errors="replace").read()
        assert c.token not in text and "secretvalue" not in text, name
        if name == "nginx-access.log":
            assert "/kaos/REDACTED/workspace" in text
            assert '"GET /kaos/REDACTED HTTP' in text
            seen.add(name)
        if name == "nginx-error.log":
            assert '"POST /kaos/REDACTED/workspace HTTP' in text
            seen.add(name)
    assert seen == {"nginx-access.log", "nginx-error.log"}


@pytest.fixture(scope="module")
def kaos_deploy(kaos_client, tmp_path_factory):
    """`kaos train deploy -s <dir> -d <dir> -h params.json -p 2`, as
    commands/train.py sends it: source, data, hyperparameters, then inspect."""
    c = kaos_client
    c.ws_create("deploy_%s" % uuid.uuid4().hex[:6])
    src = tmp_path_factory.mktemp("source")
    subprocess.run(["cp", "-r", os.path.join(EXAMPLE, "iris-forest"), str(src)], check=True)
    got = {}
    r = c.upload("/train/%s", kaos_compress(str(src)), cpu=None, memory=None, gpu=0)
    assert r.status_code < 300, r.text
    got["source"] = r.json()["glob_name"]
    r = c.upload("/data/%s/features", kaos_compress(os.path.join(EXAMPLE, "data")), bearer=True,
                 cpu=None, memory=None, gpu=0)
    assert r.status_code < 300, r.text
    got["data"] = r.json()["glob_name"]
    grid = json.dumps({"n_estimators": [2, 8], "max_depth": [1, 3], "seed": [1]})
    r = c.upload("/data/%s/params", grid, cpu=None, memory=None, gpu=0, parallelism=2)
    assert r.status_code < 300, r.text
    doc = r.json()
    got["hyper"], got["params"] = doc["glob_name"], doc["params"]
    got["job"] = doc["response"]["job_id"]
    r = c.get("/train/%s/inspect" % c.workspace)
    assert r.status_code == 200, r.text
    got["inspect"] = r.json()
    return got


def test_kaos_client_deploy(kaos_client, kaos_deploy):
    d = kaos_deploy
    assert d["source"].startswith("iris-forest:") and d["data"].startswith("features:")
    # the table of runs the client prints: param_combinations[0].keys()
    assert len(d["params"]) == 4 and list(d["params"][0]) == ["n_estimators", "max_depth", "seed"]
    assert {(p["n_estimators"], p["max_depth"]) for p in d["params"]} == \
        {(2, 1), (2, 3), (8, 1), (8, 3)}
    for key in ("image", "data_glob", "hyper_glob"):  # data[key].find('null')
        assert isinstance(d["inspect"][key], str) and "null" not in d["inspect"][key], d
    assert d["job"], d
    # A deploy without -h sends {} as the hyperparameters: nothing changes.
    c = kaos_client
    r = c.upload("/data/%s/params", json.dumps({}), cpu=None, memory=None, gpu=0)
    assert r.status_code < 300, r.text
    assert r.json()["params"] == [{}] and r.json()["response"]["job_id"] is None
    # Bad requests answer KAOS's Error with the field and the reason.
    r = c.upload("/data/%s/params", json.dumps({"n_estimators": []}))
    assert "n_estimators" in c.error(r) and r.json()["error_code"] == "INVALID_BUNDLE"
    r = c.upload("/data/%s/params", json.dumps({"a": list(range(40)), "b": list(range(40))}))
    assert "more than 1000 runs" in c.error(r)
    r = c.upload("/data/%s/features", kaos_compress(os.path.join(EXAMPLE, "data")), memory="2X")
    assert r.json()["error_code"] == "MEMORY_REQUEST_ERROR" and "memory" in c.error(r)
    r = c.upload("/data/%s/features", kaos_compress(os.path.join(EXAMPLE, "data")), gpu=1)
    assert c.error(r) == "gpu: GPUs are not enabled"


def test_kaos_client_train_commands(kaos_client, kaos_deploy, tmp_path):
    c, job = kaos_client, kaos_deploy["job"]
    ws = c.workspace
    deadline = time.time() + 300
    while True:
        # commands/train.py list: facade.list()['response'], then the tables
        r = c.get("/train/%s" % ws)
        assert r.status_code == 200, r.text
        data = r.json()["response"]
        kaos_queued_table(data["building"], drop={"hyperopt", "progress"})
        kaos_queued_table(data["ingesting"], drop={"hyperopt"})
        rows = kaos_table(data["training"], drop={"progress"})
        for row in data["training"] + data["building"] + data["ingesting"]:
            kaos_required(row, ("job_id", "state", "started", "duration", "progress"),
                          "SubmissionInfo")
            assert row["state"].startswith("JOB_") and isinstance(row["progress"], str), row
        mine = [row for row in rows + data["building"] if row["job_id"] == job]
        assert mine, data
        if mine[0]["state"] in ("JOB_SUCCESS", "JOB_FAILURE", "JOB_KILLED"):
            break
        assert time.time() < deadline, mine
        time.sleep(1)
    assert mine[0]["state"] == "JOB_SUCCESS", c.get("/train/%s/%s/logs" % (ws, job)).json()
    assert mine[0]["hyperopt"] == "True"
    # train info -s accuracy (commands/train.py info -> render_job_info)
    r = c.get("/train/%s/%s" % (ws, job), sort_by="accuracy", page_id=0)
    assert r.status_code == 200, r.text
    info = kaos_job_info(r.json())
    assert info["state"] == "JOB_SUCCESS" and "accuracy" in info["available_metrics"]
    assert len(info["partitions"]) == 4 and r.json()["page_count"] == 1
    scores = [p["score"] for p in info["partitions"]]
    assert all(re.match(r"^\d+\.\d{4}$", s) for s in scores), scores  # f"{m:0.4f}"
    assert [float(s) for s in scores] == sorted((float(s) for s in scores), reverse=True)
    for p in info["partitions"]:
        assert p["code"]["author"] == "janedoe" and p["hyperparams"]["path"].endswith(".json")
        assert re.search(r"n_estimators=\d_max_depth=\d_seed=1\.json$", p["hyperparams"]["path"])
        hp = p["hyperparameters"]  # trainyard's own: the run's parameters themselves
        assert p["hyperparams"]["path"].endswith(
            "n_estimators=%(n_estimators)d_max_depth=%(max_depth)d_seed=%(seed)d.json" % hp), p
    best = info["partitions"][0]["output"]["path"]  # the "Model ID" column
    # train get -j <job>: GET .../bundle with include_* as Python bools and
    # no token at all (train_facade.py get_bundle): the endpoint's path
    # carries the key. Then Extractor.
    r = requests.get(c.base + "/train/%s/%s/bundle" % (ws, job),
                     params={"include_code": True, "include_data": False, "include_model": True,
                             "model_id": best}, timeout=60)
    assert r.status_code == 200, r.text
    zipfile.ZipFile(io.BytesIO(r.content)).extractall(str(tmp_path))
    assert os.path.exists(tmp_path / "code" / "iris-forest" / "model" / "train")
    mdir = tmp_path / "models" / best
    assert (mdir / "model" / "model.pkl").exists() and (mdir / "metrics.json").exists()
    assert [f for f in os.listdir(str(mdir)) if f.startswith("n_estimators")], os.listdir(str(mdir))
    # train provenance -m <model>: Source(r.json()) renders a DOT string
    r = c.get("/train/%s/%s/provenance" % (ws, best))
    assert r.status_code == 200 and r.json().startswith("digraph"), r.text
    # train logs / build logs: r.json() written to a file as a string
    logs = c.get("/train/%s/%s/logs" % (ws, job)).json()
    build = c.get("/build/%s/%s/logs" % (ws, job)).json()
    assert isinstance(logs, str) and "validation:" in logs
    assert isinstance(build, str) and "[build]" in build
    # train kill on a finished job, and info on an unknown one: KAOS's Errors
    r = requests.delete(c.base + "/train/%s/%s" % (ws, job), headers={"Token": c.token},
                        timeout=60)
    assert c.error(r) == "Job is not running, id: %s" % job
    unknown = str(uuid.uuid4())
    assert c.error(c.get("/train/%s/%s" % (ws, unknown))) == "There is no job with id: %s" % unknown
    assert c.error(c.get("/train/%s/%s" % (ws, job), sort_by="nope")) == "Metric nope not found"
