"""conftest.py — fixtures for the end-to-end suite.

The suite talks HTTP through nginx to a running stack and reads the database
with psql. scripts/e2e.sh starts a throwaway stack and exports TRAINYARD_VAR;
without it the tests use the checkout's var/ (the `make start` stack).

What the fixtures give:
  stack          the stack's coordinates (base_url, db_url, var, build dir)
  api            an HTTP client bound to the dev workspace's key
  make_workspace a factory: a new workspace + key through the admin CLI
  sql            runs SQL through psql, returns rows of strings
  trainers       start/stop extra trainer processes (cleaned up afterwards)
  pg             stop/start/restart PostgreSQL
  api_worker_pids the API pool's worker pids
  churn          the example churn dataset, uploaded once per session
  background     training jobs submitted at session start so that they run
                 while other tests do (the suite waits on them lazily)
"""
import json
import os
import signal
import subprocess
import time
import uuid

import pytest
import requests

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# The shared datasets sit beside the checkout (../shared), as in CI.
DATASETS = os.environ.get("TRAINYARD_DATASETS") or os.path.join(ROOT, "..", "shared", "datasets")
FINAL_STATES = ("SUCCEEDED", "FAILED", "UNKNOWN_TIMEOUT")


def read_env_file(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            k, v = line.split("=", 1)
            env[k] = v.strip("'\"")
    return env


class Stack:
    def __init__(self):
        self.var = os.environ.get("TRAINYARD_VAR") or os.path.join(ROOT, "var")
        env_path = os.path.join(self.var, "env")
        if not os.path.exists(env_path):
            pytest.exit("no running stack: %s missing (run scripts/e2e.sh or make start)" % env_path, 2)
        self.env = read_env_file(env_path)
        self.base_url = self.env["TRAINYARD_BASE_URL"]
        self.db_url = self.env["TRAINYARD_DATABASE_URL"]
        self.build = os.path.join(ROOT, os.environ.get("TRAINYARD_BUILD")
                                  or os.environ.get("BUILD") or "build")
        key_path = os.path.join(self.var, "dev-api-key")
        self.dev_key = open(key_path).read().strip() if os.path.exists(key_path) else None

    def proc_env(self):
        e = dict(os.environ)
        e["TRAINYARD_DATABASE_URL"] = self.db_url
        e["TRAINYARD_VAR"] = self.var
        return e

    def cli(self, *args, check=True):
        p = subprocess.run([os.path.join(self.build, "trainyard")] + list(args),
                           env=self.proc_env(), capture_output=True, text=True, timeout=60)
        if check and p.returncode != 0:
            raise AssertionError("trainyard %s failed (%d): %s" % (" ".join(args), p.returncode, p.stderr))
        return p

    def stack_sh(self, *args):
        p = subprocess.run([os.path.join(ROOT, "scripts", "stack.sh")] + list(args),
                           env=self.proc_env(), capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, "stack.sh %s: %s" % (" ".join(args), p.stderr)
        return p.stdout

    def sql(self, query, *params):
        """Runs one statement; returns a list of tuples of strings (None for NULL).
        params are passed as psql variables :'p1', :'p2', ... (quoted literals)."""
        cmd = ["psql", "-X", "-q", "-A", "-t", "-F", "\x1f", "-v", "ON_ERROR_STOP=1",
               "-P", "null=\x1e", self.db_url]
        for i, p in enumerate(params, 1):
            cmd += ["-v", "p%d=%s" % (i, p)]
        p = subprocess.run(cmd, input=query, capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise AssertionError("psql failed: %s\n%s" % (p.stderr, query))
        rows = []
        for line in p.stdout.split("\n"):
            if line == "":
                continue
            rows.append(tuple(None if c == "\x1e" else c for c in line.split("\x1f")))
        return rows

    def sql_value(self, query, *params):
        rows = self.sql(query, *params)
        return rows[0][0] if rows else None

    def pidfile(self, name):
        path = os.path.join(self.var, "run", name + ".pid")
        try:
            return int(open(path).read().strip())
        except (OSError, ValueError):
            return None


def children_of(pid):
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid:
            kids.append(int(d))
    return sorted(kids)


class Client:
    """requests, bound to the stack's base URL and an API key."""

    def __init__(self, base_url, key, header="X-API-Key"):
        self.base_url = base_url
        self.key = key
        self.header = header
        self.s = requests.Session()

    def headers(self, extra=None, key=None, no_key=False):
        h = {}
        k = self.key if key is None else key
        if not no_key and k is not None:
            if self.header == "Authorization":
                h["Authorization"] = "Bearer " + k
            else:
                h[self.header] = k
        if extra:
            h.update(extra)
        return h

    def request(self, method, path, headers=None, key=None, no_key=False, timeout=60, **kw):
        return self.s.request(method, self.base_url + path,
                              headers=self.headers(headers, key=key, no_key=no_key),
                              timeout=timeout, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    # --- domain helpers -------------------------------------------------

    def upload_csv(self, text, name="data"):
        data = text.encode() if isinstance(text, str) else text
        r = self.post("/api/v1/datasets", params={"name": name}, data=data,
                      headers={"Content-Type": "text/csv"}, timeout=300)
        assert r.status_code == 201, (r.status_code, r.text)
        return r.json()

    def train(self, dataset_id, predict_fields, duration=10, **extra):
        body = {"dataset_id": dataset_id, "predict_fields": predict_fields, "duration": duration}
        body.update(extra)
        r = self.post("/api/v1/models/train/new", json=body)
        assert r.status_code == 201, (r.status_code, r.text)
        return r.json()["task_id"]

    def status(self, task_id):
        r = self.get("/api/v1/models/train/%s/status" % task_id)
        assert r.status_code == 200, (r.status_code, r.text)
        return r.json()

    def wait(self, task_id, timeout=120):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            last = self.status(task_id)
            if last["status"] in FINAL_STATES:
                return last
            time.sleep(0.25)
        raise AssertionError("task %s not finished after %ss: %s" % (task_id, timeout, last))

    def wait_success(self, task_id, timeout=120):
        st = self.wait(task_id, timeout)
        assert st["status"] == "SUCCEEDED", st
        return st

    def result(self, task_id):
        r = self.get("/api/v1/models/train/%s/result" % task_id)
        assert r.status_code == 200, (r.status_code, r.text)
        return r.json()


# --- fixtures -------------------------------------------------------------------

@pytest.fixture(scope="session")
def stack():
    s = Stack()
    deadline = time.time() + 30
    while True:
        try:
            if requests.get(s.base_url + "/healthz", timeout=5).status_code in (200, 503):
                break
        except requests.RequestException:
            pass
        if time.time() > deadline:
            pytest.exit("the stack at %s does not answer" % s.base_url, 2)
        time.sleep(0.2)
    return s


@pytest.fixture(scope="session")
def base_url(stack):
    return stack.base_url


@pytest.fixture(scope="session")
def db_url(stack):
    return stack.db_url


@pytest.fixture(scope="session")
def dev_key(stack):
    assert stack.dev_key, "the stack has no dev API key (var/dev-api-key)"
    return stack.dev_key


@pytest.fixture(scope="session")
def api(stack, dev_key):
    return Client(stack.base_url, dev_key)


@pytest.fixture(scope="session")
def anon(stack):
    return Client(stack.base_url, None)


@pytest.fixture(scope="session")
def sql(stack):
    return stack.sql


@pytest.fixture(scope="session")
def make_workspace(stack):
    """Creates a fresh workspace through the CLI: returns (name, key, Client)."""
    def make(prefix="ws"):
        name = "%s-%s" % (prefix, uuid.uuid4().hex[:10])
        key = stack.cli("workspace", "create", name).stdout.strip().splitlines()[-1].strip()
        assert key, "workspace create printed no key"
        return name, key, Client(stack.base_url, key)
    return make


@pytest.fixture(scope="session")
def dev_workspace(stack, dev_key):
    # The stack creates the dev workspace as "dev".
    return "dev"


@pytest.fixture(scope="session")
def other(make_workspace):
    """A second workspace, for isolation tests."""
    return make_workspace("other")


class Trainers:
    """Extra trainer processes, each in its own session, killed at teardown."""

    def __init__(self, stack):
        self.stack = stack
        self.procs = []

    def start(self, n=1, slots=1, extra_env=None):
        started = []
        for _ in range(n):
            env = self.stack.proc_env()
            env["TRAINYARD_TRAINER_SLOTS"] = str(slots)
            env.setdefault("TRAINYARD_TRAINER_LEASE", "4")
            env.setdefault("TRAINYARD_TRAINER_REAP_INTERVAL", "1")
            env.setdefault("TRAINYARD_TRAINER_POLL_INTERVAL", "1")
            env.setdefault("TRAINYARD_TRAINER_SHUTDOWN_GRACE", "5")
            if extra_env:
                env.update(extra_env)
            log = open(os.path.join(self.stack.var, "log", "extra-trainer.log"), "ab")
            p = subprocess.Popen([os.path.join(self.stack.build, "trainyard-trainer")], env=env,
                                 stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 start_new_session=True)
            log.close()
            with open(os.path.join(self.stack.var, "run", "extra-%d.pid" % p.pid), "w") as f:
                f.write(str(p.pid))
            self.procs.append(p)
            started.append(p)
        return started

    def kill9(self, p):
        """SIGKILL the trainer and its job children (its whole session)."""
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait(timeout=10)

    def stop(self, p, timeout=30):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill9(p)
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            os.unlink(os.path.join(self.stack.var, "run", "extra-%d.pid" % p.pid))
        except OSError:
            pass

    def stop_all(self):
        for p in self.procs:
            self.stop(p, timeout=10)
        self.procs = []


@pytest.fixture
def trainers(stack):
    t = Trainers(stack)
    yield t
    t.stop_all()


class Main:
    """The stack's own trainer (trainer-1): pause it for tests that need
    control over which trainer runs what."""

    def __init__(self, stack):
        self.stack = stack

    def pid(self):
        return self.stack.pidfile("trainer-1")

    def stop(self):
        pid = self.pid()
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        os.killpg(pid, signal.SIGKILL)

    def start(self):
        self.stack.stack_sh("start")


@pytest.fixture
def main_trainer_paused(stack):
    m = Main(stack)
    m.stop()
    yield m
    m.start()


class Pg:
    def __init__(self, stack):
        self.stack = stack

    def stop(self):
        self.stack.stack_sh("pg-stop")

    def start(self):
        self.stack.stack_sh("pg-start")

    def restart(self):
        self.stack.stack_sh("pg-restart")


@pytest.fixture(scope="session")
def pg(stack):
    return Pg(stack)


@pytest.fixture(scope="session")
def api_worker_pids(stack):
    def pids():
        master = stack.pidfile("api")
        assert master, "no API master pid"
        return children_of(master)
    return pids


# --- data -----------------------------------------------------------------------

def read_text(path, max_lines=None):
    with open(path) as f:
        if max_lines is None:
            return f.read()
        out = []
        for i, line in enumerate(f):
            if i >= max_lines:
                break
            out.append(line)
        return "".join(out)


@pytest.fixture(scope="session")
def churn_csv():
    return read_text(os.path.join(ROOT, "examples", "churn.csv"))


@pytest.fixture(scope="session")
def churn(api, churn_csv):
    return api.upload_csv(churn_csv, name="churn")


class Background:
    """Trainings submitted once, early, so that they run while other tests do."""

    def __init__(self, api):
        self.api = api
        self.tasks = {}
        self.errors = {}
        self.datasets = {}

    def submit(self, name, fn):
        try:
            self.tasks[name] = fn()
        except Exception as exc:  # reported by the test that needs it
            self.errors[name] = exc

    def task(self, name):
        if name in self.errors:
            raise AssertionError("submitting %s failed: %r" % (name, self.errors[name]))
        return self.tasks[name]


@pytest.fixture(scope="session", autouse=True)
def background(request, churn_csv):
    var = os.environ.get("TRAINYARD_VAR") or os.path.join(ROOT, "var")
    if not os.path.exists(os.path.join(var, "env")):
        return Background(None)  # static tests (test_compose) need no stack
    stack = request.getfixturevalue("stack")
    if stack.dev_key is None:
        return Background(None)
    api = request.getfixturevalue("api")
    bg = Background(api)

    def churn_task():
        ds = api.upload_csv(churn_csv, name="churn-bg")
        bg.datasets["churn"] = ds
        return api.train(ds["dataset_id"], ["churn"], duration=10)

    def wine_task():
        ds = api.upload_csv(read_text(os.path.join(DATASETS, "wine_train.csv")), name="wine")
        bg.datasets["wine"] = ds
        return api.train(ds["dataset_id"], ["target"], duration=10)

    def diamonds_task():
        ds = api.upload_csv(read_text(os.path.join(DATASETS, "diamonds_train.csv"), 2001),
                            name="diamonds-2k")
        bg.datasets["diamonds"] = ds
        return api.train(ds["dataset_id"], ["price"], duration=10)

    bg.submit("churn", churn_task)
    bg.submit("wine", wine_task)
    bg.submit("diamonds", diamonds_task)
    return bg


def ws_count(sql, table, workspace):
    """Rows of table (datasets, artifacts, jobs, trainings, models...) in one
    workspace: a "nothing written" check scoped to the test's own workspace,
    which nothing else in the suite (another test, a job building its
    dataset) writes to meanwhile."""
    assert table.isidentifier()
    return int(sql("SELECT count(*) FROM %s t JOIN workspaces w ON w.id = t.workspace_id "
                   "WHERE w.name = :'p1'" % table, workspace)[0][0])


def job_id_of(doc):
    if isinstance(doc, dict) and isinstance(doc.get("response"), dict):
        doc = doc["response"]  # the workspace dialect's {"response": ...}
    for k in ("job_id", "task_id", "id"):
        if isinstance(doc, dict) and k in doc:
            return doc[k]
    raise AssertionError("no job id in %r" % (doc,))


def items_of(doc, key):
    """A listing: a bare array or {key: [...]}."""
    if isinstance(doc, list):
        return doc
    assert isinstance(doc, dict) and key in doc, doc
    return doc[key]


def pytest_collection_modifyitems(session, config, items):
    """Fault injection (restarting PostgreSQL, pausing the trainer) runs last,
    so that the rest of the suite never sees it."""
    items.sort(key=lambda it: 1 if it.module.__name__.endswith("test_faults") else 0)
