#!/usr/bin/env bash
# soak.sh — `make soak`: does the stack stay flat under hours of mixed use?
#
# Starts a stack of its own (own var dir and free ports, like chaos.sh) with
# a short storage collector period, then runs SOAK_SECONDS (1800) of mixed
# traffic from several clients at once, every dialect:
#   - readers: /healthz, dataset and job lists, job status, Strapi /trainings
#   - an uploader: a fresh 5,000-row CSV every few seconds; old datasets deleted
#   - trainers: Akkio train/new and Strapi POST /trainings (max_models 1 and a
#     seed: each job a fraction of a second of CPU), at most 2 in flight, with
#     `force` so every job trains; waited for with status?wait
#   - a predictor: 50-row batches against the newest model
#   - abuse: malformed JSON, a wrong key, unknown ids, bodies past the limit
# Every 30 s it samples the API workers' largest RSS, every component's open
# files, the database size, artifact bytes and row counts. At the end it
# prints the samples and the figures, and fails (exit 1) if:
#   - any answer was a 5xx or a connection error
#   - after a warm-up (the first sixth of the run), the smallest sample of the
#     last third against that of the first third of what remains: the
#     largest API worker RSS or the trainers' RSS grew more than
#     SOAK_RSS_SLACK_MB (2; the issue's bound), the open
#     files of the API, trainers or nginx by more than 16, PostgreSQL's
#     client connections by more than 4
#   - stored artifact bytes at the end exceed twice their early figure (the
#     collector keeps TRAINYARD_RETENTION_MODELS models a dataset; deleted
#     datasets lose their bytes)
# Job and log rows grow with the number of jobs until TRAINYARD_RETENTION_DAYS
# removes them; their growth rate is printed (per hour and the implied ceiling).
#
#   scripts/soak.sh                    30 minutes
#   SOAK_SECONDS=300 scripts/soak.sh   a quick run
# Not part of `make test`.
set -uo pipefail

export SOAK_SECONDS=${SOAK_SECONDS:-1800}
export SOAK_RSS_SLACK_MB=${SOAK_RSS_SLACK_MB:-2}
# shellcheck source=scripts/throwaway.sh
. "$(dirname "${BASH_SOURCE[0]}")/throwaway.sh"
export TRAINYARD_TRAINERS=1 TRAINYARD_TRAINER_SLOTS=2
export TRAINYARD_GC_INTERVAL=30 TRAINYARD_GC_ORPHAN_GRACE=30 TRAINYARD_RETENTION_MODELS=3
throwaway_stack soak

"$PY" - <<'PY'
import collections, json, os, random, subprocess, sys, threading, time
import requests

var = os.environ["TRAINYARD_VAR"]
base = os.environ["TRAINYARD_BASE_URL"]
db = os.environ["TRAINYARD_DATABASE_URL"]
seconds = float(os.environ["SOAK_SECONDS"])
rss_slack = float(os.environ["SOAK_RSS_SLACK_MB"])
key = open(os.path.join(var, "dev-api-key")).read().strip()
stop = threading.Event()
lock = threading.Lock()
answers = collections.Counter()     # status class -> count
failures = []                       # (what, detail), 5xx and connection errors

def sql(q):
    p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", "|", db, "-c", q],
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(p.stderr)
    return [l.split("|") for l in p.stdout.splitlines() if l]

def session(k=key):
    s = requests.Session()
    s.headers["X-API-Key"] = k
    return s

def call(s, what, method, url, expect=None, **kw):
    """One request; counts its status class; a 5xx or a broken connection is a failure."""
    try:
        r = s.request(method, base + url, timeout=120, **kw)
    except requests.RequestException as ex:
        with lock:
            answers["error"] += 1
            failures.append((what, repr(ex)[:200]))
        return None
    with lock:
        answers["%dxx" % (r.status_code // 100)] += 1
        if r.status_code >= 500 or (expect is not None and r.status_code not in expect):
            failures.append((what, "%d %s" % (r.status_code, r.text[:200])))
    return r

rnd = random.Random(11)
def make_csv(rows, seed):
    g = random.Random(seed)
    out = ["tenure,plan,charges,region,churn"]
    for i in range(rows):
        t = g.randint(1, 72)
        plan = g.choice(["basic", "plus", "pro"])
        c = round(g.uniform(10, 120), 2)
        churn = "yes" if (t < 12 and plan != "pro") or g.random() < 0.1 else "no"
        out.append("%d,%s,%s,%s,%s" % (t, plan, c, g.choice(["n", "s", "e", "w"]), churn))
    return ("\n".join(out) + "\n").encode()

state = {"datasets": [], "models": [], "jobs": []}

def uploader():
    s = session()
    n = 0
    while not stop.is_set():
        n += 1
        r = call(s, "upload", "POST", "/api/v1/datasets", expect={201},
                 params={"name": "soak-%d" % n}, data=make_csv(5000, n),
                 headers={"Content-Type": "text/csv"})
        if r is not None and r.status_code == 201:
            with lock:
                state["datasets"].append(r.json()["dataset_id"])
                old = state["datasets"][:-5]
                state["datasets"] = state["datasets"][-5:]
                state.setdefault("to_delete", []).extend(old)
                pending, state["to_delete"] = state["to_delete"], []
            for d in pending:
                # 409 while a job still reads it: tried again next round.
                r = call(s, "delete dataset", "DELETE", "/api/v1/datasets/" + d,
                         expect={200, 204, 409})
                if r is not None and r.status_code == 409:
                    with lock:
                        state["to_delete"].append(d)
        stop.wait(4)

def trainer(dialect):
    s = session()
    i = 0
    while not stop.is_set():
        with lock:
            ds = list(state["datasets"])
        if not ds:
            stop.wait(1)
            continue
        i += 1
        d = rnd.choice(ds)
        if dialect == "akkio":
            r = call(s, "train/new", "POST", "/api/v1/models/train/new", expect={201},
                     json={"dataset_id": d, "predict_fields": ["churn"], "duration": 10,
                           "force": True, "max_models": 1, "seed": i})
            task = r.json().get("task_id") if r is not None and r.status_code == 201 else None
        else:
            # A Strapi document whose meta holds a spec queues a training;
            # binaryPath is filled in when it finishes.
            spec = {"dataset_id": d, "predict_fields": ["churn"], "duration": 10,
                    "force": True, "max_models": 1, "seed": i}
            r = call(s, "trainings", "POST", "/trainings", expect={200, 201},
                     json={"uuid": "soak-%d-%d" % (os.getpid(), i), "meta": spec})
            if r is not None and r.status_code in (200, 201):
                doc_id = r.json().get("id")
                for _ in range(60):
                    if stop.wait(1):
                        break
                    r = call(s, "training", "GET", "/trainings/%s" % doc_id, expect={200})
                    if r is None or r.status_code != 200 or r.json().get("binaryPath"):
                        break
            continue
        if task is None:
            stop.wait(1)
            continue
        with lock:
            state["jobs"] = (state["jobs"] + [task])[-50:]
        for _ in range(30):
            r = call(s, "status", "GET", "/api/v1/models/train/%s/status" % task,
                     params={"wait": 10})
            if r is None or r.status_code != 200:
                break
            st = r.json().get("status")
            if st in ("SUCCEEDED", "FAILED"):
                if st == "SUCCEEDED":
                    r = call(s, "result", "GET", "/api/v1/models/train/%s/result" % task)
                    if r is not None and r.status_code == 200:
                        mid = r.json().get("model_id") or r.json().get("id")
                        if mid:
                            with lock:
                                state["models"] = (state["models"] + [mid])[-5:]
                break

def predictor():
    s = session()
    rows = [{"tenure": t, "plan": p, "charges": 50.5, "region": "n"}
            for t in range(1, 11) for p in ("basic", "plus", "pro", "other", "basic")]
    while not stop.is_set():
        with lock:
            ms = list(state["models"])
        if ms:
            # A model may have been collected by retention meanwhile: 404 is fine.
            call(s, "predict", "POST", "/api/v1/models/%s/predict" % rnd.choice(ms),
                 expect={200, 404}, json={"data": rows})
        stop.wait(0.2)

def reader():
    s = session()
    while not stop.is_set():
        call(s, "healthz", "GET", "/healthz", expect={200})
        call(s, "datasets", "GET", "/api/v1/datasets", expect={200})
        call(s, "trainings", "GET", "/trainings", expect={200}, params={"_limit": 20})
        with lock:
            jobs = list(state["jobs"])
        if jobs:
            call(s, "status", "GET", "/api/v1/models/train/%s/status" % rnd.choice(jobs),
                 expect={200})
        stop.wait(0.05)

def abuser():
    s = session()
    bad = session("ty_0000_not_a_key")
    while not stop.is_set():
        call(s, "bad json", "POST", "/api/v1/models/train/new", expect={400, 422},
             data=b'{"dataset_id": ', headers={"Content-Type": "application/json"})
        call(bad, "wrong key", "GET", "/api/v1/datasets", expect={401, 403})
        call(s, "unknown id", "GET",
             "/api/v1/models/train/00000000-0000-4000-8000-000000000000/status", expect={404})
        call(s, "too large", "POST", "/api/v1/models/train/new", expect={413},
             data=b"x" * (2 * 1024 * 1024), headers={"Content-Type": "application/json"})
        stop.wait(0.5)

def pids(pattern):
    out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]

def rss_kb(pid):
    try:
        for line in open("/proc/%d/status" % pid):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0

def fds(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return 0

def daemons():
    out = set()
    for name in os.listdir(os.path.join(var, "run")):
        if name.startswith("trainer-") and name.endswith(".pid"):
            try:
                out.add(int(open(os.path.join(var, "run", name)).read().strip()))
            except (OSError, ValueError):
                pass
    return out

def sample(t):
    api = [p for p in pids("trainyard-api") if p != os.getpid()]
    row = {"t": t}
    row["api_rss_max_mb"] = max([rss_kb(p) for p in api] or [0]) / 1024
    row["api_fds"] = sum(fds(p) for p in api)
    # The trainer daemons, not their jobs' short-lived children.
    trainers = [p for p in pids("trainyard-trainer") if p in daemons()]
    row["trainer_rss_mb"] = sum(rss_kb(p) for p in trainers) / 1024
    row["trainer_fds"] = sum(fds(p) for p in pids("trainyard-trainer"))
    row["nginx_fds"] = sum(fds(p) for p in pids("nginx: worker"))
    row["pg_fds"] = sum(fds(p) for p in pids("postgres"))
    try:
        r = sql("SELECT pg_database_size(current_database()),"
                " (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),"
                " (SELECT coalesce(sum(size), 0) FROM artifacts),"
                " (SELECT count(*) FROM jobs), (SELECT count(*) FROM models),"
                " (SELECT count(*) FROM datasets WHERE deleted_at IS NULL)")[0]
        row["db_mb"] = int(r[0]) / 1048576
        row["pg_conns"] = int(r[1])
        row["artifact_mb"] = int(r[2]) / 1048576
        row["jobs"], row["models"], row["datasets"] = int(r[3]), int(r[4]), int(r[5])
    except Exception as ex:
        failures.append(("sample", repr(ex)[:200]))
    return row

threads = [threading.Thread(target=f, args=a, daemon=True) for f, a in
           [(uploader, ()), (trainer, ("akkio",)), (trainer, ("strapi",)), (predictor, ()),
            (reader, ()), (reader, ()), (abuser, ())]]
t0 = time.time()
for th in threads:
    th.start()
samples = []
cols = ["t", "api_rss_max_mb", "trainer_rss_mb", "api_fds", "trainer_fds", "nginx_fds", "pg_fds", "pg_conns", "db_mb",
        "artifact_mb", "jobs", "models", "datasets"]
print("soak: %d s of mixed traffic against %s" % (seconds, base), flush=True)
print("  " + "".join("%11s" % c[:10] for c in cols), flush=True)
while time.time() - t0 < seconds:
    time.sleep(min(30, max(0.0, seconds - (time.time() - t0))))
    row = sample(round(time.time() - t0))
    samples.append(row)
    print("  " + "".join("%11s" % (("%.1f" % row[c]) if isinstance(row.get(c), float)
                                     else row.get(c, "-")) for c in cols), flush=True)
stop.set()
for th in threads:
    th.join(timeout=150)

# Steady state: after the warm-up (the first sixth), the first third of the
# remaining samples against the last third, each by its smallest value (jobs
# in flight hold pipes and memory for a moment; what matters is what stays).
warm = [s for s in samples if s["t"] >= seconds / 6] or samples
third = max(1, len(warm) // 3)
early, late = warm[:third], warm[-third:]
def low(window, c):
    return min(s.get(c, 0) for s in window)
first, last = warm[0], samples[-1]
hours = max(1e-9, (last["t"] - first["t"]) / 3600)
checks = []
def check(name, ok, detail):
    checks.append(ok)
    print("  %-44s %-8s %s" % (name, "ok" if ok else "FAILED", detail))
total = sum(answers.values())
print("soak: %d answers (%s)" % (total, ", ".join("%s %d" % kv for kv in sorted(answers.items()))))
check("no 5xx, no connection errors, expected codes", not failures,
      "%d unexpected: %s" % (len(failures), failures[:5]))
growth = low(late, "api_rss_max_mb") - low(early, "api_rss_max_mb")
check("largest API worker RSS, steady state", growth <= rss_slack,
      "%.1f -> %.1f MB (%+.1f; slack %.0f MB; peak %.1f)"
      % (low(early, "api_rss_max_mb"), low(late, "api_rss_max_mb"), growth, rss_slack,
         max(s["api_rss_max_mb"] for s in samples)))
growth = low(late, "trainer_rss_mb") - low(early, "trainer_rss_mb")
check("trainer RSS, steady state", growth <= rss_slack,
      "%.1f -> %.1f MB (%+.1f)" % (low(early, "trainer_rss_mb"), low(late, "trainer_rss_mb"),
                                   growth))
for c in ("api_fds", "trainer_fds", "nginx_fds"):
    check("open files: " + c, low(late, c) - low(early, c) <= 16,
          "%d -> %d" % (low(early, c), low(late, c)))
check("PostgreSQL connections", low(late, "pg_conns") - low(early, "pg_conns") <= 4,
      "%d -> %d (their open files %d -> %d: relation files, capped by PostgreSQL)"
      % (low(early, "pg_conns"), low(late, "pg_conns"), low(early, "pg_fds"),
         low(late, "pg_fds")))
check("artifact bytes bounded by retention",
      low(late, "artifact_mb") <= 2 * max(low(early, "artifact_mb"), 1),
      "%.1f -> %.1f MB" % (low(early, "artifact_mb"), low(late, "artifact_mb")))
rate = (last["jobs"] - first["jobs"]) / hours
print("  jobs: %d -> %d (%.0f per hour; kept %s days: ceiling %.0f rows at this rate)"
      % (first["jobs"], last["jobs"], rate, os.environ.get("TRAINYARD_RETENTION_DAYS", "30"),
         rate * 24 * float(os.environ.get("TRAINYARD_RETENTION_DAYS", "30"))))
print("  database: %.1f -> %.1f MB" % (first["db_mb"], last["db_mb"]))
sys.exit(0 if all(checks) else 1)
PY
