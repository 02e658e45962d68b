"""Faults: a trainer killed mid-job, trainers racing over one queue,
PostgreSQL restarted under requests, an API worker killed."""
import os
import signal
import threading
import time

import pytest
import requests

SMALL_CSV = "y,a,b,c\n" + "".join(
    "%d,%d,%.2f,%s\n" % ((i * 7) % 3 == 0, i % 11, (i * 13 % 17) / 3.0, "uvw"[i % 3])
    for i in range(60))


def wait_sql(sql, query, param, predicate, timeout, what):
    deadline = time.time() + timeout
    rows = None
    while time.time() < deadline:
        rows = sql(query, param)
        if predicate(rows):
            return rows
        time.sleep(0.2)
    raise AssertionError("%s: still %r after %ss" % (what, rows, timeout))


def test_trainer_kill9_mid_job_requeued_and_succeeds_once(api, churn, sql, trainers,
                                                          main_trainer_paused):
    first, = trainers.start(1, slots=1)
    # The worker sleeps 3 s (test mode) before training, so the kill always
    # lands mid-job, however fast the engine is; the retry sleeps and trains.
    task = api.train(churn["dataset_id"], ["churn"], duration=10, force=True,
                     test_mode={"sleep": 3})
    wait_sql(sql, "SELECT count(*) FROM job_logs WHERE job_id = :'p1' "
             "AND line LIKE 'test mode (pid %'", task,
             lambda r: r and r[0][0] == "1", 60, "job's worker not started")
    trainers.kill9(first)
    # Still leased by the dead trainer until the lease runs out.
    assert sql("SELECT state FROM jobs WHERE id = :'p1'", task)[0][0] == "running"
    trainers.start(1, slots=1)
    st = api.wait(task, timeout=120)
    assert st["status"] == "SUCCEEDED", st
    state, attempts, models = sql(
        "SELECT state, attempts, (SELECT count(*) FROM models m WHERE m.job_id = j.id) "
        "FROM jobs j WHERE id = :'p1'", task)[0]
    assert state == "succeeded"
    assert int(attempts) == 2
    assert int(models) == 1


def test_three_trainers_200_jobs_each_once(api, sql, trainers, main_trainer_paused):
    ds = api.upload_csv(SMALL_CSV, name="tiny")
    trainers.start(3, slots=2)
    tasks = []
    for i in range(200):
        tasks.append(api.train(ds["dataset_id"], ["y"], duration=10, force=True,
                               seed=i, max_models=1))
    assert len(set(tasks)) == 200
    ids = "{" + ",".join(tasks) + "}"
    deadline = time.time() + 420
    while time.time() < deadline:
        left = int(sql("SELECT count(*) FROM jobs WHERE id = ANY(:'p1'::uuid[]) "
                       "AND state NOT IN ('succeeded','failed','killed','timed_out')", ids)[0][0])
        if left == 0:
            break
        time.sleep(1)
    assert left == 0, "%d jobs unfinished" % left
    rows = sql("SELECT j.state, j.attempts, j.trainer, "
               "(SELECT count(*) FROM models m WHERE m.job_id = j.id) "
               "FROM jobs j WHERE j.id = ANY(:'p1'::uuid[])", ids)
    assert len(rows) == 200
    states = {r[0] for r in rows}
    assert states == {"succeeded"}, states
    assert all(int(r[1]) == 1 for r in rows), [r for r in rows if int(r[1]) != 1][:5]
    assert all(int(r[3]) == 1 for r in rows)
    assert len({r[2] for r in rows}) >= 2, "one trainer ran everything"


def test_postgres_restart_503_then_recovery(stack, api, pg, api_worker_pids, background):
    master = stack.pidfile("api")
    workers = api_worker_pids()
    task = background.task("churn")
    path = "/api/v1/models/train/%s/status" % task
    assert api.get(path).status_code == 200
    codes = []
    stop = threading.Event()

    def hammer():
        s = requests.Session()
        while not stop.is_set():
            try:
                r = s.get(api.base_url + path, headers={"X-API-Key": api.key}, timeout=10)
                codes.append((r.status_code, r.headers.get("Retry-After")))
            except requests.RequestException as exc:
                codes.append((0, repr(exc)))
            time.sleep(0.01)

    t = threading.Thread(target=hammer)
    t.start()
    try:
        time.sleep(0.5)
        pg.stop()
        time.sleep(1.5)
        down = api.get(path)
        assert down.status_code == 503, down.text
        assert down.headers.get("Retry-After")
        assert "detail" in down.json()
        h = api.get("/healthz", no_key=True)
        assert h.status_code == 503
        pg.start()
        deadline = time.time() + 20
        while time.time() < deadline and api.get(path).status_code != 200:
            time.sleep(0.2)
        time.sleep(0.5)
    finally:
        stop.set()
        t.join()
    assert api.get(path).status_code == 200
    assert stack.pidfile("api") == master
    assert api_worker_pids() == workers, "workers were restarted"
    assert {c for c, _ in codes} <= {200, 503}, sorted(set(codes))[:10]
    assert any(c == 503 for c, _ in codes)
    assert all(ra for c, ra in codes if c == 503)
    # Writes work again too.
    assert api.post("/trainings", json={"uuid": "after-restart-%d" % time.time()}).status_code == 200


def test_api_worker_kill9_respawned(stack, api, api_worker_pids):
    before = api_worker_pids()
    assert len(before) >= 2
    victim = before[0]
    os.kill(victim, signal.SIGKILL)
    ok = 0
    for _ in range(50):
        r = api.get("/api/v1/datasets")
        ok += r.status_code == 200
    assert ok >= 49
    deadline = time.time() + 10
    after = api_worker_pids()
    while time.time() < deadline and (len(after) != len(before) or victim in after):
        time.sleep(0.1)
        after = api_worker_pids()
    assert victim not in after
    assert len(after) == len(before)
    assert api.get("/healthz", no_key=True).status_code == 200
