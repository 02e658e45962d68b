#!/usr/bin/env bash
# chaos.sh — `make chaos`: the queue's promises under fire, as figures.
#
# Starts a stack of its own (own var dir, free ports, like scripts/bench.sh),
# creates three workspaces and submits CHAOS_JOBS jobs through the HTTP API
# (Akkio dialect), most of them from one workspace that floods the queue
# first (70 / 20 / 10 %). While they run, it kills at random every
# CHAOS_INTERVAL seconds: a trainer (kill -9), a job's child (kill -9, as the
# OOM killer would) or an API worker (kill -9), restarts PostgreSQL once,
# and has `scripts/stack.sh start` bring back whatever died. At the end it
# checks and prints:
#   - lost:          201 answers whose job row is missing, or not final
#   - finished twice: jobs with more than one model (each job trains one)
#   - every job final, and succeeded (they are all valid jobs: a failure
#     here is the chaos getting through), with the errors of any that did not
#   - fair share:    while a workspace had jobs waiting, how many jobs were
#                    started against how many round-robin between the
#                    workspaces would have started before its last one
#                    (sum over workspaces of min(c_v, c_w)); must be <= 2
#
# Jobs are real trainings on a 200-row CSV with `max_models: 1` and a seed
# (a documented option of the API: one model, no time-filling search), so a
# job takes a fraction of a second of CPU and 1,000 fit in a few minutes.
#
#   scripts/chaos.sh                  CHAOS_JOBS=1000 CHAOS_INTERVAL=1
#   CHAOS_JOBS=300 scripts/chaos.sh   a quicker run
# Not part of `make test`. Exits 1 if any check fails.
set -uo pipefail

export CHAOS_JOBS=${CHAOS_JOBS:-1000}
export CHAOS_INTERVAL=${CHAOS_INTERVAL:-1}
export CHAOS_TIMEOUT=${CHAOS_TIMEOUT:-3600}
# shellcheck source=scripts/throwaway.sh
. "$(dirname "${BASH_SOURCE[0]}")/throwaway.sh"
export TRAINYARD_TRAINERS=2 TRAINYARD_TRAINER_SLOTS=1 TRAINYARD_WORKERS=2
export TRAINYARD_TRAINER_LEASE=4 TRAINYARD_TRAINER_REAP_INTERVAL=1
export TRAINYARD_TRAINER_POLL_INTERVAL=1 TRAINYARD_TRAINER_SHUTDOWN_GRACE=5
throwaway_stack chaos
export CHAOS_ROOT=$ROOT

"$PY" - <<'PY'
import json, os, random, subprocess, sys, threading, time
import requests

root = os.environ["CHAOS_ROOT"]
var = os.environ["TRAINYARD_VAR"]
build = os.environ["TRAINYARD_BUILD"]
base = os.environ["TRAINYARD_BASE_URL"]
db = os.environ["TRAINYARD_DATABASE_URL"]
total = int(os.environ["CHAOS_JOBS"])
interval = float(os.environ["CHAOS_INTERVAL"])
timeout = float(os.environ["CHAOS_TIMEOUT"])
rnd = random.Random(7)

def sql(q):
    p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", "|", db, "-c", q],
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(p.stderr)
    return [l.split("|") for l in p.stdout.splitlines() if l]

def sql_retry(q):
    for _ in range(120):
        try:
            return sql(q)
        except Exception:
            time.sleep(1)
    return sql(q)

def cli(*args):
    return subprocess.run([os.path.join(build, "trainyard")] + list(args), capture_output=True,
                          text=True, check=True).stdout.strip().splitlines()[-1]

def pid_of(name):
    try:
        return int(open(os.path.join(var, "run", name + ".pid")).read().strip())
    except Exception:
        return None

def children(pid):
    try:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
        return [int(x) for x in out.split()]
    except Exception:
        return []

# --- workspaces, datasets ------------------------------------------------------
tag = "%x" % int(time.time())
shares = [("flood", 0.7), ("team", 0.2), ("small", 0.1)]
csv = "x,z,y\n" + "".join("%d,%d,%s\n" % (i, i * 7 % 13, "a" if i % 10 < 5 else "b")
                          for i in range(1, 201))
spaces = []
for name, share in shares:
    ws = "chaos-%s-%s" % (name, tag)
    key = cli("workspace", "create", ws)
    s = requests.Session()
    s.headers["X-API-Key"] = key
    r = s.post(base + "/api/v1/datasets", params={"name": "tiny"}, data=csv.encode(),
               headers={"Content-Type": "text/csv"}, timeout=60)
    assert r.status_code == 201, r.text
    spaces.append({"name": ws, "session": s, "dataset": r.json()["dataset_id"],
                   "n": int(round(total * share)), "created": []})
spaces[0]["n"] += total - sum(w["n"] for w in spaces)

# --- chaos ------------------------------------------------------------------------
done = threading.Event()
events = {"trainer": 0, "child": 0, "api_worker": 0, "pg_restart": 0, "restarts": 0}
def chaos():
    pg_done = False
    while not done.wait(interval * rnd.uniform(0.5, 1.5)):
        try:
            final = int(sql("SELECT count(*) FROM jobs WHERE finished_at IS NOT NULL")[0][0])
        except Exception:
            final = 0
        if not pg_done and final >= total * 0.3:
            pg_done = True
            subprocess.run([os.path.join(root, "scripts", "stack.sh"), "pg-restart"],
                           capture_output=True)
            events["pg_restart"] += 1
            continue
        what = rnd.choice(["trainer", "child", "child", "api_worker"])
        if what == "trainer":
            pid = pid_of("trainer-%d" % rnd.randint(1, 2))
        elif what == "child":
            # Children live a fraction of a second: look for one a few times.
            pid = None
            for _ in range(40):
                kids = [c for t in (1, 2) for c in children(pid_of("trainer-%d" % t) or 0)]
                if kids:
                    pid = rnd.choice(kids)
                    break
                time.sleep(0.025)
        else:
            kids = children(pid_of("api") or 0)
            pid = rnd.choice(kids) if kids else None
        if pid:
            try:
                os.kill(pid, 9)
                events[what] += 1
            except ProcessLookupError:
                pass
        if what == "trainer":
            time.sleep(0.5)
            subprocess.run([os.path.join(root, "scripts", "stack.sh"), "start"],
                           capture_output=True)
            events["restarts"] += 1
threading.Thread(target=chaos, daemon=True).start()

# --- submissions: the flood first, then the others ------------------------------
t0 = time.time()
answers = {"201": 0, "other": 0, "errors": 0}
for w in spaces:
    body = {"dataset_id": w["dataset"], "predict_fields": ["y"], "duration": 10,
            "force": True, "max_models": 1}
    for i in range(w["n"]):
        body["seed"] = i + 1
        for attempt in range(20):
            try:
                r = w["session"].post(base + "/api/v1/models/train/new", json=body, timeout=30)
            except requests.RequestException:
                answers["errors"] += 1
                time.sleep(0.2)
                continue
            if r.status_code == 201:
                answers["201"] += 1
                w["created"].append(r.json()["task_id"])
                break
            answers["other"] += 1
            time.sleep(0.2)
submitted = time.time() - t0
print("chaos: %d jobs submitted in %.1f s (%d x 201, %d other answers retried, %d connection errors)"
      % (total, submitted, answers["201"], answers["other"], answers["errors"]), flush=True)

# --- wait until every job of the three workspaces is final -------------------------
names = ",".join("'%s'" % w["name"] for w in spaces)
in_ws = "workspace_id IN (SELECT id FROM workspaces WHERE name IN (%s))" % names
deadline = time.time() + timeout
while time.time() < deadline:
    left = int(sql_retry("SELECT count(*) FROM jobs WHERE %s AND state IN "
                         "('queued', 'building', 'running')" % in_ws)[0][0])
    if left == 0:
        break
    time.sleep(2)
done.set()
elapsed = time.time() - t0

# --- checks ---------------------------------------------------------------------------
failures = []
created = {t for w in spaces for t in w["created"]}
rows = {r[0]: r for r in sql_retry("SELECT id, state, attempts, coalesce(error, '') FROM jobs WHERE %s" % in_ws)}
lost = [t for t in created if t not in rows or rows[t][1] in ("queued", "building", "running")]
nonfinal = [r for r in rows.values() if r[1] in ("queued", "building", "running")]
twice = sql_retry("SELECT j.id, count(m.id) FROM jobs j LEFT JOIN models m ON m.job_id = j.id"
                  " WHERE j.%s GROUP BY j.id, j.state HAVING count(m.id) > 1"
                  " OR (j.state = 'succeeded' AND count(m.id) <> 1)" % in_ws)
states = {}
for r in rows.values():
    states[r[1]] = states.get(r[1], 0) + 1
extra = len(rows) - len(created)
print("chaos: %d jobs, %.0f s; kills: %d trainers, %d job children, %d API workers; "
      "PostgreSQL restarted %d time(s)" % (len(rows), elapsed, events["trainer"], events["child"],
                                           events["api_worker"], events["pg_restart"]))
print("  every 201 has its row, final:  %s (%d lost)" % ("yes" if not lost else "NO", len(lost)))
print("  rows without a 201 (answer lost to a killed worker): %d" % extra)
print("  every job final:               %s (%d not)" % ("yes" if not nonfinal else "NO", len(nonfinal)))
print("  finished twice:                %d" % len(twice))
print("  states: %s" % ", ".join("%s %d" % kv for kv in sorted(states.items())))
retried = sql_retry("SELECT count(*) FILTER (WHERE attempts > 1 AND state = 'succeeded'),"
                    " max(attempts) FROM jobs WHERE %s" % in_ws)[0]
print("  succeeded after more than one attempt: %s (max attempts %s)" % tuple(retried))
errs = sql_retry("SELECT error, count(*) FROM jobs WHERE %s AND state <> 'succeeded'"
                 " GROUP BY error ORDER BY 2 DESC LIMIT 5" % in_ws)
for e in errs:
    print("    %s x %s" % (e[1], e[0]))
# Every job is a valid one: any other end is the chaos getting through.
if states.get("succeeded", 0) != len(rows):
    failures.append("%d jobs did not succeed" % (len(rows) - states.get("succeeded", 0)))
if lost:
    failures.append("%d jobs lost" % len(lost))
if nonfinal:
    failures.append("%d jobs not final" % len(nonfinal))
if twice:
    failures.append("%d jobs finished twice" % len(twice))

# Fair share. Over the time a workspace had jobs waiting (its first job
# queued .. its last job started), count the jobs started per workspace
# (first starts: a retry is not a new turn). Round-robin between the
# workspaces gives it a turn in every round, so at most sum(min(c_v, c_w))
# starts happen in that window; the ratio of the starts that did happen to
# that number is how many times its fair share it waited.
starts = sql_retry("SELECT w.name, extract(epoch FROM j.started_at) FROM jobs j"
                   " JOIN workspaces w ON w.id = j.workspace_id"
                   " WHERE j.%s AND j.started_at IS NOT NULL" % in_ws)
firsts = dict(sql_retry("SELECT w.name, extract(epoch FROM min(j.created_at)) FROM jobs j"
                        " JOIN workspaces w ON w.id = j.workspace_id WHERE j.%s GROUP BY w.name"
                        % in_ws))
waits = dict((r[0], r[1:]) for r in sql_retry(
    "SELECT w.name, round(avg(extract(epoch FROM j.started_at - j.created_at))::numeric, 1),"
    " round(max(extract(epoch FROM j.started_at - j.created_at))::numeric, 1)"
    " FROM jobs j JOIN workspaces w ON w.id = j.workspace_id WHERE j.%s"
    " GROUP BY w.name" % in_ws))
print("  fair share (starts while the workspace waited / starts round-robin allows; must be <= 2):")
for w in spaces:
    mine = [float(t) for n, t in starts if n == w["name"]]
    if not mine:
        continue
    t0, t1 = float(firsts[w["name"]]), max(mine)
    c = {}
    for n, t in starts:
        if t0 <= float(t) <= t1:
            c[n] = c.get(n, 0) + 1
    fair = sum(min(v, c.get(w["name"], 0)) for v in c.values())
    ratio = sum(c.values()) / fair if fair else 0
    wt = waits.get(w["name"], ["?", "?"])
    print("    %-26s %4d jobs  %5d starts in its window, fair %5d: ratio %.2f"
          "  (wait avg %s s, max %s s)" % (w["name"], len(mine), sum(c.values()), fair, ratio,
                                            wt[0], wt[1]))
    if ratio > 2:
        failures.append("%s waited %.2fx its fair share" % (w["name"], ratio))
if failures:
    print("chaos: FAILED: " + "; ".join(failures))
    sys.exit(1)
print("chaos: all checks passed")
PY
