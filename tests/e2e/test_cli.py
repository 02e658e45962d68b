"""test_cli.py — the terminal client's user commands through the real stack.

Each test runs build/trainyard as a user would, in a workspace of its own
(so listings are exact), with its config file under the test's tmp dir:
the whole flow (login, upload, train --wait, result, predict, download, ls)
with --json parsed, the human tables, the errors and their exit codes,
no progress output when nothing is a terminal, and, driven through tmux,
the interactive progress bar and Ctrl-C's kill question.
"""
import csv
import io
import json
import os
import shlex
import shutil
import stat
import subprocess
import tarfile
import time
import uuid

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CHURN = os.path.join(ROOT, "examples", "churn.csv")


class Cli:
    """build/trainyard with a private config file and no inherited settings."""

    def __init__(self, stack, tmp_path, key):
        self.exe = os.path.join(stack.build, "trainyard")
        self.url = stack.base_url
        self.key = key
        self.dir = tmp_path
        self.config = str(tmp_path / "config" / "trainyard")
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith("TRAINYARD_") and k != "XDG_CONFIG_HOME"}
        self.env["TRAINYARD_CONFIG"] = self.config
        self.env["HOME"] = str(tmp_path)
        # make test-asan-e2e turns leak detection off for the daemons (they
        # are killed, and the worker is not dumpable); the client exits
        # normally, so its leaks are looked for.
        if "detect_leaks=0" in self.env.get("ASAN_OPTIONS", ""):
            self.env["ASAN_OPTIONS"] = self.env["ASAN_OPTIONS"].replace("detect_leaks=0",
                                                                        "detect_leaks=1")

    def run(self, *args, code=0, env=None, stdin=None, timeout=180):
        e = dict(self.env)
        e.update(env or {})
        p = subprocess.run([self.exe] + [str(a) for a in args], env=e, input=stdin,
                           capture_output=True, text=True, timeout=timeout, cwd=str(self.dir))
        assert p.returncode == code, "trainyard %s: exit %d, wanted %d\nstdout: %s\nstderr: %s" % (
            " ".join(map(str, args)), p.returncode, code, p.stdout[-2000:], p.stderr[-2000:])
        # Nothing was a terminal: no bar, no carriage return, anywhere.
        for text in (p.stdout, p.stderr):
            assert "\r" not in text and "ETA" not in text and "\033[" not in text, text[-500:]
        return p

    def json(self, *args, **kw):
        return json.loads(self.run(*(list(args) + ["--json"]), **kw).stdout)


@pytest.fixture
def cli(stack, make_workspace, tmp_path):
    name, key, client = make_workspace("cli")
    c = Cli(stack, tmp_path, key)
    c.workspace = name
    c.client = client
    return c


def test_cli_whole_flow(cli, tmp_path):
    # login stores URL, key and workspace in a 0600 file in a 0700 directory.
    out = cli.json("login", cli.url + "/", "--key", cli.key)
    assert out == {"url": cli.url, "workspace": cli.workspace, "config": cli.config}
    assert stat.S_IMODE(os.stat(cli.config).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(cli.config)).st_mode) == 0o700
    saved = open(cli.config).read()
    assert "key=%s\n" % cli.key in saved and "url=%s\n" % cli.url in saved

    # upload: the server's dataset document, and the human schema table.
    ds = cli.json("upload", CHURN, "--name", "churn-cli")
    assert ds["name"] == "churn-cli" and ds["rows"] == 500
    assert {f["name"]: f["type"] for f in ds["fields"]}["churn"] == "boolean"
    human = cli.run("upload", CHURN).stdout
    assert "rows        500" in human and "contract" in human and "category" in human

    # train a file: uploads it, waits, prints the result document.
    res = cli.json("train", CHURN, "--target", "churn", "--duration", "10", "--wait",
                   "--ignore", "total_charges")
    task, model = res["task_id"], res["model_id"]
    assert res["status"] == "success" and res["models"][0]["candidates"]
    assert "total_charges" not in res["field_importance"]

    # result: the same document; the human form has the leaderboard with
    # the chosen model marked, the per-class table and the importance.
    again = cli.json("result", task)
    assert again["model_id"] == model
    text = cli.run("result", task).stdout
    assert "leaderboard" in text and "per class" in text and "field importance" in text
    board = text.split("leaderboard", 1)[1].split("per class", 1)[0]
    # A single model is marked '*'; a blend marks its members '+' instead.
    mark = "+" if res["models"][0]["model"] == "ensemble" else "*"
    assert len([l for l in board.splitlines() if l.startswith(mark)]) >= 1, board
    assert len([l for l in board.splitlines() if l.startswith("*")]) == (mark == "*"), board
    assert "total_charges" not in text.split("field importance", 1)[1]

    # train by dataset name, without waiting: the task id on stdout.
    t2 = cli.run("train", "churn-cli", "--target", "churn", "--duration", "10").stdout.strip()
    assert len(t2) == 36 and cli.client.get("/api/v1/models/train/%s/status" % t2).status_code == 200

    # predict: CSV in, the input columns plus the prediction's out.
    out_csv = tmp_path / "pred.csv"
    summary = cli.json("predict", model, CHURN, "-o", out_csv, "--batch", "64")
    assert summary == {"model_id": model, "rows": 500, "output": str(out_csv)}
    rows = list(csv.DictReader(open(out_csv)))
    assert len(rows) == 500 and not os.path.exists(str(out_csv) + ".part")
    assert set(r["predicted churn"] for r in rows) <= {"Yes", "No"}
    p_yes = [float(r["Probability churn is Yes"]) for r in rows]
    assert all(0 <= p <= 1 for p in p_yes)
    # the predictions are the server's own, row for row
    direct = cli.client.post("/api/v1/models/%s/predict" % model,
                             json={"data": [{k: v for k, v in rows[i].items()
                                             if k in open(CHURN).readline().strip().split(",")}
                                            for i in range(3)]}).json()["predictions"]
    for i in range(3):
        assert abs(direct[i]["Probability churn is Yes"] - p_yes[i]) < 1e-6
    # and from stdin to stdout
    head = "".join(open(CHURN).readlines()[:4])
    piped = list(csv.reader(io.StringIO(cli.run("predict", model, "-", stdin=head).stdout)))
    assert len(piped) == 4 and piped[0][-1] == "Probability churn is Yes"

    # A ragged CSV is refused naming the file and line; a row the model
    # cannot read, naming the lines of its batch and the field.
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n3\n")
    p = cli.run("predict", model, bad, "-o", tmp_path / "bad-out.csv", code=1)
    assert "bad.csv" in p.stderr and "line 3" in p.stderr, p.stderr
    assert not os.path.exists(tmp_path / "bad-out.csv")
    lines = open(CHURN).read().splitlines()
    cols = lines[0].split(",")
    broken = lines[5].split(",")
    broken[cols.index("tenure")] = "forever"
    (tmp_path / "typo.csv").write_text("\n".join(lines[:5] + [",".join(broken)]) + "\n")
    p = cli.run("predict", model, tmp_path / "typo.csv", code=1)
    assert "typo.csv, lines 2-6" in p.stderr and "tenure" in p.stderr, p.stderr

    # download: a tar.gz with the booster, written whole or not at all.
    dl = cli.json("download", model, "-o", tmp_path / "m.tar.gz")
    assert dl["bytes"] == os.path.getsize(tmp_path / "m.tar.gz") > 0
    with tarfile.open(tmp_path / "m.tar.gz") as t:
        assert {"model.ubj", "preprocess.json"} <= set(t.getnames())
    cli.run("download", model)
    assert os.path.exists(tmp_path / ("model-%s.tar.gz" % model))

    # ls: the workspace's own datasets, models and jobs, JSON and tables.
    names = [d["name"] for d in cli.json("ls", "datasets")["datasets"]]
    assert sorted(names) == ["churn", "churn", "churn-cli"]
    assert [m["id"] for m in cli.json("ls", "models")["models"]] == [model]
    jobs = cli.json("ls", "jobs")["response"]["jobs"]
    assert {j["job_id"] for j in jobs} == {task, t2}
    table = cli.run("ls", "jobs").stdout
    assert task in table and "succeeded" in table
    assert model in cli.run("ls", "models").stdout


def test_cli_environment_instead_of_login(cli):
    env = {"TRAINYARD_URL": cli.url, "TRAINYARD_KEY": cli.key, "TRAINYARD_WORKSPACE": cli.workspace}
    assert cli.json("ls", "datasets", env=env)["datasets"] == []
    assert not os.path.exists(cli.config)
    # Without a workspace named, the jobs listing asks the server for the key's.
    del env["TRAINYARD_WORKSPACE"]
    jobs = cli.json("ls", "jobs", env=env)["response"]
    assert jobs["workspace"] == cli.workspace and jobs["jobs"] == []
    assert cli.run("--version").stdout.startswith("trainyard 0.1.0 ")


def test_cli_key_of_another_workspace(cli, stack):
    """A key made for a workspace that is not its account's default lists
    its own workspace's jobs (not the default's), and --workspace steers
    every listing, jobs by path and the rest by X-Trainyard-Workspace."""
    from conftest import Client
    a = cli.workspace  # the account's default
    b = a + "-b"
    stack.cli("workspace", "create", b, "--account", a)
    key_b = stack.cli("key", "create", b, "--account", a).stdout.strip().splitlines()[-1]
    only_b = stack.cli("key", "create", b, "--account", a, "--only").stdout.strip().splitlines()[-1]
    kb = Client(cli.url, key_b)
    churn = open(CHURN).read()
    ds_b = kb.upload_csv(churn, name="in-b")["dataset_id"]
    task_b = kb.train(ds_b, ["churn"], duration=10)
    ds_a = cli.client.upload_csv(churn, name="in-a")["dataset_id"]
    task_a = cli.client.train(ds_a, ["churn"], duration=10)

    env = {"TRAINYARD_URL": cli.url, "TRAINYARD_KEY": key_b}
    jobs = cli.json("ls", "jobs", env=env)["response"]
    assert jobs["workspace"] == b
    ids = [j["job_id"] for j in jobs["jobs"]]
    assert task_b in ids and task_a not in ids
    assert task_b in cli.run("ls", "jobs", env=env).stdout
    ids = [d["dataset_id"] for d in cli.json("ls", "datasets", env=env)["datasets"]]
    assert ds_b in ids and ds_a not in ids
    # --workspace: the default's jobs and datasets, with the same key.
    jobs = cli.json("ls", "jobs", "--workspace", a, env=env)["response"]
    ids = [j["job_id"] for j in jobs["jobs"]]
    assert jobs["workspace"] == a and task_a in ids and task_b not in ids
    ids = [d["dataset_id"] for d in cli.json("ls", "datasets", "--workspace", a, env=env)["datasets"]]
    assert ds_a in ids and ds_b not in ids
    # login keeps the key's own workspace, or the one asked for (checked).
    assert cli.json("login", cli.url, "--key", key_b)["workspace"] == b
    assert task_b in [j["job_id"] for j in cli.json("ls", "jobs")["response"]["jobs"]]
    assert cli.json("login", cli.url, "--key", key_b, "--workspace", a)["workspace"] == a
    ids = [d["dataset_id"] for d in cli.json("ls", "datasets")["datasets"]]
    assert ds_a in ids and ds_b not in ids
    p = cli.run("login", cli.url, "--key", key_b, "--workspace", "no-such-ws", code=1)
    assert "HTTP 403" in p.stderr and "no-such-ws" in p.stderr
    # A key kept to its workspace lists it, and cannot be steered away.
    env_only = {"TRAINYARD_URL": cli.url, "TRAINYARD_KEY": only_b}
    assert cli.json("ls", "jobs", env=env_only)["response"]["workspace"] == b
    p = cli.run("ls", "datasets", "--workspace", a, env=env_only, code=1)
    assert "HTTP 403" in p.stderr and "own workspace only" in p.stderr, p.stderr
    p = cli.run("ls", "jobs", "--workspace", a, env=env_only, code=1)
    assert "HTTP 403" in p.stderr, p.stderr


def test_cli_key_from_stdin_and_errors(cli, tmp_path):
    # No settings at all: the message names the fix.
    p = cli.run("ls", "datasets", code=1)
    assert "trainyard login URL" in p.stderr
    # A usage error is one before anything else is looked at.
    assert "--target" in cli.run("train", CHURN, code=2).stderr
    # A wrong key is refused at login, and nothing is saved.
    p = cli.run("login", cli.url, "--key", "ty_000000000000_" + "0" * 64, code=1)
    assert "HTTP 401" in p.stderr and "trainyard login" in p.stderr
    assert not os.path.exists(cli.config)
    # The key read from stdin (no terminal to ask on).
    cli.run("login", cli.url, stdin=cli.key + "\n")
    assert "key=%s" % cli.key in open(cli.config).read()
    # Usage errors exit 2 and say what is wanted.
    assert "--target" in cli.run("train", CHURN, code=2).stderr
    assert "unknown option --frobnicate" in cli.run("ls", "jobs", "--frobnicate", code=2).stderr
    assert "ls datasets|models|jobs" in cli.run("ls", "things", code=2).stderr
    assert "1 to" in cli.run("predict", str(uuid.uuid4()), CHURN, "--batch", "0", code=2).stderr
    cli.run("login", "ftp://example.org", "--key", "x", code=2)
    # Server-side refusals exit 1 with the server's message.
    p = cli.run("train", CHURN, "--target", "no_such_column", "--duration", "10", code=1)
    assert "no_such_column" in p.stderr
    p = cli.run("result", str(uuid.uuid4()), code=1)
    assert "HTTP 404" in p.stderr
    p = cli.run("predict", str(uuid.uuid4()), CHURN, "-o", tmp_path / "x.csv", code=1)
    assert "HTTP 404" in p.stderr and not os.path.exists(tmp_path / "x.csv")
    assert not os.path.exists(str(tmp_path / "x.csv") + ".part")
    p = cli.run("train", "nothing-by-that-name", "--target", "churn", code=1)
    assert "trainyard ls datasets" in p.stderr
    # An unreachable server.
    p = cli.run("ls", "models", code=1, env={"TRAINYARD_URL": "http://127.0.0.1:9"})
    assert "could not reach http://127.0.0.1:9" in p.stderr


# --- the terminal: tmux -------------------------------------------------------

class Tmux:
    """A private tmux server (its own socket) with one 120x30 window."""

    def __init__(self, env):
        self.sock = "trainyard-test-%s" % uuid.uuid4().hex[:8]
        self.env = env

    def tmux(self, *args):
        return subprocess.run(["tmux", "-L", self.sock] + list(args), env=self.env,
                              capture_output=True, text=True, timeout=30)

    def start(self, command):
        r = self.tmux("new-session", "-d", "-x", "120", "-y", "30", "bash", "--norc", "-c", command)
        assert r.returncode == 0, r.stderr

    def screen(self):
        return self.tmux("capture-pane", "-p", "-S", "-200").stdout

    def wait_for(self, predicate, timeout, what):
        deadline = time.time() + timeout
        seen = []
        while time.time() < deadline:
            s = self.screen()
            seen.append(s)
            if predicate(s):
                return s
            time.sleep(0.2)
        raise AssertionError("no %s on the terminal within %ds; last screen:\n%s" % (what, timeout, seen[-1] if seen else ""))

    def keys(self, *keys):
        self.tmux("send-keys", *keys)

    def close(self):
        self.tmux("kill-server")


@pytest.fixture
def tmux(cli):
    if shutil.which("tmux") is None:
        pytest.fail("tmux is missing: scripts/deps.sh installs it")
    env = dict(cli.env)
    env["TERM"] = "xterm-256color"
    env["TRAINYARD_URL"] = cli.url
    env["TRAINYARD_KEY"] = cli.key
    env["TRAINYARD_WORKSPACE"] = cli.workspace
    t = Tmux(env)
    yield t
    t.close()


def test_cli_progress_bar_on_a_terminal(cli, tmux, tmp_path):
    log = tmp_path / "out.txt"
    # The search on this table converges in about two seconds, too soon to see
    # an ETA: the test stack's trainer holds the job (test mode: a sleep that
    # reports progress) for a few seconds first, asked for through --set.
    tmux.start("cd %s && %s train %s --target churn --duration 10 --wait "
               "--set 'test_mode={\"sleep\":6}' > %s; echo EXIT=$?; sleep 60"
               % (shlex.quote(str(tmp_path)), shlex.quote(cli.exe), shlex.quote(CHURN),
                  shlex.quote(str(log))))
    # The upload's bar, then the training's with its percentage and ETA.
    bars = []

    def training_bar(s):
        lines = [l for l in s.splitlines() if l.startswith("training [")]
        bars.extend(lines)
        return any("%" in l and "ETA" in l and "running" in l for l in lines) or "EXIT=" in s

    tmux.wait_for(training_bar, 120, "training bar with an ETA")
    s = tmux.wait_for(lambda s: "EXIT=" in s, 180, "end of the training")
    assert "EXIT=0" in s, s
    assert any("ETA" in b for b in bars), "the bar never showed an ETA: %r" % bars[-5:]
    # The finished bar reads 100%; the upload bar is there with its size.
    assert [l for l in s.splitlines() if l.startswith("training [") and "100%" in l], s
    assert [l for l in s.splitlines() if l.startswith("upload ") and "58.9 kB" in l], s
    # stdout went to the file: the result, and no bar in it.
    out = log.read_text()
    assert "leaderboard" in out and "\r" not in out and "ETA" not in out


def test_cli_ctrl_c_asks_whether_to_kill(cli, tmux, tmp_path):
    ds = cli.json("upload", CHURN, env={"TRAINYARD_URL": cli.url, "TRAINYARD_KEY": cli.key})
    # test mode holds the job long enough to be asked about twice.
    tmux.start("%s train %s --target churn --duration 300 --wait --force "
               "--set 'test_mode={\"sleep\":120}'; echo EXIT=$?; sleep 60"
               % (shlex.quote(cli.exe), ds["dataset_id"]))
    s = tmux.wait_for(lambda s: "trainyard: task " in s, 60, "the task id")
    task = s.split("trainyard: task ", 1)[1].split()[0]
    tmux.wait_for(lambda s: "training " in s.split("trainyard: task", 1)[1], 60, "the progress bar")
    # First Ctrl-C, answered no: the wait goes on.
    tmux.keys("C-c")
    tmux.wait_for(lambda s: "kill task %s? [y/N]" % task in s, 30, "the kill question")
    tmux.keys("n", "Enter")
    time.sleep(1.5)
    assert "EXIT=" not in tmux.screen()
    assert cli.client.get("/api/v1/models/train/%s/status" % task).json()["status"] in ("PENDING", "IN_PROGRESS")
    # Second Ctrl-C, answered yes: the task is killed and the exit is 1.
    tmux.keys("C-c")
    tmux.wait_for(lambda s: s.count("kill task %s? [y/N]" % task) >= 2, 30, "the second question")
    tmux.keys("y", "Enter")
    s = tmux.wait_for(lambda s: "EXIT=" in s, 90, "the end after the kill")
    assert "kill requested" in s and "was killed" in s and "EXIT=1" in s, s
    state = cli.client.get("/train/%s/%s" % (cli.workspace, task)).json()
    assert "killed" in json.dumps(state), state
